"""`--json` means one JSON document on stdout, for every command: json.loads of the whole stdout, whatever the command
printed on the way (TRL's log dictionaries, a library's progress go to stderr). Each command runs once, offline, on
the tiny model with a few steps; where a valid run needs the network or minutes (hub pull, run-job, sweep,
experiment, doctrans, dmoe add-language), a refused invocation, whose answer is a JSON error document."""

import argparse
import json
from pathlib import Path

import pytest

from labkit.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs" / "train"
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
        choices = [a.choices for a in parser._actions if not a.option_strings and a.choices and a.dest == "action"]
        if choices:
            found.update(" ".join([*prefix, c]) for c in choices[0])
        else:
            found.add(" ".join(prefix))

    walk(build_parser(), [])
    return found - SERVE_ONLY


def one_document(capsys, argv, codes=(0,)):
    rc = main(argv if "--json" in argv else [*argv, "--json"])
    out = capsys.readouterr().out
    assert rc in codes, (argv, rc, out[-2000:])
    try:
        return json.loads(out)
    except ValueError:
        pytest.fail(f"labkit {' '.join(argv)} --json: stdout is not one JSON document:\n{out[:3000]}")


@pytest.mark.slow
def test_every_command_prints_one_json_document(tiny_path, tmp_path, capsys):
    ran = set()

    def run(name, *argv, codes=(0,)):
        ran.add(name)
        return one_document(capsys, list(argv), codes)

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
    run("runs cancel", "runs", "cancel", ev["run_id"], codes=(0, 2))
    run("transfer", "transfer", ev["output"], ev["output"], "--source", "en", codes=(0, 2))
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
    run("support pairs", "support", "pairs", "--model", "tiny", "--n", "0", codes=(0, 2))
    run("support roleplay", "support", "roleplay", "--model", "tiny", "--n", "0", codes=(0, 2))
    for action in ("ocr", "run", "eval"):
        run(f"doctrans {action}", "doctrans", action, str(tmp_path / "missing.pdf"), codes=(2,))
    run("scaling", "scaling", str(ROOT / "configs" / "scaling" / "example.csv"), "--bootstrap", "100")
    run("synth", "synth", "mgsm", "--n", "4", "--train", "2", "--out", str(tmp_path / "synth"))
    run("experiment", "experiment", "parallel-scaling", "--languages", "xx", codes=(2,))
    rules = ROOT / "tests" / "fixtures" / "curate" / "rules.jsonl"
    run("data show", "data", "show", str(rules), codes=(0, 2))
    run("data curate", "data", "curate", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "c"), codes=(2,))
    run("data export", "data", "export", str(rules), "--out", str(tmp_path / "x"), "--target", "slurm", codes=(0, 2))
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
    run("dmoe upcycle", "dmoe", "upcycle", "--model", "tiny", "--analysis", str(analysis), "--out", str(tmp_path / "u"))
    run("dmoe text", "dmoe", "text", "--languages", "en", "--limit", "1", "--out", str(tmp_path / "t.jsonl"))
    run("dmoe routing", "dmoe", "routing", "--model", str(tmp_path / "u"), "--languages", "en", codes=(0, 2))
    run("dmoe add-language", "dmoe", "add-language", "--model", "tiny", "--language", "sw", codes=(2,))
    run("hub pull", "hub", "pull", "nobody/nothing-here", codes=(2,))
    run("hub push", "hub", "push", str(tiny_path), "me/tiny-copy", "--base-model", "tiny", "--dry-run")
    run("hub deploy-space", "hub", "deploy-space", "me/space", "--dry-run", "--out", str(tmp_path / "space"))
    run(
        "hub run-job",
        "hub",
        "run-job",
        "--push-repo",
        "me/results",
        "--json",
        "--",
        "eval",
        "--task",
        "mgsm",
        codes=(2,),
    )
    run("hub job-results", "hub", "job-results", "no-such-run", codes=(2,))
    assert ran == commands(), sorted(commands() ^ ran)
