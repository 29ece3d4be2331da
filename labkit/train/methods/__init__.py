"""The training methods, one module each (as TRL keeps one trainer per algorithm): sft, dpo and grpo (one TRL fit
each) and the multi-round recipes icr, lidr and radis. A method's module holds its typed method_args, its row in
the method table (`registry.register`) and, for a multi-stage recipe, its pipeline; labkit/train/selfimprove.py
holds the stage machinery those pipelines share.

Engines add their own methods with `register` (labkit.dmoe registers dmoe-stage1 and dmoe-stage2 when it is
imported); the table imports none of them. Such a method names its job entry point (`worker`), a module of the
engine that registers the method and then runs labkit.train.worker."""

from labkit.train.methods.registry import (
    METHODS,
    Method,
    check_method_args,
    get_method,
    method_args,
    missing_columns,
    register,
)

# Each module registers its row when imported; the table keeps this order.
from labkit.train.methods import sft, dpo, grpo, icr, lidr, radis  # noqa: F401

__all__ = ["METHODS", "Method", "check_method_args", "get_method", "method_args", "missing_columns", "register"]
