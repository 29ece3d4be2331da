"""The DMoE steps the app runs, without a model: finding an analysis, refusing a folder that is not an upcycled
model, and reading stored routing statistics."""

import json

import pytest

from labkit.dmoe import workflow
from labkit.errors import LabkitError
from labkit.settings import Settings


def test_an_analysis_is_found_by_file_folder_or_run_id(tmp_path):
    settings = Settings.from_env({"LABKIT_HOME": str(tmp_path / "home")})
    run = settings.runs_dir / "dmoe-1"
    run.mkdir(parents=True)
    (run / "analysis.json").write_text("{}")
    for ref in (str(run / "analysis.json"), str(run), "dmoe-1", "  dmoe-1 "):
        assert workflow.find_analysis(ref, settings) == run / "analysis.json"
    with pytest.raises(LabkitError, match="No analysis file at 'dmoe-2'"):
        workflow.find_analysis("dmoe-2", settings)
    with pytest.raises(LabkitError, match="No analysis given"):
        workflow.find_analysis(" ", settings)


def test_stages_refuse_a_folder_that_is_not_an_upcycled_model(tmp_path):
    (tmp_path / "torn").mkdir()
    (tmp_path / "torn" / "dmoe.json").write_text('{"groups": [["en"')  # a malformed metadata file
    for folder in ("", str(tmp_path), "d" * 300, str(tmp_path / "torn"), str(tmp_path / "nul\0")):
        with pytest.raises(LabkitError, match="upcycled DMoE model folder"):
            workflow.launch_stages(folder, "data.jsonl", 1, 1, True)


def test_stored_routing_is_read_unless_languages_are_asked_for(tmp_path):
    stats = {"languages": {"en": {"experts": [0.75, 0.25], "per_layer": [[0.75, 0.25]]}}}
    (tmp_path / "routing.json").write_text(json.dumps(stats))
    assert workflow.routing(str(tmp_path)) == stats
    with pytest.raises(LabkitError, match="trained DMoE model folder"):
        workflow.routing("")
