"""The top banner suggests only models that load where the app runs."""

from labkit.ui import common


def test_offline_banner_suggests_what_loads(monkeypatch):
    monkeypatch.setattr(common, "cached_models", lambda: [])
    text = common.header_markdown({"model": "tiny", "backend": "hf"})  # the tests run with HF_HUB_OFFLINE=1
    assert "meaningless" in text and "Qwen" not in text and "`tiny-math-sft`" in text
    monkeypatch.setattr(common, "cached_models", lambda: ["Qwen/Qwen2.5-0.5B-Instruct"])
    text = common.header_markdown({"model": "tiny", "backend": "hf"})
    assert "already on this machine (`Qwen/Qwen2.5-0.5B-Instruct`)" in text and "1.5B" not in text


def test_online_banner_names_a_hub_model(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE")
    monkeypatch.setattr("labkit.settings.hub_reachable", lambda endpoint: True)
    assert "Qwen/Qwen2.5-1.5B-Instruct" in common.header_markdown({"model": "tiny", "backend": "hf"})
