import pytest

from labkit.backends.base import GenParams, stream_with_stop, truncate_at_stop
from labkit.errors import LabkitError
from labkit.settings import Settings, TINY


def test_settings_paths_live_under_home(tmp_path):
    s = Settings.from_env({"LABKIT_HOME": str(tmp_path / "h")})
    for p in (s.store_path, s.runs_dir, s.cache_dir, s.tiny_model_dir):
        assert tmp_path / "h" in p.parents
    assert Settings.from_env({"HOME": str(tmp_path)}).home.name == ".labkit"


def test_default_model_is_tiny_offline_and_configurable(tmp_path):
    assert Settings.from_env({"LABKIT_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}).resolved_default_model() == TINY
    assert (
        Settings.from_env(
            {"LABKIT_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1", "LABKIT_MODEL": "org/m"}
        ).resolved_default_model()
        == "org/m"
    )


def test_default_model_online_when_hub_reachable(tmp_path, monkeypatch):
    import labkit.settings as st

    monkeypatch.setattr(st, "hub_reachable", lambda endpoint: True)
    assert Settings.from_env({"LABKIT_HOME": str(tmp_path)}).resolved_default_model() == st.ONLINE_DEFAULT_MODEL
    monkeypatch.setattr(st, "hub_reachable", lambda endpoint: False)
    assert Settings.from_env({"LABKIT_HOME": str(tmp_path)}).resolved_default_model() == TINY


def test_labkit_error_carries_hint():
    e = LabkitError("No column 'chosen'", hint="DPO needs prompt/chosen/rejected")
    assert e.message == "No column 'chosen'" and "hint: DPO needs" in str(e)


@pytest.mark.parametrize(
    "kw", [dict(max_new_tokens=0), dict(temperature=-1), dict(top_p=0), dict(n=0), dict(n=2, temperature=0)]
)
def test_genparams_rejects_bad_values(kw):
    with pytest.raises(LabkitError):
        GenParams(**kw)


def test_truncate_at_stop_takes_the_earliest():
    assert truncate_at_stop("a STOP b END c", ["END", "STOP"]) == "a "
    assert truncate_at_stop("abc", []) == "abc"


def test_stream_with_stop_across_deltas():
    assert "".join(stream_with_stop(["he", "llo <", "|end", "|> junk"], ["<|end|>"])) == "hello "
    assert "".join(stream_with_stop(["a", "b", "c"], ["zz"])) == "abc"
    assert list(stream_with_stop(["x", "y"], [])) == ["x", "y"]


def test_unknown_backend_suggests():
    from labkit.backends import backend_class

    with pytest.raises(LabkitError) as e:
        backend_class("vlm")
    assert "vllm" in e.value.hint
