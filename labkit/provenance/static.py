"""A static sentence encoder distilled from the packaged all-MiniLM-L6-v2 (the model2vec idea).

Each WordPiece token of MiniLM's vocabulary is run through MiniLM once, alone (`[CLS] token [SEP]`, mean
pooled as MiniLM pools sentences), and its vector is kept in a table. A sentence is then the IDF-weighted
mean of its tokens' vectors: no transformer at trace time, so encoding thousands of source sentences
takes milliseconds instead of seconds, and torch is not even imported once the table is built. Nor is scipy
(the sentence vectors are summed in numpy), nor, for ASCII text, the tokenizers library: plain ASCII words are
split by this module's own WordPiece over MiniLM's vocab.txt, which gives the tokenizer's pieces.

The table is built on demand and cached in LABKIT_HOME/cache/embeddings/static-minilm/: only the tokens a
trace needs are distilled (a few hundred for a page, ~5k for a 50k-token source), and later traces reuse
them. `prepare()` distils the whole vocabulary at once (30,522 tokens; ~30 s on 2 free cores).
sqrt(IDF) weights come from the source sentences of the call, so topic words count more than function words.
"""

from __future__ import annotations

import contextlib
import os
import threading

import numpy as np

from labkit.provenance.retrieve import words
from labkit.provenance.retrieve import _minilm_path

DIM = 384
_BATCH = 1024
_MAX_WORD = 100  # MiniLM's max_input_chars_per_word: a longer word is [UNK]
_lock = threading.Lock()
_encoder = None


def _table_dir():
    from labkit.settings import get_settings

    return get_settings().cache_dir / "embeddings" / "static-minilm"


