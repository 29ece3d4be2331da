"""DPO on prompt/chosen/rejected rows through TRL's DPOTrainer; `method_args.nll_weight` adds the NLL term
(DPO + NLL). The multi-round recipes whose rounds are DPO fits (ICR, LIDR) take their row from `self_improving`."""

from __future__ import annotations

from labkit.train.methods.registry import Method, register
from labkit.train.methods.sft import assistant_turns, user_turns
from labkit.train.recipe import Recipe


def prep_dpo(ds, recipe: Recipe, tok):
    return ds.map(
        lambda r: {
            "prompt": user_turns(r["prompt"]),
            "chosen": assistant_turns(r["chosen"]),
            "rejected": assistant_turns(r["rejected"]),
        },
        remove_columns=ds.column_names,
    )


def dpo_config(recipe: Recipe) -> dict:
    w = recipe.method_args.get("nll_weight")
    return {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, float(w)]} if w else {}


register(
    Method(
        "dpo",
        "DPOConfig",
        "DPOTrainer",
        (("prompt", "chosen", "rejected"),),
        prep_dpo,
        config_kwargs=dpo_config,
        method_args=("nll_weight",),
        defaults={"max_length": 1024, "beta": 0.1},
        plots=("loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "learning_rate"),
    )
)


def self_improving(name: str, args: type, pipeline: str) -> Method:
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
