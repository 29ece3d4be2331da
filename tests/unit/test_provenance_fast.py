"""The cold-trace path without scipy or the tokenizers library: BM25 and the static encoder's sentence vectors
in numpy alone give the same numbers as the sparse products they replaced, the vectorised top k picks what the
row-by-row loop picked, and the pure-Python WordPiece splits ASCII words exactly as MiniLM's tokenizer does."""

import random

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from labkit.provenance import relate, retrieve, static
from labkit.provenance.retrieve import BM25, Candidate

WORDS = ["the", "bank", "raised", "rates", "fares", "roads", "council", "budget", "vote", "mayor"]
WORDS += ["plan", "city", "a", "of", "to", "in"]


def _docs(rng, n, lo=0, hi=20):
    return [[rng.choice(WORDS) for _ in range(rng.randint(lo, hi))] for _ in range(n)]


def _scipy_bm25(docs, queries, k1=1.5, b=0.75):
    """BM25 as it was computed before: scipy sparse matrices."""
    vocab, rows, cols, vals = {}, [], [], []
    lengths = np.array([len(d) for d in docs], dtype=float)
    for i, doc in enumerate(docs):
        counts = {}
        for t in doc:
            j = vocab.setdefault(t, len(vocab))
            counts[j] = counts.get(j, 0) + 1
        rows += [i] * len(counts)
        cols += list(counts)
        vals += list(counts.values())
    tf = csr_matrix((vals, (rows, cols)), shape=(len(docs), max(len(vocab), 1)), dtype=float)
    df = np.bincount(tf.indices, minlength=tf.shape[1])
    idf = np.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
    avgdl = lengths.mean() if len(docs) and lengths.mean() > 0 else 1.0
    norm = k1 * (1 - b + b * lengths / avgdl)
    tf = tf.tocoo()
    w = idf[tf.col] * tf.data * (k1 + 1) / (tf.data + norm[tf.row])
    weights = csr_matrix((w, (tf.row, tf.col)), shape=tf.shape)
    qr, qc = [], []
    for i, q in enumerate(queries):
        for j in {vocab[t] for t in q if t in vocab}:
            qr.append(i)
            qc.append(j)
    Q = csr_matrix((np.ones(len(qr)), (qr, qc)), shape=(len(queries), weights.shape[1]))
    return np.asarray((Q @ weights.T).todense())


@pytest.mark.parametrize("chunk", [1, 7, 1 << 22])  # a query per chunk, a few, all at once
def test_bm25_equals_the_sparse_product_to_the_last_bit(chunk, monkeypatch):
    rng = random.Random(1)
    docs = _docs(rng, 300) + [[]]  # an empty sentence too
    queries = _docs(rng, 40, 0, 12) + [["unknown", "words"], []]
    monkeypatch.setattr(BM25, "CHUNK", chunk)
    got = BM25(docs).scores(queries)
    assert got.shape == (len(queries), len(docs))
    assert np.array_equal(got, _scipy_bm25(docs, queries))
    assert not got[-1].any() and not got[-2].any()


def test_bm25_of_no_terms_and_no_documents():
    assert BM25([[], []]).scores([["a"]]).tolist() == [[0.0, 0.0]]
    assert BM25([["a"]]).scores([]).shape == (0, 1)


def _loop_retrieve(scores, sources, k, need):
    """retrieve()'s selection as it was: row by row."""
    out = []
    for i in range(next(iter(scores.values())).shape[0]):
        cands = {}
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
        kept = [c for c in cands.values() if len(c.votes) >= need]
        kept.sort(key=lambda c: (-len(c.votes), sum(c.votes.values())))
        out.append([(c.id, c.votes, c.scores) for c in kept])
    return out


@pytest.mark.parametrize("k", [1, 3, 10, 40])
def test_vectorised_top_k_picks_what_the_row_loop_picked(k, monkeypatch):
    rng = np.random.default_rng(0)
    n_t, n_s = 30, 40
    # coarse values: many ties, zeros and negatives, as BM25 and LCS give
    scores = {
        "bm25": rng.integers(-1, 4, (n_t, n_s)).astype(float),
        "lcs": rng.integers(0, 5, (n_t, n_s)) / 4,
        "dense": rng.normal(size=(n_t, n_s)).astype(np.float32),
    }
    sources = [(f"D1-{j}", f"s{j}") for j in range(1, n_s + 1)]
    monkeypatch.setattr(retrieve, "BM25", lambda docs: type("B", (), {"scores": lambda self, q: scores["bm25"]})())
    monkeypatch.setattr(retrieve, "lcs_coverage", lambda t, s: scores["lcs"])
    monkeypatch.setattr(retrieve, "dense_scores", lambda t, s, m=None: scores["dense"])
    targets = [f"t{i}" for i in range(n_t)]
    for method, need in (("union", 2), ("bm25", 1)):
        got = retrieve.retrieve(targets, sources, method=method, k=k)
        used = scores if method == "union" else {"bm25": scores["bm25"]}
        assert [[(c.id, c.votes, c.scores) for c in row] for row in got] == _loop_retrieve(
            used, sources, min(k, n_s), need
        )


