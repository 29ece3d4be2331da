"""A support chat session as plain data, shared by the tab and any other front end: the history the model
sees, the per-turn log (plan, user message, reply, time) the researcher exports, and the chat display."""

from __future__ import annotations

import json
import time
from pathlib import Path

CRISIS_LABEL = "🛟 Crisis resources — the model was bypassed"


def new() -> dict:
    return {"history": [], "log": [], "started": time.time()}


def label(plan: dict) -> str:
    return CRISIS_LABEL if plan["crisis"] else f"Strategy: {plan['strategy']}"


def record(sess: dict, plan: dict, user: str, reply: str) -> dict:
    """The session after one exchange (a new dict: Gradio state must not be mutated in place)."""
    return {
        **sess,
        "history": [*sess["history"], {"role": "user", "content": user}, {"role": "assistant", "content": reply}],
        "log": [*sess["log"], {**plan, "user": user, "reply": reply, "time": time.time()}],
    }


def display(sess: dict) -> list[dict]:
    """Chatbot messages: each user turn, the strategy (or crisis) note with its rationale, the reply."""
    out = []
    for turn in sess["log"]:
        out += [
            {"role": "user", "content": turn["user"]},
            {"role": "assistant", "content": turn["rationale"] or "", "metadata": {"title": label(turn)}},
            {"role": "assistant", "content": turn["reply"]},
        ]
    return out


def export(sess: dict, folder: str | Path) -> Path:
    path = Path(folder) / "support-session.json"
    data = {"started": sess["started"], "turns": sess["log"], "crisis_flags": sum(t["crisis"] for t in sess["log"])}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return path
