"""The "Run on Hugging Face Jobs" panel on a demo Space: an owner who signed in submits with her own OAuth token
(payload checked against a fake HfApi), anonymous visitors and other users are refused, the status is mirrored,
logs streamed, cancel sent, and results read back from the Hub (a fake download of fixture files) into the
Evaluate leaderboard and samples and the Train metrics."""

from __future__ import annotations

import shutil
import time
import types
from pathlib import Path

import gradio as gr
import pytest

from labkit import hfjobs
from labkit.evaluate import report
from labkit.settings import Settings
from labkit.store import Store
from labkit.train import monitor
from labkit.ui import hfjobs_panel
from labkit.ui.hfjobs_panel import Panel

from fakes import FakeHfApi

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hfjobs"
EVAL_FORM = ["mgsm", "Qwen/Qwen2.5-0.5B-Instruct", "hf", ["en", "zh"], 20, "native", True, 256]
RECIPE = """name: sft-job
method: sft
model: {name: Qwen/Qwen2.5-0.5B-Instruct}
data: {path: me/sft-data}
trainer: {max_steps: 2}
"""


def FakeApi():
    """Records every call with the token it carried."""
    return FakeHfApi(
        job_id="job42",
        url="https://huggingface.co/jobs/alice/{id}",
        logs=("loading model\n", "step 1/2\n", "step 2/2\n"),
    )


PKG = "labkit @ git+https://example.invalid/labkit@test"


@pytest.fixture()
def space(tmp_path, monkeypatch):
    """A demo Space owned by alice, whose own token (HF_TOKEN secret) must never serve a visitor."""
    api = FakeApi()
    monkeypatch.setattr("huggingface_hub.HfApi", lambda *a, **k: api)
    monkeypatch.setattr("huggingface_hub.get_token", lambda: "hf_space_own_token")
    env = {"LABKIT_HOME": str(tmp_path), "LABKIT_DEMO": "1", "SPACE_AUTHOR_NAME": "Alice", "HF_HUB_OFFLINE": "1"}
    settings = Settings.from_env({**env, "LABKIT_PACKAGE": PKG}).ensure_dirs()
    monkeypatch.setattr("labkit.hfjobs.get_settings", lambda: settings)
    ctx = types.SimpleNamespace(settings=settings, store=Store(settings.store_path), shared_server=True)
    return types.SimpleNamespace(api=api, settings=settings, ctx=ctx, store=ctx.store)


def login(name: str, expires_in: float = 86400):
    profile = gr.OAuthProfile({"name": name, "preferred_username": name, "profile": "", "picture": ""})
    token = gr.OAuthToken(
        token=f"hf_oauth_{name}", scope="openid profile jobs", expires_at=int(time.time() + expires_in)
    )
    return profile, token


def submit_eval(space, who=("alice",), timeout="3h", repo="alice/labkit-results"):
    panel = Panel(space.ctx, "eval", hfjobs_panel.eval_job)
    return panel, panel.submit(*login(*who), None, "a10g-small", timeout, repo, *EVAL_FORM)


def test_owner_submits_with_her_oauth_token_flavor_timeout_and_command(space):
    _, (run_id, status, timer) = submit_eval(space)
    name, kw = space.api.calls[0]
    assert name == "run_uv_job" and kw["token"] == "hf_oauth_alice" and kw["secrets"] == {"HF_TOKEN": "hf_oauth_alice"}
    assert kw["flavor"] == "a10g-small" and kw["timeout"] == "3h" and kw["dependencies"] == [PKG]
    assert "hf_space_own_token" not in repr(space.api.calls) + space.api.script
    assert "hf_oauth_alice" not in space.api.script  # the token is a Job secret, never in the script
    assert "['eval', '--task', 'mgsm', '--languages', 'en,zh'" in space.api.script
    assert "'--model', 'Qwen/Qwen2.5-0.5B-Instruct'" in space.api.script and "'--limit', '20'" in space.api.script
    assert "'--max-new-tokens', '256'" in space.api.script
    assert "'alice/labkit-results'" in space.api.script
    compile(space.api.script, "labkit_job.py", "exec")
    run = space.store.get(run_id)
    assert run.kind == "eval" and run.status == "queued" and hfjobs.job_id(run) == "job42"
    assert run.config["task"] == "mgsm" and run.config["model"] == "Qwen/Qwen2.5-0.5B-Instruct"
    assert "owner:alice" in run.tags
    assert "queued" in status and "job42" in status and timer.active


def test_anonymous_visitors_and_other_users_are_refused(space):
    panel = Panel(space.ctx, "eval", hfjobs_panel.eval_job)
    with pytest.raises(gr.Error, match="owner of the Space to sign in"):
        panel.submit(None, None, None, "a10g-small", "2h", "x/r", *EVAL_FORM)
    with pytest.raises(gr.Error, match="bob is not an owner"):
        panel.submit(*login("bob"), None, "a10g-small", "2h", "bob/r", *EVAL_FORM)
    for action in (panel.refresh, panel.cancel, panel.results):
        with pytest.raises(gr.Error, match="sign in"):
            action(None, None, None, "eval-anything")
    with pytest.raises(gr.Error, match="sign in"):
        list(panel.logs(None, None, None, "eval-anything"))
    assert space.api.calls == [] and space.store.list() == []


