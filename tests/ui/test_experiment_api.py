"""Experiment tab through gradio_client: bad settings are readable errors; a running study's points, plot and
report show up in the run panel, which a reload re-attaches to; Cancel ends the job. (The study itself is tested in
tests/integration/test_experiment.py.)"""

import json
import sys

import pytest

from fakes import api_client, wait_until
from labkit import jobs


@pytest.fixture(scope="module")
def client(app_url):
    return api_client(app_url)


def test_bad_settings_are_errors_naming_the_field(client):
    with pytest.raises(Exception, match="held-out"):
        client.predict("small", "zh,de,sw", "zh", "tiny-math", 0, api_name="/experiment_launch")
    with pytest.raises(Exception, match="languages"):
        client.predict("small", "zh", "fr", "tiny-math", 0, api_name="/experiment_launch")


def test_follow_shows_points_plot_and_report_then_cancel(client, settings):
    from tests.unit.test_experiment_parts import _state

    state = _state()
    folder = settings.home / "experiments" / state["id"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.md").write_text("# Parallel scaling: the report\n")
    state.update(stage="fit", report=str(folder / "report.md"))
    (folder / "state.json").write_text(json.dumps(state))
    run = jobs.start([sys.executable, "-c", "import time; time.sleep(60)"], kind="experiment", name=state["id"])
    wait_until(lambda: jobs.status(run.id).status == "running", what="the job's supervisor to start it")
    rid, timer = client.predict(api_name="/experiment_reattach")  # a reload follows the running study
    assert rid == run.id and timer["active"] is True
    status, log, timer, table, plot, report, report_file, finding = client.predict(
        run.id, api_name="/experiment_attach"
    )
    assert "**running**" in status and "so far" in status and timer["active"] is True
    assert "stage **fit**" in status and "4/4 runs" in status
    assert table["headers"][:3] == ["k", "n_languages", "run"] and "held-out accuracy" in table["headers"]
    assert "held-out accuracy" in finding  # the tab opens with what the study found so far
    assert [str(r[0]) for r in table["data"]] == ["untrained", "0", "1", "2", "3"] and plot is not None
    assert "the report" in report and report_file
    # the last event is a finished point, as the job writes it to metrics.jsonl (its per-language accuracies stay in
    # state.json): the status line says the point, and the table still shows (a look used to fail on it whole, and
    # under load the first point's row never appeared)
    from labkit.experiment.cli import as_metrics

    point = {"stage": "point", **state["points"][0], "seed": 0, "run_id": "train-x", "held_out": 0.25}
    jobs.MetricsWriter(run.run_dir).log(**as_metrics(point))
    status, log, timer, table, *_ = client.predict(run.id, api_name="/experiment_attach")
    assert f"k={point['k']}" in status and "train-x" in status and "held-out accuracy 0.25" in status, status
    assert "cannot be read" not in status and [str(r[0]) for r in table["data"]][:2] == ["untrained", "0"]
    assert "cancelled" in client.predict(run.id, api_name="/experiment_cancel")
