"""Scaling-law fit speed: a power-law fit with 1,000 bootstrap resamples on 10 points, labkit's batched
bootstrap vs a naive `scipy.optimize.curve_fit`-per-resample loop, in the same run. Also the saturating
form (vectorised variable-projection profile) and the full per-series report.

    .venv/bin/python benchmarks/scaling.py
"""

from __future__ import annotations

import json
import time

import numpy as np


def naive(x, y, n_boot, seed=0):
    from scipy.optimize import curve_fit

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(x), len(x))
        if len(np.unique(x[idx])) < 2:
            continue
        p, _ = curve_fit(lambda t, a, b: a * t**b, x[idx], y[idx], p0=(0.5, 0.5), maxfev=5000)
        out.append(p)
    return np.array(out)


def timed(fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t)
    return best, value


def main():
    from labkit.scaling.analysis import fit_series
    from labkit.scaling.fit import bootstrap, fit_curve

    rng = np.random.default_rng(0)
    x = np.arange(1, 11, dtype=float)
    y = 0.3 * x**0.4 * np.exp(rng.normal(0, 0.03, 10))
    ys = 0.8 - 0.5 * x**-0.7 + rng.normal(0, 0.005, 10)
    t_ours, _ = timed(lambda: bootstrap(fit_curve(x, y, "power"), 1000))
    t_naive, _ = timed(lambda: naive(x, y, 1000), repeat=1)
    t_sat, _ = timed(lambda: bootstrap(fit_curve(x, ys, "saturating"), 1000))
    t_report, _ = timed(lambda: fit_series(x, y, form="power", fit_min_x=2, n_boot=1000))
    print(
        json.dumps(
            {
                "power_fit_plus_1000_bootstrap_s": round(t_ours, 4),
                "baseline_naive_curve_fit_loop_s": round(t_naive, 3),
                "speedup": round(t_naive / t_ours, 1),
                "saturating_fit_plus_1000_bootstrap_s": round(t_sat, 3),
                "full_report_power_1000_s (fit, CIs, LOO, hold-out, gap with its own bootstrap)": round(t_report, 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