def test_a_timeout_longer_than_the_sign_in_is_refused(space):
    panel = Panel(space.ctx, "eval", hfjobs_panel.eval_job)
    with pytest.raises(gr.Error, match="expires in"):
        panel.submit(*login("alice", expires_in=3600), None, "a10g-small", "2h", "alice/r", *EVAL_FORM)
    with pytest.raises(gr.Error, match="Timeout"):
        panel.submit(*login("alice"), None, "a10g-small", "soon", "alice/r", *EVAL_FORM)
    assert space.api.calls == []


def test_status_is_mirrored_logs_streamed_and_cancel_sent_with_the_owner_token(space):
    panel, (run_id, _, _) = submit_eval(space)
    space.api.stage = "RUNNING"
    status, timer = panel.refresh(*login("alice"), None, run_id)
    assert status.startswith("**running**") and timer.active and space.store.get(run_id).status == "running"
    streamed = list(panel.logs(*login("alice"), None, run_id))
    assert streamed[-1].splitlines() == ["loading model", "step 1/2", "step 2/2"]
    status, timer = panel.cancel(*login("alice"), None, run_id)
    assert status.startswith("**cancelled**") and not timer.active
    tokens = {c[1]["token"] for c in space.api.calls if c[0] != "run_uv_job"}
    assert tokens == {"hf_oauth_alice"}
    assert ("cancel_job", {"job_id": "job42", "token": "hf_oauth_alice"}) in space.api.calls
    assert ("fetch_job_logs", {"job_id": "job42", "follow": True, "token": "hf_oauth_alice"}) in space.api.calls


def fake_download(pushed: dict[str, Path], calls: list):
    """snapshot_download as the Hub would answer it: the files the Job pushed, under <run id>/ in the repo."""

    def download(*, repo_id, repo_type, allow_patterns, local_dir, token):
        calls.append({"repo_id": repo_id, "repo_type": repo_type, "allow_patterns": allow_patterns, "token": token})
        for rel, src in pushed.items():
            shutil.copytree(src, Path(local_dir) / rel)
        return local_dir

    return download


def test_eval_results_read_back_feed_the_leaderboard_and_samples(space, monkeypatch):
    panel, (run_id, _, _) = submit_eval(space)
    space.api.stage = "COMPLETED"
    panel.refresh(*login("alice"), None, run_id)
    calls = []
    monkeypatch.setattr("huggingface_hub.snapshot_download", fake_download({run_id: FIXTURES / "eval"}, calls))
    text = panel.results(*login("alice"), None, run_id)
    assert calls == [
        {
            "repo_id": "alice/labkit-results",
            "repo_type": "dataset",
            "allow_patterns": [f"{run_id}/**"],
            "token": "hf_oauth_alice",
        }
    ]
    run = space.store.get(run_id)
    assert Path(run.run_dir) == space.settings.runs_dir / run_id and "Loaded" in text
    headers, rows = report.leaderboard(report.eval_runs(space.store, "mgsm"))
    row = dict(zip(headers, rows[0]))
    assert row["run"] == run_id and row["status"] == "succeeded" and row["average"] == 50.0
    assert row["en"] == 75.0 and row["zh"] == 25.0 and row["parse_failed"] == 1
    samples = report.sample_rows(run, "zh")
    assert len(samples) == 1 and samples[0][report.SAMPLE_COLUMNS.index("output")] == "不知道"


def test_train_results_read_back_show_the_metrics(space, monkeypatch):
    panel = Panel(space.ctx, "train", hfjobs_panel.train_job)
    run_id, _, _ = panel.submit(*login("alice"), None, "a100-large", "6h", "alice/ckpt", RECIPE, None)
    _, kw = space.api.calls[0]
    assert kw["flavor"] == "a100-large" and kw["timeout"] == "6h"
    assert "['train', 'recipe.yaml']" in space.api.script and "me/sft-data" in space.api.script
    pushed = {f"{run_id}/runs/train-sft-job-1": FIXTURES / "train"}  # a training run names its own folder
    monkeypatch.setattr("huggingface_hub.snapshot_download", fake_download(pushed, []))
    panel.results(*login("alice"), None, run_id)
    run = space.store.get(run_id)
    assert Path(run.run_dir).name == "train-sft-job-1"
    assert monitor.progress(run)["step"] == 2 and monitor.progress(run)["latest"] == {"loss": 1.75}


def test_nothing_pushed_yet_is_said(space, monkeypatch):
    panel, (run_id, _, _) = submit_eval(space)
    monkeypatch.setattr("huggingface_hub.snapshot_download", fake_download({}, []))
    with pytest.raises(gr.Error, match="nothing under"):
        panel.results(*login("alice"), None, run_id)


