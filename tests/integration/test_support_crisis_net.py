"""The crisis detector's second net (similarity to curated exemplars, with the packaged MiniLM): it catches
the indirect statements in the 17 languages that the patterns miss, and its false-positive
rate on ordinary sad messages stays what docs/support.md reports."""

from pathlib import Path

import pytest
import yaml

from labkit.support import safety
from labkit.support.agent import SupportAgent

from fakes import FakeBackend

pytestmark = pytest.mark.slow
HELD_OUT = yaml.safe_load(
    (Path(__file__).parents[1] / "fixtures" / "crisis" / "heldout.yaml").read_text(encoding="utf-8")
)
POSITIVE = [(lang, text) for lang, texts in HELD_OUT["positive"].items() for text in texts]


def test_held_out_messages_are_not_exemplars():
    exemplars = {t for side in safety.SEMANTIC["exemplars"].values() for texts in side.values() for t in texts}
    held = {t for group in HELD_OUT.values() for texts in group.values() for t in texts}
    assert not exemplars & held
    assert set(HELD_OUT["positive"]) == set(safety.LANGUAGES) and len(POSITIVE) == 34


@pytest.mark.parametrize("lang,text", POSITIVE)
def test_indirect_statements_are_caught_by_the_second_net(lang, text):
    assert not safety.pattern_check(text).crisis  # the patterns alone miss them
    result = safety.check(text)
    assert result.crisis and result.method == "semantic" and result.language == lang, result
    assert result.matched in safety.SEMANTIC["exemplars"]["crisis"][lang]


def test_false_positive_rate_on_ordinary_sad_messages():
    for group, at_most in (("ordinary_tuning", 0), ("ordinary_report", 0)):  # docs/support.md: 0/85 and 0/51
        texts = [t for texts in HELD_OUT[group].values() for t in texts]
        flagged = [t for t in texts if safety.check(t).crisis]
        assert len(flagged) <= at_most, (group, flagged)


def test_a_long_message_is_checked_sentence_by_sentence():
    text = (
        "Work was long today and the bus was late again. My sister called about the holidays. "
        "I've been thinking about ending things."
    )
    assert safety.check(text).crisis
    assert not safety.check(text, semantic=False).crisis


def test_the_agent_bypasses_the_model_on_an_indirect_statement():
    exploding = FakeBackend(fail_after=0, error=AssertionError("the model must not be called"))
    turn = SupportAgent(exploding).respond([], "我把药攒够了，今晚就是那一晚。")
    assert turn["crisis"] is True and turn["language"] == "zh" and "findahelpline.com" in turn["reply"]
