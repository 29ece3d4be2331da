"""DMoE deviation analysis time per language on the tiny model (CPU): the whole per-language cost (fine-tune
through worker.fit, save, reload, per-layer norms) for a few step counts — the first language also pays the
one-off TRL/trainer warm-up, so later languages are reported apart; plus upcycling time.

    .venv/bin/python benchmarks/dmoe.py [--languages en,de,zh,ja] [--steps 2,10]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--languages", default="en,de,zh,ja")
    ap.add_argument("--steps", default="2,10")
    args = ap.parse_args()
    os.environ.setdefault("LABKIT_HOME", tempfile.mkdtemp(prefix="labkit-bench-"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from labkit.dmoe.analysis import analyze
    from labkit.dmoe.upcycle import upcycle_from_analysis
    from labkit.models import resolve_model

    resolve_model("tiny")  # build the tiny model outside the timings
    langs = args.languages.split(",")
    rows = []
    out = Path(tempfile.mkdtemp(prefix="dmoe-bench-"))
    for steps in [int(s) for s in args.steps.split(",")]:
        t = time.perf_counter()
        res = analyze("tiny", langs, steps=steps, groups=2, out=out / f"a{steps}.json", log=lambda m: None)
        wall = time.perf_counter() - t
        per = res["seconds_per_language"]
        rows.append(
            {
                "steps": steps,
                "languages": len(langs),
                "wall_s": round(wall, 2),
                "per_language_s": per,
                "mean_per_language_s": round(sum(per.values()) / len(per), 2),
                "first_language_s": per[langs[0]],
                "later_mean_s": round(sum(per[l] for l in langs[1:]) / max(1, len(langs) - 1), 2),
            }
        )
    t = time.perf_counter()
    upcycle_from_analysis("tiny", str(out / f"a{rows[-1]['steps']}.json"), out / "up")
    up = time.perf_counter() - t
    print(json.dumps({"analysis": rows, "upcycle_s": round(up, 2)}, indent=1))
    print("\nsteps  mean s/language  (first language, includes TRL warm-up)  later languages")
    for r in rows:
        print(f"{r['steps']:>5}  {r['mean_per_language_s']:>15}  {r['first_language_s']:>40}  {r['later_mean_s']:>15}")
    print(f"upcycle (tiny, {rows[-1]['languages']} languages → 2 experts): {up:.2f} s")


if __name__ == "__main__":
    main()
