"""Curation end to end on datatrove: CLI output layout, per-rule drops, annotators (trained fastText, paragraphs),
two workers, resume, a curation job, a Slurm smoke test with stand-in sbatch/scontrol, Train reading the result."""

import ast
import gzip
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labkit.cli import main
from labkit.errors import LabkitError

FIX = Path(__file__).parents[1] / "fixtures" / "curate"
RULES = FIX / "rules.jsonl"
WORDS = f"rules.sensitive.words={FIX / 'sensitive.txt'}"
GOOD = {"good-news", "good-medicine", "good-tech"}


def _read(folder: Path) -> list[dict]:
    rows = []
    for f in sorted(folder.glob("*.jsonl*")):
        with (gzip.open if f.suffix == ".gz" else open)(f, "rt", encoding="utf-8") as fh:
            rows += [json.loads(l) for l in fh if l.strip()]
    return rows


def _curate(capsys, out, *extra) -> dict:
    assert main(["data", "curate", str(RULES), "--out", str(out), "--set", WORDS, *extra, "--json"]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_curate_cli_layout_counts_and_annotations(tmp_path, capsys):
    out = tmp_path / "out"
    res = _curate(capsys, out)
    assert res["kept"] == 3 and res["read"] == 9
    assert res["dropped"] == {
        r: 1 for r in ("length", "line_length", "chinese_share", "traditional", "sensitive", "repetition")
    }
    kept = _read(out / "kept")
    assert {r["id"] for r in kept} == GOOD
    for r in kept:  # CWT 2.0's schema, input columns kept, heuristics labelled as such
        assert 0 <= r["quality_score"] <= 1 and r["source"] == "labkit-tests"
        assert r["domain"]["single_label"] in r["domain"]["multi_label"]
        assert r["toxicity"] == {"label": 0, "score": 0.0}
        assert r["annotator_domain"] == "heuristic"
    assert {r["id"]: r["domain"]["single_label"] for r in kept}["good-medicine"] == "medicine"
    for rule in res["dropped"]:
        rows = _read(out / "dropped" / rule)
        assert [(r["id"], r["filter_reason"]) for r in rows] == [(rule, rule)]
    assert (out / "recipe.yaml").exists() and json.loads((out / "summary.json").read_text())["kept"] == 3
    from labkit.jobs import list_runs

    assert any(r.kind == "data" and r.status == "succeeded" and r.metrics.get("kept") == 3 for r in list_runs())


def test_bad_input_is_a_labkit_error(tmp_path, capsys):
    assert main(["data", "curate", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o"), "--json"]) == 2
    assert "No input" in capsys.readouterr().out
    assert (
        main(["data", "curate", str(RULES), "--out", str(tmp_path / "o"), "--set", "rules.length.min_char=1", "--json"])
        == 2
    )


@pytest.mark.slow
def test_two_workers_and_resume(tmp_path, capsys):
    out = tmp_path / "out"
    res = _curate(capsys, out, "--tasks", "2", "--workers", "2")
    assert res["kept"] == 3 and res["tasks_completed"] == 2 and sum(res["dropped"].values()) == 6
    assert len(list((out / "kept").glob("*.jsonl.gz"))) == 2
    # resume: rank 1 lost its completion marker → only it runs again; the merged summary is unchanged
    (out / "logs" / "completions" / "00001").unlink()
    before = (out / "logs" / "stats" / "00000.json").stat().st_mtime_ns
    again = _curate(capsys, out, "--tasks", "2", "--workers", "2")
    assert (out / "logs" / "stats" / "00000.json").stat().st_mtime_ns == before
    assert again["kept"] == 3 and again["dropped"] == res["dropped"]
    assert {r["id"] for r in _read(out / "kept")} == GOOD


@pytest.mark.slow
def test_trained_fasttext_annotators_and_line_quality(tmp_path, capsys):
    # --epoch 50: the reference's 5 epochs are for real corpora, these fixtures have a few dozen rows
    dom, tox = tmp_path / "domain.bin", tmp_path / "toxicity.bin"
    assert (
        main(
            [
                "data",
                "train-classifier",
                str(FIX / "domain_train.jsonl"),
                "--out",
                str(dom),
                "--test",
                str(FIX / "domain_test.jsonl"),
                "--epoch",
                "50",
                "--json",
            ]
        )
        == 0
    )
    trained = json.loads(capsys.readouterr().out)
    assert trained["labels"] == ["finance", "medicine", "news", "technology"] and trained["test_rows"] == 4
    assert (
        main(
            [
                "data",
                "train-classifier",
                str(FIX / "toxicity_train.jsonl"),
                "--out",
                str(tox),
                "--task",
                "toxicity",
                "--epoch",
                "50",
                "--json",
            ]
        )
        == 0
    )
    capsys.readouterr()
    spam = "点击领取红包>>> 加微信 免费领\n" * 3
    docs = tmp_path / "docs.jsonl"
    good = json.loads(RULES.read_text(encoding="utf-8").splitlines()[1])
    docs.write_text(
        json.dumps({"id": "mixed", "text": good["text"] + "\n" + spam.strip()}, ensure_ascii=False)
        + "\n"
        + json.dumps({"id": "all-spam", "text": (spam * 6).strip()}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert (
        main(
            [
                "data",
                "curate",
                str(docs),
                "--out",
                str(out),
                "--set",
                "rules.repetition.enabled=false",
                "--set",
                "annotators.quality.threshold=0.6",
                "--set",
                "annotators.quality.level=line",
                "--set",
                "annotators.domain.kind=fasttext",
                "--set",
                f"annotators.domain.model={dom}",
                "--set",
                "annotators.toxicity.kind=fasttext",
                "--set",
                f"annotators.toxicity.model={tox}",
                "--json",
            ]
        )
        == 0
    )
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["kept"] == 1 and res["dropped"] == {"quality": 1}
    (kept,) = _read(out / "kept")
    assert kept["id"] == "mixed" and "红包" not in kept["text"] and kept["text"] == good["text"]
    assert kept["paragraphs"] == {"kept": 3, "total": 6}
    assert kept["annotator_domain"] == "fasttext" and kept["domain"]["single_label"] == "medicine"
    assert (
        kept["annotator_toxicity"] == "fasttext"
        and 0 <= kept["toxicity"]["score"] < 0.5
        and kept["toxicity"]["label"] == 0
    )
    assert [r["id"] for r in _read(out / "dropped" / "quality")] == ["all-spam"]


def _fake_slurm(bin_dir: Path) -> None:
    bin_dir.mkdir()
    scripts = {
        "sbatch": 'cp "${@: -1}" "$FAKE_SLURM_DIR/submitted-$(ls "$FAKE_SLURM_DIR" | wc -l).slurm"; '
        'echo "Submitted batch job 42"',
        "scontrol": "echo localhost",
    }
    for name, body in scripts.items():
        p = bin_dir / name
        p.write_text(f"#!/bin/bash\n{body}\n")
        p.chmod(p.stat().st_mode | stat.S_IEXEC)


@pytest.mark.slow
def test_slurm_executor_smoke(tmp_path, capsys, monkeypatch):
    """datatrove's Slurm executor with the same pipeline: it pickles it and submits (to a stand-in sbatch); then the
    array task is run as Slurm would, through datatrove's launch_pickled_pipeline."""
    _fake_slurm(tmp_path / "bin")
    (tmp_path / "submitted").mkdir()
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM_DIR", str(tmp_path / "submitted"))
    out = tmp_path / "out"
    res = _curate(
        capsys, out, "--executor", "slurm", "--set", "executor.partition=cpu", "--set", "annotators.quality.kind=none"
    )
    assert res["submitted"] == "slurm"
    script = (out / "logs" / "launch_script.slurm").read_text()
    assert (
        "#SBATCH --partition=cpu" in script
        and "launch_pickled_pipeline" in script
        and (out / "logs" / "executor.pik").exists()
    )
    assert len(list((tmp_path / "submitted").iterdir())) == 2  # the array job and datatrove's stats merge
    launcher = Path(sys.executable).parent / "launch_pickled_pipeline"
    env = {**os.environ, "SLURM_ARRAY_TASK_ID": "0", "SLURM_NODELIST": "localhost"}
    subprocess.run(
        [str(launcher), str(out / "logs" / "executor.pik")], env=env, check=True, capture_output=True, timeout=300
    )
    assert {r["id"] for r in _read(out / "kept")} == GOOD
    assert (out / "logs" / "completions" / "00000").exists()


def test_export_scripts(tmp_path, capsys):
    assert (
        main(
            [
                "data",
                "export",
                str(RULES),
                "--out",
                "/scratch/cur",
                "--target",
                "slurm",
                "--set",
                "executor.partition=cpu",
                "--tasks",
                "64",
                "--json",
            ]
        )
        == 0
    )
    script = json.loads(capsys.readouterr().out)["script"]
    assert "--executor" not in script and "name: slurm" in script and "tasks: 64" in script and "data curate" in script


def test_hf_jobs_export_is_the_whole_curation_as_one_job(tmp_path, capsys):
    """`data export --target hf-jobs` writes what `labkit export --target hf-jobs` writes for training: the uv
    script of one labkit.hfjobs Job running `data curate` on its local executor, the recipe and word list inside."""
    from labkit.data import recipe as curation, run as jobrun

    argv = ["data", "export", "me/corpus", "--target", "hf-jobs", "--push-repo", "me/results", "--tasks", "8"]
    assert main([*argv, "--workers", "8", "--flavor", "cpu-upgrade", "--set", WORDS, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["target"] == "hf-jobs" and data["run_id"].startswith("data-")
    assert data["command"].startswith("hf jobs uv run --flavor cpu-upgrade --timeout 6h --secrets HF_TOKEN")
    script = data["script"]
    assert "['data', 'curate', 'me/corpus', '--recipe', 'recipe.yaml']" in script and "'me/results'" in script
    files = ast.literal_eval(script.split("files, space = ", 1)[1].splitlines()[0])[0]  # the script's literal
    sent = curation.loads(files["recipe.yaml"])
    assert sent["executor"]["name"] == "local" and (sent["executor"]["tasks"], sent["executor"]["workers"]) == (8, 8)
    assert sent["rules"]["sensitive"]["words"] == "sensitive-words.txt"
    assert files["sensitive-words.txt"] == (FIX / "sensitive.txt").read_text(encoding="utf-8")
    # the Data tab's export: its one output field names the results repo, as hf://datasets/... or you/name
    text = jobrun.launch_script("me/corpus", "hf://datasets/me/curated", curation.load(None), "hf-jobs")
    assert "'me/curated'" in text and "hf jobs uv run" in text
    for bad, said in (
        ([str(RULES), "--target", "hf-jobs"], "not one a Job can read"),
        (["me/corpus", "--target", "hf-jobs", "--out", "/scratch/cur"], "--out is for --target slurm"),
        (["me/corpus", "--target", "hf-jobs", "--push-repo", "/scratch/cur"], "not a valid Hub repo id"),
        (["me/corpus", "--target", "hf-jobs", "--executor", "ray"], "runs the local executor"),
        (["me/corpus", "--target", "hf-jobs", "--executor", "hf-jobs"], "no hf-jobs executor"),
    ):
        assert main(["data", "export", *bad, "--json"]) == 2, bad
        assert said in capsys.readouterr().out, bad
    model = tmp_path / "domain.bin"
    model.write_bytes(b"x")
    fasttext = curation.load(None, ["annotators.domain.kind=fasttext", f"annotators.domain.model={model}"])
    with pytest.raises(LabkitError, match="a Job cannot read"):
        jobrun.curation_job("me/corpus", fasttext)


def test_an_hf_jobs_executor_is_refused_before_anything_starts(tmp_path, capsys):
    """A curation recipe naming `executor: hf-jobs` (or --executor hf-jobs) stops at the recipe, with the one route
    to Hugging Face Jobs named: no output folder, no run row, no job."""
    from labkit.jobs import list_runs

    recipe = tmp_path / "jobs.yaml"
    recipe.write_text("name: on-jobs\nexecutor:\n  name: hf-jobs\n  tasks: 4\n", encoding="utf-8")
    out = tmp_path / "out"
    before = len([r for r in list_runs() if r.kind == "data"])
    for extra in (["--recipe", str(recipe)], ["--recipe", str(recipe), "--detach"], ["--executor", "hf-jobs"]):
        assert main(["data", "curate", str(RULES), "--out", str(out), *extra, "--json"]) == 2, extra
        said = capsys.readouterr().out
        assert "no hf-jobs executor" in said and "Run on Hugging Face Jobs" in said and "hub run-job" in said, extra
        assert not out.exists(), extra
    assert len([r for r in list_runs() if r.kind == "data"]) == before


@pytest.mark.slow
def test_curation_job_progress_and_train_reads_it(tmp_path, settings, tiny_path, wait_run):
    from labkit import jobs
    from labkit.data import recipe as rmod, report, run as jobrun

    r = jobrun.launch(str(RULES), rmod.load(None, [WORDS]))
    deadline = time.time() + 240
    while jobs.status(r.id).status not in ("succeeded", "failed", "cancelled") and time.time() < deadline:
        time.sleep(0.5)
    run = jobs.status(r.id)
    assert run.status == "succeeded", jobs.tail_log(run.run_dir)
    out = jobrun.output_dir(run)
    assert jobrun.progress(out) == {"read": 9, "total": 9, "fraction": 1.0, "tasks_completed": 1}
    assert run.metrics["kept"] == 3 and run.metrics["dropped/traditional"] == 1
    # the figures and the dataset card read the same folder
    figs = report.figures(out)
    assert list(figs["funnel"].data[0].x)[0] == 9 and list(figs["funnel"].data[0].x)[-1] == 3
    plan = report.plan_push(out, "me/curated", license="cc-by-4.0", languages=["zh"])
    names = plan.summary()["files"]
    assert "data/00000.jsonl.gz" in names and "recipe.yaml" in names and "README.md" in names
    assert "max_share: 0.5" in plan.card and "| traditional | 1 |" in plan.card
    # Connect: a Train recipe's data.path can be the curation folder
    from labkit.train.trainset import load_dataset
    from labkit.train.methods import METHODS, missing_columns
    from labkit.train.recipe import from_dict

    recipe = from_dict({"name": "lm", "method": "sft", "data": {"path": str(out)}})
    ds = load_dataset(recipe)
    assert len(ds) == 3 and missing_columns(METHODS["sft"], ds.column_names) is None
    assert METHODS["sft"].prepare(ds, recipe, None).column_names == ["text"]
    from labkit.train import launch, recipe as trecipe

    sft = trecipe.load(
        Path(__file__).parents[2] / "configs" / "train" / "sft-tiny.yaml", [f"data.path={out}", "trainer.max_steps=2"]
    )
    trained = wait_run(launch.launch(sft).id)
    assert trained.status == "succeeded", jobs.tail_log(trained.run_dir)[-3000:]
    assert [r["step"] for r in jobs.read_metrics(trained.run_dir)[0] if "loss" in r][-1] == 2


@pytest.mark.slow
def test_ray_executor_local_smoke(tmp_path):
    """The same pipeline on datatrove's Ray executor, on a Ray cluster started on this machine and stopped after
    (ray is in the test extra, not in [data]: this runs, never skips)."""
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "labkit.cli",
            "data",
            "curate",
            str(RULES),
            "--out",
            str(out),
            "--set",
            WORDS,
            "--executor",
            "ray",
            "--tasks",
            "2",
            "--workers",
            "2",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=500,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["kept"] == 3 and res["tasks_completed"] == 2 and sum(res["dropped"].values()) == 6
    assert {r["id"] for r in _read(out / "kept")} == GOOD


def test_hub_dataset_input_from_the_cache(tmp_path, capsys):
    """A Hub dataset id resolves through labkit.hub.pull (offline: the HF cache) and is curated like a folder."""
    cache = Path(os.environ["HF_HOME"]) / "hub" / "datasets--labkit-tests--cwt-rules"
    snap = cache / "snapshots" / ("a" * 40) / "data"
    snap.mkdir(parents=True, exist_ok=True)
    (snap / "train.jsonl").write_text(RULES.read_text(encoding="utf-8"), encoding="utf-8")
    (cache / "refs").mkdir(exist_ok=True)
    (cache / "refs" / "main").write_text("a" * 40)
    assert (
        main(["data", "curate", "labkit-tests/cwt-rules", "--out", str(tmp_path / "out"), "--set", WORDS, "--json"])
        == 0
    )
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["kept"] == 3 and res["read"] == 9
    assert main(["data", "curate", "labkit-tests/not-cached", "--out", str(tmp_path / "o2"), "--json"]) == 2
    assert "not in the local cache" in capsys.readouterr().out


def test_parquet_input(tmp_path, capsys):
    import pandas as pd

    pd.read_json(RULES, lines=True).to_parquet(tmp_path / "docs.parquet")
    res = _curate_file(capsys, tmp_path / "docs.parquet", tmp_path / "out")
    assert res["kept"] == 3 and {r["id"] for r in _read(tmp_path / "out" / "kept")} == GOOD


def _curate_file(capsys, source, out, *extra) -> dict:
    assert main(["data", "curate", str(source), "--out", str(out), "--set", WORDS, *extra, "--json"]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.slow
def test_cancel_then_resume_a_curation_job(tmp_path, settings):
    from labkit import jobs
    from labkit.data import recipe as rmod, run as jobrun

    base = [json.loads(l) for l in RULES.read_text(encoding="utf-8").splitlines()]
    big = tmp_path / "big.jsonl"
    n = 40000
    with open(big, "w", encoding="utf-8") as f:
        for i in range(n):
            d = base[i % len(base)]
            f.write(json.dumps({"id": f"{d['id']}-{i}", "text": d["text"]}, ensure_ascii=False) + "\n")
    r = jobrun.launch(str(big), rmod.load(None, [WORDS, "executor.tasks=4", "executor.workers=1"]))
    out = jobrun.output_dir(r)
    deadline = time.time() + 120
    while jobrun.progress(out)["read"] == 0 and time.time() < deadline:
        time.sleep(0.2)
    run = jobs.cancel(r.id)
    if run.status == "succeeded":
        pytest.skip("the job finished before it could be cancelled")
    assert run.status == "cancelled"
    done_before = jobrun.progress(out)["tasks_completed"]
    assert done_before < 4
    jobrun.resume(r.id)
    deadline = time.time() + 400
    while jobs.status(r.id).status not in ("succeeded", "failed", "cancelled") and time.time() < deadline:
        time.sleep(0.5)
    run = jobs.status(r.id)
    assert run.status == "succeeded", jobs.tail_log(run.run_dir)
    assert jobrun.progress(out)["tasks_completed"] == 4
    good = sum(1 for i in range(n) if base[i % len(base)]["breaks"] is None)
    assert len(_read(out / "kept")) == good and run.metrics["kept"] == good
    assert "Skipping" in jobs.tail_log(run.run_dir) or done_before == 0
