"""Evaluate tab through gradio_client: start a run as a job, follow it, read the leaderboard, heatmap,
samples and a before/after comparison."""

import time
from pathlib import Path

import pytest
from gradio_client.exceptions import AppError

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "mgsm"


def follow(client, rid):
    seen = []
    for _ in range(480):
        progress, _log, _timer, board, *_ = client.predict(rid, "", [], api_name="/eval_attach")
        seen.append(progress)
        if "succeeded" in progress or "failed" in progress:
            return progress, board, seen
        time.sleep(0.5)
    raise AssertionError(seen[-1])


def run_eval(client, langs, tags="", data=str(FIX)):
    rid, msg, _ = client.predict(
        "mgsm", "tiny", "hf", langs, 2, "native", True, 8, data, tags, "", "openai", "", api_name="/eval_start"
    )
    assert rid.startswith("eval-") and "eval --task mgsm" in msg
    progress, board, _ = follow(client, rid)
    assert "succeeded" in progress, progress
    assert f"{2 * len(langs)}/{2 * len(langs)} samples" in progress
    assert rid in [row[0] for row in board["data"]]  # the leaderboard refreshed itself when the run ended
    return rid


def test_default_run_on_the_bundled_sample_data(client):
    data, update = client.predict("mgsm", api_name="/eval_use_sample")
    langs = update["value"]
    assert data == "sample" and sorted(langs) == ["bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh"]
    run_eval(client, langs, data="sample")


def test_the_synthetic_world_button_sets_the_trained_model_and_its_data_and_runs_offline(client):
    """'Use the synthetic world' = the bundled trained tiny-math-sft on the world's test set; offline,
    its accuracy is real: high on a trained language, near zero on one it never saw."""
    from labkit import jobs

    data, langs, model, backend, max_new = client.predict("mgsm", api_name="/eval_use_world")
    assert (data, model["value"], backend) == ("synth", "tiny-math-sft", "hf") and len(langs["value"]) == 11
    rid, msg, _ = client.predict(
        "mgsm", "tiny-math-sft", "hf", ["en", "te"], 10, "native", True, max_new, "synth", "", "", "openai", "",
        api_name="/eval_start",
    )  # fmt: skip
    progress, _board, _ = follow(client, rid)
    assert "succeeded" in progress and "20/20 samples" in progress, progress
    m = jobs.status(rid).metrics
    assert m["score/en"] >= 0.5 and m["score/te"] <= m["score/en"] - 0.3, m


def test_a_reload_reattaches_to_the_running_evaluation(client):
    rid, _msg, _ = client.predict(
        "mgsm",
        "tiny",
        "hf",
        ["en", "zh", "de", "fr"],
        3,
        "native",
        True,
        32,
        "sample",
        "",
        "",
        "openai",
        "",
        api_name="/eval_start",
    )
    attached, _timer = client.predict(api_name="/eval_reattach")  # what a freshly loaded page does
    assert attached == rid
    assert "succeeded" in follow(client, rid)[0]


def test_a_failed_run_shows_its_error_whole_in_the_tabs_words(client):
    rid, _msg, _ = client.predict(
        "mgsm",
        "tiny",
        "hf",
        ["en"],
        2,
        "native",
        True,
        8,
        "/nonexistent/folder",
        "",
        "",
        "openai",
        "",
        api_name="/eval_start",
    )
    progress, _board, _ = follow(client, rid)
    # the status line shows the job's command (`labkit eval … --data …`); the error below it is in the tab's words
    command, error = progress.rsplit("`", 1)
    assert "failed" in progress and "labkit eval" in command and "--data /nonexistent/folder" in command
    assert "No data at /nonexistent/folder" in error and "--data" not in error


def test_evaluate_round_trip(client):
    a = run_eval(client, ["en", "zh"], "n_languages=1")
    b = run_eval(client, ["en", "zh"])
    board, picked, heat = client.predict("mgsm", [], api_name="/eval_board")
    ids = [row[0] for row in board["data"]]
    assert a in ids and b in ids and "zh" in board["headers"]
    assert heat is not None
    rows = client.predict(a, "zh", "all", api_name="/eval_samples")
    assert len(rows["data"]) == 2 and {r[1] for r in rows["data"]} == {"zh"}
    head, table = client.predict(a, b, "en", api_name="/eval_compare")
    assert "MTI" in head and {r[0] for r in table["data"]} == {"en", "zh"}


def test_bad_requests_are_readable(client):
    with pytest.raises(Exception, match="language"):
        client.predict("mgsm", "tiny", "hf", [], 2, "native", True, 8, "", "", "", "openai", "", api_name="/eval_start")
    with pytest.raises(Exception, match="The Model field is 5000 characters long"):
        client.predict(
            "mgsm", "m" * 5000, "hf", ["en"], 2, "native", True, 8, "", "", "", "openai", "", api_name="/eval_start"
        )
    with pytest.raises(Exception, match="sample data has no"):
        client.predict(
            "polymath",
            "tiny",
            "hf",
            ["de"],
            2,
            "native",
            True,
            8,
            "sample",
            "",
            "",
            "openai",
            "",
            api_name="/eval_start",
        )
    with pytest.raises(AppError, match="(?i)run"):
        client.predict("", "zh", "all", api_name="/eval_samples")
