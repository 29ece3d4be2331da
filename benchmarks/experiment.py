"""Wall time per stage of `labkit experiment parallel-scaling --budget small` (synth, untrained evaluation,
train and eval per k, fit) in a fresh LABKIT_HOME. On a shared machine wall time measures the neighbours as
much as labkit, so the CPU seconds each stage's jobs used (user + system, from the finished child processes)
and the load average are printed too: CPU seconds / 2 cores ≈ the wall time on an idle 2-core machine.

    .venv/bin/python benchmarks/experiment.py [--budget small] [--home DIR]   # an existing DIR resumes
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time


def cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", default="small")
    ap.add_argument("--home", help="LABKIT_HOME (default: a new temp dir); an existing one resumes")
    args = ap.parse_args()
    os.environ["LABKIT_HOME"] = args.home or tempfile.mkdtemp(prefix="labkit-bench-exp-")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from labkit.experiment import parallel_scaling as ps

    load0, t0, c0 = os.getloadavg(), time.perf_counter(), cpu()
    stages: dict[str, dict] = {}
    current = {"key": None, "t": t0, "c": c0}

    def progress(event: dict) -> None:
        key = event["stage"] + (f" k={event['k']}" if "k" in event and event["stage"] != "point" else "")
        if event["stage"] == "point" or key == current["key"]:
            return
        now, c = time.perf_counter(), cpu()
        if current["key"]:
            stages[current["key"]] = {"wall_s": round(now - current["t"], 1), "cpu_s": round(c - current["c"], 1)}
        current.update(key=key, t=now, c=c)
        print(f"[{now - t0:7.1f}s] {key}", flush=True)

    res = ps.run(ps.Config(budget=args.budget), progress=progress)
    progress({"stage": "end"})
    total, cpu_total = time.perf_counter() - t0, cpu() - c0
    print(
        json.dumps(
            {
                "budget": args.budget,
                "cpus": os.cpu_count(),
                "load_avg_start": load0,
                "load_avg_end": os.getloadavg(),
                "total_wall_s": round(total, 1),
                "total_cpu_s": round(cpu_total, 1),
                "stages": stages,
                "study_timings_s": res["timings"],
                "points": [{"k": p["k"], "reused": p["reused"], "accuracy": p["accuracy"]} for p in res["points"]],
                "before": res["before"],
                "fit": {k: res["fit"].get(k) for k in ("form", "params", "gap", "leap")},
                "report": res["report"],
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