def test_job_builders_refuse_what_a_job_cannot_reach(space):
    from labkit.errors import LabkitError

    with pytest.raises(LabkitError, match="file on this machine"):
        hfjobs_panel.train_job(space.settings, RECIPE.replace("me/sft-data", "./local.jsonl"), None)
    with pytest.raises(LabkitError, match="not one a Job can read"):
        hfjobs_panel.data_job(space.settings, "/data/web.jsonl", "rules: {}")
    with pytest.raises(LabkitError, match="hf-jobs"):  # the one HF Jobs route: a fan-out executor is refused
        hfjobs_panel.data_job(space.settings, "me/web-crawl", "executor: {name: hf-jobs}")
    with pytest.raises(LabkitError, match="Backend"):
        hfjobs_panel.eval_job(space.settings, "mgsm", "m", "openai", ["en"], 0, "native", True, 64)
    job = hfjobs_panel.data_job(space.settings, "me/web-crawl", "rules: {}")
    assert job.argv == ["data", "curate", "me/web-crawl", "--recipe", "recipe.yaml"]
    assert set(job.files) == {"recipe.yaml"} and "executor:" in job.files["recipe.yaml"]  # the recipe, validated
    job = hfjobs_panel.experiment_job(space.settings, "full", "zh,th", "sw", "", 3)
    assert job.argv == [
        "experiment",
        "parallel-scaling",
        "--budget",
        "full",
        "--model",
        "tiny-math",
        "--seed",
        "3",
        "--languages",
        "zh,th",
        "--held-out",
        "sw",
    ]


def test_local_lab_submits_with_the_machine_login(tmp_path, monkeypatch):
    api = FakeApi()
    monkeypatch.setattr("huggingface_hub.HfApi", lambda *a, **k: api)
    monkeypatch.setattr("huggingface_hub.get_token", lambda: "hf_my_cli_login")
    env = {"LABKIT_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1", "LABKIT_PACKAGE": PKG}
    settings = Settings.from_env(env).ensure_dirs()
    monkeypatch.setattr("labkit.hfjobs.get_settings", lambda: settings)
    ctx = types.SimpleNamespace(settings=settings, store=Store(settings.store_path), shared_server=False)
    panel = Panel(ctx, "experiment", hfjobs_panel.experiment_job)
    panel.submit(None, None, None, "t4-small", "45m", "me/exp", "small", "zh", "sw", "tiny-math", 0)
    assert api.calls[0][1]["token"] == "hf_my_cli_login" and api.calls[0][1]["timeout"] == "45m"


def test_sign_in_button_only_where_oauth_is_configured(space, monkeypatch):
    # the login routes need gradio[oauth] (on the Space: requirements.txt); here only the button's presence matters
    monkeypatch.setattr("gradio.routes.attach_oauth", lambda app: None)

    def built(env):
        settings = Settings.from_env({**space.settings.env, **env})
        ctx = types.SimpleNamespace(settings=settings, store=space.store, shared_server=True)
        with gr.Blocks() as demo:
            hfjobs_panel.attach(
                ctx, types.SimpleNamespace(demo=demo), "eval", [gr.Textbox()] * 8, hfjobs_panel.eval_job
            )
        return demo

    assert not built({}).expects_oauth
    assert built({"OAUTH_CLIENT_ID": "space-oauth-app"}).expects_oauth
    names = {f.api_name for f in built({}).fns.values()}
    assert {
        "eval_hf_job",
        "eval_hf_job_status",
        "eval_hf_job_logs",
        "eval_hf_job_cancel",
        "eval_hf_job_results",
    } <= names


def test_self_hosted_with_auth_an_owner_uses_the_server_login(space):
    """`labkit serve --auth` in demo mode: no OAuth token; owners (LABKIT_OWNERS) submit with the host's login."""
    settings = Settings.from_env({**space.settings.env, "LABKIT_OWNERS": "carol, Dave"})
    ctx = types.SimpleNamespace(settings=settings, store=space.store, shared_server=True)
    panel = Panel(ctx, "eval", hfjobs_panel.eval_job)
    carol = types.SimpleNamespace(username="carol", session_hash="s1")
    run_id, _, _ = panel.submit(None, None, carol, "a10g-small", "1h", "carol/r", *EVAL_FORM)
    assert space.api.calls[0][1]["token"] == "hf_space_own_token"  # the host's own login: every visitor logged in
    assert "owner:carol" in space.store.get(run_id).tags
    with pytest.raises(gr.Error, match="erin is not an owner"):
        panel.submit(
            None, None, types.SimpleNamespace(username="erin", session_hash="s2"), "a10g-small", "1h", "e/r", *EVAL_FORM
        )
    assert len(space.api.calls) == 1


def test_experiment_results_show_the_report(space, monkeypatch):
    panel = Panel(space.ctx, "experiment", hfjobs_panel.experiment_job)
    run_id, _, _ = panel.submit(*login("alice"), None, "a10g-small", "4h", "alice/exp", "small", "zh", "sw", "", 0)
    monkeypatch.setattr("huggingface_hub.snapshot_download", fake_download({run_id: FIXTURES / "experiment"}, []))
    text = panel.results(*login("alice"), None, run_id)
    assert "# Parallel scaling (small budget)" in text and "| 2 | 3 | 0.31 |" in text
