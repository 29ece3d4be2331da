"""DMoE grouping and analysis summary on hand-made numbers (pure: no model)."""

import math

import pytest

from labkit.dmoe import grouping
from labkit.dmoe.analysis import normalize, summarize
from labkit.errors import LabkitError


def sim_from_blocks(langs, blocks, inside=0.9, between=0.1, tweaks=None):
    """Cosine similarity: high inside a block, low between blocks; `tweaks` set single pairs."""
    block = {l: i for i, b in enumerate(blocks) for l in b}
    s = {a: {b: 1.0 if a == b else (inside if block[a] == block[b] else between) for b in langs} for a in langs}
    for (a, b), v in (tweaks or {}).items():
        s[a][b] = s[b][a] = v
    return s


LANGS = ["en", "zh", "de", "ja", "fr", "ko"]
BLOCKS = [["en", "de", "fr"], ["zh", "ja", "ko"]]


@pytest.mark.parametrize("algorithm", ["exhaustive", "greedy"])
def test_two_clear_blocks_are_found(algorithm):
    groups, used = grouping.group_languages(sim_from_blocks(LANGS, BLOCKS), 2, algorithm)
    assert used == algorithm
    assert sorted(map(sorted, groups)) == sorted(map(sorted, BLOCKS))


@pytest.mark.parametrize("algorithm", ["exhaustive", "greedy"])
def test_three_pairs(algorithm):
    blocks = [["en", "de"], ["zh", "ja"], ["fr", "ko"]]
    groups, _ = grouping.group_languages(sim_from_blocks(LANGS, blocks), 3, algorithm)
    assert sorted(map(sorted, groups)) == sorted(map(sorted, blocks))


def test_exhaustive_takes_the_tightest_group_first_greedy_the_closest_pair():
    # en–de is the closest pair, but {zh, ja, ko} is the tightest triple: exhaustive takes it first;
    # greedy seeds with en–de and grows it. Both end with the same partition here, in a different order.
    s = sim_from_blocks(LANGS, BLOCKS, inside=0.8, tweaks={("en", "de"): 0.99, ("en", "fr"): 0.5, ("de", "fr"): 0.5})
    ex, _ = grouping.group_languages(s, 2, "exhaustive")
    gr, _ = grouping.group_languages(s, 2, "greedy")
    assert ex == [["zh", "ja", "ko"], ["en", "de", "fr"]]
    assert gr == [["en", "de", "fr"], ["zh", "ja", "ko"]]


def test_uneven_sizes_and_bad_k():
    assert grouping.group_sizes(7, 3) == [3, 2, 2]
    groups, _ = grouping.group_languages(sim_from_blocks(LANGS[:5], [["en", "de", "fr"], ["zh", "ja"]]), 2)
    assert sorted(map(sorted, groups)) == [["de", "en", "fr"], ["ja", "zh"]]
    with pytest.raises(LabkitError, match="groups = 7"):
        grouping.group_sizes(6, 7)


def test_auto_switches_to_greedy_for_large_sets():
    assert grouping.choose_algorithm(18, 9) == "exhaustive"  # the paper's 18 languages
    assert grouping.choose_algorithm(128, 16) == "greedy"  # the paper's 128 languages
    assert math.comb(128, 8) > grouping.EXHAUSTIVE_LIMIT


def test_greedy_on_many_languages_recovers_blocks():
    langs = [f"l{i}" for i in range(24)]
    blocks = [langs[i::4] for i in range(4)]  # interleaved, so input order does not give the answer away
    groups, used = grouping.group_languages(sim_from_blocks(langs, blocks), 4, "greedy")
    assert sorted(map(sorted, groups)) == sorted(map(sorted, blocks))


def test_normalize_and_summary():
    assert normalize([2.0, 4.0, 3.0]) == [0.0, 1.0, 0.5]
    assert normalize([1.0, 1.0]) is None  # no layer stands out (the reference gets NaN)
    per = {
        "en": {"ffn": [1.0, 3.0, 5.0, 2.0], "attn": [1.0, 1.0, 1.0, 1.0]},
        "zh": {"ffn": [1.0, 5.0, 5.0, 4.0], "attn": [3.0, 1.0, 1.0, 1.0]},
    }
    s = {"en": {"en": 1.0, "zh": 0.2}, "zh": {"en": 0.2, "zh": 1.0}}
    res = summarize(per, s, epsilon=0.6, groups=2)
    # mean FFN: [1, 4, 5, 3] → normalised [0, .75, 1, .5]
    assert [round(r["normalized"], 3) for r in res["layers"]] == [0.0, 0.75, 1.0, 0.5]
    assert res["moe_layers"] == [1, 2]
    assert res["layers"][0]["attn_deviation"] == 2.0
    assert res["groups"] == [["en"], ["zh"]] and res["epsilon"] == 0.6
