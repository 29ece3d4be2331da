"""The form ⇄ YAML sync that every recipe form uses: what a click runs is what the page showed at the click."""

import pytest
import yaml

from labkit.errors import LabkitError
from labkit.ui.formsync import Field, FormSync, mapping

FIELDS = [
    Field("name", "Run name"),
    Field("trainer.learning_rate", "Learning rate", "number"),
    Field("trainer.max_steps", "Max steps", "int"),
    Field("data.path", "Data", "optional"),
    Field("model.lora.r", "LoRA rank", "int", clears="model.lora"),
    Field("rules.length.enabled", "length", "bool"),
]
TEXT = """# a comment that must stay
name: run-a   # the run's name
trainer:
  learning_rate: 0.002
  max_steps: 10
model:
  lora: {r: 8}
"""


def sync() -> FormSync:
    return FormSync(FIELDS, lambda text, source: mapping(text))


def test_a_field_typed_since_the_last_sync_wins_even_when_the_server_synced_meanwhile():
    s = sync()
    shown = s.values(TEXT)
    typed = list(shown)
    typed[1] = 0.0025
    # the click's own payload: the editor and `synced` as they were before the blur's sync came back
    out = yaml.safe_load(s.text(TEXT, shown, None, *typed))
    assert out["trainer"]["learning_rate"] == 0.0025 and out["name"] == "run-a"
    # and after it came back: the editor already holds the value, `synced` says so, nothing more is written
    synced_text = s.text(TEXT, shown, None, *typed)
    assert s.text(synced_text, typed, None, *typed) == synced_text


def test_an_editor_edit_not_yet_synced_back_wins_over_unchanged_fields():
    s = sync()
    shown = s.values(TEXT)
    edited = TEXT.replace("max_steps: 10", "max_steps: 3")
    assert yaml.safe_load(s.text(edited, shown, None, *shown))["trainer"]["max_steps"] == 3


def test_without_synced_every_field_that_differs_from_the_editor_wins():
    s = sync()
    typed = s.values(TEXT)
    typed[0] = "run-b"
    assert yaml.safe_load(s.text(TEXT, None, None, *typed))["name"] == "run-b"


def test_comments_stay_and_types_are_the_recipes():
    s = sync()
    typed = s.values(TEXT)
    typed[2], typed[3], typed[5] = 7.0, "  ", True
    out = s.text(TEXT, None, None, *typed)
    assert "# a comment that must stay" in out and "# the run's name" in out
    data = yaml.safe_load(out)
    assert data["trainer"]["max_steps"] == 7 and isinstance(data["trainer"]["max_steps"], int)
    assert data["rules"]["length"]["enabled"] is True and "data" not in data  # an empty optional field writes nothing


def test_lora_rank_zero_clears_the_lora_section():
    s = sync()
    typed = s.values(TEXT)
    typed[4] = 0
    assert yaml.safe_load(s.text(TEXT, None, None, *typed))["model"]["lora"] is None


@pytest.mark.parametrize(
    ("index", "value", "message"),
    [(2, None, "Max steps is empty"), (2, 2.5, "whole number"), (0, " ", "Run name is empty")],
)
def test_an_emptied_or_wrong_field_is_an_error_never_the_old_value(index, value, message):
    s = sync()
    typed = s.values(TEXT)
    typed[index] = value
    with pytest.raises(LabkitError, match=message):
        s.text(TEXT, None, None, *typed)


@pytest.mark.parametrize("text", ["just a scalar", "- a\n- b\n", "42"])
def test_an_editor_that_is_not_a_mapping_is_a_message(text):
    s = sync()
    typed = [None] * len(FIELDS)
    typed[0] = "x"
    with pytest.raises(LabkitError, match="mapping"):
        s.text(text, None, None, *typed)
    with pytest.raises(LabkitError, match="mapping"):
        s.values(text)


def test_leaving_the_editor_sets_only_the_fields_whose_key_it_changed(monkeypatch):
    import gradio as gr

    s = sync()
    shown = s.values(TEXT)
    out = s.yaml_to_form(TEXT.replace("max_steps: 10", "max_steps: 4"), shown, None)
    fields, synced, note = out[: len(FIELDS)], out[-2], out[-1]
    assert fields[2] == 4 and synced[2] == 4 and note == ""
    untouched = [f for i, f in enumerate(fields) if i != 2]
    assert all(isinstance(f, dict) and "value" not in f for f in untouched) or all(
        f == gr.update() for f in untouched
    )  # a field being typed into meanwhile keeps its text
    half = s.yaml_to_form("name: [broken", shown, None)
    assert "line 1" in half[-1] and half[-2] == gr.update()
