"""Implicit-reward scoring throughput (ICR): β·(Σlog π − Σlog π_ref) for 256 (prompt, response) pairs on the
tiny model, batched (both models, batches of 32) vs one pair at a time, in the same run.

The machine may be shared, so the two are timed in `--rounds` interleaved rounds (the order alternates, and each
call starts with an empty prompt-encoding cache, so neither reuses the other's work); the speedup is reported
per round with min–median–max, in wall seconds and in CPU seconds of this process (which other load inflates
far less). Keys kept from earlier turns: pairs, batched_pairs_per_s, one_at_a_time_pairs_per_s, speedup (now
medians), max_abs_diff; new beside them: rounds, speedup_range, cpu_speedup_range, *_range, torch_threads.

    .venv/bin/python benchmarks/selfimprove.py [--rounds 7] [--threads N] [--n 256]
"""

import argparse
import json
import os
import statistics
import tempfile
import time

from stats import spread

os.environ.setdefault("LABKIT_HOME", tempfile.mkdtemp(prefix="labkit-bench-"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7, help="interleaved (batched, one-at-a-time) timings")
    ap.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's own choice)")
    ap.add_argument("--n", type=int, default=256, help="(prompt, response) pairs scored per timing")
    args = ap.parse_args()
    import torch

    from labkit.backends.hf import HFBackend
    from labkit.models.tiny import corpus_lines
    from labkit.train.methods.icr import implicit_rewards

    if args.threads:
        torch.set_num_threads(args.threads)
    pol, ref = HFBackend("tiny", device="cpu", batch_size=32), HFBackend("tiny-ref", device="cpu", batch_size=32)
    lines = corpus_lines()
    pairs = [([{"role": "user", "content": lines[i % len(lines)]}], lines[(i * 7) % len(lines)]) for i in range(args.n)]
    implicit_rewards(pol, ref, pairs[:32], 0.1)  # warm-up: first calls allocate and pick kernels
    [implicit_rewards(pol, ref, [p], 0.1) for p in pairs[:8]]

    def batched():
        return implicit_rewards(pol, ref, pairs, 0.1)

    def single():
        return [implicit_rewards(pol, ref, [p], 0.1)[0] for p in pairs]

    def timed(fn):
        pol._encoded.clear(), ref._encoded.clear()
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        return out, time.perf_counter() - t, time.process_time() - c

    rounds = []
    for i in range(args.rounds):
        if i % 2:
            s, s_wall, s_cpu = timed(single)
            b, b_wall, b_cpu = timed(batched)
        else:
            b, b_wall, b_cpu = timed(batched)
            s, s_wall, s_cpu = timed(single)
        rounds.append({"b_wall": b_wall, "s_wall": s_wall, "b_cpu": b_cpu, "s_cpu": s_cpu, "b": b, "s": s})
    med = statistics.median
    n = len(pairs)
    print(
        json.dumps(
            {
                "pairs": n,
                "batched_pairs_per_s": round(n / med([r["b_wall"] for r in rounds]), 1),
                "one_at_a_time_pairs_per_s": round(n / med([r["s_wall"] for r in rounds]), 1),
                "speedup": round(med([r["s_wall"] / r["b_wall"] for r in rounds]), 2),
                "max_abs_diff": max(abs(x - y) for r in rounds for x, y in zip(r["b"], r["s"])),
                "rounds": args.rounds,
                "speedup_range": spread([r["s_wall"] / r["b_wall"] for r in rounds]),
                "cpu_speedup_range": spread([r["s_cpu"] / r["b_cpu"] for r in rounds]),
                "batched_wall_s_range": spread([r["b_wall"] for r in rounds], 3),
                "one_at_a_time_wall_s_range": spread([r["s_wall"] for r in rounds], 3),
                "batched_cpu_s_range": spread([r["b_cpu"] for r in rounds], 3),
                "one_at_a_time_cpu_s_range": spread([r["s_cpu"] for r in rounds], 3),
                "torch_threads": torch.get_num_threads(),
                "load_avg_1min": round(os.getloadavg()[0], 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
