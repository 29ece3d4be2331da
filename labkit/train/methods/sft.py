"""SFT: conversations (`messages`), prompt/completion pairs or plain text, through TRL's SFTTrainer."""

from __future__ import annotations

from labkit.errors import LabkitError
from labkit.train.methods.registry import Method, register
from labkit.train.recipe import Recipe


def user_turns(text) -> list[dict]:
    return text if isinstance(text, list) else [{"role": "user", "content": str(text)}]


def assistant_turns(text) -> list[dict]:
    if isinstance(text, list):  # a whole conversation (UltraFeedback style): keep what follows the last user turn
        last_user = max((i for i, m in enumerate(text) if m.get("role") == "user"), default=-1)
        return text[last_user + 1 :]
    return [{"role": "assistant", "content": str(text)}]


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
        lambda r: {"prompt": user_turns(r["prompt"]), "completion": assistant_turns(r["completion"])},
        remove_columns=ds.column_names,
    )


register(
    Method(
        "sft",
        "SFTConfig",
        "SFTTrainer",
        (("messages",), ("prompt", "completion"), ("text",)),
        prep_sft,
        defaults={"max_length": 1024},
        plots=("loss", "learning_rate", "grad_norm", "mean_token_accuracy"),
    )
)
