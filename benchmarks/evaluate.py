"""Evaluation throughput: a full MGSM-fixture run (11 languages) on the tiny model, the batched hf backend
vs one prompt at a time, in the same run. Samples per second, and whether the scores are identical.

    .venv/bin/python benchmarks/evaluate.py [--repeat 8] [--new-tokens 64]

On a GPU machine with vLLM installed, add --vllm MODEL to compare vLLM and hf on a real model.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LABKIT_HOME", tempfile.mkdtemp(prefix="labkit-bench-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
FIX = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "mgsm"
LANGS = sorted(p.stem for p in FIX.glob("*.jsonl"))


class OneAtATime:
    """The baseline: the same backend, called with one prompt per call."""

    def __init__(self, backend):
        self.backend = backend

    def generate(self, prompts, params):
        return [self.backend.generate([p], params)[0] for p in prompts]


def timed_run(spec, backend, out: Path) -> tuple[float, dict]:
    from labkit.evaluate import runner

    t = time.perf_counter()
    res = runner.run(spec, out, backend=backend)
    return time.perf_counter() - t, res


def main():
    from labkit.backends import get_backend
    from labkit.evaluate.runner import EvalSpec

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=8, help="copies of the fixture (3 problems × 11 languages each)")
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--vllm", help="also run this model on vLLM vs hf (GPU)")
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp()) / "mgsm"
    data.mkdir()
    for f in FIX.glob("*.jsonl"):
        rows = [json.loads(l) for l in f.read_text().splitlines()]
        (data / f.name).write_text(
            "".join(
                json.dumps({**r, "id": f"{k}-{i}"}, ensure_ascii=False) + "\n"
                for k in range(args.repeat)
                for i, r in enumerate(rows)
            )
        )
    spec = EvalSpec(
        task="mgsm", languages=LANGS, model=args.model, data=str(data), max_new_tokens=args.new_tokens, batch_size=64
    )
    hf = get_backend("hf", args.model)
    hf.generate(
        [[{"role": "user", "content": "warm up"}]],
        __import__("labkit.backends", fromlist=["GenParams"]).GenParams(max_new_tokens=4),
    )
    tmp = Path(tempfile.mkdtemp())
    t_b, r_b = timed_run(spec, hf, tmp / "batched")
    t_s, r_s = timed_run(spec, OneAtATime(hf), tmp / "sequential")
    n = r_b["n_samples"]
    out = {
        "samples": n,
        "new_tokens": args.new_tokens,
        "batched_samples_per_s": round(n / t_b, 1),
        "one_at_a_time_samples_per_s": round(n / t_s, 1),
        "speedup": round(t_s / t_b, 2),
        "identical_scores": r_b["results"] == r_s["results"],
    }
    if args.vllm:
        vspec = EvalSpec(**{**spec.__dict__, "model": args.vllm})
        t_h, _ = timed_run(vspec, get_backend("hf", args.vllm, cache=False), tmp / "hf-real")
        t_v, _ = timed_run(vspec, get_backend("vllm", args.vllm, cache=False), tmp / "vllm-real")
        out.update(real_model=args.vllm, hf_samples_per_s=round(n / t_h, 1), vllm_samples_per_s=round(n / t_v, 1))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
