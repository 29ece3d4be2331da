"""`labkit eval` vs lm-evaluation-harness on the same work, as whole processes: the same greedy generation of
the same MGSM-style items (the test fixture, repeated, all 11 languages) by the same local model folder, with the
same prompt text, chat template, stop (the model's end of turn only: labkit's MGSM sets no stop strings), max new
tokens and batch size.

lm-eval runs offline on a task written for the run into a temporary folder (`--include_path`): a generate_until
task over a local JSONL file (`dataset_path: json`) whose `prompt` field is the user message labkit builds, with
`--apply_chat_template` so both render the same ChatML text, and lm-eval's own MGSM flexible-extract filter.

Each run is a fresh process (this script re-run as `--child labkit|lmeval`, which only adds a timer around
transformers' `generate`), in its own session (the kernel's autogroup would otherwise favour one side), reaped with
`os.wait4`: whole-process wall seconds, CPU seconds and peak RSS (ru_maxrss) of that process and its children.
One untimed warm-up per side (OS file cache, the datasets cache, labkit's store), then `--pairs` interleaved pairs
whose order alternates; ratios labkit / lm-eval are taken per pair and reported as [min, median, max].

lm-eval is not a labkit dependency; install it for this benchmark only:

    pip install 'lm-eval==0.4.9'        # or: pip install '.[bench]'
    python benchmarks/evaluate_vs_lmeval.py [--pairs 3] [--repeat 8] [--new-tokens 64] [--batch-size 32]

lm-eval 0.4.9 names `transformers.AutoModelForVision2Seq`, which transformers 5 renamed
`AutoModelForImageTextToText`; the lm-eval child sets the old name as an alias before importing lm-eval.

Keys in the style of benchmarks/evaluate.py (samples, new_tokens, *_samples_per_s) with, per side, *_wall_s,
*_cpu_s, *_peak_rss_mib, *_generate_s (time inside `generate`) as medians and *_range [min, median, max];
*_decode_steps (new tokens per row, summed over `generate` calls) and *_batch_rows; wall_ratio, cpu_ratio, rss_ratio,
generate_ratio (labkit / lm-eval) as ranges; identical_outputs (share of items whose text is equal on both sides).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "mgsm"
TASK = "labkit_mgsm"
# lm-eval's own MGSM "flexible-extract": the last number in the output
TASK_YAML = """task: {task}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{prompt}}}}"
doc_to_target: "{{{{answer_number}}}}"
target_delimiter: ""
generation_kwargs:
  until: []
  do_sample: false
  temperature: 0.0
  max_gen_toks: {new_tokens}
filter_list:
  - name: flexible-extract
    filter:
      - function: regex
        group_select: -1
        regex_pattern: "(-?[$0-9.,]{{2,}})|(-?[0-9]+)"
      - function: take_first
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
    ignore_case: true
    ignore_punctuation: true
"""


# --- child: one side, in this process, with a timer around generate ---------------------------------------


def _time_generate(log: list) -> None:
    """Wrap transformers' GenerationMixin.generate when (and only when) the side itself imports it, so the
    child's imports and start-up stay those of the tool."""
    import importlib.abc

    class Hook(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name != "transformers.generation.utils":
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(name)
            run_module = spec.loader.exec_module

            def exec_module(module):
                run_module(module)
                inner = module.GenerationMixin.generate

                def generate(self, *args, **kwargs):
                    ids = kwargs.get("input_ids", args[0] if args else None)
                    t = time.perf_counter()
                    out = inner(self, *args, **kwargs)
                    seqs = getattr(out, "sequences", out)
                    log.append([time.perf_counter() - t, int(ids.shape[0]), int(seqs.shape[1] - ids.shape[1])])
                    return out

                module.GenerationMixin.generate = generate

            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, Hook())


