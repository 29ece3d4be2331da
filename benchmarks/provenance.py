"""Trace speed and quality: 100 target sentences against sources of growing length (1k → 100k tokens),
heuristic engine, union retrieval (BM25 + dense + LCS), for each dense encoder; baselines in the same run.

Speed, per source size (keys kept from earlier turns, new ones beside them):
  bm25_only_s                BM25 alone (no dense encoder)
  union_first_trace_s        union with the default encoder (static MiniLM) in a fresh process state: the
                             first trace of these sources, token table already distilled (done once per install)
  union_cached_embeddings_s  the same trace again
  static_cold_distil_s       the first trace with an EMPTY token table: distils the tokens it needs on the fly
  static_tokens_distilled    how many tokens that was
  minilm_union_first_trace_s union with the full MiniLM (sentence-transformers), embedding cache empty
  minilm_union_cached_s      the same trace again (embeddings cached)
Quality: track / relation / overall F1 of each encoder on configs/provenance/trove-sample.jsonl.
Machine load (1-minute load average, CPU count) is recorded with the numbers: the machine may be shared.
*_cpu_s: the CPU seconds of the same calls (all threads of this process), which other load inflates far less.

    .venv/bin/python benchmarks/provenance.py [--sizes 1000,10000,50000,100000] [--minilm-max 50000]

Cold trace, before and after (`--cold`): each round runs `labkit trace --source S --target T --output O` in a fresh
interpreter (50k-token source, 100 target sentences, the default encoder, token table already distilled) once with
labkit/provenance as it is in the checkout ("after") and once as it was at --before ("before"), the order
alternating between rounds. Each side is a copy of the checkout's labkit/ made at the start (PYTHONPATH), the
"before" copy with labkit/provenance/ taken from that commit: only provenance differs. Each run's wall and CPU
seconds (the child's getrusage) are recorded with the 1-minute load average; the two sides' outputs must be
identical, and the track F1 of each side on the evaluation sample is printed beside them. Both sides compile
their modules once into a bytecode cache (PYTHONPYCACHEPREFIX), as an install has them; --no-bytecode runs
without (PYTHONDONTWRITEBYTECODE=1: every module compiled in every run).
`--stages` adds one run per side that times the stages of a cold trace inside the process.

    .venv/bin/python benchmarks/provenance.py --cold [--before 783599f] [--rounds 8] [--stages]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("LABKIT_HOME", tempfile.mkdtemp(prefix="labkit-bench-"))
WORDS = [
    "council",
    "budget",
    "transport",
    "fares",
    "mayor",
    "vote",
    "critics",
    "roads",
    "repairs",
    "city",
    "plan",
    "commuting",
    "times",
    "bank",
    "rates",
    "inflation",
    "spring",
    "school",
    "library",
    "weekend",
    "holiday",
    "weather",
    "report",
    "committee",
    "logo",
    "fair",
    "market",
    "prices",
    "growth",
    "jobs",
    "housing",
    "rent",
    "taxes",
]
SAMPLE = Path(__file__).resolve().parents[1] / "configs" / "provenance" / "trove-sample.jsonl"


def make_doc(n_tokens: int, rng: random.Random) -> str:
    sents, count = [], 0
    while count < n_tokens:
        k = rng.randint(8, 25)
        sents.append(" ".join(rng.choice(WORDS) for _ in range(k)).capitalize() + ".")
        count += k
    return " ".join(sents)


CPU = {}  # key → CPU seconds of the last timed call (this process, all threads): less sensitive to other load


def timed(fn, key=None):
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    if key:
        CPU[key] = round(time.process_time() - c, 3)
    return out, round(time.perf_counter() - t, 3)


def clear_caches():
    """A fresh process's state: no cached tokenisation, no open token table."""
    from labkit.provenance import relate, retrieve, static

    for fn in (retrieve.words, retrieve._tokens, relate.content_tokens, relate._stem, relate._ascii_content):
        fn.cache_clear()
    static._encoder = None


def reset_static():
    """Forget the in-process encoder and empty its on-disk token table."""
    from labkit.provenance import static

    static._encoder = None
    shutil.rmtree(static._table_dir(), ignore_errors=True)


def quality(encoders: dict) -> dict:
    from labkit.provenance.trace import evaluate_file

    out = {}
    for name, dense in encoders.items():
        res, secs = timed(partial(evaluate_file, SAMPLE, retriever="union", dense_model=dense))
        out[name] = {
            "track_micro_f1": round(res["track"]["micro"]["f1"], 4),
            "track_micro_p": round(res["track"]["micro"]["p"], 4),
            "track_micro_r": round(res["track"]["micro"]["r"], 4),
            "relation_micro_f1": round(res["relation"]["micro"]["f1"], 4),
            "overall_f1": round(res["overall_f1"], 4),
            "eval_s": secs,
            "track_f1_by_language": {k: round(v["track"]["micro"]["f1"], 4) for k, v in res["by_language"].items()},
        }
    return out


