"""Strategy parsing on clean and garbage outputs, the agent and pair building on scripted backends, session
logs (the agent on the tiny model: tests/integration/test_support_agent_tiny.py)."""

import json
import re

import pytest

from labkit.errors import LabkitError
from labkit.support import roleplay, safety
from labkit.support.agent import SupportAgent, parse_state
from labkit.support.strategies import fallback, parse_choice, resolve, stage_of, strategies

from fakes import FakeBackend


@pytest.fixture(autouse=True)
def no_models(monkeypatch):
    """The semantic crisis net loads a sentence encoder and language ID loads lingua's n-gram models (both tested
    in their own files); here the pattern net alone screens each message and every message counts as English, so
    the agent's plan needs no model."""
    from labkit.support import agent

    monkeypatch.setattr(safety, "semantic_check", safety.pattern_check)
    monkeypatch.setattr(agent, "user_language", lambda text, default="en": default)


def test_eight_strategies_and_stages():
    assert len(strategies()) == 8 and "Reflection of Feelings" in strategies()
    assert (
        stage_of("Question") == "exploration"
        and stage_of("Affirmation and Reassurance") == "comforting"
        and stage_of("Information") == "action"
    )


@pytest.mark.parametrize(
    "text,expected",
    [
        ('{"strategy": "Question", "rationale": "Need to know more."}', ("Question", "Need to know more.")),
        (
            'Sure! {"strategy": "reflection of feelings", "rationale": "They are hurt"}',
            ("Reflection of Feelings", "They are hurt"),
        ),
        ('{"strategy": "Reassurance", "rationale": "x"}', ("Affirmation and Reassurance", "x")),
        ("I would go with Providing Suggestions here because they asked what to do.", ("Providing Suggestions", None)),
        ("<think>Question? no</think> Self-disclosure fits best.", ("Self-disclosure", None)),
    ],
)
def test_strategy_parsing_clean(text, expected):
    strategy, rationale = parse_choice(text)
    assert strategy == expected[0]
    if expected[1]:
        assert rationale == expected[1]


@pytest.mark.parametrize("garbage", ["", "asassistt\nasassistt", '{"strategy": "Telepathy"}', "{{{", "\ufffd" * 50])
def test_strategy_parsing_garbage_is_none_and_falls_back(garbage):
    assert parse_choice(garbage)[0] is None
    assert (
        fallback(1, "x")[0] == "Question"
        and fallback(2, "x")[0] == "Reflection of Feelings"
        and fallback(6, "x")[0] == "Providing Suggestions"
    )


def test_user_state_parsing():
    assert parse_state('{"profile": "student", "emotion": "anxious", "situation": "exams"}') == {
        "profile": "student",
        "emotion": "anxious",
        "situation": "exams",
    }
    assert parse_state("no json") is None


def test_dataset_card_states_licence_and_provenance():
    card = roleplay.dataset_card("me/support", 200, "tiny", ["en", "zh"])
    assert "license: cc-by-nc-4.0" in card and "ESConv" in card and "synthetic" in card.lower()


def _answer(msgs) -> str:
    """Each kind of agent prompt answered recognisably, so the tests can see who wrote what."""
    content = msgs[-1]["content"]
    if msgs[0]["role"] == "system":  # the supporter
        return "Fresh reply of the current model."
    if content.startswith("Here is a reply"):  # refinement names the reply it was given
        if "Fresh reply of the current model." in content:
            return "Refined from the fresh reply."
        return "Refined from the stored reply."
    # reflection (and the seeker, whose text is then this JSON: fine for these tests)
    return '{"profile": "student", "emotion": "sad", "situation": "failed an exam"}'


def _backend() -> FakeBackend:
    return FakeBackend(_answer, whole_prompt=True)


DIALOGUE = {
    "dialogue_id": "d1",
    "language": "en",
    "scenario": "exam",
    "persona": "student",
    "turns": [
        {"role": "seeker", "text": "I failed my exam.", "strategy": None, "rationale": None},
        {"role": "supporter", "text": "Stored reply of an older model.", "strategy": "Question", "rationale": "r"},
    ],
}


