"""Launch overhead: `labkit train` (validation, run folder, job supervisor, worker) vs calling TRL directly
in one fresh Python process — same tiny model, same data, same steps. Wall seconds and TRL's steps/s.

    .venv/bin/python benchmarks/train.py [--steps 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIRECT = """
import json, sys, time
t = time.perf_counter()
from datasets import load_dataset
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import SFTConfig, SFTTrainer
from labkit.models import resolve_model
path = resolve_model("tiny")
tok = AutoTokenizer.from_pretrained(path)
ds = load_dataset("json", data_files=sys.argv[1], split="train")
args = SFTConfig(output_dir=sys.argv[2], max_steps=int(sys.argv[3]), per_device_train_batch_size=2,
                 learning_rate=1e-3, logging_steps=1, save_strategy="no", report_to="none", use_cpu=True,
                 bf16=False, gradient_checkpointing=False, max_length=128)
tr = SFTTrainer(model=AutoModelForCausalLM.from_pretrained(path), args=args, train_dataset=ds, processing_class=tok)
out = tr.train()
tr.save_model(sys.argv[2])
print(json.dumps({"wall": time.perf_counter() - t, "steps_per_s": out.metrics["train_steps_per_second"]}))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    env = {**os.environ, "LABKIT_HOME": os.environ.get("LABKIT_HOME") or tempfile.mkdtemp(), "HF_HUB_OFFLINE": "1"}
    subprocess.run(
        [sys.executable, "-m", "labkit.models.tiny", str(Path(env["LABKIT_HOME"]) / "models" / "tiny")],
        env=env,
        capture_output=True,
        check=True,
    )
    data = ROOT / "configs" / "data" / "sft-tiny.jsonl"
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", DIRECT, str(data), tempfile.mkdtemp(), str(args.steps)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    direct_wall = time.perf_counter() - t
    direct = json.loads(out.stdout.strip().splitlines()[-1])
    t = time.perf_counter()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "labkit.cli",
            "train",
            str(ROOT / "configs" / "train" / "sft-tiny.yaml"),
            "--set",
            f"trainer.max_steps={args.steps}",
            "--set",
            "trainer.save_strategy=no",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    labkit_wall = time.perf_counter() - t
    lab = json.loads(out.stdout)
    print(
        json.dumps(
            {
                "steps": args.steps,
                "direct_trl_wall_s": round(direct_wall, 2),
                "direct_trl_steps_per_s": direct["steps_per_s"],
                "labkit_train_wall_s": round(labkit_wall, 2),
                "labkit_steps_per_s": lab["final_metrics"].get("train_steps_per_second"),
                "overhead_s": round(labkit_wall - direct_wall, 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
