"""`--json` means one JSON document on stdout, for every command: json.loads of the whole stdout, whatever the command
printed on the way (TRL's log dictionaries, a library's progress go to stderr). Each command runs offline, on the
tiny model with a few steps, once to a success (exit 0) and, where that is cheap, once more to a refusal, whose
answer is a JSON error document.

Commands run against stand-ins where the real thing is remote:
- `hub pull` finds a snapshot in the local Hugging Face cache (written here), as it does offline;
- `hub run-job` and `hub job-results` talk to tests/fakes.FakeHfApi for the Jobs API, and the Job's pushed folder
  is tests/fixtures/hfjobs/eval;
- `support roleplay` and `support pairs` run without the safety net's sentence encoder (its n-gram net stays on):
  embedding its exemplars takes a minute on a busy CPU and changes nothing that is printed.

Every command succeeds here; the slowest is `experiment parallel-scaling --budget smoke` (2 points of 10 training
steps, their evaluations and the fit: about a minute on a busy CPU).
"""

import argparse
import functools
import json
import shutil
from pathlib import Path

import pytest

from labkit.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs" / "train"
FIXTURES = ROOT / "tests" / "fixtures"
SERVE_ONLY = {"serve"}  # a server, not a command with an answer


def commands() -> set[str]:
    """Every command of `labkit` (with its action, where it has sub-commands or an action choice)."""
    found = set()

    def walk(parser, prefix):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    if sub.prog.split()[-1] == name:  # not an alias
                        walk(sub, [*prefix, name])
                return
        choices = [
            a.choices for a in parser._actions if not a.option_strings and a.choices and a.dest in ("action", "study")
        ]
        if choices:
            found.update(" ".join([*prefix, c]) for c in choices[0])
        else:
            found.add(" ".join(prefix))

    walk(build_parser(), [])
    return found - SERVE_ONLY


def one_document(capsys, argv, codes=(0,)):
    """(exit code, the parsed stdout) of `labkit ARGV --json`."""
    rc = main(argv if "--json" in argv else [*argv, "--json"])
    out = capsys.readouterr().out
    assert rc in codes, (argv, rc, out[-2000:])
    try:
        return rc, json.loads(out)
    except ValueError:
        pytest.fail(f"labkit {' '.join(argv)} --json: stdout is not one JSON document:\n{out[:3000]}")


def cached_snapshot(repo_id: str) -> None:
    """A model snapshot in the Hugging Face cache, as an earlier download leaves it."""
    from huggingface_hub import constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = Path(constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}"
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)