def child(side: str, log_path: str, argv: list[str]) -> int:
    log: list = []
    _time_generate(log)
    try:
        if side == "labkit":
            from labkit.cli import main

            return main(argv)
        import transformers.processing_utils  # noqa: F401  (transformers swaps its module object while importing this)

        tf = sys.modules["transformers"]
        tf.AutoModelForVision2Seq = tf.AutoModelForImageTextToText  # the name lm-eval 0.4.9 uses (transformers 4)
        from lm_eval.__main__ import cli_evaluate

        sys.argv = ["lm_eval", *argv]
        cli_evaluate()
        return 0
    finally:
        Path(log_path).write_text(json.dumps(log))


# --- parent -----------------------------------------------------------------------------------------------


def write_data(folder: Path, repeat: int) -> list[dict]:
    """The fixture repeated `repeat` times with unique ids: <lang>.jsonl for labkit, one items.jsonl (with the
    prompt labkit builds) for lm-eval. Returns the items."""
    from labkit.evaluate.tasks import get_task

    task = get_task("mgsm")
    folder.mkdir(parents=True)
    items = []
    for f in sorted(FIX.glob("*.jsonl")):
        rows = [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines()]
        rows = [{**r, "id": f"{k}-{i}"} for k in range(repeat) for i, r in enumerate(rows)]
        (folder / f.name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
        for doc in task.load(f.stem, str(folder)):
            items.append(
                {"id": doc.id, "lang": doc.lang, "answer_number": doc.gold, "prompt": task.prompt(doc)[-1]["content"]}
            )
    (folder / "lmeval").mkdir()
    (folder / "lmeval" / "items.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items), "utf-8"
    )
    return items


def run_side(side: str, argv: list[str], env: dict, work: Path) -> dict:
    tag = f"{side}-{time.monotonic_ns()}"
    log, out = work / f"{tag}.json", work / f"{tag}.out"
    cmd = [sys.executable, __file__, "--child", side, "--gen-log", str(log), "--", *argv]
    with open(out, "wb") as f:
        t = time.perf_counter()
        # its own session: with autogroup scheduling a session gets its own share of a crowded CPU (see train.py)
        p = subprocess.Popen(cmd, env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
        _, status, ru = os.wait4(p.pid, 0)  # reaps it with the rusage of it and its reaped children
        wall = time.perf_counter() - t
    p.returncode = code = os.waitstatus_to_exitcode(status)
    if code:
        sys.exit(f"{side} failed ({code}):\n{out.read_text(errors='replace')[-3000:]}")
    gen = json.loads(log.read_text())
    return {
        "wall": wall,
        "cpu": ru.ru_utime + ru.ru_stime,
        "rss_mib": ru.ru_maxrss / 1024,  # KiB on Linux
        "generate_s": sum(g[0] for g in gen),
        "batch_rows": sorted({g[1] for g in gen}, reverse=True),
        "decode_steps": sum(g[2] for g in gen),
    }


def labkit_argv(data: Path, model: str, out: Path, args) -> list[str]:
    langs = ",".join(sorted(p.stem for p in FIX.glob("*.jsonl")))
    return [
        "eval", "--task", "mgsm", "--languages", langs, "--model", model, "--data", str(data),
        "--max-new-tokens", str(args.new_tokens), "--batch-size", str(args.batch_size), "--output", str(out), "--json",
    ]  # fmt: skip


def lmeval_argv(tasks: Path, model: str, out: Path, args) -> list[str]:
    return [
        "--model", "hf", "--model_args", f"pretrained={model},dtype=float32", "--device", "cpu",
        "--tasks", TASK, "--include_path", str(tasks), "--batch_size", str(args.batch_size),
        "--apply_chat_template", "--output_path", str(out), "--log_samples",
    ]  # fmt: skip


def outputs(side: str, out: Path) -> dict[str, str]:
    """(lang, id) -> generated text, from each side's samples file."""
    if side == "labkit":
        rows = [json.loads(line) for line in (out / "samples.jsonl").read_text("utf-8").splitlines()]
        return {f"{r['lang']}/{r['id']}": r["output"] for r in rows}
    (path,) = out.rglob(f"samples_{TASK}_*.jsonl")
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    return {f"{r['doc']['lang']}/{r['doc']['id']}": r["resps"][0][0] for r in rows}


def span(xs: list[float], digits: int = 2) -> list[float]:
    return [round(min(xs), digits), round(statistics.median(xs), digits), round(max(xs), digits)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=8, help="copies of the fixture (3 problems × 11 languages each)")
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--model", default="tiny", help="tiny | tiny-math | a local model folder")
    ap.add_argument("--threads", type=int, help="OMP_NUM_THREADS for both sides (default: torch's choice)")
    ap.add_argument("--child", choices=["labkit", "lmeval"], help=argparse.SUPPRESS)
    ap.add_argument("--gen-log", help=argparse.SUPPRESS)
    ap.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.gen_log, args.rest)
    if importlib.util.find_spec("lm_eval") is None:
        sys.exit(
            "lm-evaluation-harness is not installed; this benchmark compares against it.\n"
            "Install it for the benchmark only: pip install 'lm-eval==0.4.9'  (or pip install '.[bench]')"
        )
    work = Path(tempfile.mkdtemp(prefix="labkit-vs-lmeval-"))
    env = {
        **os.environ,
        "LABKIT_HOME": str(work / "home"),
        "HF_HOME": str(work / "hf"),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    os.environ.update(LABKIT_HOME=env["LABKIT_HOME"], HF_HUB_OFFLINE="1")
    from labkit.models import resolve_model

    model = resolve_model(args.model)  # the same folder for both sides (tiny models are built here, offline)
    data = work / "data"
    items = write_data(data, args.repeat)
    tasks = work / "tasks"
    tasks.mkdir()
    (tasks / f"{TASK}.yaml").write_text(
        TASK_YAML.format(task=TASK, data=data / "lmeval" / "items.jsonl", new_tokens=args.new_tokens), "utf-8"
    )
    argv = {"labkit": labkit_argv, "lmeval": lmeval_argv}
    source = {"labkit": data, "lmeval": tasks}

    def run(side: str, n: str) -> tuple[dict, Path]:
        out = work / "out" / f"{side}-{n}"
        return run_side(side, argv[side](source[side], model, out, args), env, work), out

    warm = {side: run(side, "warm") for side in ("labkit", "lmeval")}  # untimed: file cache, datasets cache, store
    texts = {side: outputs(side, out) for side, (_, out) in warm.items()}
    runs: dict[str, list[dict]] = {"labkit": [], "lmeval": []}
    for i in range(args.pairs):
        for side in ("labkit", "lmeval") if i % 2 == 0 else ("lmeval", "labkit"):
            runs[side].append(run(side, str(i))[0])
    n = len(items)
    med = lambda side, k: statistics.median(r[k] for r in runs[side])  # noqa: E731
    ratio = lambda k: span([a[k] / b[k] for a, b in zip(runs["labkit"], runs["lmeval"])])  # noqa: E731
    same = sum(texts["labkit"].get(k) == v for k, v in texts["lmeval"].items())
    result = {
        "samples": n,
        "new_tokens": args.new_tokens,
        "batch_size": args.batch_size,
        "model": args.model,
        "pairs": args.pairs,
        "threads": args.threads,
        "labkit_samples_per_s": round(n / med("labkit", "wall"), 1),
        "lmeval_samples_per_s": round(n / med("lmeval", "wall"), 1),
    }
    for side in ("labkit", "lmeval"):
        for k, key in (("wall", "wall_s"), ("cpu", "cpu_s"), ("rss_mib", "peak_rss_mib"), ("generate_s", "generate_s")):
            result[f"{side}_{key}"] = round(med(side, k), 2)
            result[f"{side}_{key}_range"] = span([r[k] for r in runs[side]])
        result[f"{side}_decode_steps"] = runs[side][0]["decode_steps"]
        result[f"{side}_batch_rows"] = runs[side][0]["batch_rows"]
    result.update(
        wall_ratio=ratio("wall"),
        cpu_ratio=ratio("cpu"),
        rss_ratio=ratio("rss_mib"),
        generate_ratio=ratio("generate_s"),
        identical_outputs=round(same / max(len(texts["lmeval"]), 1), 3),
        compared_outputs=len(texts["lmeval"]),
        load_avg_1min=round(os.getloadavg()[0], 1),
    )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