def test_pairs_reject_the_current_models_own_reply():
    rows = roleplay.pairs(SupportAgent(_backend()), [DIALOGUE])
    assert len(rows) == 1
    row = rows[0]
    assert row["rejected"] == [{"role": "assistant", "content": "Fresh reply of the current model."}]
    assert row["chosen"] == [{"role": "assistant", "content": "Refined from the fresh reply."}]
    assert row["rejected_source"] == "generated" and row["prompt"] == [{"role": "user", "content": "I failed my exam."}]


def test_pairs_use_the_stored_reply_only_when_asked():
    row = roleplay.pairs(SupportAgent(_backend()), [DIALOGUE], rejected="stored")[0]
    assert row["rejected"][0]["content"] == "Stored reply of an older model."
    assert row["chosen"][0]["content"] == "Refined from the stored reply." and row["rejected_source"] == "stored"
    with pytest.raises(LabkitError, match="rejected must be one of"):
        roleplay.pairs(SupportAgent(_backend()), [DIALOGUE], rejected="old")


def test_agent_refuses_empty_messages_and_unknown_overrides():
    agent = SupportAgent(_backend())
    with pytest.raises(LabkitError, match="empty"):
        agent.respond([], "  \n ")
    with pytest.raises(LabkitError, match="Unknown strategy"):
        agent.respond([], "I failed my exam.", override="Hugging")
    # aliases still work (through the agent's plan: tests/integration, where the crisis classifier loads)
    assert resolve("question") == resolve("QUESTION") == "Question"


def test_session_log_display_and_export(tmp_path):
    from labkit.support import session

    sess = session.new()
    plan = {"crisis": False, "strategy": "Question", "rationale": "explore first", "language": "en"}
    after = session.record(sess, plan, "I failed my exam.", "What happened?")
    assert sess["log"] == [] and len(after["log"]) == 1  # the old state is untouched
    assert after["history"] == [
        {"role": "user", "content": "I failed my exam."},
        {"role": "assistant", "content": "What happened?"},
    ]
    shown = session.display(after)
    assert [m["role"] for m in shown] == ["user", "assistant", "assistant"] and shown[1]["metadata"][
        "title"
    ] == "Strategy: Question"
    crisis = session.record(
        after, {"crisis": True, "strategy": None, "rationale": "bypassed", "language": "en"}, "x", "help"
    )
    data = json.loads(session.export(crisis, tmp_path).read_text(encoding="utf-8"))
    assert data["crisis_flags"] == 1 and [t["user"] for t in data["turns"]] == ["I failed my exam.", "x"]


def test_roleplay_cancel_keeps_finished_dialogues_and_previews_them():
    import threading

    flag = threading.Event()

    agent = SupportAgent(_backend())
    dialogues = roleplay.generate(
        agent, n=3, turns=1, languages=["en"], progress=lambda d, t: flag.set() if d == 1 else None, cancel=flag
    )
    assert len(dialogues) == 1  # cancelled after the first of three
    text = roleplay.preview(dialogues)
    assert dialogues[0]["dialogue_id"] in text and "*Seeker*" in text and "Supporter [" in text


@pytest.mark.parametrize(
    "n, turns, langs, says",
    [
        (None, 3, ["en"], "whole numbers"),
        ("four", 3, ["en"], "whole numbers"),
        (0, 3, ["en"], "at least one dialogue"),
        (2, 3, [], "at least one language"),
        (2, 3, ["xx"], "No scenarios or personas for ['xx']"),
    ],
)
def test_roleplay_settings_are_checked_without_a_model(n, turns, langs, says):
    with pytest.raises(LabkitError, match=re.escape(says)):
        roleplay.check_roleplay(n, turns, langs)


def test_roleplay_check_returns_the_lists_it_will_use():
    scenarios, personas = roleplay.check_roleplay(2, 3, ["en"], {"en": ["lost a job"]}, {"en": ["a student"]})
    assert scenarios == {"en": ["lost a job"]} and personas == {"en": ["a student"]}
