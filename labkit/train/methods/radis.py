"""RaDis, rationale distillation (METHODS.md §10; arXiv 2410.13944): its typed method_args, its row in the method
table and its pipeline.

The frozen original model writes a rationale for each (source, reference) translation pair; SFT targets = reference
followed by the rationale, with `labels` that give the prompt no loss and the rationale loss only when
`rationale_loss` is on. The stage machinery is labkit/train/selfimprove.py's.

    labkit train configs/train/radis-tiny.yaml
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from labkit.backends import GenParams
from labkit.jsonl import read_jsonl, write_jsonl
from labkit.languages import NAMES as LANG_NAMES
from labkit.models import resolve_model
from labkit.train import selfimprove
from labkit.train import worker  # as a module: the worker imports the method table, which imports this module
from labkit.train.trainset import load_dataset
from labkit.train.methods.args import positive
from labkit.train.methods.registry import Method, method_args, register
from labkit.train.methods.sft import prep_sft
from labkit.train.recipe import Recipe

# RaDis's prompts are not public: labkit's own wording, both settings.
RATIONALE_PROMPT = (
    "Here is a {src} sentence and its {tgt} translation.\nSource: {source}\nTranslation: {reference}\n"
    "Explain briefly how the translation conveys the meaning of the source."
)

TRANSLATE_TASK = "Translate the following {src} text into {tgt}.\n{source}"


@dataclass
class RaDisArgs:
    """RaDis rationale distillation (arXiv 2410.13944); its prompts are not public."""

    rationale_prompt: str = RATIONALE_PROMPT
    translate_prompt: str = TRANSLATE_TASK
    rationale_loss: bool = True  # false: the rationale is context only, no loss on its tokens
    max_new_tokens: int = 256
    src_lang: str = "en"
    tgt_lang: str = "zh"
    limit: int | None = None
    backend: str = "hf"

    def __post_init__(self):
        positive(self, "max_new_tokens")


register(
    Method(
        "radis",
        "SFTConfig",
        "SFTTrainer",
        (("source", "reference"),),
        prep_sft,
        args=RaDisArgs,
        defaults={"max_length": 1024},
        pipeline="labkit.train.methods.radis:run_radis",
    )
)


def radis_example(tok, prompt: str, reference: str, rationale: str, rationale_loss: bool) -> dict:
    """Pre-tokenised SFT example with its own `labels` (TRL uses a `labels` column as is): -100 on the prompt,
    the reference (+ EOS) learned, the rationale learned only if `rationale_loss`."""
    p_text = tok.apply_chat_template(selfimprove.user(prompt), tokenize=False, add_generation_prompt=True)
    p_ids = tok(p_text, add_special_tokens=False)["input_ids"]
    ref_ids = tok(reference, add_special_tokens=False)["input_ids"]
    rat_ids = tok("\n\n" + rationale, add_special_tokens=False)["input_ids"] if rationale else []
    eos = [tok.eos_token_id]
    labels = [-100] * len(p_ids) + ref_ids + (rat_ids if rationale_loss else [-100] * len(rat_ids)) + eos
    return {"input_ids": p_ids + ref_ids + rat_ids + eos, "labels": labels}


def _radis_names(args: RaDisArgs, row: dict) -> tuple[str, str]:
    return (
        LANG_NAMES.get(row.get("src_lang") or args.src_lang, "source-language"),
        LANG_NAMES.get(row.get("tgt_lang") or args.tgt_lang, "target-language"),
    )


def radis_rationales(out: Path, rows: list[dict], args: RaDisArgs, model: str) -> dict:
    """The frozen original model explains each (source, reference) pair."""

    prompts = [
        selfimprove.user(args.rationale_prompt.format(src=_radis_names(args, x)[0], tgt=_radis_names(args, x)[1], **x))
        for x in rows
    ]
    outs = selfimprove.open_backend(args.backend, model).generate(
        prompts, GenParams(max_new_tokens=args.max_new_tokens)
    )
    write_jsonl(out, [{**x, "rationale": o[0].strip()} for x, o in zip(rows, outs)])
    return {"examples": len(rows), "empty_rationales": sum(not o[0].strip() for o in outs)}


def radis_dataset(tok, rows: list[dict], args: RaDisArgs):
    from datasets import Dataset

    return Dataset.from_list(
        [
            radis_example(
                tok,
                args.translate_prompt.format(src=_radis_names(args, x)[0], tgt=_radis_names(args, x)[1], **x),
                x["reference"],
                x["rationale"],
                args.rationale_loss,
            )
            for x in rows
        ]
    )


def radis_sft_recipe(recipe: Recipe) -> Recipe:
    sub = copy.deepcopy(recipe)
    sub.method, sub.method_args = "sft", {}
    return sub


def radis_train(out: Path, recipe: Recipe, run_dir: Path, rationales_path: Path, args: RaDisArgs) -> dict:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(resolve_model(recipe.model["name"]))
    final, _ = worker.fit(
        radis_sft_recipe(recipe),
        run_dir,
        out,
        dataset=radis_dataset(tok, read_jsonl(rationales_path), args),
        extra_log={"round": 1},
    )
    return {k: final[k] for k in ("loss", "mean_token_accuracy", "train_loss") if k in final}


def run_radis(recipe: Recipe, run_dir: Path, out: Path, resume: bool = False) -> dict:

    args: RaDisArgs = method_args(recipe)
    pipe = selfimprove.Pipeline(run_dir)
    rows = [dict(x) for x in load_dataset(copy.deepcopy(recipe))][: args.limit or None]
    rationales = pipe.stage(
        1, "rationales.jsonl", partial(radis_rationales, rows=rows, args=args, model=recipe.model["name"])
    )
    pipe.stage(1, "model", partial(radis_train, recipe=recipe, run_dir=run_dir, rationales_path=rationales, args=args))
    pipe.record_round(
        1, {**pipe.stats(1, "rationales.jsonl"), **{f"sft/{k}": v for k, v in pipe.stats(1, "model").items()}}
    )
    return selfimprove.finish(pipe, str(pipe.path(1, "model")), out)
