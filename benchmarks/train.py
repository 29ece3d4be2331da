"""Launch overhead: `labkit train` (validation, run folder, job supervisor, worker) vs calling TRL directly
in one fresh Python process — same tiny model, same data, same steps. Wall seconds and TRL's steps/s.

The machine may be shared, so the two are run as `--pairs` interleaved pairs (the order alternates) and the
ratio labkit/direct is reported per pair, with min–median–max over the pairs; CPU seconds (getrusage of the
children: the CLI, its supervisor and worker, reaped) sit beside wall seconds, since other load inflates CPU
seconds far less. The first launch in a fresh LABKIT_HOME fills labkit's caches (the TRL settings schema);
it is reported on its own (`labkit_cold_*`) and left out of the pairs. The next launch starts the home's warm server
(labkit.warm), and the later ones are forked from it once it is ready (`labkit_warm_starts`: which were; a warm
job's CPU is its supervisor's count in exit.json, since it is not this benchmark's descendant). `LABKIT_WARM=0`
measures cold launches only.

Keys kept from earlier turns: steps, direct_trl_wall_s, direct_trl_steps_per_s, labkit_train_wall_s,
labkit_steps_per_s, overhead_s (now medians over the pairs). New beside them: pairs, *_range [min, median,
max], steps_per_s_ratio, *_cpu_s, labkit_breakdown_s (where labkit's wall time goes, medians), load_avg_1min.

    .venv/bin/python benchmarks/train.py [--steps 100] [--pairs 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stats import spread

ROOT = Path(__file__).resolve().parents[1]
DIRECT = """
import json, sys, time
t = time.time()
from datasets import load_dataset
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import SFTConfig, SFTTrainer
from labkit.models import resolve_model
imported = time.time()
path = resolve_model("tiny")
tok = AutoTokenizer.from_pretrained(path)
ds = load_dataset("json", data_files=sys.argv[1], split="train")
args = SFTConfig(output_dir=sys.argv[2], max_steps=int(sys.argv[3]), per_device_train_batch_size=2,
                 learning_rate=1e-3, logging_steps=1, save_strategy="no", report_to="none", use_cpu=True,
                 bf16=False, gradient_checkpointing=False, max_length=128)
tr = SFTTrainer(model=AutoModelForCausalLM.from_pretrained(path), args=args, train_dataset=ds, processing_class=tok)
built = time.time()
out = tr.train()
trained = time.time()
tr.save_model(sys.argv[2])
print(json.dumps({"wall": time.time() - t, "steps_per_s": out.metrics["train_steps_per_second"],
                  "imported": imported, "built": built, "trained": trained, "saved": time.time()}))
