"""A static sentence encoder distilled from the packaged all-MiniLM-L6-v2 (the model2vec idea).

Each WordPiece token of MiniLM's vocabulary is run through MiniLM once, alone (`[CLS] token [SEP]`, mean
pooled as MiniLM pools sentences), and its vector is kept in a table. A sentence is then the IDF-weighted
mean of its tokens' vectors: no transformer at trace time, so encoding thousands of source sentences
takes milliseconds instead of seconds, and torch is not even imported once the table is built.

The table is built on demand and cached in LABKIT_HOME/cache/embeddings/static-minilm/: only the tokens a
trace needs are distilled (a few hundred for a page, ~5k for a 50k-token source), and later traces reuse
them. `prepare()` distils the whole vocabulary at once (30,522 tokens; ~30 s on 2 free cores).
sqrt(IDF) weights come from the source sentences of the call, so topic words count more than function words.
"""

from __future__ import annotations

import os
import threading

import numpy as np

from labkit.provenance.retrieve import words
from labkit.provenance.retrieve import _minilm_path

DIM = 384
_BATCH = 1024
_lock = threading.Lock()
_encoder = None


def _table_dir():
    from labkit.settings import get_settings

    return get_settings().cache_dir / "embeddings" / "static-minilm"


class StaticEncoder:
    def __init__(self, folder):
        from tokenizers import Tokenizer

        root = _minilm_path()
        self.tokenizer = Tokenizer.from_file(os.path.join(root, "tokenizer.json"))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.vocab = self.tokenizer.get_vocab_size()
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._model = None
        self._cache: dict[str, tuple[int, ...]] = {}
        self.unk = self.tokenizer.token_to_id("[UNK]")  # says nothing about a sentence: left out
        self.table = self._open("table.npy", np.float32, (self.vocab, DIM))
        self.done = self._open("done.npy", np.bool_, (self.vocab,))

    def _open(self, name, dtype, shape):
        path = self.folder / name
        if not path.exists():
            tmp = self.folder / f".{name}.{os.getpid()}"
            np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=shape).flush()
            os.replace(tmp, path)  # atomic: a concurrent reader never sees a half-written header
        return np.load(path, mmap_mode="r+")

    def _distil(self, ids: np.ndarray) -> None:
        """Run each token id through MiniLM alone and store its mean-pooled output."""
        import torch
        from transformers import AutoModel

        if self._model is None:
            self._model = AutoModel.from_pretrained(_minilm_path()).eval()
        cls, sep = self.tokenizer.token_to_id("[CLS]"), self.tokenizer.token_to_id("[SEP]")
        with torch.inference_mode():
            for s in range(0, len(ids), _BATCH):
                chunk = torch.as_tensor(ids[s : s + _BATCH], dtype=torch.long)
                inp = torch.stack([torch.full_like(chunk, cls), chunk, torch.full_like(chunk, sep)], 1)
                h = self._model(input_ids=inp, attention_mask=torch.ones_like(inp)).last_hidden_state
                self.table[ids[s : s + _BATCH]] = h.mean(1).numpy()
        self.table.flush()
        self.done[ids] = True  # after the vectors: a crash in between leaves them marked missing, not wrong
        self.done.flush()

    def ensure(self, ids: np.ndarray) -> None:
        with _lock:
            missing = ids[~self.done[ids]]
            if len(missing):
                self._distil(np.unique(missing))

    def prepare(self) -> int:
        """Distil every token of the vocabulary; returns how many were missing."""
        missing = np.flatnonzero(~np.asarray(self.done))
        self.ensure(missing)
        return len(missing)

    def _word_ids(self, word: str) -> tuple[int, ...]:
        ids = self._cache.get(word)
        if ids is None:
            norm = self.tokenizer.normalizer.normalize_str(word)
            ids = self._cache[word] = tuple(
                t.id
                for w, _ in self.tokenizer.pre_tokenizer.pre_tokenize_str(norm)
                for t in self.tokenizer.model.tokenize(w)
                if t.id != self.unk
            )
        return ids

    def _ids(self, texts: list[str]) -> list[list[int]]:
        """WordPiece ids of each text, word by word through a cache: the same ids as the tokenizer gives for
        these words, at dictionary-lookup cost (source texts repeat their words)."""
        out = []
        for text in texts:
            ids: list[int] = []
            for w in words(text):
                ids.extend(self._word_ids(w))
            out.append(ids)
        return out

    def scores(self, targets: list[str], sources: list[str]) -> np.ndarray:
        """Cosine similarity of every target to every source sentence."""
        from scipy.sparse import csr_matrix

        t_ids, s_ids = self._ids(targets), self._ids(sources)
        used = np.unique(np.fromiter((i for seq in t_ids + s_ids for i in seq), dtype=np.int64))
        if len(used) == 0:
            return np.zeros((len(targets), len(sources)), dtype=np.float32)
        self.ensure(used)
        col = np.full(self.vocab, -1, dtype=np.int64)
        col[used] = np.arange(len(used))
        df = np.zeros(len(used))
        for seq in s_ids:
            df[col[np.unique(np.asarray(seq, dtype=np.int64))]] += 1
        n = max(len(sources), 1)
        # sqrt(IDF): plain IDF let rare sub-word pieces dominate (tried on configs/provenance/trove-sample.jsonl:
        # union track F1 0.953 with IDF, 0.955 with sqrt, 0.953 unweighted); a token no source has weighs most
        idf = np.sqrt(np.log(1 + n / np.maximum(df, 0.5)))
        vectors = np.asarray(self.table[used])

        def encode(seqs):
            rows = np.repeat(np.arange(len(seqs)), [len(q) for q in seqs])
            cols = col[np.fromiter((i for q in seqs for i in q), dtype=np.int64, count=len(rows))]
            return csr_matrix((idf[cols], (rows, cols)), shape=(len(seqs), len(used))) @ vectors

        T, S = encode(t_ids), encode(s_ids)
        T /= np.maximum(np.linalg.norm(T, axis=1, keepdims=True), 1e-9)
        S /= np.maximum(np.linalg.norm(S, axis=1, keepdims=True), 1e-9)
        return (T @ S.T).astype(np.float32)


def static_encoder() -> StaticEncoder:
    """The process-wide encoder (its table lives in this LABKIT_HOME's cache)."""
    global _encoder
    folder = _table_dir()
    if _encoder is None or _encoder.folder != folder:
        _encoder = StaticEncoder(folder)
    return _encoder
