"""The strategy-aware support agent: a Strategy Counselor picks one of the eight strategies (with a
rationale), a Supporter replies following it in the user's language (streamed), and self-reflection infers
the user's profile, emotion and situation, which self-refinement uses to rewrite a reply. Messages that
indicate a risk of self-harm bypass the model entirely (labkit.support.safety).

    agent = SupportAgent(get_backend("hf", "tiny"))
    turn = agent.respond(history, "I failed my exam")
    # turn: {"reply", "strategy", "rationale", "user_state", "crisis", "stage", ...}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from collections.abc import Iterator

from labkit.backends.base import GenParams
from labkit.languages import NAMES as LANG_NAMES
from labkit.support import safety
from labkit.errors import LabkitError
from labkit.support.strategies import fallback, load_prompts, parse_choice, resolve, stage_of, strategies
from labkit.evaluate import langid
from labkit.text import json_objects

MAX_MESSAGE_CHARS = 4_000  # one turn of a conversation; longer text only costs the server (prompt and memory)


def check_message(message: str) -> None:
    """One user message within MAX_MESSAGE_CHARS, checked before a model loads or any prompt is built."""
    if isinstance(message, str) and len(message) > MAX_MESSAGE_CHARS:
        raise LabkitError(
            f"The message has {len(message):,} characters; one message takes at most {MAX_MESSAGE_CHARS:,}.",
            hint="Say it in a few sentences; the conversation can go on over several messages.",
        )


def dialogue_text(history: list[dict]) -> str:
    return (
        "\n".join(
            f"{'User' if m['role'] == 'user' else 'Supporter'}: {m['content']}"
            for m in history
            if m["role"] in ("user", "assistant")
        )
        or "(empty)"
    )


def language_warning(reply: str, language: str) -> str:
    """A visible warning when the reply does not read as the user's language, else ''."""
    got = langid.wrong_language(reply, language, min_letters=12)
    if got is None:
        return ""
    return (
        f"⚠️ The reply is not in the user's language: it reads as {LANG_NAMES.get(got, got)}, not "
        f"{LANG_NAMES.get(language, language)}. This model may not write {LANG_NAMES.get(language, language)}."
    )


def user_language(text: str, default: str = "en") -> str:

    return langid.detect(text) or default


def parse_state(text: str) -> dict | None:

    for obj in json_objects(text):
        if any(k in obj for k in ("profile", "emotion", "situation")):
            return {k: str(obj.get(k, "")) for k in ("profile", "emotion", "situation")}
    return None


