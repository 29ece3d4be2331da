"""Typed `method_args`: a multi-stage method (ICR, LIDR, RaDis) declares them as one dataclass in its own module,
with the papers' or their reference code's defaults (docs/selfimprove.md says which and where labkit departs).
`parse` turns the recipe's mapping into that dataclass when the recipe loads: an unknown key fails with a
did-you-mean, a wrong type or value names the field, before any process starts.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Literal

from labkit.errors import LabkitError
from labkit.errors import did_you_mean

# The self-translation prompt, a default of both ICR's and LIDR's arguments.
# ZNLP/Language-Imbalance-Driven-Rewarding, utils/trans_prompts.py: the model's reply is primed with "<translated>\n",
# and a translation counts only when the closing tag follows.
TRANSLATE_PROMPT = (
    "Please translate the following sentences into {tgt}. The input sentences are wrapped by <sentence> and "
    "</sentence>:\n\n<sentence>\n{text}\n</sentence>\n\nThe translated result should be wrapped by <translated> "
    "and </translated>.\n"
)


def positive(args, *names: str) -> None:
    for n in names:
        if getattr(args, n) < 1:
            raise LabkitError(f"method_args.{n} must be ≥ 1, got {getattr(args, n)}.")


def names(cls) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def parse(cls, given: dict | None, method: str):
    """The recipe's `method_args` mapping → `cls`, every key and type checked."""

    given = dict(given or {})
    hints = typing.get_type_hints(cls)
    for key in given:
        if key not in hints:
            raise LabkitError(f"Unknown key method_args.{key} for {method}.", hint=did_you_mean(key, hints))
    required = [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    missing = [k for k in required if given.get(k) in (None, "")]
    if missing:
        raise LabkitError(
            f"{method} needs method_args.{missing[0]}.",
            hint=cls.__dataclass_fields__[missing[0]].metadata.get("hint", ""),
        )
    return cls(**{k: _check(f"method_args.{k}", hints[k], v) for k, v in given.items()})


def _check(name: str, tp, value):
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return _check(name, next(a for a in args if a is not type(None)), value)
    if origin is Literal:
        if value not in args:
            raise LabkitError(
                f"{name} must be one of {', '.join(map(str, args))}; got {value!r}.", hint="See docs/selfimprove.md."
            )
        return value
    ok = {
        bool: lambda v: isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        str: lambda v: isinstance(v, str),
        list: lambda v: isinstance(v, list),
        dict: lambda v: isinstance(v, dict),
    }[tp]
    if not ok(value):
        kind = {
            bool: "true or false",
            int: "an integer",
            float: "a number",
            str: "a string",
            list: "a list",
            dict: "a mapping",
        }[tp]
        raise LabkitError(
            f"{name} must be {kind}; got {value!r}.", hint="Check the recipe's method_args (or your --set)."
        )
    return float(value) if tp is float else value
