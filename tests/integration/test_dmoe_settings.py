"""DMoE settings as the reference (ZNLP/DMoE) has them: gradient clipping in the stage recipes, one new expert
for a group of languages, packed stage data, equal deviations making no MoE layer, the analysis' demo batch."""

import argparse
import json
from pathlib import Path

import pytest

from labkit.errors import LabkitError

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"


@pytest.mark.parametrize(
    "name", ["dmoe-stage1-tiny", "dmoe-stage2-tiny", "dmoe-stage1-qwen2.5-0.5b", "dmoe-stage2-qwen2.5-0.5b"]
)
def test_stage_recipes_clip_gradients_at_0_3(name):
    from labkit.train.recipe import load

    assert load(CONFIGS / f"{name}.yaml").trainer["max_grad_norm"] == 0.3  # src/dmoe_train.py ScriptArguments


def test_equal_deviations_make_no_moe_layer_and_say_so(tmp_path):
    from labkit.dmoe.analysis import EQUAL, normalize, summarize
    from labkit.dmoe.upcycle import upcycle_from_analysis

    assert normalize([2.0, 2.0, 2.0]) is None
    per = {"en": {"ffn": [1.0, 1.0, 1.0], "attn": [1.0] * 3}, "zh": {"ffn": [3.0, 3.0, 3.0], "attn": [1.0] * 3}}
    res = summarize(per, {"en": {"en": 1.0, "zh": 0.1}, "zh": {"en": 0.1, "zh": 1.0}}, epsilon=0.6, groups=2)
    assert res["moe_layers"] == [] and res["notes"] == [EQUAL]
    assert all(r["normalized"] is None for r in res["layers"])
    path = tmp_path / "analysis.json"
    path.write_text(json.dumps(res))
    with pytest.raises(LabkitError, match="same FFN deviation"):
        upcycle_from_analysis("tiny", str(path), tmp_path / "up")


def test_analyze_says_its_default_batch_is_a_demo():
    from labkit.dmoe import cli
    from labkit.dmoe.analysis import DEMO_BATCH, PAPER_BATCH, analysis_recipe, sequences_per_step

    commands = argparse.ArgumentParser().add_subparsers()
    cli.add_arguments(commands)
    help_text = " ".join(commands.choices["dmoe"].format_help().split())
    assert "demo" in help_text and "2,048 sequences per step" in help_text
    assert sequences_per_step(analysis_recipe("tiny", 10).trainer) == 8 < PAPER_BATCH == 2048
    paper = analysis_recipe(None, 0, str(CONFIGS / "dmoe-analyze-qwen2.5-0.5b.yaml"))
    assert sequences_per_step(paper.trainer) == PAPER_BATCH
    assert "demo" in DEMO_BATCH.format(batch=8) and "2,048" in DEMO_BATCH


class _CharTokenizer:
    """One id per character; EOS is id 0 (packing must not insert it)."""

    eos_token = "\0"

    def __call__(self, text, add_special_tokens=True, truncation=False, max_length=None):
        ids = [ord(c) for c in text]
        return {"input_ids": ids[:max_length] if truncation and max_length else ids}


def test_packing_makes_fixed_blocks_per_expert_without_eos():
    import datasets

    from labkit.dmoe.train import tokenize

    rows = [
        {"text": "abcdefg", "lang": "en"},
        {"text": "hijk", "lang": "de"},
        {"text": "一二三四五", "lang": "zh"},
        {"text": "六七八", "lang": "zh"},
    ]
    ds = tokenize(datasets.Dataset.from_list(rows), _CharTokenizer(), {"en": 0, "de": 0, "zh": 1}, 4, True, pack=True)
    blocks = [(r["expert"], "".join(map(chr, r["input_ids"]))) for r in ds]
    # en+de share expert 0: "abcdefghijk" → 2 blocks, the 3-token tail dropped; zh: "一二三四五六七八" → 2 blocks
    assert blocks == [(0, "abcd"), (0, "efgh"), (1, "一二三四"), (1, "五六七八")]
    plain = tokenize(datasets.Dataset.from_list(rows), _CharTokenizer(), {"en": 0, "de": 0, "zh": 1}, 4, True)
    assert len(plain) == 4 and plain[1]["input_ids"] == [ord(c) for c in "hijk"]  # one row per text, cut at 4
    with pytest.raises(LabkitError, match="no block"):
        tokenize(datasets.Dataset.from_list(rows[:1]), _CharTokenizer(), {"en": 0}, 64, True, pack=True)


def test_add_language_can_add_one_expert_for_a_group(tiny_path, tmp_path):
    from labkit.dmoe.newlang import languages_of
    from labkit.dmoe.upcycle import add_expert, read_meta, upcycle

    assert languages_of("ml,mr") == ["ml", "mr"] and languages_of("sw") == ["sw"]
    with pytest.raises(LabkitError):
        languages_of(" , ")
    up = tmp_path / "up"
    upcycle(str(tiny_path), up, [["en", "de"], ["zh", "ja"]], [1])
    added = add_expert(up, 1, ["ml", "mr"], tmp_path / "more")
    meta = read_meta(tmp_path / "more")
    assert added["num_experts"] == 3 and added["new_expert"] == 2
    assert meta["language_to_expert"]["ml"] == meta["language_to_expert"]["mr"] == 2
    assert meta["groups"][-1] == ["ml", "mr"] and meta["added"][-1]["language"] == "ml-mr"