ROOT = Path(__file__).resolve().parents[1]
CLI = "import sys; from labkit.cli import main; sys.exit(main())"
F1 = (
    "import json, sys; from labkit.provenance.trace import evaluate_file; "
    "r = evaluate_file(sys.argv[1], retriever='union'); "
    "print(json.dumps({'track_micro_f1': r['track']['micro']['f1'], 'overall_f1': r['overall_f1']}))"
)
# the stages of a cold trace, timed inside one fresh process (the same functions exist on both sides)
STAGES = r"""
import json, sys, time
marks = [(time.perf_counter(), time.process_time())]
out = {}
def lap(name):
    t, c = time.perf_counter(), time.process_time()
    out[name] = f"{t - marks[-1][0]:.3f} s ({c - marks[-1][1]:.3f} CPU s)"
    marks.append((time.perf_counter(), time.process_time()))
import labkit.cli; lap("import labkit.cli (all commands)")
from labkit.provenance import relate, retrieve
from labkit.provenance.segment import segment_sources, segment_target
src, tgt = open(sys.argv[1]).read(), open(sys.argv[2]).read(); lap("read")
sources, targets = segment_sources([src]), segment_target(tgt); lap("sentence splitting")
texts = {s.id: s.text for d in sources for s in d}; ts = [t.text for t in targets]; st = list(texts.values())
toks = [retrieve.tokenize(t) for t in st]; qs = [retrieve.tokenize(t) for t in ts]; lap("tokenisation (BM25 tokens)")
B = retrieve.BM25(toks).scores(qs); lap("BM25 (index + scores; before: imports scipy)")
L = retrieve.lcs_coverage(ts, st); lap("LCS (rapidfuzz)")
D = retrieve.dense_scores(ts, st); lap("dense: static encoder (open table, word pieces, vectors, similarity)")
index = relate.TokenIndex(texts); lap("content tokens + IDF (relate.TokenIndex)")
class Done:  # the score matrices above, so that retrieve() below does only its own part
    def __init__(self, docs): pass
    def scores(self, queries): return B
retrieve.BM25, retrieve.lcs_coverage, retrieve.dense_scores = Done, lambda *a: L, lambda *a, **k: D
cands = retrieve.retrieve(ts, list(texts.items())); lap("top k of each retriever, votes (retrieve)")
[relate.heuristic(t, c, texts, index) for t, c in zip(ts, cands)]; lap("classification (heuristic)")
print(json.dumps(out))
"""


def _tree(dest: Path, commit: str | None = None) -> Path:
    """A snapshot of the checkout's labkit/ under `dest`; with `commit`, its labkit/provenance/ as it was then."""
    shutil.copytree(ROOT / "labkit", dest / "labkit", ignore=shutil.ignore_patterns("__pycache__"))
    if commit is None:
        return dest
    prov = dest / "labkit" / "provenance"
    shutil.rmtree(prov)
    prov.mkdir()
    git = partial(subprocess.run, cwd=ROOT, check=True, capture_output=True)
    for name in git(["git", "ls-tree", "--name-only", f"{commit}:labkit/provenance"]).stdout.decode().split():
        (prov / name).write_bytes(git(["git", "show", f"{commit}:labkit/provenance/{name}"]).stdout)
    return dest


