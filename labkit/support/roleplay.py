"""Role-play data (SweetieChat / ServeForEmo style) and self-evolution preference pairs.

`generate` runs Seeker ↔ Strategy Counselor ↔ Supporter for N dialogues of up to T supporter turns from
sampled scenarios and personas, one JSONL record per dialogue:
    {"dialogue_id", "language", "scenario", "persona",
     "turns": [{"role": "seeker"|"supporter", "text", "strategy", "rationale"}]}
A seeker turn that signals a risk of self-harm ends the dialogue with the crisis message (never a generated reply).

`pairs` builds DPO data from dialogues, as self-evolution does: for each supporter turn's context, rejected =
the *current* model's own reply to that context with the turn's strategy, generated at pair-building time (so
the pairs follow the policy being trained, not the model that wrote the dialogues), and chosen = that reply
refined with the reflected user state (profile, emotion, situation). `rejected="stored"` uses the dialogue's
stored reply instead, when asked:
    {"prompt": [messages], "chosen": [{"role": "assistant", ...}], "rejected": [...],
     "rejected_source", "strategy", "dialogue_id"}
"""

from __future__ import annotations

import random
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from labkit.backends.base import GenParams
from labkit import guard
from labkit.errors import LabkitError
from labkit.support.agent import LANG_NAMES, SupportAgent, dialogue_text, fit_prompt
from labkit.support.strategies import load_prompts
from labkit import hub

DIALOGUE_KEYS = {"dialogue_id", "language", "scenario", "persona", "turns"}
MAX_DIALOGUES = 10_000
MAX_TURNS = 50
TURN_ROLES = {"seeker", "supporter"}


def _history(turns: list[dict]) -> list[dict]:
    return [{"role": "user" if t["role"] == "seeker" else "assistant", "content": t["text"]} for t in turns]


def check_roleplay(
    n: int, turns: int, languages: list[str], scenarios: dict | None = None, personas: dict | None = None
) -> tuple[dict, dict]:
    """The scenarios and personas a role-play run would use (the bundled ones by default), once its settings are
    sound: callers check before a model loads."""
    try:
        n, turns = int(n), int(turns)
    except (TypeError, ValueError):
        raise LabkitError(
            f"Dialogues and turns must be whole numbers (got {n!r}, {turns!r}).", hint="Example: --n 10 --turns 6"
        ) from None
    if n < 1 or turns < 1:
        raise LabkitError(
            f"Role-play needs at least one dialogue and one turn (got n={n}, turns={turns}).",
            hint="Example: --n 10 --turns 6",
        )
    if n > MAX_DIALOGUES or turns > MAX_TURNS:  # each turn is three generations: 10^23 of them never end
        shown = lambda v: str(v) if len(str(v)) <= 12 else f"{str(v)[:8]}… ({len(str(v))} digits)"  # noqa: E731
        raise LabkitError(
            f"Role-play takes at most {MAX_DIALOGUES:,} dialogues of at most {MAX_TURNS} turns "
            f"(got n={shown(n)}, turns={shown(turns)}).",
            hint="Generate in several runs; a dialogue of a few turns is the usual size (--turns 6).",
        )
    if not languages:
        raise LabkitError("Role-play needs at least one language.", hint="Example: --languages en,zh")
    prompts = load_prompts()
    scenarios = scenarios or prompts["scenarios"]
    personas = personas or prompts["personas"]
    missing = [l for l in languages if not scenarios.get(l) or not personas.get(l)]
    if missing:
        raise LabkitError(
            f"No scenarios or personas for {missing}.",
            hint="Add them to the lists (one per line) for every language you generate.",
        )
    return scenarios, personas


