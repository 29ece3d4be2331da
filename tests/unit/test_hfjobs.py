"""Hugging Face Jobs: the payload sent (token from get_token(), flavor, timeout, dependencies) and the store's
status mirrored from inspect_job, checked against a fake HfApi."""

from __future__ import annotations

import json
import types

import pytest

from labkit import hfjobs
from labkit.errors import LabkitError
from labkit.settings import Settings

from fakes import FakeHfApi


def FakeApi():
    return FakeHfApi(job_id="job123", logs=("step 1", "step 2"))


@pytest.fixture()
def settings(tmp_path):
    env = {"LABKIT_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1", "LABKIT_PACKAGE": PKG}
    return Settings.from_env(env).ensure_dirs()


PKG = "labkit @ git+https://example.invalid/labkit@test"


def test_what_a_job_installs(tmp_path, monkeypatch):
    """LABKIT_PACKAGE; else on a Space its own requirements and sources; else a URL install pinned to its commit;
    else (a clone, an editable install) a refusal that names the setting."""
    base = {"LABKIT_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    assert hfjobs.package(Settings.from_env({**base, "LABKIT_PACKAGE": PKG})) == ([PKG], None)
    (tmp_path / "requirements.txt").write_text("# generated\ntorch==2.11.0\ngradio==6.31.0  # ui\n\nspaces\n")
    on_space = Settings.from_env({**base, "SPACE_ID": "me/lab"})
    assert hfjobs.package(on_space, root=tmp_path) == (["torch==2.11.0", "gradio==6.31.0", "spaces"], "me/lab")
    script = hfjobs._script(["eval", "--task", "mgsm"], "me/r", {}, "eval-1", "me/lab")
    assert 'snapshot_download(space, repo_type="space"' in script and "space = {}, 'me/lab'" in script
    compile(script, "labkit_job.py", "exec")

    class Dist:
        def __init__(self, url):
            self.url = url

        def read_text(self, name):
            return json.dumps(self.url)

    plain = Settings.from_env(base)
    git = {"url": "https://github.com/me/labkit", "vcs_info": {"vcs": "git", "commit_id": "abc123"}}
    monkeypatch.setattr("importlib.metadata.distribution", lambda name: Dist(git))
    assert hfjobs.package(plain, root=tmp_path) == (["labkit @ git+https://github.com/me/labkit@abc123"], None)
    editable = {"url": "file:///home/me/labkit", "dir_info": {"editable": True}}
    monkeypatch.setattr("importlib.metadata.distribution", lambda name: Dist(editable))
    with pytest.raises(LabkitError, match="file:///home/me/labkit, which a Job cannot install") as e:
        hfjobs.package(plain, root=tmp_path)
    assert "LABKIT_PACKAGE" in e.value.hint


def test_submit_sends_the_login_token_flavor_timeout_and_dependencies(monkeypatch, settings):
    monkeypatch.setattr("huggingface_hub.get_token", lambda: "hf_login_cache_token")
    api = FakeApi()
    run = hfjobs.submit(
        ["eval", "--task", "mgsm", "--model", "Qwen/Qwen2.5-0.5B-Instruct"],
        kind="eval",
        name="mgsm",
        flavor="a10g-small",
        timeout="3h",
        push_repo="me/results",
        settings=settings,
        api=api,
    )
    name, kw = api.calls[0]
    assert name == "run_uv_job" and kw["flavor"] == "a10g-small" and kw["timeout"] == "3h"
    assert kw["secrets"] == {"HF_TOKEN": "hf_login_cache_token"} and kw["token"] == "hf_login_cache_token"
    assert kw["dependencies"] == [PKG] and kw["labels"] == {"labkit-run": run.id}
    assert "hf_login_cache_token" not in api.script  # the token travels as a secret, never in the script
    assert "'eval', '--task', 'mgsm'" in api.script and "'me/results'" in api.script and "--output" in api.script
    compile(api.script, "labkit_job.py", "exec")
    assert (
        run.status == "queued" and hfjobs.job_id(run) == "job123" and run.config["hf_job"]["push_repo"] == "me/results"
    )


def test_a_curation_job_installs_labkit_with_its_data_extra(monkeypatch, settings):
    """`labkit data curate` needs datatrove and the annotators (the `[data]` extra); other commands do not."""
    monkeypatch.setattr("huggingface_hub.get_token", lambda: "hf_tok")
    api = FakeApi()
    hfjobs.submit(["data", "curate", "me/corpus"], kind="data", name="c", push_repo="me/r", settings=settings, api=api)
    hfjobs.submit(["eval", "--task", "mgsm"], kind="eval", name="e", push_repo="me/r", settings=settings, api=api)
    assert [kw["dependencies"] for _, kw in api.calls if _ == "run_uv_job"] == [
        ["labkit[data] @ git+https://example.invalid/labkit@test"],
        [PKG],
    ]


def test_status_is_mirrored_from_inspect_job(monkeypatch, settings):
    api = FakeApi()
    run = hfjobs.submit(
        ["train", "r.yaml"], kind="train", name="t", push_repo="me/r", token="hf_oauth", settings=settings, api=api
    )
    api.stage = "RUNNING"
    assert hfjobs.sync(run.id, settings=settings, api=api).status == "running"
    assert list(hfjobs.logs(run.id, settings=settings, api=api)) == ["step 1", "step 2"]
    api.stage, api.message = "ERROR", "CUDA out of memory"
    failed = hfjobs.sync(run.id, settings=settings, api=api)
    assert failed.status == "failed" and "out of memory" in failed.error
    n = len(api.calls)
    assert hfjobs.sync(run.id, settings=settings, api=api).status == "failed" and len(api.calls) == n  # final: no call


def test_cancel_calls_cancel_job(settings):
    api = FakeApi()
    run = hfjobs.submit(
        ["fit", "d.csv"], kind="fit", name="f", push_repo="me/r", token="hf_x", settings=settings, api=api
    )
    assert hfjobs.cancel(run.id, settings=settings, api=api).status == "cancelled"
    assert [kw["job_id"] for kw in api.named("cancel_job")] == ["job123"]


def test_refusals(monkeypatch, settings):
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    with pytest.raises(LabkitError, match="logged in"):
        hfjobs.submit(["eval"], kind="eval", name="x", push_repo="me/r", settings=settings, api=FakeApi())
    with pytest.raises(LabkitError, match="repo"):
        hfjobs.submit(["eval"], kind="eval", name="x", push_repo=None, token="t", settings=settings, api=FakeApi())
    with pytest.raises(LabkitError, match="not something to run"):
        hfjobs.submit(["serve"], kind="x", name="x", push_repo="me/r", token="t", settings=settings, api=FakeApi())
    demo = Settings.from_env({"LABKIT_HOME": str(settings.home), "LABKIT_DEMO": "1"})
    with pytest.raises(LabkitError, match="demo"):
        hfjobs.submit(["eval"], kind="eval", name="x", push_repo="me/r", token="t", settings=demo, api=FakeApi())


def test_cli_job_results_reads_the_pushed_folder_back(monkeypatch, settings, capsys):
    import json
    import shutil
    from pathlib import Path

    from labkit.cli import main

    run = hfjobs.submit(
        ["eval", "--task", "mgsm"], kind="eval", name="m", push_repo="me/r", token="t", settings=settings, api=FakeApi()
    )
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "hfjobs" / "eval"

    def download(*, repo_id, repo_type, allow_patterns, local_dir, token):
        assert (repo_id, repo_type, allow_patterns) == ("me/r", "dataset", [f"{run.id}/**"])
        shutil.copytree(fixtures, Path(local_dir) / run.id)  # the Job pushed its --output folder as <run id>/

    monkeypatch.setattr("huggingface_hub.snapshot_download", download)
    monkeypatch.setenv("LABKIT_HOME", str(settings.home))
    assert main(["hub", "job-results", run.id, "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["run_dir"] == str(settings.runs_dir / run.id) and row["metrics"]["score/en"] == 0.75


def test_flavors_from_the_hub_with_prices_else_the_static_names(settings):
    hw = types.SimpleNamespace(name="l4x1", pretty_name="1x Nvidia L4", unit_cost_usd=0.0133, unit_label="minute")
    asked = []
    api = types.SimpleNamespace(list_jobs_hardware=lambda token=None: asked.append(token) or [hw])
    online = Settings.from_env({"LABKIT_HOME": str(settings.home)})
    assert hfjobs.flavors(token=False, settings=online, api=api) == [("l4x1 · 1x Nvidia L4 · $0.80/h", "l4x1")]
    assert asked == [False]  # no token at all: never the Space's own for a visitor
    assert ("a10g-small", "a10g-small") in hfjobs.flavors(settings=settings, api=api)  # offline: not asked
    assert hfjobs.seconds("90m") == 5400 and hfjobs.seconds(120) == 120
    with pytest.raises(LabkitError, match="Timeout"):
        hfjobs.seconds("-1h")
