"""Implicit-reward scoring throughput (ICR): β·(Σlog π − Σlog π_ref) for 256 (prompt, response) pairs on the
tiny model, batched (both models, batches of 32) vs one pair at a time, in the same run.

    .venv/bin/python benchmarks/selfimprove.py
"""

import json
import os
import tempfile
import time

os.environ.setdefault("LABKIT_HOME", tempfile.mkdtemp(prefix="labkit-bench-"))


def main():
    from labkit.backends.hf import HFBackend
    from labkit.models.tiny import corpus_lines
    from labkit.train.selfimprove import implicit_rewards

    pol, ref = HFBackend("tiny", device="cpu", batch_size=32), HFBackend("tiny-ref", device="cpu", batch_size=32)
    lines = corpus_lines()
    pairs = [([{"role": "user", "content": lines[i % len(lines)]}], lines[(i * 7) % len(lines)]) for i in range(256)]
    implicit_rewards(pol, ref, pairs[:4], 0.1)
    t = time.perf_counter()
    batched = implicit_rewards(pol, ref, pairs, 0.1)
    tb = time.perf_counter() - t
    t = time.perf_counter()
    single = [implicit_rewards(pol, ref, [p], 0.1)[0] for p in pairs]
    ts = time.perf_counter() - t
    print(
        json.dumps(
            {
                "pairs": len(pairs),
                "batched_pairs_per_s": round(len(pairs) / tb, 1),
                "one_at_a_time_pairs_per_s": round(len(pairs) / ts, 1),
                "speedup": round(ts / tb, 2),
                "max_abs_diff": max(abs(a - b) for a, b in zip(batched, single)),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