def _child(root: Path, args: list[str], env: dict) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run `python args` with `root` first on the path; its wall seconds and CPU seconds (user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *args], env={**env, "PYTHONPATH": str(root)}, capture_output=True, text=True, cwd=root
    )
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise SystemExit(f"{args[:2]} failed in {root}:\n{proc.stderr[-3000:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return proc, wall, cpu


def _spread(xs: list[float]) -> str:
    return f"{min(xs):.2f} – {statistics.median(xs):.2f} – {max(xs):.2f}"


def cold_runs(args) -> None:
    work = Path(tempfile.mkdtemp(prefix="prov-cold-"))
    rng = random.Random(0)
    doc = make_doc(args.cold_tokens, rng)
    sents = doc.split(". ")
    src, tgt = work / "source.txt", work / "target.txt"
    src.write_text(doc, encoding="utf-8")
    tgt.write_text(" ".join(rng.choice(sents).rstrip(".") + "." for _ in range(100)), encoding="utf-8")
    sides = {"before": _tree(work / "before", args.before), "after": _tree(work / "after")}
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    env["LABKIT_HOME"] = str(work / "home")
    if args.no_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env["PYTHONPYCACHEPREFIX"] = str(work / "pyc")
    outputs, f1 = {}, {}
    for name, root in sides.items():  # untimed: distils the tokens these texts need, fills the bytecode cache
        out = work / f"{name}.jsonl"
        _child(root, ["-c", CLI, "trace", "--source", str(src), "--target", str(tgt), "--output", str(out)], env)
        outputs[name] = out.read_text(encoding="utf-8")
        f1[name] = json.loads(_child(root, ["-c", F1, str(SAMPLE)], env)[0].stdout.strip().splitlines()[-1])
    if outputs["before"] != outputs["after"]:
        raise SystemExit("the two sides traced differently")
    runs = {name: [] for name in sides}
    for r in range(args.rounds):
        order = list(sides) if r % 2 == 0 else list(sides)[::-1]
        for name in order:
            load = os.getloadavg()[0]
            cmd = ["-c", CLI, "trace", "--source", str(src), "--target", str(tgt), "--output", str(work / "o.jsonl")]
            _, wall, cpu = _child(sides[name], cmd, env)
            runs[name].append({"round": r, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "load_1m": load})
            print(json.dumps({"side": name, **runs[name][-1]}), flush=True)
    summary = {
        "source_tokens": args.cold_tokens,
        "before": args.before,
        "bytecode_cached": not args.no_bytecode,
        "cpus": os.cpu_count(),
        "outputs_identical": True,
        "track_f1": {k: round(v["track_micro_f1"], 4) for k, v in f1.items()},
        "overall_f1": {k: round(v["overall_f1"], 4) for k, v in f1.items()},
    }
    for name, rs in runs.items():
        summary[f"{name}_cold_trace_s"] = _spread([x["wall_s"] for x in rs])
        summary[f"{name}_cold_trace_cpu_s"] = _spread([x["cpu_s"] for x in rs])
    summary["load_1m"] = _spread([x["load_1m"] for rs in runs.values() for x in rs])
    summary["wall_ratio_after_before"] = _spread(
        [a["wall_s"] / b["wall_s"] for a, b in zip(runs["after"], runs["before"])]
    )
    if args.stages:
        summary["stages_wall_cpu_s"] = {
            name: json.loads(_child(root, ["-c", STAGES, str(src), str(tgt)], env)[0].stdout.strip().splitlines()[-1])
            for name, root in sides.items()
        }
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,50000,100000")
    ap.add_argument(
        "--minilm-max", type=int, default=100_000, help="run the full-MiniLM baseline up to this size (slow on CPU)"
    )
    ap.add_argument("--cold", action="store_true", help="fresh-process `labkit trace`, before vs after (see above)")
    ap.add_argument("--before", default="783599f", help="--cold: the commit whose labkit/provenance is 'before'")
    ap.add_argument("--rounds", type=int, default=8, help="--cold: rounds (each runs both sides, order alternating)")
    ap.add_argument("--cold-tokens", type=int, default=50_000, help="--cold: source length in tokens")
    ap.add_argument("--no-bytecode", action="store_true", help="--cold: no bytecode cache (every module compiled)")
    ap.add_argument("--stages", action="store_true", help="--cold: also time the stages inside one run per side")
    args = ap.parse_args()
    if args.cold:
        return cold_runs(args)
    from labkit.provenance import static
    from labkit.provenance.retrieve import MINILM
    from labkit.provenance.trace import trace

    rng = random.Random(0)
    docs = {n: make_doc(n, rng) for n in map(int, args.sizes.split(","))}
    # the token table an install builds once (`labkit trace --prepare`): all tokens these sources use
    static.static_encoder().scores(["warm up"], [d for d in docs.values()])
    rows = []
    for n, doc in docs.items():
        sents = doc.split(". ")
        target = " ".join(rng.choice(sents).rstrip(".") + "." for _ in range(100))
        load = os.getloadavg()[0]
        clear_caches()
        _, bm25 = timed(partial(trace, [doc], target, retriever="bm25"), "bm25_only_cpu_s")
        clear_caches()  # a fresh process: tokenisation not cached, the table opened from disk again
        res, cold = timed(partial(trace, [doc], target, retriever="union"), "union_first_trace_cpu_s")
        _, warm = timed(partial(trace, [doc], target, retriever="union"))
        row = {
            "source_tokens": n,
            "source_sentences": res["coverage"]["n_source_sentences"],
            "bm25_only_s": bm25,
            "union_first_trace_s": cold,
            "union_cached_embeddings_s": warm,
            "encoder": "static-minilm",
        }
        table = static._table_dir()
        keep = Path(tempfile.mkdtemp()) / "table"
        shutil.copytree(table, keep)
        reset_static()
        clear_caches()
        _, row["static_cold_distil_s"] = timed(partial(trace, [doc], target, retriever="union"))
        row["static_tokens_distilled"] = int(static.static_encoder().done.sum())
        static._encoder = None
        shutil.rmtree(table)
        shutil.copytree(keep, table)
        if n <= args.minilm_max:
            clear_caches()
            _, row["minilm_union_first_trace_s"] = timed(
                partial(trace, [doc], target, retriever="union", dense_model=MINILM), "minilm_union_first_trace_cpu_s"
            )
            _, row["minilm_union_cached_s"] = timed(
                partial(trace, [doc], target, retriever="union", dense_model=MINILM)
            )
        row.update(CPU)
        CPU.clear()
        row["load_avg_1m"], row["cpus"] = round((load + os.getloadavg()[0]) / 2, 2), os.cpu_count()
        rows.append(row)
        print(json.dumps(row), flush=True)
    encoders = {"static-minilm": None, "minilm": MINILM}
    print(json.dumps({"rows": rows, "quality": quality(encoders)}, indent=2))


if __name__ == "__main__":
    main()