def test_weighted_sums_equal_the_sparse_product():
    rng = np.random.default_rng(2)
    n_rows, width = 50, 30
    lens = rng.integers(0, 9, n_rows)
    lens[[0, 17, 49]] = 0  # empty rows, the first and last among them
    cols = rng.integers(0, width, lens.sum())
    rows, ucols, counts = static._bag(cols, lens, width)
    assert np.all(np.diff(rows * width + ucols) > 0)  # sorted by row then column, each pair once
    assert counts.sum() == lens.sum()
    weights = counts * rng.random(width)[ucols]
    vectors = rng.normal(size=(width, 8)).astype(np.float32)
    expected = csr_matrix((weights, (rows, ucols)), shape=(n_rows, width)) @ vectors
    for chunk in (1, 5, 512):
        got = static._weighted_sums(rows, ucols, weights, vectors, n_rows, chunk=chunk)
        assert np.allclose(got, expected, rtol=1e-12, atol=1e-12)
        assert not got[[0, 17, 49]].any()


def test_distinct_is_sorted_unique():
    a = np.array([5, 1, 5, 3, 1, 9], dtype=np.int64)
    assert static._distinct(a).tolist() == [1, 3, 5, 9]
    assert static._distinct(np.array([], dtype=np.int64)).tolist() == []


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return static.StaticEncoder(tmp_path_factory.mktemp("static-minilm"))


def test_wordpiece_splits_ascii_words_as_the_tokenizer_does(encoder):
    tok = encoder.tokenizer
    rng = random.Random(3)
    whole = [t for t in encoder.pieces if t.isascii() and t.isalnum()]
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    made = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))) for _ in range(2000)]
    long_ = ["a" * 100, "a" * 101, "unbelievable" * 9]  # the 100-character limit, either side
    for word in rng.sample(whole, 3000) + made + long_ + ["commuters", "fares", "2024", "x7q", "zzzzqqqq"]:
        expected = tuple(i for i in tok.encode(word, add_special_tokens=False).ids if i != encoder.unk)
        assert encoder._wordpiece(word) == expected, word


def test_word_ids_match_the_tokenizer_with_and_without_it(encoder):
    text = "Commuters' FARES rose 3.5% in São Paulo; naïve café-goers; 央行加息, Москва"
    expected = [
        i
        for i in encoder.tokenizer.encode(text, add_special_tokens=False).ids
        if i != encoder.unk and encoder.tokenizer.id_to_token(i).strip("#").isalnum()
    ]
    assert encoder._ids([text])[0] == expected
    flat, lens = encoder._flat_ids([text, "", "Bank rates"])
    assert flat.tolist() == expected + encoder._ids(["Bank rates"])[0] and lens.tolist() == [len(expected), 0, 2]


def test_vocabulary_file_is_the_tokenizers_vocabulary(encoder):
    assert encoder.pieces == encoder.tokenizer.get_vocab() and encoder.vocab == encoder.tokenizer.get_vocab_size()


def test_ascii_words_need_no_tokenizer(tmp_path):
    enc = static.StaticEncoder(tmp_path)
    enc._ids(["The council voted on 12 new roads."])
    assert enc._tokenizer is None


def _content_tokens_before(text):
    out = set()
    for w in retrieve.tokenize(text):
        if w in relate.STOPWORDS or (len(w) == 1 and w.isascii()):
            continue
        if relate.is_cjk(w[0]):
            if len(w) == 2 and not (w[0] in relate.STOPWORDS or w[1] in relate.STOPWORDS):
                out.add(w)
            continue
        out.add(relate._stem(w) if w.isascii() and w.isalpha() else w)
    for run in retrieve.words(text):
        if len(run) == 1 and relate.is_cjk(run) and run not in relate.STOPWORDS:
            out.add(run)
    return frozenset(out)


@pytest.mark.parametrize(
    "text",
    [
        "The council's 2024 budget raised fares; critics voted against it, a b c.",
        "Café naïve é x3 São Paulo 水 央行今天宣布加息 的 会议 Москва и я",
        "",
        "a I 1 22 roads repairs running",
    ],
)
def test_content_tokens_unchanged(text):
    relate.content_tokens.cache_clear()
    assert relate.content_tokens(text) == _content_tokens_before(text)


def test_words_and_tokens():
    assert retrieve.words("Hello, WORLD_x 3.5 央行加息") == ("hello", "world", "x", "3", "5", "央行加息")
    assert retrieve._tokens("plain ascii text") == ("plain", "ascii", "text")
    assert retrieve._tokens("央行 up") == ("央", "行", "央行", "up")


def test_ascii_words_as_the_full_pattern_finds_them():
    rng = random.Random(4)
    alphabet = "aZ9_-.,'\" \t\n!?()é央"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(3000)]
    texts += ["Hello, World_2 x.y", "ǅungla İstanbul Kelvin\u212a", "", "___"]
    for text in texts:
        retrieve.words.cache_clear()
        assert retrieve.words(text) == tuple(retrieve._token().findall(text.lower())), text


def test_cjk_runs_are_recognised_without_a_character_class():
    import re

    from labkit.text import CJK_CLASS

    cls = re.compile(rf"[{CJK_CLASS}]")
    for cp in list(range(0x2F00, 0xA000)) + list(range(0xAB00, 0xFB00)):
        assert retrieve._is_cjk_run(chr(cp)) == bool(cls.match(chr(cp))), hex(cp)


def test_one_blas_thread_while_encoding():
    from threadpoolctl import threadpool_info

    with static._one_blas_thread():
        assert all(p["num_threads"] == 1 for p in threadpool_info() if p["user_api"] == "blas")


@pytest.mark.parametrize("n", [1, 2, 3, 10, 11, 1000])
def test_median_is_numpys(n):
    rng = np.random.default_rng(n)
    values = list(rng.random(n) * 10)
    assert relate._median(values) == float(np.median(values))
