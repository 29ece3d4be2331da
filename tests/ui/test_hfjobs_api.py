"""The Evaluate tab's "Run on Hugging Face Jobs" panel through the served app (gradio_client), with a fake HfApi:
Gradio injects the (absent) sign-in and the request in place, the payload carries the form, and status, logs and
cancel reach the Job. The demo-Space side (an owner's OAuth token, refusals) is tests/unit/test_hfjobs_panel.py."""

from labkit import hfjobs, jobs

from fakes import FakeHfApi


def FakeApi():
    return FakeHfApi(job_id="job-ui-1", logs=("epoch 1\n", "done\n"))


def test_eval_panel_submits_mirrors_streams_and_cancels(client, monkeypatch):
    api = FakeApi()
    monkeypatch.setattr("huggingface_hub.HfApi", lambda *a, **k: api)
    monkeypatch.setattr("huggingface_hub.get_token", lambda: "hf_local_login")
    form = ["mgsm", "Qwen/Qwen2.5-0.5B-Instruct", "hf", ["en", "th"], 10, "native", True, 128]
    run_id, status, _ = client.predict("l4x1", "90m", "me/eval-results", *form, api_name="/eval_hf_job")
    ((name, kw),) = api.calls
    assert kw["flavor"] == "l4x1" and kw["timeout"] == "90m" and kw["token"] == "hf_local_login"
    assert "'--languages', 'en,th'" in kw["script"] and "'me/eval-results'" in kw["script"]
    assert "queued" in status and jobs.status(run_id).config["hf_job"]["id"] == "job-ui-1"
    api.stage, api.message = "ERROR", "boom"
    status, _ = client.predict(run_id, api_name="/eval_hf_job_status")
    assert status.startswith("**failed**") and "boom" in status and jobs.status(run_id).status == "failed"
    assert client.predict(run_id, api_name="/eval_hf_job_logs") == "epoch 1\ndone"
    assert hfjobs.job_id(jobs.status(run_id)) == "job-ui-1"


def test_cancel_through_the_experiment_panel(client, monkeypatch):
    api = FakeApi()
    monkeypatch.setattr("huggingface_hub.HfApi", lambda *a, **k: api)
    monkeypatch.setattr("huggingface_hub.get_token", lambda: "hf_local_login")
    # budget, languages, held-out, model, seed; world, overlap, seeds
    form = ["small", "zh,de,sw", "en-x1", "tiny-math", 0, "cipher", 0.25, 2]
    run_id, *_ = client.predict("t4-small", "1h", "me/exp", *form, api_name="/experiment_hf_job")
    script = api.calls[0][1]["script"]
    assert "'experiment', 'parallel-scaling', '--budget', 'small'" in script
    for flags in ("'--world', 'cipher'", "'--overlap', '0.25'", "'--seeds', '2'", "'--held-out', 'en-x1'"):
        assert flags in script, flags  # the form's world, overlap and seeds reach the Job's command
    status = client.predict(run_id, api_name="/experiment_hf_job_cancel")
    assert status.startswith("**cancelled**") and [kw["job_id"] for kw in api.named("cancel_job")] == ["job-ui-1"]
    assert jobs.status(run_id).status == "cancelled"
    # the panel's look (its timer's): the status as jobs.status gives it, the timer stopped at the end
    status, _log, timer = client.predict(run_id, api_name="/experiment_hf_job_attach")
    assert status.startswith("**cancelled**") and "Job [job-ui-1](" in status and timer["active"] is False


def test_the_experiment_job_carries_world_overlap_and_seeds(settings):
    from labkit.ui.hfjobs_panel import experiment_job

    job = experiment_job(settings, "small", "zh,de", "fr", "", 1, "natural", 0.5, 4)
    assert job.argv[job.argv.index("--world") + 1] == "natural" and "--overlap" not in job.argv  # natural: no s
    assert job.argv[job.argv.index("--seeds") + 1] == "4" and job.config["world"] == "natural"
    job = experiment_job(settings, "small", "zh,de", "", "", 0, "cipher", 0.3, None)
    assert job.argv[-4:] == ["--world", "cipher", "--overlap", "0.3"] and "--seeds" not in job.argv
