"""Evaluate tab through gradio_client: start a run as a job, follow it, read the leaderboard, heatmap,
samples and a before/after comparison."""
import time
from pathlib import Path

import pytest

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "mgsm"



def run_eval(client, langs, tags=""):
    rid, msg, _ = client.predict("mgsm", "tiny", "hf", langs, 2, "native", True, 8, str(FIX), tags, "", "openai", "", api_name="/eval_start")
    assert rid.startswith("eval-") and "eval --task mgsm" in msg
    for _ in range(240):
        progress, _timer = client.predict(rid, api_name="/eval_progress")
        if "succeeded" in progress or "failed" in progress:
            break
        time.sleep(0.5)
    assert "succeeded" in progress, progress
    assert "2/2" in progress or "4/4" in progress
    return rid


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
    with pytest.raises(Exception):
        client.predict("", "zh", "all", api_name="/eval_samples")
