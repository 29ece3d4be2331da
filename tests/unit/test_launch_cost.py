"""What keeps `labkit train` cheap: store writes throttled inside the worker, and validation that reads cached
TRL settings and the tokenizer's own files instead of importing TRL and transformers."""

import json

from labkit.jobs import StoreMetrics
from labkit.store import Store
from labkit.train import validate
from labkit.train.methods import get_method


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_store_metrics_write_at_most_once_a_second_and_flush_the_rest(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    run = store.create("train", "x")
    clock = Clock()
    live = StoreMetrics(run.id, interval=1.0, clock=clock, store=store)
    live.update({"step": 1, "loss": 3.0})  # the first log line is written at once: the run shows progress
    assert store.get(run.id).metrics == {"step": 1, "loss": 3.0}
    for step in range(2, 6):
        clock.now += 0.125  # binary fractions: the sums below are exact
        live.update({"step": step, "loss": 3.0 - step / 10})
    assert store.get(run.id).metrics["step"] == 1  # within the second: held back
    clock.now += 0.5  # a second after the last write
    live.update({"step": 6, "loss": 2.4, "grad_norm": 1.5})
    assert store.get(run.id).metrics == {"step": 6, "loss": 2.4, "grad_norm": 1.5}
    clock.now += 0.125
    live.update({"step": 7, "loss": 2.3})
    live.flush()  # the end of training: nothing is lost
    assert store.get(run.id).metrics == {"step": 7, "loss": 2.3, "grad_norm": 1.5}
    live.flush()  # nothing pending: no write
    assert store.get(run.id).metrics["step"] == 7


def test_trl_settings_are_cached_and_the_cache_is_what_validation_reads(settings):
    method = get_method("sft")
    schema = validate.settings_schema(method)  # fills the cache (imports TRL once)
    assert "learning_rate" in schema and schema["learning_rate"] == ["float"] and "max_length" in schema
    (cached,) = (settings.cache_dir / "trl-settings").glob("SFTConfig-trl*-transformers*.json")
    assert json.loads(cached.read_text()) == schema
    cached.write_text(json.dumps({**schema, "made_up_setting": ["int"]}))  # read back, not recomputed
    try:
        assert "made_up_setting" in validate.settings_schema(method)

        class R:
            trainer = {"made_up_setting": "many", "lerning_rate": 1}
            method = "sft"

        found = validate._trainer_keys(R, method)
    finally:
        cached.write_text(json.dumps(schema))  # the session's other tests share the cache
    assert found[0] == "trainer.made_up_setting must be int (a SFTConfig setting), not 'many'."
    assert "trainer.lerning_rate is not a SFTConfig setting — did you mean 'learning_rate'?" in found[1]


def test_tokenizer_files_decide_only_when_they_show_everything(tmp_path):
    def folder(name, config, files=()):
        d = tmp_path / name
        d.mkdir()
        (d / "tokenizer_config.json").write_text(json.dumps(config))
        for f in files:
            (d / f).write_text("{{ messages }}")
        return d

    assert validate._tokenizer_files_fine(folder("inline", {"chat_template": "{{ x }}", "eos_token": "</s>"}))
    assert validate._tokenizer_files_fine(folder("jinja", {"pad_token": {"content": "<pad>"}}, ["chat_template.jinja"]))
    # no template, no special tokens, or no config at all: not sure, so transformers is asked
    assert not validate._tokenizer_files_fine(folder("no-template", {"eos_token": "</s>"}))
    assert not validate._tokenizer_files_fine(folder("no-tokens", {"chat_template": "{{ x }}"}))
    assert not validate._tokenizer_files_fine(tmp_path)
