"""A Job's whole round trip without the Hub: the script labkit submits runs here (a subprocess with its own
LABKIT_HOME, as on a Job machine) with HfApi replaced by a folder that stands for the results repo; then
fetch_results reads that folder back, and the tabs' readers (leaderboard, samples, training progress) see the run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from labkit import hfjobs
from labkit.evaluate import report
from labkit.evaluate.service import summary_metrics
from labkit.train import monitor
from labkit.train import recipe as rmod

from fakes import FakeHfApi

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]

# HfApi on the "Job machine": the shared fake, whose uploads land in $FAKE_HUB/<repo>/<path_in_repo>.
FAKE_HUB = textwrap.dedent(
    """
    import os, runpy, sys
    from pathlib import Path

    import huggingface_hub
    from fakes import FakeHfApi

    api = FakeHfApi(hub=Path(os.environ["FAKE_HUB"]))
    huggingface_hub.HfApi = lambda *a, **k: api
    runpy.run_path(sys.argv[1], run_name="__main__")
    """
)


def run_job(tmp_path: Path, tiny_path: Path, argv: list[str], settings, files=None):
    api = FakeHfApi(job_id="job-rt", stage="COMPLETED", url=None)
    run = hfjobs.submit(
        argv, kind=argv[0], name="rt", push_repo="me/rt", token="t", settings=settings, api=api, files=files
    )
    machine, hub = tmp_path / "job-machine", tmp_path / "hub"
    (machine / "home" / "models").mkdir(parents=True)
    os.symlink(tiny_path, machine / "home" / "models" / "tiny")  # the Job would build it; here it is shared
    (machine / "job.py").write_text(api.script, encoding="utf-8")
    env = {
        **os.environ,
        "LABKIT_HOME": str(machine / "home"),
        "FAKE_HUB": str(hub),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", FAKE_HUB, str(machine / "job.py")], cwd=machine, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]

    def download(*, repo_id, repo_type, allow_patterns, local_dir, token):
        shutil.copytree(hub / repo_id / run.id, Path(local_dir) / run.id)

    return hfjobs.fetch_results(
        run.id, settings=settings, download=download, metrics=summary_metrics
    ), hub / "me/rt" / run.id


def test_an_eval_job_round_trip_feeds_the_leaderboard_and_samples(tmp_path, tiny_path, settings):
    argv = ["eval", "--task", "mgsm", "--model", "tiny", "--languages", "en,zh", "--limit", "2", "--data", "sample"]
    run, pushed = run_job(tmp_path, tiny_path, argv, settings)
    assert not (pushed / "models").exists() and not list(pushed.glob("*.sqlite*"))  # only what the run wrote
    headers, rows = report.leaderboard([run])
    row = dict(zip(headers, rows[0]))
    assert row["run"] == run.id and row["status"] == "succeeded" and row["en"] != "" and row["zh"] != ""
    assert len(report.sample_rows(run)) == 4


def test_a_train_job_round_trip_brings_back_curves_and_the_checkpoint(tmp_path, tiny_path, settings):
    data = (
        ROOT / "configs" / "train-data" / "sft-tiny.jsonl"
    )  # a Hub dataset id on a real Job; this machine's file here
    recipe = rmod.load(ROOT / "configs" / "train" / "sft-tiny.yaml", ["trainer.max_steps=2", f"data.path={data}"])
    body = yaml.safe_dump(recipe.to_dict(), sort_keys=False, allow_unicode=True)
    run, _ = run_job(tmp_path, tiny_path, ["train", "recipe.yaml"], settings, files={"recipe.yaml": body})
    assert Path(run.run_dir).name != run.id and monitor.progress(run)["step"] == 2
    assert list((Path(run.run_dir) / "output").glob("*.safetensors"))


def test_a_curation_job_round_trip_is_read_like_a_local_curation(tmp_path, tiny_path, settings):
    from labkit.data import report as data_report
    from labkit.data import run as data_run

    fixtures = ROOT / "tests" / "fixtures" / "curate"
    recipe = (ROOT / "configs" / "curate" / "rules-only.yaml").read_text(encoding="utf-8")
    argv = ["data", "curate", str(fixtures / "rules.jsonl"), "--recipe", "recipe.yaml"]
    argv += ["--set", f"rules.sensitive.words={fixtures / 'sensitive.txt'}"]
    run, _ = run_job(tmp_path, tiny_path, argv, settings, files={"recipe.yaml": recipe})
    summary = data_report.load_summary(data_run.output_dir(run))  # what the Data tab shows for a run id
    assert summary["read"] > 0 and summary["kept"] + sum(summary["dropped"].values()) == summary["read"]
