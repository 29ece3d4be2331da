"""Training through the real job launcher on the tiny model: every method logs metrics, writes a model
whose parameters changed; cancel and resume; a parallel-language sweep is tagged for the Scaling tab."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labkit import jobs
from labkit.train import launch, recipe as rmod

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"
METHODS = ["sft-tiny", "dpo-tiny", "dpo-nll-tiny", "grpo-tiny", "sft-parallel-tiny"]


@pytest.fixture(scope="module")
def finished(tiny_path, wait_run):
    """All methods launched at once (they are independent jobs), then awaited."""
    runs = {name: launch.launch(rmod.load(CONFIGS / f"{name}.yaml")) for name in METHODS}
    return {name: wait_run(r.id) for name, r in runs.items()}


def changed(base: Path, trained: Path) -> bool:
    from safetensors.torch import load_file

    a, b = load_file(str(base / "model.safetensors")), load_file(str(trained / "model.safetensors"))
    return any((a[k] - b[k]).abs().sum().item() > 0 for k in a if k in b)


@pytest.mark.parametrize("name", METHODS)
def test_method_trains(finished, tiny_path, name):
    run = finished[name]
    assert run.status == "succeeded", jobs.tail_log(run.run_dir)[-3000:]
    run_dir = Path(run.run_dir)
    records, _ = jobs.read_metrics(run_dir)
    steps = [r for r in records if "loss" in r]
    assert len(steps) >= 3 and all(r["step"] >= 1 for r in steps)
    out = run_dir / "output"
    assert (out / "model.safetensors").exists() and (out / "tokenizer.json").exists()
    assert changed(tiny_path, out)
    final = json.loads((run_dir / "final_metrics.json").read_text())
    assert final["step"] == (3 if name.startswith("grpo") else 6)
    card = json.loads((out / "labkit_card.json").read_text())
    assert card["base_model"] == "tiny" and card["recipe"]["method"] in ("sft", "dpo", "grpo")
    assert run.metrics.get("step") == final["step"]  # the callback wrote the store too
    assert any(d.name.startswith("checkpoint-") for d in out.iterdir())


def test_method_specific_metrics(finished):
    dpo = [r for r in jobs.read_metrics(finished["dpo-nll-tiny"].run_dir)[0] if "loss" in r]
    assert {"rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies"} <= set(dpo[-1])
    grpo = [r for r in jobs.read_metrics(finished["grpo-tiny"].run_dir)[0] if "reward" in r]
    assert {
        "rewards/correctness/mean",
        "rewards/format/mean",
        "rewards/language/mean",
        "completions/mean_length",
    } <= set(grpo[-1])


def test_cli_contract(tiny_path, capsys):
    from labkit.cli import main

    assert main(["train", str(CONFIGS / "sft-tiny.yaml"), "--set", "trainer.max_steps=2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "succeeded" and data["run_id"].startswith("train-") and Path(data["output_dir"]).exists()
    assert data["final_metrics"]["step"] == 2


def test_cancel_then_resume_from_the_checkpoint(tiny_path, wait_run):
    r = rmod.load(CONFIGS / "sft-tiny.yaml", ["trainer.max_steps=400", "trainer.save_steps=2", "name=sft-long"])
    run = launch.launch(r)
    ckpt_seen = lambda: any(rec.get("event") == "checkpoint" for rec in jobs.read_metrics(run.run_dir)[0])  # noqa: E731
    end = time.time() + 120
    while not ckpt_seen() and time.time() < end:
        time.sleep(0.3)
    assert ckpt_seen(), jobs.tail_log(run.run_dir)
    assert jobs.cancel(run.id, grace=10).status == "cancelled"
    steps_before = max(rec.get("step", 0) for rec in jobs.read_metrics(run.run_dir)[0])
    # shorten the run so the resumed part finishes quickly
    recipe_path = Path(run.run_dir) / "recipe.yaml"
    text = recipe_path.read_text().replace("max_steps: 400", f"max_steps: {steps_before + 4}")
    recipe_path.write_text(text)
    resumed = launch.resume(run.id)
    assert resumed.id == run.id
    done = wait_run(run.id)
    assert done.status == "succeeded", jobs.tail_log(done.run_dir)[-2000:]
    log = jobs.tail_log(done.run_dir, 100_000)
    assert "resuming from" in log and "checkpoint-" in log


def test_sweep_tags_runs_for_the_scaling_tab(tiny_path, settings, wait_run):
    r = rmod.load(CONFIGS / "grpo-parallel-tiny.yaml", ["trainer.max_steps=1"])
    runs = launch.sweep(r, ["zh", "th", "sw"], [0, 2], name="sweep-test", queue=True)  # one after the other
    assert [x.name for x in runs] == ["sweep-test-k0", "sweep-test-k2"]
    assert "n_languages=1" in runs[0].tags and "n_languages=3" in runs[1].tags and "sweep:sweep-test" in runs[1].tags
    for x in runs:
        assert wait_run(x.id).status == "succeeded"
    assert f"queued after {runs[0].id}" in jobs.tail_log(runs[1].run_dir)
    recipe = rmod.load(Path(runs[1].run_dir) / "recipe.yaml")
    assert recipe.data["parallel"]["languages"] == ["zh", "th"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupting_a_foreground_train_cancels_its_run(tiny_path, settings, sig, tmp_path):
    """`labkit train` without --detach follows its run; its job runs in a session of its own (a terminal's Ctrl-C
    does not reach it), so an interrupted command must cancel the run, not leave the worker training unseen."""
    name = f"foreground-{sig.name.lower()}"
    argv = [sys.executable, "-m", "labkit.cli", "train", str(CONFIGS / "sft-tiny.yaml"), "--set", f"name={name}",
            "--set", "trainer.max_steps=100000", "--set", "trainer.save_strategy=no"]  # fmt: skip
    # As a terminal's shell starts it: Ctrl-C's default action (a suite started in the background inherits SIGINT
    # ignored, as a shell's background job has it, and the command rightly keeps that), its log to a file (a pipe
    # nobody reads would block the command's writes). One that does not end dumps its threads' stacks there.
    err_path = tmp_path / "stderr.txt"
    with open(err_path, "w") as err_file:
        cli = subprocess.Popen(
            argv,
            stdout=subprocess.DEVNULL,
            stderr=err_file,
            env={**os.environ, "PYTHONFAULTHANDLER": "1"},
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    end, run = time.time() + 180, None
    while time.time() < end and cli.poll() is None:
        runs = [r for r in jobs.list_runs(settings) if r.name == name and r.status == "running" and r.worker_pid]
        if runs and jobs.read_metrics(runs[0].run_dir)[0]:  # training under way
            run = runs[0]
            break
        time.sleep(0.3)
    assert run is not None, err_path.read_text()[-3000:]
    cli.send_signal(sig)
    try:
        cli.wait(timeout=60)
    except subprocess.TimeoutExpired:
        cli.send_signal(signal.SIGABRT)
        cli.wait(timeout=30)
        jobs.cancel(run.id, settings)
        pytest.fail(f"labkit train did not end within 60 s of {sig.name}:\n{err_path.read_text()[-6000:]}")
    err = err_path.read_text()
    assert cli.returncode == 130, err[-2000:]
    after = jobs.status(run.id, settings)
    assert after.status == "cancelled" and not jobs.alive_processes(after), err[-2000:]
    assert f"{run.id} cancelled" in err
