"""Nothing is left behind: a refused launch leaves no run folder, refused eval data no run row, checking data does
not fill the datasets cache, and the folders that exports are written into stay within their bounds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labkit import jobs
from labkit.settings import Settings

GOOD_SFT = "".join(
    json.dumps({"messages": [{"role": "user", "content": f"hi {i}"}, {"role": "assistant", "content": f"ok {i}"}]})
    + "\n"
    for i in range(4)
)


def _recipe(tmp_path: Path, data: str = GOOD_SFT, name: str = "left") -> Path:
    (tmp_path / f"{name}.jsonl").write_text(data, encoding="utf-8")
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"name: {name}\nmethod: sft\nmodel:\n  name: tiny\ndata:\n  path: {name}.jsonl\ntrainer:\n  max_steps: 1\n",
        encoding="utf-8",
    )
    return path


def test_a_launch_refused_by_the_job_limit_leaves_no_run_folder(tmp_path):
    from labkit.errors import LabkitError
    from labkit.train import launch
    from labkit.train.recipe import load

    limited = Settings.from_env({**os.environ, "LABKIT_HOME": str(tmp_path / "home"), "LABKIT_MAX_JOBS": "1"})
    busy = jobs.start([sys.executable, "-c", "import time; time.sleep(60)"], kind="test", name="busy", settings=limited)
    try:
        with pytest.raises(LabkitError, match="the limit is 1"):
            launch.launch(load(_recipe(tmp_path)), limited, validate=False)
        assert [p.name for p in limited.runs_dir.iterdir()] == [busy.id]
    finally:
        jobs.cancel(busy.id, limited, grace=2)


@pytest.mark.timeout(120)
def test_eval_of_undecodable_data_leaves_no_run_row(tmp_path, tiny_path):
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    (home / "models" / "tiny").symlink_to(tiny_path)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "en.jsonl").write_bytes(bytes(range(256)) * 8)
    proc = subprocess.run(
        [sys.executable, "-m", "labkit.cli", "eval", "--task", "mgsm", "--model", "tiny", "--languages", "en"]
        + ["--data", "d"],
        cwd=tmp_path,
        env={**os.environ, "LABKIT_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert proc.returncode == 2 and "Cannot read" in proc.stderr and "Traceback" not in proc.stderr
    store = home / "labkit.sqlite"
    if store.exists():
        from labkit.store import Store

        assert Store(store).list() == []
    assert not any((home / "runs").iterdir()) if (home / "runs").exists() else True


def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


def test_validate_leaves_nothing_in_the_datasets_cache(tmp_path):
    import datasets

    from labkit.train.methods import get_method
    from labkit.train.recipe import load
    from labkit.train.validate import _data

    cache = Path(datasets.config.HF_DATASETS_CACHE)
    before = _tree(cache)
    for i in range(3):  # three different uploads checked one after another
        recipe = load(_recipe(tmp_path, GOOD_SFT.replace("hi", f"hello{i}"), name=f"v{i}"))
        assert _data(recipe, get_method("sft")) == []
    bad = load(_recipe(tmp_path, '{"text_x": "a"}\n', name="bad"))
    assert "needs columns" in _data(bad, get_method("sft"))[0]
    assert _tree(cache) == before


def test_export_folders_stay_within_their_bounds(tmp_path, monkeypatch):
    from labkit.ui import scratch

    monkeypatch.setattr(scratch, "YOUNG_S", 0.0)
    made = []
    for i in range(scratch.KEEP + 10):
        d = scratch.export_dir(tmp_path, "trace-")
        (d / "trace.jsonl").write_text("{}\n")
        os.utime(d, (time.time() - 100 + i, time.time() - 100 + i))  # one a second: an order to prune by
        made.append(d)
    assert len(list((tmp_path / scratch.EXPORTS).iterdir())) <= scratch.KEEP
    assert made[-1].exists() and not made[0].exists()  # the oldest went first
    old = time.time() - scratch.MAX_AGE_S - 60
    for d in (tmp_path / scratch.EXPORTS).iterdir():
        os.utime(d, (old, old))
    fresh = scratch.export_dir(tmp_path, "doctrans-")
    assert list((tmp_path / scratch.EXPORTS).iterdir()) == [fresh]  # every folder past the age went
    big = scratch.export_dir(tmp_path, "support-")
    (big / "blob").write_bytes(b"x" * 2048)
    scratch.prune(tmp_path / scratch.EXPORTS, max_bytes=1024)
    assert not big.exists() or not fresh.exists()


def test_a_folder_in_use_is_not_pruned(tmp_path):
    from labkit.ui import scratch

    made = [scratch.export_dir(tmp_path, "trace-") for _ in range(scratch.KEEP + 5)]
    assert all(d.exists() for d in made)  # all are young: a running request may still write into any of them
