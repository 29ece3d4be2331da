"""Two CPU trainings side by side: with labkit's thread share (a job started while another runs gets
OMP_NUM_THREADS = its share of the cores) vs without it (OMP_NUM_THREADS = every core for both, torch's default).

Each round starts `labkit train sft-tiny` and, once that run is running, a second one; the wall time until both
have ended and each run's steps/s are recorded. Rounds alternate the two settings, so a drift in the machine's load
favours neither. Prints min–median–max over the rounds and the ratio shared/unshared per round pair.

    .venv/bin/python benchmarks/concurrent_jobs.py [--steps 150] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stats import spread

ROOT = Path(__file__).resolve().parents[1]


def running(home: str) -> int:
    db = Path(home) / "labkit.sqlite"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as c:
            return c.execute("SELECT COUNT(*) FROM runs WHERE status = 'running' AND pid IS NOT NULL").fetchone()[0]
    except sqlite3.OperationalError:  # the store is being created
        return 0


def pair(env: dict, steps: int) -> dict:
    """Start two trainings, the second once the first is running; wall seconds until both end, steps/s each."""
    recipe = ROOT / "configs" / "train" / "sft-tiny.yaml"
    argv = [sys.executable, "-m", "labkit.cli", "train", str(recipe), "--json"]
    argv += ["--set", f"trainer.max_steps={steps}", "--set", "trainer.save_strategy=no"]
    t = time.perf_counter()
    first = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
    while not running(env["LABKIT_HOME"]):
        time.sleep(0.05)
    second = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
    outs = [json.loads(p.communicate()[0]) for p in (first, second)]
    wall = time.perf_counter() - t
    if any(p.returncode for p in (first, second)):
        sys.exit(f"a training failed: {outs}")
    return {"wall": wall, "steps_per_s": [o["final_metrics"]["train_steps_per_second"] for o in outs]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from labkit.jobs import cores

    home = tempfile.mkdtemp()
    base = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    base.update(LABKIT_HOME=home, HF_HUB_OFFLINE="1")
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), base.get("PYTHONPATH")]))
    tiny = [sys.executable, "-m", "labkit.models.tiny", f"{home}/models/tiny"]
    subprocess.run(tiny, env=base, check=True, capture_output=True)
    settings = {"shared": base, "unshared": {**base, "OMP_NUM_THREADS": str(cores())}}
    results: dict[str, list[dict]] = {"shared": [], "unshared": []}
    for i in range(args.rounds):
        for name in ("shared", "unshared") if i % 2 == 0 else ("unshared", "shared"):
            r = pair(settings[name], args.steps)
            results[name].append(r)
            print(f"round {i + 1} {name}: {r['wall']:.1f} s, steps/s {r['steps_per_s']}", file=sys.stderr, flush=True)
    print(
        json.dumps(
            {
                "steps": args.steps,
                "rounds": args.rounds,
                "cores": cores(),
                "shared_wall_s": spread([r["wall"] for r in results["shared"]], 1),
                "unshared_wall_s": spread([r["wall"] for r in results["unshared"]], 1),
                "wall_ratio_shared_over_unshared": spread(
                    [s["wall"] / u["wall"] for s, u in zip(results["shared"], results["unshared"], strict=True)], 3
                ),
                "shared_steps_per_s": spread([x for r in results["shared"] for x in r["steps_per_s"]], 1),
                "unshared_steps_per_s": spread([x for r in results["unshared"] for x in r["steps_per_s"]], 1),
                "load_avg_1min": round(os.getloadavg()[0], 1),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
