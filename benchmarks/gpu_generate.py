"""On a GPU: batched vs one-at-a-time greedy generation on the hf backend (tiny model), float32 and bf16.

python benchmarks/gpu_generate.py
"""

import json
import os
import tempfile
import time

os.environ.setdefault("LABKIT_HOME", tempfile.mkdtemp())


def main():
    from labkit.backends.base import GenParams
    from labkit.backends.hf import HFBackend
    from labkit.models.tiny import corpus_lines

    lines = corpus_lines()
    prompts = [[{"role": "user", "content": lines[i % len(lines)]}] for i in range(64)]
    p = GenParams(max_new_tokens=64)
    out = {}
    for dtype in ("float32", "bfloat16"):
        b = HFBackend("tiny", device="cuda", dtype=dtype, batch_size=64)
        b.generate(prompts[:4], p)
        t = time.perf_counter()
        batched = b.generate(prompts, p)
        tb = time.perf_counter() - t
        t = time.perf_counter()
        seq = [b.generate([x], p)[0] for x in prompts]
        ts = time.perf_counter() - t
        out[dtype] = {
            "batched_s": round(tb, 3),
            "sequential_s": round(ts, 3),
            "speedup": round(ts / tb, 1),
            "identical": sum(a == s for a, s in zip(batched, seq)),
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
