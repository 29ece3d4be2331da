"""Runs every case of the bad-input corpus (cases.py) through `labkit`'s own entry point, with a timeout.

Each must exit 2 with a message, print no traceback, finish in time, and leave the store readable and no empty
run or cache folders. A case that tests a bound on time or memory (or the interpreter's own exit code) runs as a real
`labkit` process with a memory cap, two at a time; the others — argument and file checks — run in this process
(`labkit.cli.main(argv)` with the case's home and folder, stdout and stderr captured, an alarm for a hang), which
spares ~230 interpreter starts. All run in one session fixture; each case is then its own test.
"""

from __future__ import annotations

import io
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from cases import CASES, Case  # noqa: E402  (tests/badinput is on sys.path: rootdir-relative import)

TIMEOUT_S = 120
MEMORY_CAP = 6 * 1024**3  # address space: torch and onnxruntime map a lot, but no case may need more


def _cap_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


# what needs a process of its own: bounds on memory and time (huge inputs, step counts, token counts, turns), a closed
# port's retries, `serve`, and argparse's exits for a missing or unknown command
OWN_PROCESS = re.compile(
    r"huge|bomb|100kb|past-context|23-digits|1e30|too-many|turns|serve-|max-new|closed-port|^(no|unknown)-command$"
)


def _prepare(case: Case, root: Path, tiny: Path, schemas: Path) -> tuple[Path, Path]:
    work = root / case.id
    home = work / ".home"
    (home / "models").mkdir(parents=True)
    (home / "models" / "tiny").symlink_to(tiny)
    shutil.copytree(schemas, home / "cache" / schemas.name)  # as after a user's first `labkit train`
    (work / "cases.txt").write_text("a plain file\n")
    for name, content in case.files.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return work, home


def _run(case: Case, root: Path, tiny: Path, schemas: Path, environ: dict) -> dict:
    work, home = _prepare(case, root, tiny, schemas)
    env = {**environ, "LABKIT_HOME": str(home), "HF_HUB_OFFLINE": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "labkit.cli", *case.argv],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=TIMEOUT_S,
            preexec_fn=_cap_memory,
            stdin=subprocess.DEVNULL,
        )
        out, code, hung = proc.stdout + proc.stderr, proc.returncode, False
    except subprocess.TimeoutExpired as e:
        out, code, hung = str(e.stdout or "") + str(e.stderr or ""), None, True
    seconds = round(time.perf_counter() - t0, 2)  # kept in results.json: where the fixture's time goes
    return {
        "id": case.id,
        "code": code,
        "hung": hung,
        "output": out[-3000:],
        "home": str(home),
        "seconds": seconds,
        "expect": case.expect,
        "leaves_no_run": case.leaves_no_run,
    }


class _Hung(Exception):
    pass


def _run_here(case: Case, root: Path, tiny: Path, schemas: Path) -> dict:
    """The case through `labkit.cli.main` in this process (main thread: SIGALRM stops a hang)."""
    from labkit.cli import main

    work, home = _prepare(case, root, tiny, schemas)
    environ, cwd = dict(os.environ), os.getcwd()
    os.environ.update({"LABKIT_HOME": str(home), "HF_HUB_OFFLINE": "1"})
    os.chdir(work)
    out, hung, code = io.StringIO(), False, None

    def stop(signum, frame):
        raise _Hung()

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(TIMEOUT_S)
    t0 = time.perf_counter()
    try:
        with redirect_stdout(out), redirect_stderr(out):
            try:
                code = main(list(case.argv))
            except SystemExit as e:  # argparse, sys.exit("message")
                code = e.code if isinstance(e.code, int) else 0 if e.code is None else 1
                if isinstance(e.code, str):
                    print(e.code, file=sys.stderr)
            except _Hung:
                hung = True
            except BaseException:  # noqa: BLE001 — what a process would print before dying
                traceback.print_exc()
                code = 1
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(environ)
    return {
        "id": case.id,
        "code": code,
        "hung": hung,
        "output": out.getvalue()[-3000:],
        "home": str(home),
        "seconds": round(time.perf_counter() - t0, 2),
        "expect": case.expect,
        "leaves_no_run": case.leaves_no_run,
        "process": False,
    }


