"""One training job on a shared machine: alone, beside 2 and 4 labkit jobs (trainings), and beside synthetic CPU load
(torch matrix products on default threads), with labkit's thread policy before and after it took idle cores and
sleeping waits into account. Reports the measured job's steps/s against its fair share: its rate alone times
cores / processes (1.0 = exactly a fair share; the goal is at least 0.7).

- before: OMP_NUM_THREADS = cores // (labkit jobs running + 1) when other labkit jobs run, else torch's default;
- after:  what `labkit.jobs` sets today (`_thread_share`): that share capped by the idle cores, OMP_WAIT_POLICY=PASSIVE
  and TOKENIZERS_PARALLELISM=false whenever the machine is shared.

    .venv/bin/python benchmarks/contention.py [--steps 60] [--competitors 2,4]

Run it on an otherwise idle machine; the load average at the start is printed with the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
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


def competitors(kind: str, n: int, env: dict) -> list[subprocess.Popen]:
    if kind == "synthetic":
        return [subprocess.Popen([sys.executable, "-c", SPIN], env=env) for _ in range(n)]
    return [
        subprocess.Popen(
            train_argv(100_000, f"beside-{i}"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for i in range(n)
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--competitors", default="2,4")
    args = ap.parse_args()
    from labkit.jobs import cores

    n_cores, load = cores(), os.getloadavg()[0]
    home = tempfile.mkdtemp()
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    base.update(LABKIT_HOME=home, HF_HUB_OFFLINE="1", LABKIT_MAX_JOBS="16")  # 4 competitors + the measured one
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), base.get("PYTHONPATH")]))
    subprocess.run([sys.executable, "-m", "labkit.models.tiny", f"{home}/models/tiny"], env=base, check=True)
    alone = measured(base, args.steps)
    rows = [{"setting": "alone", "policy": "-", "processes": 1, "steps_per_s": alone, "vs_fair_share": 1.0}]
    for kind in ("labkit", "synthetic"):
        for n in (int(x) for x in args.competitors.split(",")):
            for policy in ("before", "after"):
                others = {**base, "OMP_NUM_THREADS": str(max(1, n_cores // (n + 1)))} if kind == "labkit" else base
                procs = competitors(kind, n, others if policy == "before" else base)
                time.sleep(8)  # the competitors are past their start-up
                env = dict(base)
                if policy == "before":  # the old rule: a share only beside labkit jobs, else every core; spinning waits
                    env["OMP_NUM_THREADS"] = str(max(1, n_cores // (n + 1)) if kind == "labkit" else n_cores)
                rate = measured(env, args.steps)
                for p in procs:
                    p.kill()
                    p.wait()
                fair = alone * min(1.0, n_cores / (n + 1))
                rows.append(
                    {
                        "setting": f"beside {n} {kind}",
                        "policy": policy,
                        "processes": n + 1,
                        "steps_per_s": rate,
                        "vs_fair_share": rate / fair,
                    }  # fmt: skip
                )
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print(json.dumps({"cores": n_cores, "load_at_start": load, "steps": args.steps, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
