"""Wall time per stage of `labkit experiment parallel-scaling --budget small` (synth, untrained evaluation,
train and eval per k, fit) in a fresh LABKIT_HOME, with the machine's load average so that numbers taken on a
shared machine can be read for what they are.

    .venv/bin/python benchmarks/experiment.py [--budget small] [--home DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", default="small")
    ap.add_argument("--home", help="LABKIT_HOME (default: a new temp dir); an existing one resumes")
    args = ap.parse_args()
    os.environ["LABKIT_HOME"] = args.home or tempfile.mkdtemp(prefix="labkit-bench-exp-")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from labkit.experiment import parallel_scaling as ps

    load0, t0 = os.getloadavg(), time.perf_counter()
    res = ps.run(
        ps.Config(budget=args.budget),
        progress=lambda e: print(
            f"[{time.perf_counter() - t0:7.1f}s] {e.get('stage')} {e.get('k', '')} {e.get('step', '')}", flush=True
        ),
    )
    total = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "budget": args.budget,
                "cpus": os.cpu_count(),
                "load_avg_start": load0,
                "load_avg_end": os.getloadavg(),
                "total_s": round(total, 1),
                "stages_s": res["timings"],
                "points": [{"k": p["k"], "accuracy": p["accuracy"]} for p in res["points"]],
                "fit": {k: res["fit"].get(k) for k in ("form", "params", "gap", "leap")},
                "report": res["report"],
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