def _schemas(root: Path) -> Path:
    """The TRL settings schemas `labkit train` caches on its first run (filling them imports TRL: ~5 s a process).
    Every case's home gets a copy, so each train case costs what it costs a user who has trained before; the cold
    path is tested in tests/unit/test_launch_cost.py."""
    home = root / ".schemas"
    fill = "from labkit.train.methods import METHODS; from labkit.train.validate import settings_schema as s\n"
    fill += "for m in METHODS.values(): s(m)"
    env = {**os.environ, "LABKIT_HOME": str(home), "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", fill], env=env, check=True, capture_output=True, timeout=TIMEOUT_S)
    (folder,) = (home / "cache").iterdir()
    return folder


def selected(request, cases: list, test_name: str) -> list:
    """The cases whose test was selected (`-k`, node ids): a run of a few cases does not pay for the whole corpus."""
    chosen = {
        item.callspec.params.get("case_id")
        for item in request.session.items
        if getattr(item, "originalname", None) == test_name and hasattr(item, "callspec")
    }
    return [c for c in cases if c.id in chosen] or cases


@pytest.fixture(scope="session")
def results(request, tmp_path_factory, tiny_path):
    root = tmp_path_factory.mktemp("badinput")
    schemas = _schemas(root)
    chosen = selected(request, CASES, "test_bad_input_is_refused_cleanly")
    own = [c for c in chosen if OWN_PROCESS.search(c.id)]
    environ = dict(os.environ)  # the processes' environment, before the cases run here change it one at a time
    with ThreadPoolExecutor(max_workers=2) as pool:
        running = pool.map(lambda c: {**_run(c, root, Path(tiny_path), schemas, environ), "process": True}, own)
        here = [_run_here(c, root, Path(tiny_path), schemas) for c in chosen if c not in own]
        done = here + list(running)
    summary = {
        "cases": len(done),
        "clean": sum(_clean(r) is None for r in done),
        "tracebacks": sum("Traceback (most recent call last)" in r["output"] for r in done),
        "hangs": sum(r["hung"] for r in done),
        "own_process": len(own),
    }
    (root / "summary.json").write_text(json.dumps(summary))
    (root / "results.json").write_text(json.dumps(done, indent=1))
    print("bad-input corpus:", json.dumps(summary))
    return {r["id"]: r for r in done}


def _clean(r: dict) -> str | None:
    """Why a result is not a clean refusal (None when it is)."""
    if r["hung"]:
        return f"no answer within {TIMEOUT_S} s"
    if "Traceback (most recent call last)" in r["output"]:
        return "a traceback"
    if r["code"] != r.get("expect", 2):
        return f"exit code {r['code']}"
    if r.get("expect", 2) == 2 and "error" not in r["output"].lower():
        return "no message"
    home = Path(r["home"])
    from labkit.store import Store

    if (home / "labkit.sqlite").exists():
        runs = Store(home / "labkit.sqlite").list()  # readable afterwards
        if r.get("leaves_no_run") and runs:
            return f"left runs behind: {[(x.id, x.status) for x in runs]}"
    for sub in ("runs", "cache"):
        empty = (
            [p for p in (home / sub).rglob("*") if p.is_dir() and not any(p.iterdir())] if (home / sub).exists() else []
        )
        if empty:
            return f"left empty folders behind: {empty[:3]}"
    return None


def test_corpus_is_large_and_covers_every_command():
    assert len(CASES) >= 150
    commands = {c.argv[0] for c in CASES if c.argv}
    assert {
        "train",
        "eval",
        "generate",
        "fit",
        "trace",
        "translate",
        "chat",
        "runs",
        "hub",
        "export",
        "sweep",
    } <= commands


@pytest.mark.slow
@pytest.mark.timeout(3600)  # the first case waits for the whole corpus (run two at a time in the fixture)
@pytest.mark.parametrize("case_id", [c.id for c in CASES])
def test_bad_input_is_refused_cleanly(results, case_id):
    r = results[case_id]
    problem = _clean(r)
    assert problem is None, f"{case_id}: {problem}\n{r['output']}"
