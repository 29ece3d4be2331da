import sys
import tomllib
import types
from pathlib import Path

import pytest
import yaml

from labkit import spaces
from labkit.errors import LabkitError

ROOT = Path(__file__).resolve().parents[2]


def _front(readme: str) -> dict:
    return yaml.safe_load(readme.split("---\n")[1])


def test_cpu_space_files():
    files = spaces.space_files("cpu-basic", models=["Qwen/Qwen2.5-0.5B-Instruct"])
    meta = _front(files["README.md"])
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py" and meta["suggested_hardware"] == "cpu-basic"
    assert meta["python_version"] == "3.11" and meta["models"] == ["Qwen/Qwen2.5-0.5B-Instruct"] and meta["sdk_version"]
    reqs = [ln for ln in files["requirements.txt"].splitlines() if ln and not ln.startswith(("#", "-"))]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + project["optional-dependencies"]["data"]  # the Data tab curates on the Space
    assert any(d.startswith("datatrove") for d in deps)
    assert reqs == deps + spaces.OAUTH_REQUIREMENTS and "download.pytorch.org/whl/cpu" in files["requirements.txt"]
    # the owner's sign-in: OAuth on, with the scopes a Job and its results repo need
    assert meta["hf_oauth"] is True and "jobs" in meta["hf_oauth_scopes"] and "manage-repos" in meta["hf_oauth_scopes"]
    assert meta["hf_oauth_expiration_minutes"] > 8 * 60
    compile(files["app.py"], "app.py", "exec")


def test_zerogpu_space_pins_python_torch_and_spaces():
    files = spaces.space_files("zero-a10g")
    meta = _front(files["README.md"])
    assert meta["python_version"] == "3.12" and meta["suggested_hardware"] == "zero-a10g"
    reqs = files["requirements.txt"].splitlines()
    assert "torch==2.11.0" in reqs and any(r.startswith("spaces") for r in reqs)
    assert not any(r.startswith("torch>") for r in reqs) and "whl/cpu" not in files["requirements.txt"]
    assert "import spaces" in files["app.py"]


def test_unknown_hardware_is_refused_with_a_suggestion():
    with pytest.raises(LabkitError, match="hardware") as e:
        spaces.space_files("zero-a10")
    assert "zero-a10g" in e.value.hint


def test_dry_run_writes_the_whole_space_and_no_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value_123")
    plan, generated = spaces.plan_space("me/labkit-demo", hardware="zero-a10g")
    out = spaces.write_space(plan, generated, tmp_path / "space")
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {
        "README.md",
        "app.py",
        "requirements.txt",
        "labkit/__init__.py",
        "labkit/ui/app.py",
        "labkit/models/corpus/zh.txt",
    } <= names
    assert not any("__pycache__" in n for n in names)
    assert not any("hf_secret_value_123" in p.read_text(errors="ignore") for p in out.rglob("*") if p.is_file())
    with pytest.raises(LabkitError, match="not an empty folder"):
        spaces.write_space(plan, generated, out)


def test_space_app_imports_without_zerogpu(monkeypatch):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    # The app setdefaults LABKIT_DEMO/LABKIT_HOME and puts its folder on sys.path: keep both local to this test.
    monkeypatch.setenv("LABKIT_DEMO", "0")
    monkeypatch.setattr(sys, "path", list(sys.path))
    code = (ROOT / "spaces" / "app.py").read_text().replace('launch(host="0.0.0.0"', 'print(host="0.0.0.0"')
    namespace = {"__file__": str(ROOT / "spaces" / "app.py")}
    monkeypatch.setitem(sys.modules, "spaces", None)  # importing spaces would fail: it must not be imported
    exec(compile(code.replace("print(host=", "dict(host="), "app.py", "exec"), namespace)
    assert "launch" in namespace


def test_zerogpu_wraps_generation_with_a_duration(monkeypatch):
    """With SPACES_ZERO_GPU set, generation runs inside spaces.GPU with a duration computed from the request."""
    import importlib

    calls = []

    def fake_gpu(duration):
        def wrap(fn):
            def run(*args):
                calls.append((fn.__name__, duration(*args)))
                return fn(*args)

            return run

        return wrap

    monkeypatch.setitem(sys.modules, "spaces", types.SimpleNamespace(GPU=fake_gpu))
    monkeypatch.setenv("SPACES_ZERO_GPU", "1")
    from labkit import zerogpu

    importlib.reload(zerogpu)
    try:
        from labkit.backends.base import GenParams

        from fakes import FakeBackend

        def reply(text):  # what the forked process calls: the backend's own generate, once inside the lease
            assert not zerogpu.active()
            return f"out:{text}"

        out = zerogpu.generate(FakeBackend(reply), ["a", "b"], GenParams(max_new_tokens=400))
        assert out == [["out:a"], ["out:b"]] and calls[0][0] == "_generate"
        assert 10 < calls[0][1] <= zerogpu.MAX_DURATION_S
        assert zerogpu.duration(64, 2400) == zerogpu.MAX_DURATION_S and zerogpu.duration(1, 16) < 12
        assert zerogpu.active()
    finally:
        monkeypatch.delenv("SPACES_ZERO_GPU")
        importlib.reload(zerogpu)