def generate(
    agent: SupportAgent,
    n: int,
    turns: int,
    languages: list[str],
    scenarios: dict | None = None,
    personas: dict | None = None,
    seeker_backend=None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> list[dict]:
    """N dialogues; when `cancel` is set, the dialogues finished so far (the one in progress is dropped)."""
    guard.require("batch")
    scenarios, personas = check_roleplay(n, turns, languages, scenarios, personas)
    prompts = load_prompts()
    rng = random.Random(seed)
    seeker = seeker_backend or agent.backend
    out = []
    for d in range(n):
        lang = languages[d % len(languages)]
        scenario, persona = rng.choice(scenarios[lang]), rng.choice(personas[lang])
        dialogue: list[dict] = []
        for _ in range(turns):
            if cancel is not None and cancel.is_set():
                return out

            def ask(turns, persona=persona, scenario=scenario, lang=lang):
                text = prompts["seeker"].format(
                    persona=persona,
                    scenario=scenario,
                    language=LANG_NAMES.get(lang, lang),
                    dialogue=dialogue_text(turns),
                )
                return [{"role": "user", "content": text}]

            said = seeker.generate(
                [fit_prompt(seeker, _history(dialogue), ask, agent.max_new_tokens)],
                GenParams(max_new_tokens=agent.max_new_tokens, temperature=0.9, seed=seed + d),
            )[0][0].strip()
            dialogue.append({"role": "seeker", "text": said or scenario, "strategy": None, "rationale": None})
            turn = agent.respond(_history(dialogue[:-1]), dialogue[-1]["text"])
            dialogue.append(
                {
                    "role": "supporter",
                    "text": turn["reply"],
                    "strategy": turn["strategy"],
                    "rationale": turn["rationale"],
                    "crisis": turn["crisis"],
                }
            )
            if turn["crisis"]:
                break
        out.append(
            {
                "dialogue_id": f"rp-{seed}-{d}",
                "language": lang,
                "scenario": scenario,
                "persona": persona,
                "turns": dialogue,
            }
        )
        if progress:
            progress(d + 1, n)
    return out


def validate_dialogue(rec: dict) -> None:
    if not set(rec) >= DIALOGUE_KEYS:
        raise LabkitError(f"Dialogue {rec.get('dialogue_id', '?')} lacks {sorted(DIALOGUE_KEYS - set(rec))}.")
    if not isinstance(rec["turns"], list):
        raise LabkitError(f"Dialogue {rec['dialogue_id']}: turns must be a list of turns.")
    for t in rec["turns"]:
        if not isinstance(t, dict) or t.get("role") not in TURN_ROLES or not isinstance(t.get("text"), str):
            raise LabkitError(f"Dialogue {rec['dialogue_id']}: a turn needs role seeker/supporter and text.")


REJECTED_SOURCES = ("generated", "stored")


def check_pairs(dialogues: list[dict], rejected: str = "generated") -> None:
    """Self-evolution pairs can be built from these dialogues: callers check before a model loads."""
    if rejected not in REJECTED_SOURCES:
        raise LabkitError(
            f"rejected must be one of {REJECTED_SOURCES}, not {rejected!r}.",
            hint="generated: the current model's reply (the paper's way); stored: the dialogue's reply.",
        )
    if not dialogues:
        raise LabkitError(
            "No dialogues to build pairs from.", hint="Generate some first: labkit support roleplay --out FILE"
        )
    for rec in dialogues:
        validate_dialogue(rec)


def pairs(
    agent: SupportAgent,
    dialogues: list[dict],
    progress: Callable[[int, int], None] | None = None,
    rejected: str = "generated",
) -> list[dict]:
    guard.require("batch")
    check_pairs(dialogues, rejected)
    out = []
    for i, rec in enumerate(dialogues):
        for k, t in enumerate(rec["turns"]):
            if t["role"] != "supporter" or t.get("crisis") or not t.get("strategy"):
                continue  # crisis replies are fixed text, not model behaviour to prefer or reject
            context = _history(rec["turns"][:k])
            state = agent.reflect(context)
            reply = t["text"] if rejected == "stored" else agent.reply(context, t["strategy"], rec["language"])
            refined = agent.refine(context, reply, state, t["strategy"], rec["language"])
            if not reply.strip() or not refined or refined.strip() == reply.strip():
                continue
            out.append(
                {
                    "prompt": context,
                    "chosen": [{"role": "assistant", "content": refined}],
                    "rejected": [{"role": "assistant", "content": reply}],
                    "rejected_source": rejected,
                    "strategy": t["strategy"],
                    "dialogue_id": rec["dialogue_id"],
                    "user_state": state,
                }
            )
        if progress:
            progress(i + 1, len(dialogues))
    return out


def preview(dialogues: list[dict], n: int = 2) -> str:
    """The first dialogues as Markdown, each turn with its strategy: what a researcher reads before training."""
    parts = []
    for rec in dialogues[:n]:
        lines = [f"**{rec['dialogue_id']}** · {rec['language']} · {rec['scenario']}"]
        for t in rec["turns"]:
            who = "Seeker" if t["role"] == "seeker" else f"Supporter [{t.get('strategy') or 'crisis'}]"
            lines.append(f"- *{who}*: {t['text']}")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def strategy_counts(dialogues: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for rec in dialogues:
        for t in rec["turns"]:
            if t["role"] == "supporter" and t.get("strategy"):
                counts[t["strategy"]] = counts.get(t["strategy"], 0) + 1
    return counts


def dataset_card(repo_id: str, n: int, model: str, languages: list[str], license: str = "cc-by-nc-4.0") -> str:

    return hub.dataset_card(
        repo_id,
        license=license,
        languages=languages,
        tags=["emotional-support", "role-play", "synthetic"],
        provenance=(
            f"{n} synthetic role-play dialogues generated with labkit (Seeker ↔ Strategy Counselor ↔ Supporter, "
            f"after SweetieChat/ServeForEmo) by the model `{model}`. Strategy inventory from ESConv (CC BY-NC 4.0). "
            f"Messages signalling self-harm risk were answered with a fixed crisis message, not the model. "
            f"Not reviewed by clinicians; research use only."
        ),
        description="Synthetic emotional-support conversations with the support strategy and rationale of every reply.",
    )


def parse_table(text: str) -> dict[str, list[str]]:
    """'lang: text' lines (the Support tab's Scenarios and Personas boxes) as {lang: [text, ...]}."""
    table: dict[str, list[str]] = {}
    for line in (text or "").splitlines():
        if ":" in line:
            lang, item = line.split(":", 1)
            if item.strip():
                table.setdefault(lang.strip(), []).append(item.strip())
    return table


def table_text(table: dict[str, list[str]]) -> str:
    """The inverse of parse_table: one 'lang: text' line per item."""
    return "\n".join(f"{lang}: {item}" for lang, items in table.items() for item in items)


def push_dialogues(path: str | Path, repo_id: str, model: str, languages: list[str], workdir: str | Path) -> str:
    """Role-play dialogues (JSONL) to a Hub dataset repo as train.jsonl, with a card; returns the URL."""

    guard.require("push")  # before anything is written for the upload
    text = Path(path).read_text(encoding="utf-8")
    folder = Path(tempfile.mkdtemp(dir=workdir))
    (folder / "train.jsonl").write_text(text, encoding="utf-8")
    card = dataset_card(repo_id, len(text.splitlines()), model, list(languages))
    return hub.push(hub.plan_push(folder, repo_id, kind="dataset", card=card))
