"""One training job on a shared machine: alone, beside 2 and 4 labkit jobs (trainings and evaluations, alternately),
and beside synthetic CPU load (torch matrix products on default threads), with labkit's thread policy before and
after it took idle cores and sleeping waits into account. Reports the measured job's steps/s against its fair
share: its rate alone times cores / processes (1.0 = exactly a fair share; the goal is at least 0.7).

- before: OMP_NUM_THREADS = cores // (labkit jobs running + 1) when other labkit jobs run, else torch's default;
- after:  what `labkit.jobs` sets today (`_thread_share`): that share capped by the idle cores, OMP_WAIT_POLICY=PASSIVE
  and TOKENIZERS_PARALLELISM=false whenever the machine is shared.

    .venv/bin/python benchmarks/contention.py [--steps 60] [--competitors 2,4] [--rounds 3]

Run it on an otherwise idle machine; the load average at the start is printed with the numbers. Each round measures
the job alone again (its fair share is that round's rate alone) and then every setting, both policies in turn; the
summary gives min - median - max over rounds of the ratio to the fair share.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPIN = "import torch\nx = torch.randn(384, 384)\nwhile True:\n    x = (x @ x).clamp_(-1, 1)\n"


def train_argv(steps: int, name: str) -> list[str]:
    recipe = ROOT / "configs" / "train" / "sft-tiny.yaml"
    return [sys.executable, "-m", "labkit.cli", "train", str(recipe), "--json", "--set", f"name={name}",
            "--set", f"trainer.max_steps={steps}", "--set", "trainer.save_strategy=no"]  # fmt: skip


def measured(env: dict, steps: int) -> float:
    """steps/s of one training run (TRL's own train_steps_per_second)."""
    out = subprocess.run(train_argv(steps, "measured"), env=env, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"the measured training failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout)["final_metrics"]["train_steps_per_second"]


# Evaluation jobs back to back, started as the Evaluate tab starts them (jobs.start, so the thread policy applies);
# SIGTERM cancels the one running (jobs.attached).
EVAL_LOOP = """
import sys
from labkit import jobs
argv = [sys.executable, "-m", "labkit.cli", "eval", "--task", "mgsm", "--model", "tiny", "--data", "sample",
        "--languages", "en,zh,de", "--limit", "0", "--max-new-tokens", "64"]
while True:
    run = jobs.start(argv, kind="eval", name="beside-eval")
    with jobs.attached(run.id):
        for _ in jobs.follow_log(run.id):
            pass
"""


def competitors(kind: str, n: int, env: dict) -> list[subprocess.Popen]:
    """n programs beside the measured job: synthetic torch load, or labkit jobs (training, evaluation, alternately)."""
    if kind == "synthetic":
        return [subprocess.Popen([sys.executable, "-c", SPIN], env=env) for _ in range(n)]
    quiet = dict(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return [
        subprocess.Popen(train_argv(100_000, f"beside-{i}"), **quiet)
        if i % 2 == 0
        else subprocess.Popen([sys.executable, "-c", EVAL_LOOP], **quiet)
        for i in range(n)
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--competitors", default="2,4")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from labkit.jobs import cores

    n_cores, load = cores(), os.getloadavg()[0]
    home = tempfile.mkdtemp()
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    base.update(LABKIT_HOME=home, HF_HUB_OFFLINE="1", LABKIT_MAX_JOBS="16")  # 4 competitors + the measured one
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), base.get("PYTHONPATH")]))
    tiny = [sys.executable, "-m", "labkit.models.tiny", f"{home}/models/tiny"]
    subprocess.run(tiny, env=base, check=True, stdout=subprocess.DEVNULL)  # stdout: the JSON below only
    rows = []
    for round_ in range(args.rounds):
        alone = measured(base, args.steps)
        rows.append({"round": round_, "setting": "alone", "policy": "-", "processes": 1, "steps_per_s": alone,
                     "vs_fair_share": 1.0, "load": os.getloadavg()[0]})  # fmt: skip
        for kind in ("labkit", "synthetic"):
            for n in (int(x) for x in args.competitors.split(",")):
                for policy in ("before", "after") if round_ % 2 == 0 else ("after", "before"):
                    rows.append({"round": round_, **setting(kind, n, policy, base, n_cores, alone, args.steps)})
                    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    summary = {}
    for r in rows:
        summary.setdefault(f"{r['setting']} / {r['policy']}", []).append(round(r["vs_fair_share"], 3))
    summary = {k: {"min": min(v), "median": statistics.median(v), "max": max(v), "all": v} for k, v in summary.items()}
    print(json.dumps({"cores": n_cores, "load_at_start": load, "steps": args.steps, "rounds": args.rounds,
                      "summary": summary, "rows": rows}, indent=1))  # fmt: skip


def setting(kind: str, n: int, policy: str, base: dict, n_cores: int, alone: float, steps: int) -> dict:
    """The measured job beside n competitors of `kind`, under the thread policy `policy`."""
    others = {**base, "OMP_NUM_THREADS": str(max(1, n_cores // (n + 1)))} if kind == "labkit" else base
    procs = competitors(kind, n, others if policy == "before" else base)
    time.sleep(8)  # the competitors are past their start-up
    env = dict(base)
    if policy == "before":  # the old rule: a share only beside labkit jobs, else every core; spinning waits
        env["OMP_NUM_THREADS"] = str(max(1, n_cores // (n + 1)) if kind == "labkit" else n_cores)
    load = os.getloadavg()[0]
    rate = measured(env, steps)
    for p in procs:  # SIGTERM: an interrupted `labkit train` cancels its run (SIGKILL would leave the worker going)
        p.terminate()
    for p in procs:
        p.wait()
    fair = alone * min(1.0, n_cores / (n + 1))
    return {"setting": f"beside {n} {kind}", "policy": policy, "processes": n + 1, "steps_per_s": rate,
            "vs_fair_share": rate / fair, "load": load}  # fmt: skip


if __name__ == "__main__":
    main()
