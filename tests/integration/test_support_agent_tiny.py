"""The support agent on the tiny model: a turn, the crisis bypass, role-play and pair files against their schema,
and the CLI."""

import json

import pytest

from labkit.errors import LabkitError
from labkit.jsonl import read_jsonl, write_jsonl
from labkit.support import roleplay
from labkit.support.agent import SupportAgent
from labkit.support.strategies import strategies

from fakes import FakeBackend


@pytest.fixture(scope="module")
def agent(tiny_path):
    from labkit.backends import get_backend

    return SupportAgent(get_backend("hf", "tiny"), max_new_tokens=16)


def test_agent_turn_on_the_tiny_model(agent):
    turn = agent.respond([], "I failed my exam and I feel terrible.")
    assert (
        turn["crisis"] is False
        and turn["strategy"] in strategies()
        and turn["stage"] in ("exploration", "comforting", "action")
    )
    assert isinstance(turn["reply"], str) and set(turn["user_state"]) >= {"profile", "emotion", "situation"}
    assert agent.counselor_fallbacks >= 1  # the demo model's counselor answers are garbage: counted, never a crash
    forced = agent.respond([], "I failed my exam.", override="Information")
    assert forced["strategy"] == "Information" and "override" in forced["rationale"]


def test_crisis_bypasses_the_model(agent):
    exploding = FakeBackend(fail_after=0, error=AssertionError("the model must not be called"))
    turn = SupportAgent(exploding).respond([], "I want to kill myself")
    assert turn["crisis"] is True and "findahelpline.com" in turn["reply"] and turn["strategy"] is None


def test_roleplay_and_pairs_schema(agent, tmp_path):
    dialogues = roleplay.generate(agent, n=2, turns=2, languages=["en", "zh"])
    assert len(dialogues) == 2 and {d["language"] for d in dialogues} == {"en", "zh"}
    for d in dialogues:
        roleplay.validate_dialogue(d)
        assert [t["role"] for t in d["turns"]] == ["seeker", "supporter"] * 2
        assert all(t["strategy"] in strategies() and t["rationale"] for t in d["turns"] if t["role"] == "supporter")
    path = write_jsonl(tmp_path / "d.jsonl", dialogues)
    pairs = roleplay.pairs(agent, read_jsonl(path))
    for p in pairs:
        assert (
            p["prompt"][-1]["role"] == "user"
            and p["chosen"][0]["role"] == "assistant"
            and p["rejected"][0]["role"] == "assistant"
        )
        assert p["chosen"][0]["content"] != p["rejected"][0]["content"]
    with pytest.raises(LabkitError):
        roleplay.validate_dialogue({"dialogue_id": "x", "turns": []})
    with pytest.raises(LabkitError, match="scenarios"):
        roleplay.generate(agent, n=1, turns=1, languages=["xx"])


def test_cli_once_contract(tiny_path, capsys):
    from labkit.cli import main

    assert (
        main(["chat", "--model", "tiny", "--once", "I feel lonely since I moved.", "--max-new-tokens", "8", "--json"])
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"reply", "strategy", "rationale", "user_state", "crisis"} and data["crisis"] is False
    assert main(["chat", "--model", "tiny", "--once", "Nataka kujiua", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["crisis"] is True


def test_an_override_alias_plans_that_strategy(agent):
    plan = agent.plan([], "I failed my exam.", override="question")
    assert plan["strategy"] == "Question" and plan["rationale"] == "Chosen by the researcher (override)."


def test_a_long_conversation_is_cut_to_the_models_context_not_refused(tiny_backend):
    """The tiny model reads 512 tokens: the dialogue in each prompt keeps its most recent turns that fit beside the
    reply, and a turn of a long conversation is answered."""
    from labkit.support.agent import SupportAgent, fit_prompt

    history = []
    for i in range(12):
        history += [
            {"role": "user", "content": f"Message {i}: I lost my job and I cannot sleep, everything feels heavy."},
            {"role": "assistant", "content": f"Reply {i}: That sounds exhausting. What has been hardest today?"},
        ]
    agent = SupportAgent(tiny_backend)
    whole = agent.supporter_messages(history, "Question", "en")
    assert whole[0]["role"] == "system" and whole[-1] == history[-1] and len(whole) < len(history) + 1
    window = tiny_backend.context_length()
    assert tiny_backend.prompt_length(whole) <= window - min(agent.max_new_tokens, window // 4)
    turn = agent.respond(history, "And today I could not get out of bed.")
    assert isinstance(turn["reply"], str)
    unbounded = type("Server", (), {})()  # a server that does not say its context: the whole history goes
    assert len(fit_prompt(unbounded, history, lambda t: t, 100)) == len(history)
