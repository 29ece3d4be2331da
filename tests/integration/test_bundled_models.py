"""The tiny models ship built (labkit/models/bundled/tiny, tiny-ref): they are what a fresh build gives, and a first
start copies them instead of training."""

import json

import pytest

from labkit.models import tiny


def test_bundled_tiny_is_this_build_version():
    for seed, path in tiny.BUNDLED.items():
        meta = json.loads((path / tiny.MARKER).read_text())
        assert meta["build_version"] == tiny.BUILD_VERSION and meta["seed"] == seed, (
            "the recipe changed: rebuild them with python -m labkit.models.tiny --bundle"
        )
        assert meta["languages"] == tiny.corpus_languages()
        assert sum(f.stat().st_size for f in path.iterdir()) < 1_000_000  # the package stays small


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_bundled_tiny_equals_a_fresh_build(tmp_path, seed):
    import torch
    from safetensors.torch import load_file

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # another reduction order than the bundled build's (2 threads), as another CPU has
    try:
        fresh = tiny.build_tiny(tmp_path / "fresh", seed=seed)
    finally:
        torch.set_num_threads(threads)
    bundled = tiny.BUNDLED[seed]
    for name in ("tokenizer.json", "config.json", "generation_config.json", "chat_template.jinja", tiny.MARKER):
        assert (fresh / name).read_text() == (bundled / name).read_text(), name
    a, b = load_file(str(fresh / "model.safetensors")), load_file(str(bundled / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:  # float64 steps: equal to a float32 ulp whatever the summation order
        assert torch.allclose(a[k], b[k], atol=1e-4), k


def test_first_use_copies_the_bundled_build(tmp_path, monkeypatch):
    monkeypatch.setattr(tiny, "build_tiny", lambda *a, **k: pytest.fail("built instead of copied"))
    path = tiny.ensure_tiny(tmp_path / "home" / "tiny", seed=0)
    assert (
        tiny.is_built(path, 0)
        and (path / "model.safetensors").read_bytes() == (tiny.BUNDLED[0] / "model.safetensors").read_bytes()
    )
    assert tiny.is_built(tiny.ensure_tiny(tmp_path / "home" / "tiny-ref", seed=1), 1)
