"""Wall time and CPU seconds of `labkit experiment parallel-scaling --budget small` in a fresh LABKIT_HOME, per run
(the untrained evaluation; training and its evaluation per k) and in total.

Runs go side by side (one per core), so per-run wall times overlap and do not add up. CPU seconds are the honest
unit on a shared machine: each job's supervisor records its processes' CPU time in exit.json (RUSAGE_CHILDREN:
the worker and everything it waited for), and this process adds its own. On an otherwise idle machine with C
cores, wall ≈ total CPU seconds / C (the runs keep every core busy; the serial synth and fit take a second).

    .venv/bin/python benchmarks/experiment.py [--budget small] [--home DIR]   # an existing DIR resumes
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import threading
import time
from pathlib import Path


def own_cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def job_cpu(run) -> float | None:
    try:
        return json.loads((Path(run.run_dir) / "exit.json").read_text())["cpu_s"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", default="small")
    ap.add_argument("--home", help="LABKIT_HOME (default: a new temp dir); an existing one resumes")
    ap.add_argument("--world", default="cipher", choices=["cipher", "natural"])
    ap.add_argument("--overlap", type=float, default=None, help="the cipher world's s (default: the study's)")
    ap.add_argument("--out", help="also write the result JSON here")
    args = ap.parse_args()
    os.environ["LABKIT_HOME"] = args.home or tempfile.mkdtemp(prefix="labkit-bench-exp-")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from labkit.experiment import parallel_scaling as ps
    from labkit.store import open_store

    load0, t0, c0 = os.getloadavg(), time.perf_counter(), own_cpu()
    loads, stop = [], threading.Event()

    def sample_load() -> None:  # the 1-minute load average every 30 s: how shared the machine was
        while not stop.wait(30):
            loads.append(os.getloadavg()[0])

    threading.Thread(target=sample_load, daemon=True).start()

    def progress(event: dict) -> None:
        if event["stage"] in ("point", "before") and "run_id" in event and "accuracy" in event:
            print(f"[{time.perf_counter() - t0:7.1f}s] {event['stage']} {event.get('k', '')} done", flush=True)

    kw = {"overlap": args.overlap} if args.overlap is not None else {}
    res = ps.run(ps.Config(budget=args.budget, world=args.world, **kw), progress=progress)
    total = time.perf_counter() - t0
    stop.set()
    store = open_store()
    runs = {"before (untrained eval)": store.get(res["before_run"])}
    runs.update(
        {
            f"k={p['k']} seed={seed} (train + eval)": store.get(run_id)
            for p in res["points"]
            for seed, run_id in zip(p["seeds"], p["run_ids"])
        }
    )
    per_run = {name: {"wall_s": round(r.updated - r.created, 1), "cpu_s": job_cpu(r)} for name, r in runs.items()}
    jobs_cpu = sum(v["cpu_s"] or 0 for v in per_run.values())
    cpu_total = own_cpu() - c0 + jobs_cpu
    cores = os.cpu_count() or 1
    out = json.dumps(
        {
            "budget": args.budget,
            "cpus": cores,
            "load_avg_start": load0,
            "load_avg_end": os.getloadavg(),
            "load_1min_during": {
                "mean": round(sum(loads) / len(loads), 2) if loads else None,
                "min": min(loads, default=None),
                "max": max(loads, default=None),
            },
            "total_wall_s": round(total, 1),
            "total_cpu_s": round(cpu_total, 1),
            "idle_wall_estimate_s": round(cpu_total / cores, 1),
            "runs": per_run,
            "study_timings_s": res["timings"],
            "world": res["world"],
            "finding": res["finding"],
            "points": [
                {
                    k: p.get(k)
                    for k in (
                        "k",
                        "n_languages",
                        "seeds",
                        "held_out_accuracy",
                        "held_out_ci",
                        "held_out_nll",
                        "trained_nll",
                        "accuracy",
                        "mti",
                        "reused",
                    )
                }  # fmt: skip
                for p in res["points"]
            ],
            "before": res["before"],
            "fit": {k: res["fit"].get(k) for k in ("form", "params", "ci", "gap", "leap", "change")},
            "report": res["report"],
            "dir": res["dir"],
        },
        indent=1,
        default=str,
    )
    print(out)
    if args.out:
        Path(args.out).write_text(out, encoding="utf-8")


if __name__ == "__main__":
    main()
