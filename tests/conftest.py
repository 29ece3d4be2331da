"""Test environment: offline, every cache in a temp dir, one tiny model per session.

The environment is set at import time, before huggingface_hub/gradio read it.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

_ROOT = Path(tempfile.mkdtemp(prefix="labkit-tests-"))
for key, sub in {
    "LABKIT_HOME": "home",
    "HF_HOME": "hf",
    "GRADIO_TEMP_DIR": "gradio",
    "MPLCONFIGDIR": "mpl",
    "TORCHINDUCTOR_CACHE_DIR": "inductor",
    "XDG_CONFIG_HOME": "xdg-config",
    "XDG_CACHE_HOME": "xdg-cache",
}.items():
    os.environ[key] = str(_ROOT / sub)
os.environ.update(
    {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "LABKIT_MAX_JOBS": "16",  # many test files share one store; tests of the limit set their own
        # what a (faked) HF Job installs: this checkout is an editable install, which a Job could not install
        "LABKIT_PACKAGE": "labkit @ git+https://example.invalid/labkit@test",
    }
)
# Two pytest-xdist workers share the cores, and each starts processes of its own (the CLI, the app, a faked HF Job)
# that labkit's job runner does not size: a waiting OpenMP thread sleeps rather than spins on a core another process
# needs, as in every labkit job (jobs._thread_share; docs/performance.md, sections 6 and 8).
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1) > 1:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.pop("LABKIT_MODEL", None)
os.environ.pop("HF_TOKEN", None)


# Building or loading the tiny model, serving the app or running a job costs more than a few seconds: a test that
# asks for one of these is `slow` (make test-fast skips it). tests/unit refuses them outright (tests/unit/conftest.py).
HEAVY_FIXTURES = {"tiny_path", "tiny_backend", "app_url", "client", "wait_run"}


# `make test` runs two pytest-xdist workers (--dist loadfile) with the scheduler below: a file's tests stay on one
# worker (its module fixtures are made once), the browser files share one worker, in order (one Chromium and one
# app at a time), and the work is handed out longest tier first. (pytest-xdist's own --dist loadgroup does not group
# under pytest 9, which keeps a node id where xdist 3.8 no longer writes it: every test became its own unit, and
# session fixtures such as the bad-input corpus were made once per worker.)
_TIER_ORDER = {name: rank for rank, name in enumerate(["browser", "integration", "ui", "badinput", "unit"])}


def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "tests/browser" if path.startswith("tests/browser/") else path

    config.option.loadscopereorder = False  # keep the tier order set in pytest_collection_modifyitems
    return ByFile(config, log)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if HEAVY_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    if os.environ.get("PYTEST_XDIST_WORKER"):  # longest tiers first, so that no long file starts last (stable sort)
        items.sort(key=lambda item: _TIER_ORDER.get(item.path.parent.name, len(_TIER_ORDER)))
    gpu_items = [item for item in items if "gpu" in item.keywords]
    if not gpu_items:  # torch is imported only when a GPU test was collected
        return
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except ImportError:
        has_gpu = False
    if not has_gpu:
        skip = pytest.mark.skip(reason="needs a CUDA GPU")
        for item in gpu_items:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def no_job_outlives_the_session(tmp_path_factory):
    """Jobs run in sessions of their own, so a job that a failed test left running (a training of 100,000 steps,
    say) would go on after pytest exits and slow every later run on the machine. At the end, every process whose
    LABKIT_HOME lies in this session's folders is stopped."""
    yield
    from labkit import jobs

    roots = (str(_ROOT), str(tmp_path_factory.getbasetemp()))

    def leftovers() -> list[int]:
        found = []
        for d in Path("/proc").glob("[0-9]*"):
            try:
                env = (d / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            home = next((e[12:].decode(errors="replace") for e in env if e.startswith(b"LABKIT_HOME=")), None)
            if home and home.startswith(roots) and int(d.name) != os.getpid():
                found.append(int(d.name))
        return found

    jobs.stop_processes(leftovers)


@pytest.fixture(scope="session")
def wait_ready():
    """`wait_ready(url)`: for tests that serve an app of their own. A fixture, not an import: importing
    tests.conftest would run this module a second time, with a new temp home in the environment."""
    return _wait_ready


@pytest.fixture(scope="session")
def settings():
    from labkit.settings import get_settings

    return get_settings().ensure_dirs()


@pytest.fixture(scope="session")
def tiny_path(settings) -> Path:
    from labkit.models.tiny import ensure_tiny

    return ensure_tiny(settings.tiny_model_dir)


@pytest.fixture(scope="session")
def tiny_backend(tiny_path):
    from labkit.backends.hf import HFBackend

    return HFBackend("tiny", device="cpu", batch_size=8)


@pytest.fixture
def python() -> str:
    return sys.executable


@pytest.fixture(scope="session")
def app_url(tiny_path):
    """The built app served on 127.0.0.1 (a free port) for the session."""
    from labkit.ui.app import launch

    demo = launch(host="127.0.0.1", port=_free_port(), block=False)
    url = demo.local_url.rstrip("/")
    _wait_ready(url)
    yield url
    demo.close()


def _wait_ready(url: str, timeout: float = 300) -> None:
    """Wait until the server answers its config route (a loaded machine can take a while to start it)."""
    import time

    import httpx

    end = time.time() + timeout
    while True:
        try:
            if httpx.get(f"{url}/config", timeout=30).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.time() > end:
            raise AssertionError(f"the app at {url} did not answer within {timeout} s")
        time.sleep(0.5)


@pytest.fixture(scope="session")
def client(app_url):
    """One gradio_client for the session, with generous timeouts: under load a first call can take a minute."""
    from fakes import api_client

    return api_client(app_url, download_files=str(_ROOT / "downloads"))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def wait_run():
    """wait_run(run_id, timeout) → the run once it has ended (fails with the log tail if it does not)."""
    import time

    from labkit import jobs
    from labkit.store import FINAL

    def wait(run_id, timeout=600):
        end = time.time() + timeout
        while time.time() < end:
            run = jobs.status(run_id)
            if run.status in FINAL:
                return run
            time.sleep(0.5)
        raise AssertionError(f"{run_id} did not end: {jobs.tail_log(jobs.status(run_id).run_dir)[-3000:]}")

    return wait


@pytest.fixture
def scripted():
    """`scripted(lambda text: answer)`: labkit's scripted backend (tests/fakes.py), for tests of what is built around
    a model's answers; its `calls` list records every call."""
    from fakes import scripted  # here: labkit is imported only after the environment above is set

    return scripted