"""


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(argv: list[str], env: dict) -> tuple[float, float, float, str]:
    """(start time, wall s, CPU s of the process and its reaped descendants, stdout)."""
    c, t0, p = children_cpu(), time.time(), time.perf_counter()
    # its own session, as labkit's job supervisor has: with the kernel's autogroup scheduling a session gets its own
    # share of a crowded CPU, so a baseline left in the benchmark's session would be slowed by the comparison itself
    out = subprocess.run(argv, env=env, capture_output=True, text=True, start_new_session=True)
    wall, cpu = time.perf_counter() - p, children_cpu() - c
    if out.returncode:
        sys.exit(f"{argv[:4]} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return t0, wall, cpu, out.stdout


def run_direct(env: dict, data: Path, steps: int) -> dict:
    t0, wall, cpu, stdout = timed([sys.executable, "-c", DIRECT, str(data), tempfile.mkdtemp(), str(steps)], env)
    d = json.loads(stdout.strip().splitlines()[-1])
    return {
        "wall": wall,
        "cpu": cpu,
        "steps_per_s": d["steps_per_s"],
        "to_train_s": d["built"] - t0,  # process start, imports, model and data, trainer: before train()
        "imports_s": d["imported"] - t0,
        "after_train_s": t0 + wall - d["trained"],  # save and process exit
    }


def run_labkit(env: dict, steps: int) -> dict:
    recipe = ROOT / "configs" / "train" / "sft-tiny.yaml"
    sets = ["--set", f"trainer.max_steps={steps}", "--set", "trainer.save_strategy=no"]
    t0, wall, cpu, stdout = timed([sys.executable, "-m", "labkit.cli", "train", str(recipe), *sets, "--json"], env)
    lab = json.loads(stdout)
    run_dir = Path(env["LABKIT_HOME"]) / "runs" / lab["run_id"]
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    begin = next(r["time"] for r in records if r.get("event") == "begin")
    last_step = max(r["time"] for r in records if "loss" in r or "train_runtime" in r)
    launched = (run_dir / "command.json").stat().st_mtime  # the CLI validated and wrote the run folder
    worker_started = _worker_start(env, lab["run_id"])
    saved = (run_dir / "final_metrics.json").stat().st_mtime
    exited = (run_dir / "exit.json").stat().st_mtime  # the supervisor saw the worker exit
    warm = " start (warm): " in (run_dir / "log.txt").read_text()
    if warm:  # forked from the warm server, not this benchmark's descendant: its CPU is the supervisor's count
        cpu += json.loads((run_dir / "exit.json").read_text())["cpu_s"]
    return {
        "wall": wall,
        "cpu": cpu,
        "warm": warm,
        "steps_per_s": lab["final_metrics"].get("train_steps_per_second"),
        "to_train_s": begin - t0,
        "breakdown": {
            "cli_start_and_validation": launched - t0,
            "supervisor_start": worker_started - launched,
            "worker_to_train": begin - worker_started,  # imports, model, data, trainer
            "train": last_step - begin,
            "save": saved - last_step,  # the model, the tokenizer, final_metrics.json
            "worker_exit": exited - saved,  # the model card, then the interpreter's shutdown
            "cli_notices_end": t0 + wall - exited,
        },
    }


def _worker_start(env: dict, run_id: str) -> float:
    """The worker's process start (the store keeps it in clock ticks since boot, to tell reused pids apart)."""
    import sqlite3

    with sqlite3.connect(Path(env["LABKIT_HOME"]) / "labkit.sqlite") as db:
        ticks = db.execute("SELECT worker_start FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    boot = time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)  # /proc/stat's btime is whole seconds only
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument(
        "--threads",
        type=int,
        help="OMP_NUM_THREADS for both sides (on a crowded machine, 1 spares torch's threads waiting on each other)",
    )
    args = ap.parse_args()
    env = {**os.environ, "LABKIT_HOME": os.environ.get("LABKIT_HOME") or tempfile.mkdtemp(), "HF_HUB_OFFLINE": "1"}
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    subprocess.run(
        [sys.executable, "-m", "labkit.models.tiny", str(Path(env["LABKIT_HOME"]) / "models" / "tiny")],
        env=env,
        capture_output=True,
        check=True,
    )
    data = ROOT / "configs" / "train-data" / "sft-tiny.jsonl"
    cold = run_labkit(env, args.steps)
    pairs = []
    for i in range(args.pairs):  # alternate the order, so a drift in load favours neither
        if i % 2:
            lab = run_labkit(env, args.steps)
            direct = run_direct(env, data, args.steps)
        else:
            direct = run_direct(env, data, args.steps)
            lab = run_labkit(env, args.steps)
        pairs.append((direct, lab))
        print(
            f"pair {i + 1}: direct {direct['wall']:.2f} s {direct['steps_per_s']:.1f} steps/s, "
            f"labkit {lab['wall']:.2f} s {lab['steps_per_s']:.1f} steps/s{' (warm)' if lab['warm'] else ''}",
            file=sys.stderr,
            flush=True,
        )
    med = statistics.median
    d_wall, l_wall = [d["wall"] for d, _ in pairs], [lab["wall"] for _, lab in pairs]
    d_sps, l_sps = [d["steps_per_s"] for d, _ in pairs], [lab["steps_per_s"] for _, lab in pairs]
    print(
        json.dumps(
            {
                "steps": args.steps,
                "direct_trl_wall_s": round(med(d_wall), 2),
                "direct_trl_steps_per_s": round(med(d_sps), 1),
                "labkit_train_wall_s": round(med(l_wall), 2),
                "labkit_steps_per_s": round(med(l_sps), 1),
                "overhead_s": round(med([lab["wall"] - d["wall"] for d, lab in pairs]), 2),
                "pairs": args.pairs,
                "steps_per_s_ratio": spread([lab["steps_per_s"] / d["steps_per_s"] for d, lab in pairs], 3),
                "wall_ratio": spread([lab["wall"] / d["wall"] for d, lab in pairs], 3),
                "overhead_s_range": spread([lab["wall"] - d["wall"] for d, lab in pairs]),
                "direct_trl_wall_s_range": spread(d_wall),
                "labkit_train_wall_s_range": spread(l_wall),
                "direct_trl_steps_per_s_range": spread(d_sps, 1),
                "labkit_steps_per_s_range": spread(l_sps, 1),
                "direct_trl_cpu_s_range": spread([d["cpu"] for d, _ in pairs]),
                "labkit_train_cpu_s_range": spread([lab["cpu"] for _, lab in pairs]),
                "cpu_overhead_s_range": spread([lab["cpu"] - d["cpu"] for d, lab in pairs]),
                "to_train_overhead_s_range": spread([lab["to_train_s"] - d["to_train_s"] for d, lab in pairs]),
                "direct_trl_imports_s": round(med([d["imports_s"] for d, _ in pairs]), 2),
                "direct_trl_after_train_s": round(med([d["after_train_s"] for d, _ in pairs]), 2),
                "labkit_breakdown_s": {
                    k: round(med([lab["breakdown"][k] for _, lab in pairs]), 2) for k in pairs[0][1]["breakdown"]
                },
                "labkit_cold_wall_s": round(cold["wall"], 2),
                "labkit_warm_starts": [lab["warm"] for _, lab in pairs],  # forked from a warm server (labkit.warm)
                "labkit_cold_breakdown_s": {k: round(v, 2) for k, v in cold["breakdown"].items()},
                "load_avg_1min": round(os.getloadavg()[0], 1),
                "cpus": os.cpu_count(),
                "omp_threads": env.get("OMP_NUM_THREADS"),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
