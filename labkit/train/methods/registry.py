"""The table of training methods: for each, the TRL config and trainer, the columns it needs, how rows become
TRL's conversational format, and method-specific settings. One table, no if/elif on method names.

Each method's module (labkit/train/methods/<name>.py) adds its row with `register`; engines add theirs the same way
(labkit.dmoe registers dmoe-stage1 and dmoe-stage2 when it is imported), and this table imports none of them. Such a
method names its job entry point (`worker`), a module of the engine that registers the method and then runs
labkit.train.worker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from labkit.errors import unknown
from labkit.train.methods import args as margs
from labkit.train.recipe import Recipe


@dataclass(frozen=True)
class Method:
    name: str
    config: str  # TRL class names
    trainer: str
    columns: tuple[tuple[str, ...], ...]  # alternatives: the data must have every column of one of them
    prepare: Callable
    config_kwargs: Callable[[Recipe], dict] = lambda r: {}
    trainer_kwargs: Callable = lambda r, tok: {}
    method_args: tuple[str, ...] = ()
    defaults: dict = field(default_factory=dict)
    plots: tuple[str, ...] = ("loss", "learning_rate", "grad_norm")
    pipeline: str | None = None  # "module:function" for multi-stage recipes; None = one TRL fit
    args: type | None = None  # typed method_args (a dataclass in the method's module), checked when the recipe loads
    worker: str = "labkit.train.worker"  # what a job runs (python -m): an engine's method gives its own entry point

    def __post_init__(self):
        if self.args is not None and not self.method_args:  # the typed settings name the accepted keys
            object.__setattr__(self, "method_args", margs.names(self.args))

    def classes(self):
        import trl

        return getattr(trl, self.config), getattr(trl, self.trainer)


METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add an engine's method to the table (by name: registering again replaces the row)."""
    METHODS[method.name] = method
    return method


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise unknown("method", name, METHODS)
    return METHODS[name]


def method_args(recipe: Recipe):
    """The recipe's typed method arguments (the dataclass its method declares), or None for a method without one."""
    m = METHODS.get(recipe.method)
    return margs.parse(m.args, recipe.method_args, recipe.method) if m and m.args else None


def check_method_args(method: str, given: dict) -> None:
    """Called when a recipe loads: typos and wrong types in a pipeline's method_args fail there."""
    m = METHODS.get(method)
    if m and m.args:
        margs.parse(m.args, given, method)


def missing_columns(method: Method, columns: list[str]) -> list[str] | None:
    """None when one alternative is complete, else the columns of the closest alternative that are missing."""
    best = None
    for alt in method.columns:
        miss = [c for c in alt if c not in columns]
        if not miss:
            return None
        if best is None or len(miss) < len(best):
            best = miss
    return best
