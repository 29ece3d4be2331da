"""GRPO on question/answer rows through TRL's GRPOTrainer: prompts come from the Evaluate task's template and the
rewards (labkit/train/rewards.py) read the answer the same way the task scores it."""

from __future__ import annotations

from labkit.evaluate.tasks import Doc, get_task
from labkit.train import rewards
from labkit.train.methods.registry import Method, register
from labkit.train.methods.sft import user_turns
from labkit.train.recipe import Recipe


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
        return {"prompt": user_turns(prompt), "answer": r["answer"], "lang": lang}

    return ds.map(row, remove_columns=ds.column_names)


def grpo_trainer_kwargs(recipe: Recipe, tok) -> dict:

    names = recipe.method_args.get("rewards", ["correctness", "format"])
    return {"reward_funcs": rewards.build(names, recipe.method_args.get("task", "mgsm"), tok.eos_token_id)}


def grpo_config(recipe: Recipe) -> dict:
    w = recipe.method_args.get("reward_weights")
    return {"reward_weights": list(w)} if w else {}


register(
    Method(
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
    )
)
