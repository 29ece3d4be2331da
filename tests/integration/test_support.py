"""Role-play → self-evolution pairs → the support DPO recipe, through the CLI on the tiny model."""

import json
from pathlib import Path

from labkit.cli import main

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"


def test_roleplay_pairs_and_dpo(tiny_path, tmp_path, capsys):
    dialogues, pairs = tmp_path / "d.jsonl", tmp_path / "p.jsonl"
    assert (
        main(
            [
                "chat",
                "roleplay",
                "--model",
                "tiny",
                "--n",
                "2",
                "--turns",
                "2",
                "--out",
                str(dialogues),
                "--max-new-tokens",
                "12",
                "--json",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["dialogues"] == 2 and sum(summary["strategies"].values()) == 4
    assert (
        main(
            [
                "chat",
                "pairs",
                "--model",
                "tiny",
                "--dialogues",
                str(dialogues),
                "--out",
                str(pairs),
                "--max-new-tokens",
                "12",
                "--json",
            ]
        )
        == 0
    )
    n = json.loads(capsys.readouterr().out)["pairs"]
    assert n >= 1 and len(pairs.read_text().splitlines()) == n
    assert (
        main(
            [
                "train",
                str(CONFIGS / "support-dpo-tiny.yaml"),
                "--set",
                f"data.path={pairs}",
                "--set",
                "trainer.max_steps=2",
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "succeeded" and result["final_metrics"]["step"] == 2
