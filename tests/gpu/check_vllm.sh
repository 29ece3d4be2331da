#!/usr/bin/env bash
# vLLM on a GPU box (not part of CI): install the [vllm] extra, generate greedily with the vllm backend and the hf
# backend on the same prompts, compare the outputs and the throughput. Needs network access for the install and a
# small real model (default Qwen/Qwen2.5-0.5B-Instruct; MODEL=... to change). Prints one JSON object; record it in
# docs/performance.md.
#
#     bash tests/gpu/check_vllm.sh            # from the repository root, on a machine with a CUDA GPU
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL="${MODEL:-Qwen/Qwen2.5-0.5B-Instruct}"
PY="${PY:-.venv/bin/python}"
[[ -x "$PY" ]] || { python3 -m venv .venv && PY=.venv/bin/python; }
"$PY" -m pip install -q -e '.[vllm]'
MODEL="$MODEL" "$PY" - <<'PYEOF'
import json, os, time
from labkit.backends import get_backend, unload_all
from labkit.backends.base import GenParams
from labkit.models.tiny import corpus_lines

model = os.environ["MODEL"]
lines = corpus_lines()
prompts = [[{"role": "user", "content": f"Continue: {lines[i % len(lines)]}"}] for i in range(128)]
p = GenParams(max_new_tokens=64)
out = {"model": model, "prompts": len(prompts), "max_new_tokens": p.max_new_tokens}
results = {}
for name, opts in (("vllm", {}), ("hf", {"batch_size": 64})):
    backend = get_backend(name, model, **opts)
    backend.generate(prompts[:2], p)  # warm-up: compilation, CUDA graphs
    t = time.perf_counter()
    results[name] = backend.generate(prompts, p)
    seconds = time.perf_counter() - t
    out[name] = {"seconds": round(seconds, 2), "completions_per_s": round(len(prompts) / seconds, 1)}
    unload_all()
same = sum(a == b for a, b in zip(results["vllm"], results["hf"]))
out["identical_greedy"] = f"{same}/{len(prompts)}"
out["vllm_speedup"] = round(out["hf"]["seconds"] / out["vllm"]["seconds"], 2)
print(json.dumps(out, indent=2))
PYEOF
