"""`labkit support` (older name: chat): the command-line face of labkit.support (composed by labkit/cli.py).

labkit support --once "I failed my exam"                      one exchange: reply, strategy, inferred user state
labkit support roleplay --n 10 --turns 6 --out dialogues.jsonl
labkit support pairs --dialogues dialogues.jsonl --out pairs.jsonl
"""

from __future__ import annotations

import json

from labkit.backends import get_backend
from labkit.backends.base import check_new_tokens
from labkit.clitools import add_backend, command, emit, progress_bar
from labkit.errors import LabkitError
from labkit.jsonl import check_target, read_jsonl, write_jsonl
from labkit.settings import get_settings
from labkit.support import roleplay
from labkit.support.agent import SupportAgent, check_message, language_warning
from labkit.support.strategies import resolve


def add_arguments(subparsers) -> None:
    sp = command(
        subparsers,
        "support",
        support,
        "the strategy-aware support agent: one exchange, role-play data, or self-evolution pairs",
        aliases=("chat",),
    )
    sp.add_argument("action", nargs="?", choices=["roleplay", "pairs"])
    sp.add_argument("--model")
    add_backend(sp)
    sp.add_argument("--once", help="one user message: print the agent's reply, strategy and inferred user state")
    sp.add_argument("--strategy", help="force the strategy (researcher override)")
    sp.add_argument("--n", type=int, default=10, help="roleplay: dialogues")
    sp.add_argument("--turns", type=int, default=6, help="roleplay: supporter turns per dialogue")
    sp.add_argument(
        "--languages", default="en,zh", help="roleplay: languages (scenarios and personas must exist for each)"
    )
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--dialogues", help="pairs: the role-play JSONL")
    sp.add_argument(
        "--rejected",
        default="generated",
        choices=["generated", "stored"],
        help="pairs: rejected = the current model's reply now (default, as the paper) or the dialogue's stored reply",
    )
    sp.add_argument("--out", help="output JSONL")
    sp.add_argument("--max-new-tokens", type=int, default=160)


def support(args) -> int:
    if args.once is not None and not args.once.strip():
        raise LabkitError(
            "--once is empty (only whitespace).", hint="Give the user's message, e.g. --once 'I failed my exam'."
        )
    check_message(args.once)  # before a model loads
    if args.strategy:
        resolve(args.strategy)  # before a model loads: an unknown name must not be silently ignored
    if args.action == "roleplay" and not args.out:
        raise LabkitError("Give --out FILE.jsonl for the dialogues.")
    if args.action == "pairs" and not (args.dialogues and args.out):
        raise LabkitError("Give --dialogues FILE.jsonl and --out FILE.jsonl.")
    if args.out:
        check_target(args.out)  # before the model loads and the dialogues are generated
    langs = [l for l in args.languages.split(",") if l]
    if args.action == "roleplay":
        roleplay.check_roleplay(args.n, args.turns, langs)  # all of these before the model loads
    if args.action == "pairs":
        dialogues = read_jsonl(args.dialogues)
        roleplay.check_pairs(dialogues, args.rejected)
    model = args.model or get_settings().resolved_default_model()
    agent = SupportAgent(get_backend(args.backend, model), max_new_tokens=args.max_new_tokens)
    check_new_tokens(agent.backend, args.max_new_tokens)
    if args.action == "roleplay":
        bar = progress_bar(args)
        dialogues = roleplay.generate(agent, args.n, args.turns, langs, seed=args.seed, progress=bar)
        write_jsonl(args.out, dialogues)
        data = {
            "dialogues": len(dialogues),
            "out": args.out,
            "strategies": roleplay.strategy_counts(dialogues),
            "counselor_fallbacks": agent.counselor_fallbacks,
        }
        emit(args, data, json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    if args.action == "pairs":
        rows = roleplay.pairs(agent, dialogues, progress=progress_bar(args), rejected=args.rejected)
        write_jsonl(args.out, rows)
        emit(args, {"pairs": len(rows), "out": args.out}, f"{len(rows)} pairs → {args.out}")
        return 0
    if args.once is None:
        raise LabkitError(
            "Give --once TEXT (one exchange), or an action: roleplay, pairs.",
            hint="The Support chat tab is the interactive chat.",
        )
    turn = agent.respond([], args.once, override=args.strategy)
    data = {k: turn[k] for k in ("reply", "strategy", "rationale", "user_state", "crisis", "stage", "language")}
    data["language_warning"] = language_warning(turn["reply"], turn["language"]) or None
    warning = f"\n{data['language_warning']}" if data["language_warning"] else ""
    emit(args, data, f"[{turn['strategy'] or 'crisis'}] {turn['reply']}{warning}")
    return 0