@pytest.mark.slow
def test_every_command_prints_one_json_document(tiny_path, tmp_path, capsys, monkeypatch):
    from labkit import jobs

    ran, succeeded = set(), set()

    def run(name, *argv, codes=(0,)):
        ran.add(name)
        rc, data = one_document(capsys, list(argv), codes)
        if rc == 0:
            succeeded.add(name)
        return data

    run("generate", "generate", "--model", "tiny", "--max-new-tokens", "2", "Hello")
    ev = run(
        "eval",
        "eval",
        "--task",
        "mgsm",
        "--model",
        "tiny",
        "--data",
        "sample",
        "--languages",
        "en",
        "--limit",
        "2",
        "--max-new-tokens",
        "2",
    )
    run("runs list", "runs", "list", "--limit", "1")
    run("runs show", "runs", "show", ev["run_id"])
    run("runs logs", "runs", "logs", ev["run_id"])
    run("transfer", "transfer", ev["output"], ev["output"], "--source", "en")
    annotations = [
        {
            "instruction": f"q{i}",
            "output_1": "b" * (50 + 7 * i),
            "output_2": "m" * (40 + 11 * i),
            "generator_1": "baseline",
            "generator_2": "model",
            "preference": 2.0 if i % 3 else 1.0,
            "index": i,
        }
        for i in range(30)
    ]
    (tmp_path / "annotations.json").write_text(json.dumps(annotations))
    run("winrate", "winrate", str(tmp_path / "annotations.json"), "--glm", "length_controlled_minimal")
    run("winrate", "winrate", str(tmp_path / "no-annotations.json"), codes=(2,))
    run(
        "train",
        "train",
        str(CONFIGS / "sft-tiny.yaml"),
        "--set",
        "trainer.max_steps=2",
        "--set",
        "trainer.logging_steps=1",  # TRL prints a log dictionary per step: it must not reach stdout
    )
    run("export", "export", str(CONFIGS / "sft-tiny.yaml"), "--target", "slurm")
    sweep = run("sweep", "sweep", str(CONFIGS / "grpo-parallel-tiny.yaml"), "--languages", "zh", "--k", "0")
    run("runs cancel", "runs", "cancel", sweep[0]["run_id"])  # the sweep's training run, still starting
    run("sweep", "sweep", str(CONFIGS / "sft-tiny.yaml"), "--languages", "xx", "--k", "1", codes=(2,))
    (tmp_path / "src.txt").write_text("The cat sat on the mat. It was warm.")
    (tmp_path / "tgt.txt").write_text("The cat sat on a mat.")
    run(
        "provenance",
        "provenance",
        "--source",
        str(tmp_path / "src.txt"),
        "--target",
        str(tmp_path / "tgt.txt"),
        "--retriever",
        "bm25",
    )
    from labkit.support import safety

    monkeypatch.setitem(safety.SEMANTIC, "dense_weight", 0)
    monkeypatch.setattr(safety, "_exemplars", functools.lru_cache(maxsize=1)(safety._exemplars.__wrapped__))
    dialogues, pairs = tmp_path / "roleplay.jsonl", tmp_path / "pairs.jsonl"
    run(
        "support roleplay",
        "support",
        "roleplay",
        "--model",
        "tiny",
        "--n",
        "1",
        "--turns",
        "1",
        "--out",
        str(dialogues),
    )
    run("support pairs", "support", "pairs", "--model", "tiny", "--dialogues", str(dialogues), "--out", str(pairs))
    run("support pairs", "support", "pairs", "--model", "tiny", "--n", "0", codes=(2,))
    from labkit.doctrans.examples import example_files

    pdf = example_files(tmp_path / "doctrans")["pdf"]  # born digital: its text layer needs no OCR model
    run("doctrans ocr", "doctrans", "ocr", pdf, "--pages", "1")
    run("doctrans run", "doctrans", "run", pdf, "--pages", "1", "--model", "tiny", "--out", str(tmp_path / "dt"))
    dota = tmp_path / "dota"
    (dota / "pred").mkdir(parents=True)
    (dota / "p1.zh.md").write_text("# 标题\n\n注意力 就是 你 所 需要 的 一切。\n", encoding="utf-8")
    (dota / "pred" / "p1.md").write_text("# 标题\n\n注意力 是 你 需要 的 一切。\n", encoding="utf-8")
    run("doctrans eval", "doctrans", "eval", str(dota), "--to", "zh")
    for action in ("ocr", "run", "eval"):
        run(f"doctrans {action}", "doctrans", action, str(tmp_path / "missing.pdf"), codes=(2,))
    run("scaling", "scaling", str(ROOT / "configs" / "scaling" / "example.csv"), "--bootstrap", "100")
    run("synth", "synth", "mgsm", "--n", "4", "--train", "2", "--out", str(tmp_path / "synth"))
    run("experiment parallel-scaling", "experiment", "parallel-scaling", "--budget", "smoke")
    run("experiment parallel-scaling", "experiment", "parallel-scaling", "--languages", "xx", codes=(2,))
    rules = FIXTURES / "curate" / "rules.jsonl"
    curated = tmp_path / "curated"
    run("data curate", "data", "curate", str(rules), "--out", str(curated))
    run("data curate", "data", "curate", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "c"), codes=(2,))
    run("data show", "data", "show", str(curated))
    run(
        "data export",
        "data",
        "export",
        str(rules),
        "--out",
        str(tmp_path / "x"),
        "--target",
        "slurm",
        "--set",
        "executor.partition=cpu",
    )
    (tmp_path / "stopwords.txt").write_text("the\nand\n")
    run(
        "data train-classifier",
        "data",
        "train-classifier",
        str(FIXTURES / "curate" / "domain_train.jsonl"),
        "--task",
        "domain",
        "--stopwords",
        str(tmp_path / "stopwords.txt"),
        "--out",
        str(tmp_path / "domain.bin"),
    )
    run("data train-classifier", "data", "train-classifier", str(tmp_path / "missing.jsonl"), codes=(2,))
    analysis = tmp_path / "analysis.json"
    run(
        "dmoe analyze",
        "dmoe",
        "analyze",
        "--model",
        "tiny",
        "--languages",
        "en,zh",
        "--steps",
        "2",
        "--groups",
        "2",
        "--out",
        str(analysis),
    )
    moe = tmp_path / "u"
    run("dmoe upcycle", "dmoe", "upcycle", "--model", "tiny", "--analysis", str(analysis), "--out", str(moe))
    run("dmoe text", "dmoe", "text", "--languages", "en", "--limit", "1", "--out", str(tmp_path / "t.jsonl"))
    run("dmoe routing", "dmoe", "routing", "--model", str(moe), "--languages", "en")
    added = run(
        "dmoe add-language",
        "dmoe",
        "add-language",
        "--model",
        str(moe),
        "--language",
        "sw",
        "--steps",
        "2",
        "--out",
        str(tmp_path / "sw"),
        "--detach",
    )
    jobs.cancel(added["run_id"])  # its adaptation job: started is what the command answers for
    run("dmoe add-language", "dmoe", "add-language", "--model", "tiny", "--language", "sw", codes=(2,))
    cached_snapshot("me/cached-tiny")
    run("hub pull", "hub", "pull", "me/cached-tiny")
    run("hub pull", "hub", "pull", "nobody/nothing-here", codes=(2,))
    run("hub push", "hub", "push", str(tiny_path), "me/tiny-copy", "--base-model", "tiny", "--dry-run")
    run("hub deploy-space", "hub", "deploy-space", "me/space", "--dry-run", "--out", str(tmp_path / "space"))
    from fakes import FakeHfApi

    api = FakeHfApi(stage="COMPLETED")
    monkeypatch.setattr("huggingface_hub.HfApi", lambda *a, **k: api)
    monkeypatch.setattr("huggingface_hub.get_token", lambda: "hf_test_login")
    job = run("hub run-job", "hub", "run-job", "--push-repo", "me/results", "--json", "--", "eval", "--task", "mgsm")

    def pushed(*, repo_id, repo_type, allow_patterns, local_dir, token=None, **kw):  # what the Job pushed
        shutil.copytree(FIXTURES / "hfjobs" / "eval", Path(local_dir) / job["id"])
        return local_dir

    monkeypatch.setattr("huggingface_hub.snapshot_download", pushed)
    run("hub job-results", "hub", "job-results", job["id"])
    run("hub job-results", "hub", "job-results", "no-such-run", codes=(2,))
    assert ran == commands(), sorted(commands() ^ ran)
    assert succeeded == commands(), sorted(commands() - succeeded)
