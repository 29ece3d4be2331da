"""The training methods: for each, the TRL config and trainer, the columns it needs, how rows become
TRL's conversational format, and method-specific settings. One table, no if/elif on method names.

Engines add their own methods with `register` (labkit.dmoe registers dmoe-stage1 and dmoe-stage2 when it is
imported); this registry imports none of them. Such a method names its job entry point (`worker`), a module of the
engine that registers the method and then runs labkit.train.worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable

from labkit.errors import LabkitError, unknown
from labkit.train.methods import args as margs
from labkit.train.recipe import Recipe
from labkit.evaluate.tasks import Doc, get_task
from labkit.train import rewards


def _user(text) -> list[dict]:
    return text if isinstance(text, list) else [{"role": "user", "content": str(text)}]


def _assistant(text) -> list[dict]:
    if isinstance(text, list):  # a whole conversation (UltraFeedback style): keep what follows the last user turn
        last_user = max((i for i, m in enumerate(text) if m.get("role") == "user"), default=-1)
        return text[last_user + 1 :]
    return [{"role": "assistant", "content": str(text)}]


# --- per-method data preparation -------------------------------------------------------------------
def prep_sft(ds, recipe: Recipe, tok):
    """messages → kept (assistant-only loss when the chat template marks assistant turns with
    {% generation %}, else the final assistant turn as a completion); prompt/completion → conversational."""
    if "messages" in ds.column_names:
        if "{% generation %}" in (tok.chat_template or ""):
            return ds.select_columns(["messages"])

        def split(row):
            msgs = row["messages"]
            if not msgs or msgs[-1]["role"] != "assistant":
                raise LabkitError(
                    "An SFT conversation does not end with an assistant turn.",
                    hint="Each messages list must end with the reply to learn.",
                )
            return {"prompt": msgs[:-1], "completion": msgs[-1:]}

        return ds.map(split, remove_columns=ds.column_names)
    if "prompt" not in ds.column_names:  # plain text (a curated pretraining set): language modelling on the whole text
        return ds.select_columns(["text"])
    return ds.map(
        lambda r: {"prompt": _user(r["prompt"]), "completion": _assistant(r["completion"])},
        remove_columns=ds.column_names,
    )


def prep_dpo(ds, recipe: Recipe, tok):
    return ds.map(
        lambda r: {
            "prompt": _user(r["prompt"]),
            "chosen": _assistant(r["chosen"]),
            "rejected": _assistant(r["rejected"]),
        },
        remove_columns=ds.column_names,
    )


def prep_grpo(ds, recipe: Recipe, tok):
    """Questions become prompts through the Evaluate task's own template (same answer format the reward reads)."""

    task = get_task(recipe.method_args.get("task", "mgsm"))
    variant = recipe.method_args.get("variant")

    def row(r):
        lang = r.get("lang") or "en"
        prompt = (
            r["prompt"]
            if "prompt" in r and r["prompt"]
            else task.prompt(Doc(str(r.get("id", "")), lang, r["question"], r["answer"]), variant)
        )
        return {"prompt": _user(prompt), "answer": r["answer"], "lang": lang}

    return ds.map(row, remove_columns=ds.column_names)


# --- per-method config and trainer arguments ------------------------------------------------------
def dpo_config(recipe: Recipe) -> dict:
    w = recipe.method_args.get("nll_weight")
    return {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, float(w)]} if w else {}


def grpo_trainer_kwargs(recipe: Recipe, tok) -> dict:

    names = recipe.method_args.get("rewards", ["correctness", "format"])
    return {"reward_funcs": rewards.build(names, recipe.method_args.get("task", "mgsm"), tok.eos_token_id)}


def grpo_config(recipe: Recipe) -> dict:
    w = recipe.method_args.get("reward_weights")
    return {"reward_weights": list(w)} if w else {}


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
    args: type | None = None  # typed method_args (method_args.py), checked when the recipe loads
    worker: str = "labkit.train.worker"  # what a job runs (python -m): an engine's method gives its own entry point

    def __post_init__(self):
        if self.args is not None and not self.method_args:  # the typed settings name the accepted keys
            object.__setattr__(self, "method_args", margs.names(self.args))

    def classes(self):
        import trl

        return getattr(trl, self.config), getattr(trl, self.trainer)


def _self_improving_dpo(name: str, args: type, pipeline: str) -> Method:
    """A multi-round recipe whose every round is a DPO fit on pairs it built itself (ICR, LIDR)."""
    return Method(
        name,
        "DPOConfig",
        "DPOTrainer",
        (("id", "lang", "prompt"),),
        prep_dpo,
        config_kwargs=dpo_config,
        args=args,
        defaults={"max_length": 1024, "beta": 0.1},
        pipeline=pipeline,
        plots=("loss", "rewards/margins", "rewards/accuracies"),
    )


METHODS = {
    "sft": Method(
        "sft",
        "SFTConfig",
        "SFTTrainer",
        (("messages",), ("prompt", "completion"), ("text",)),
        prep_sft,
        defaults={"max_length": 1024},
        plots=("loss", "learning_rate", "grad_norm", "mean_token_accuracy"),
    ),
    "dpo": Method(
        "dpo",
        "DPOConfig",
        "DPOTrainer",
        (("prompt", "chosen", "rejected"),),
        prep_dpo,
        config_kwargs=dpo_config,
        method_args=("nll_weight",),
        defaults={"max_length": 1024, "beta": 0.1},
        plots=("loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "learning_rate"),
    ),
    "grpo": Method(
        "grpo",
        "GRPOConfig",
        "GRPOTrainer",
        (("question", "answer"), ("prompt", "answer")),
        prep_grpo,
        config_kwargs=grpo_config,
        trainer_kwargs=grpo_trainer_kwargs,
        method_args=("task", "rewards", "reward_weights", "variant"),
        defaults={"num_generations": 4, "max_completion_length": 256, "temperature": 1.0},
        plots=(
            "reward",
            "reward_std",
            "rewards/correctness/mean",
            "rewards/format/mean",
            "rewards/language/mean",
            "kl",
            "completions/mean_length",
            "loss",
        ),
    ),
    # Multi-stage self-improvement recipes: orchestration over the methods above (METHODS.md §2, §3, §10).
    "icr": _self_improving_dpo("icr", margs.ICRArgs, "labkit.train.selfimprove:run_icr"),
    "lidr": _self_improving_dpo("lidr", margs.LIDRArgs, "labkit.train.selfimprove:run_lidr"),
    "radis": Method(
        "radis",
        "SFTConfig",
        "SFTTrainer",
        (("source", "reference"),),
        prep_sft,
        args=margs.RaDisArgs,
        defaults={"max_length": 1024},
        pipeline="labkit.train.selfimprove:run_radis",
    ),
}


def register(method: Method) -> Method:
    """Add an engine's method to the table (by name: registering again replaces the row)."""
    METHODS[method.name] = method
    return method


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise unknown("method", name, METHODS)
    return METHODS[name]


def method_args(recipe: Recipe):
    """The recipe's typed method arguments (a dataclass of method_args.py), or None for a method without one."""
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