class StaticEncoder:
    def __init__(self, folder):
        root = _minilm_path()
        self.root = root
        # WordPiece vocabulary (vocab.txt: line i is token i, as in tokenizer.json); the `tokenizers` library is
        # loaded only for words that are not plain ASCII letters and digits (see _word_ids)
        with open(os.path.join(root, "vocab.txt"), encoding="utf-8", newline="") as f:
            lines = f.read().split("\n")  # not splitlines(): a few tokens are characters it would split on
        if lines and not lines[-1]:
            lines.pop()
        self.pieces = {t: i for i, t in enumerate(lines)}
        self.vocab = len(self.pieces)
        self._tokenizer = None
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._model = None
        self._cache: dict[str, tuple[int, ...]] = {}
        self.unk = self.pieces["[UNK]"]  # says nothing about a sentence: left out
        self.table = self._open("table.npy", np.float32, (self.vocab, DIM))
        self.done = self._open("done.npy", np.bool_, (self.vocab,))

    @property
    def tokenizer(self):
        """MiniLM's own tokenizer (the `tokenizers` library), loaded on first use."""
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(os.path.join(self.root, "tokenizer.json"))
            tok.no_truncation()
            tok.no_padding()
            self._tokenizer = tok
        return self._tokenizer

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
        cls, sep = self.pieces["[CLS]"], self.pieces["[SEP]"]
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
                self._distil(_distinct(missing))

    def prepare(self) -> int:
        """Distil every token of the vocabulary; returns how many were missing."""
        missing = np.flatnonzero(~np.asarray(self.done))
        self.ensure(missing)
        return len(missing)

    def _wordpiece(self, word: str) -> tuple[int, ...]:
        """WordPiece of one lowercase ASCII word of letters and digits, as MiniLM's tokenizer splits it (BERT
        normalisation and pre-tokenisation leave such a word as it is): longest vocabulary prefix first, then
        "##" pieces; a word longer than 100 characters or with a part no piece matches is [UNK] (left out)."""
        pieces, out, start = self.pieces, [], 0
        if len(word) > _MAX_WORD:
            return ()
        while start < len(word):
            for end in range(len(word), start, -1):
                j = pieces.get(word[start:end] if start == 0 else "##" + word[start:end])
                if j is not None:
                    out.append(j)
                    start = end
                    break
            else:
                return ()  # the whole word is [UNK]
        return tuple(out)

    def _word_ids(self, word: str) -> tuple[int, ...]:
        ids = self._cache.get(word)
        if ids is None:
            if word.isascii() and word.isalnum():
                ids = self._wordpiece(word.lower())
            else:
                tok = self.tokenizer
                norm = tok.normalizer.normalize_str(word)
                ids = tuple(
                    t.id
                    for w, _ in tok.pre_tokenizer.pre_tokenize_str(norm)
                    for t in tok.model.tokenize(w)
                    if t.id != self.unk
                )
            self._cache[word] = ids
        return ids

    def _ids(self, texts: list[str]) -> list[list[int]]:
        """WordPiece ids of each text, word by word through a cache: the same ids as the tokenizer gives for
        these words, at dictionary-lookup cost (source texts repeat their words)."""
        return [[i for w in words(text) for i in self._word_ids(w)] for text in texts]

    def _flat_ids(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The ids of all texts one after another, and each text's count of ids."""
        flat: list[int] = []
        lens = np.empty(len(texts), dtype=np.int64)
        word_ids, extend = self._word_ids, flat.extend
        for n, text in enumerate(texts):
            before = len(flat)
            for w in words(text):
                extend(word_ids(w))
            lens[n] = len(flat) - before
        return np.asarray(flat, dtype=np.int64), lens

    def scores(self, targets: list[str], sources: list[str]) -> np.ndarray:
        """Cosine similarity of every target to every source sentence."""
        t_flat, t_lens = self._flat_ids(targets)
        s_flat, s_lens = self._flat_ids(sources)
        used = _distinct(np.concatenate([t_flat, s_flat]))
        if len(used) == 0:
            return np.zeros((len(targets), len(sources)), dtype=np.float32)
        self.ensure(used)
        t_rows, t_cols, t_counts = _bag(np.searchsorted(used, t_flat), t_lens, len(used))
        s_rows, s_cols, s_counts = _bag(np.searchsorted(used, s_flat), s_lens, len(used))
        df = np.bincount(s_cols, minlength=len(used)).astype(float)  # source sentences holding each token
        n = max(len(sources), 1)
        # sqrt(IDF): plain IDF let rare sub-word pieces dominate (tried on configs/provenance/trove-sample.jsonl:
        # union track F1 0.953 with IDF, 0.955 with sqrt, 0.953 unweighted); a token no source has weighs most
        idf = np.sqrt(np.log(1 + n / np.maximum(df, 0.5)))
        vectors = np.asarray(self.table[used])
        with _one_blas_thread():
            T = _weighted_sums(t_rows, t_cols, t_counts * idf[t_cols], vectors, len(targets))
            S = _weighted_sums(s_rows, s_cols, s_counts * idf[s_cols], vectors, len(sources))
            T /= np.maximum(np.linalg.norm(T, axis=1, keepdims=True), 1e-9)
            S /= np.maximum(np.linalg.norm(S, axis=1, keepdims=True), 1e-9)
            return (T @ S.T).astype(np.float32)


def _one_blas_thread():
    """One BLAS thread for the encoder's products: they take milliseconds, and on a shared machine a second
    OpenBLAS thread costs more than it saves (it spins after each product: 30-90 ms of CPU measured on 2 busy
    cores). threadpoolctl comes with scikit-learn; without it, BLAS keeps its threads."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _distinct(ids: np.ndarray) -> np.ndarray:
    """The distinct values, ascending: np.unique without its masked-array check (which imports numpy.ma)."""
    ids = np.sort(ids)
    return ids[np.concatenate(([True], ids[1:] != ids[:-1]))] if len(ids) else ids


def _bag(cols: np.ndarray, lens: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each sequence as a bag of tokens: (sequence, token) pairs sorted by sequence then token, and how often."""
    rows = np.repeat(np.arange(len(lens), dtype=np.int64), lens)
    key, counts = np.unique(rows * width + cols, return_counts=True)
    return key // width, key % width, counts


def _weighted_sums(rows, cols, weights, vectors, n_rows, chunk: int = 512) -> np.ndarray:
    """out[r] = the sum of weights[e] * vectors[cols[e]] over the entries e of row r (rows ascending), in float64:
    the sparse-matrix product, without scipy. The vectors of a few hundred entries are gathered at a time and
    each row is one small matrix-vector product (faster than numpy's reduceat over the gathered rows)."""
    out = np.zeros((n_rows, vectors.shape[1]))
    bounds = np.searchsorted(rows, np.arange(n_rows + 1))
    starts = bounds.tolist()
    r0 = 0
    while r0 < n_rows:
        r1 = min(max(int(np.searchsorted(bounds, starts[r0] + chunk, side="right")) - 1, r0 + 1), n_rows)
        e0, e1 = starts[r0], starts[r1]
        if e1 > e0:
            part, w = vectors[cols[e0:e1]].astype(np.float64), weights[e0:e1]
            for r in range(r0, r1):
                a, b = starts[r] - e0, starts[r + 1] - e0
                if b > a:
                    out[r] = w[a:b] @ part[a:b]
        r0 = r1
    return out


def static_encoder() -> StaticEncoder:
    """The process-wide encoder (its table lives in this LABKIT_HOME's cache)."""
    global _encoder
    folder = _table_dir()
    if _encoder is None or _encoder.folder != folder:
        _encoder = StaticEncoder(folder)
    return _encoder
