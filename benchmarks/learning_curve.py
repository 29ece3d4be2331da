"""The whole learning check: the shipped `configs/train/sft-math-tiny.yaml` (700 steps) through `labkit train` on
1,200 English problems of the synthetic world, then held-out accuracy and answer NLL against the untrained model.

The test suite runs 150 of these steps and checks the loss and the held-out answer NLL
(tests/integration/test_experiment.py); this script is the full curve's end point, about 3 minutes of one idle core
(docs/experiment.md has the curve; measured 0.75–0.87 held-out accuracy after 700 steps).

    .venv/bin/python benchmarks/learning_curve.py [--steps 700] [--home DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

RECIPE = Path(__file__).resolve().parents[1] / "configs" / "train" / "sft-math-tiny.yaml"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=700)
    ap.add_argument("--home", default=None, help="LABKIT_HOME (default: a fresh temp dir)")
    args = ap.parse_args()
    work = Path(args.home or tempfile.mkdtemp(prefix="labkit-learning-"))
    os.environ["LABKIT_HOME"] = str(work / "home")

    from labkit import jobs
    from labkit.evaluate import runner
    from labkit.experiment.stats import answer_nll
    from labkit.models import tiny_math
    from labkit.synth import mgsm
    from labkit.train import launch, recipe as rmod

    data = work / "data"
    mgsm.write(data, ["en"], n=60, n_train=1200, seed=0)
    untrained = tiny_math.ensure(work / "untrained")
    spec = runner.EvalSpec(task="mgsm", languages=["en"], model=str(untrained), data=str(data), max_new_tokens=40)
    before = {"accuracy": runner.run(spec, work / "before")["results"]["en"]["accuracy"]}
    before["answer_nll"] = answer_nll(untrained, data, ["en"])["en"]
    start = time.time()
    overrides = [f"data.path={data / 'train.jsonl'}", f"trainer.max_steps={args.steps}", "trainer.save_steps=100000"]
    run = launch.launch(rmod.load(RECIPE, overrides + ["evaluate=null"]))
    while (run := jobs.status(run.id)).status not in ("succeeded", "failed", "cancelled"):
        time.sleep(2)
    wall = time.time() - start
    if run.status != "succeeded":
        raise SystemExit(jobs.tail_log(run.run_dir)[-3000:])
    out = Path(run.run_dir) / "output"
    spec = runner.EvalSpec(task="mgsm", languages=["en"], model=str(out), data=str(data), max_new_tokens=40)
    after = {"accuracy": runner.run(spec, work / "after")["results"]["en"]["accuracy"]}
    after["answer_nll"] = answer_nll(out, data, ["en"])["en"]
    losses = [r["loss"] for r in jobs.read_metrics(run.run_dir)[0] if "loss" in r]
    print(
        json.dumps(
            {
                "steps": args.steps,
                "train_wall_s": round(wall, 1),
                "load_avg_1m": round(os.getloadavg()[0], 2),
                "loss_first_last": [losses[0], losses[-1]],
                "held_out_before": before,
                "held_out_after": after,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
