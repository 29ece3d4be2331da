"""What every engine's command-line module shares: how a command is registered, prints and shows progress.

One convention for every engine (as TRL's scripts): `labkit/<engine>/cli.py` has `add_arguments(subparsers)`,
which registers its commands with `command(...)`; each command's parser carries the function that runs it as its
`func` default, and that function takes the parsed arguments and returns the exit code. `labkit/cli.py` only
composes the engines' modules. A LabkitError raised by a command is printed by the face and exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from contextlib import contextmanager, redirect_stdout
from typing import Any

from labkit.backends import REGISTRY


_JSON_OUT: list = []  # the real stdout while a --json command runs (json_stdout): every other print goes to stderr


@contextmanager
def json_stdout(args):
    """Under --json, stdout holds one JSON document: whatever else the command prints (TRL's log dictionaries,
    a library's progress) goes to stderr while it runs, and emit() writes to the real stdout."""
    if not getattr(args, "json", False):
        yield
        return
    _JSON_OUT.append(sys.stdout)
    try:
        with redirect_stdout(sys.stderr):
            yield
    finally:
        _JSON_OUT.pop()


def emit(args, data: Any, human: str | None = None) -> None:
    """`data` as one JSON line under --json; otherwise `human` (or the data, indented)."""
    if getattr(args, "json", False):
        out = _JSON_OUT[-1] if _JSON_OUT else sys.stdout
        print(json.dumps(data, ensure_ascii=False, indent=None, default=str), file=out, flush=True)
    else:
        print(human if human is not None else json.dumps(data, ensure_ascii=False, indent=2, default=str))


def command(
    subparsers, name: str, func: Callable[[Any], int], help: str, aliases: tuple[str, ...] = ()
) -> argparse.ArgumentParser:
    """A command's parser, with --json and `func` (what runs it); `aliases` are older names that still work."""
    sp = subparsers.add_parser(name, help=help, description=help, aliases=list(aliases))
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    sp.set_defaults(func=func)
    return sp


def add_backend(sp, default: str | None = "hf", help: str | None = None) -> None:
    sp.add_argument("--backend", default=default, choices=list(REGISTRY), help=help)


def progress_bar(args) -> Callable[[int, int], None]:
    """A tqdm bar on stderr, fed (done, total); silent under --json or when stderr is not a terminal."""
    if args.json or not sys.stderr.isatty():
        return lambda done, total: None
    from tqdm import tqdm

    bar = tqdm(total=0, unit="sample", file=sys.stderr)

    def update(done, total):
        bar.total = total
        bar.n = done
        bar.refresh()

    return update
