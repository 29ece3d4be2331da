"""Foundation speed numbers, each against its baseline in the same run.

    .venv/bin/python benchmarks/foundation.py [--prompts 64] [--new-tokens 32]

- `import labkit` (and the CLI module) vs `import torch` — the heavy import labkit avoids;
- app build + launch on a free port, until the page answers;
- batched greedy generation of N prompts on the hf backend vs the one-at-a-time loop (tiny model, CPU).
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

os.environ.setdefault("LABKIT_HOME", tempfile.mkdtemp(prefix="labkit-bench-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def import_time(stmt: str, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", f"import time; t=time.perf_counter(); {stmt}; print(time.perf_counter()-t)"],
            capture_output=True,
            text=True,
            check=True,
        )
        times.append(float(out.stdout))
    return statistics.median(times)


def app_launch_time() -> float:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = (
        "import time, urllib.request; t=time.perf_counter()\n"
        "from labkit.ui.app import launch\n"
        f"d = launch(port={port}, block=False)\n"
        f"urllib.request.urlopen('http://127.0.0.1:{port}/').read()\n"
        'print("LAUNCH", time.perf_counter()-t, flush=True); d.close()'
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(next(ln for ln in out.stdout.splitlines() if ln.startswith("LAUNCH")).split()[1])


def generation(n_prompts: int, new_tokens: int) -> dict:
    from labkit.backends.base import GenParams
    from labkit.backends.hf import HFBackend
    from labkit.models.tiny import corpus_lines

    backend = HFBackend("tiny", device="cpu", batch_size=n_prompts)
    lines = corpus_lines()
    prompts = [[{"role": "user", "content": lines[i % len(lines)]}] for i in range(n_prompts)]
    p = GenParams(max_new_tokens=new_tokens)
    backend.generate(prompts[:2], p)  # warm-up
    t = time.perf_counter()
    batched = backend.generate(prompts, p)
    t_batched = time.perf_counter() - t
    t = time.perf_counter()
    sequential = [backend.generate([x], p)[0] for x in prompts]
    t_seq = time.perf_counter() - t
    return {
        "prompts": n_prompts,
        "new_tokens": new_tokens,
        "batched_s": round(t_batched, 3),
        "sequential_s": round(t_seq, 3),
        "speedup": round(t_seq / t_batched, 2),
        "identical_text": batched == sequential,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=32)
    args = ap.parse_args()
    results = {
        "import_labkit_s": round(import_time("import labkit, labkit.cli"), 3),
        "baseline_import_torch_s": round(import_time("import torch", repeat=3), 3),
        "app_build_and_launch_s": round(app_launch_time(), 2),
        "generation": generation(args.prompts, args.new_tokens),
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