def fit_prompt(backend, history: list, build, max_new_tokens: int):
    """`build(turns)` for the most recent turns of `history` that the model's context holds beside the reply (older
    turns are left out, as a chat window scrolls them away). A backend that does not tell its context length or
    count prompt tokens (a server) gets the whole history; a single message too long for the model is then refused
    by the backend with a message."""
    length, context = getattr(backend, "prompt_length", None), getattr(backend, "context_length", None)
    if not (callable(length) and callable(context)):
        return build(history)
    window = context()
    room = window - min(max_new_tokens, window // 4)  # a long reply may be cut short; the prompt must fit
    turns = list(history)
    while True:
        prompt = build(turns)
        if len(turns) <= 1 or length(prompt) <= room:
            return prompt
        turns = turns[1:]


@dataclass
class SupportAgent:
    backend: object
    prompts: dict = field(default_factory=load_prompts)
    max_new_tokens: int = 160
    counselor_fallbacks: int = 0

    def _ask(self, prompt: str, history: list[dict], max_new_tokens: int | None = None, **fields) -> str:
        """One of the prompts (`prompt`) about the dialogue so far, as much of it as the model's context holds."""
        max_new = max_new_tokens or self.max_new_tokens

        def build(turns):
            return [{"role": "user", "content": self.prompts[prompt].format(dialogue=dialogue_text(turns), **fields)}]

        messages = fit_prompt(self.backend, history, build, max_new)
        return self.backend.generate([messages], GenParams(max_new_tokens=max_new))[0][0]

    def reflect(self, history: list[dict]) -> dict:
        """The user's profile, emotion and situation as the model infers them; empty strings when unreadable."""
        state = parse_state(self._ask("reflection", history))
        return state or {"profile": "", "emotion": "", "situation": "", "unparsed": True}

    def choose(self, history: list[dict], user_state: dict) -> tuple[str, str, bool]:
        listing = "\n".join(f"- {k}: {v}" for k, v in strategies().items())
        out = self._ask(
            "counselor", history, 96, strategies=listing, user_state=json.dumps(user_state, ensure_ascii=False)
        )
        strategy, rationale = parse_choice(out)
        if strategy is None:
            self.counselor_fallbacks += 1
            n_user = sum(m["role"] == "user" for m in history)
            strategy, rationale = fallback(n_user, history[-1]["content"] if history else "")
            return strategy, rationale, False
        return strategy, rationale, True

    def supporter_messages(self, history: list[dict], strategy: str, language: str) -> list[dict]:
        system = self.prompts["supporter"].format(
            language=LANG_NAMES.get(language, language),
            strategy=strategy,
            strategy_description=strategies().get(strategy, ""),
        )
        turns = [m for m in history if m["role"] in ("user", "assistant")]
        return fit_prompt(
            self.backend, turns, lambda kept: [{"role": "system", "content": system}, *kept], self.max_new_tokens
        )

    def plan(self, history: list[dict], message: str, override: str | None = None) -> dict:
        """Everything but the reply: crisis check, language, user state, strategy."""
        if not isinstance(message, str) or not message.strip():
            raise LabkitError("The message is empty.", hint="Write what is on your mind, in any language.")
        if len(message) > MAX_MESSAGE_CHARS:  # before the safety check and any prompt is built
            raise LabkitError(
                f"The message has {len(message):,} characters; one message takes at most {MAX_MESSAGE_CHARS:,}.",
                hint="Say it in a few sentences; the conversation can go on over several messages.",
            )
        override = resolve(override) if override else None
        check = safety.check(message)
        lang = user_language(message)
        turn = {"crisis": check.crisis, "language": check.language or lang}
        if check.crisis:
            return {
                **turn,
                "strategy": None,
                "rationale": "Risk of self-harm detected: the model is bypassed.",
                "user_state": {},
                "stage": None,
                "counselor_parsed": None,
            }
        full = [*history, {"role": "user", "content": message}]
        state = self.reflect(full)
        if override:
            strategy, rationale, parsed = override, "Chosen by the researcher (override).", None
        else:
            strategy, rationale, parsed = self.choose(full, state)
        return {
            **turn,
            "strategy": strategy,
            "rationale": rationale,
            "user_state": state,
            "stage": stage_of(strategy),
            "counselor_parsed": parsed,
        }

    def stream_reply(self, history: list[dict], message: str, plan: dict) -> Iterator[str]:
        if plan["crisis"]:
            yield safety.crisis_message(plan["language"])
            return
        msgs = self.supporter_messages(
            [*history, {"role": "user", "content": message}], plan["strategy"], plan["language"]
        )
        yield from self.backend.stream(msgs, GenParams(max_new_tokens=self.max_new_tokens))

    def reply(self, history: list[dict], strategy: str, language: str) -> str:
        """The supporter's reply to a history ending with the user's message, whole (not streamed)."""
        msgs = self.supporter_messages(history, strategy, language)
        return self.backend.generate([msgs], GenParams(max_new_tokens=self.max_new_tokens))[0][0].strip()

    def respond(self, history: list[dict], message: str, override: str | None = None) -> dict:
        plan = self.plan(history, message, override)
        return {**plan, "reply": "".join(self.stream_reply(history, message, plan))}

    def refine(self, history: list[dict], reply: str, user_state: dict, strategy: str, language: str) -> str:
        return self._ask(
            "refinement",
            history,
            language=LANG_NAMES.get(language, language),
            strategy=strategy,
            reply=reply,
            user_state=json.dumps(user_state, ensure_ascii=False),
        ).strip()
