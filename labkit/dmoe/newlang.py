"""New-language extension (DMoE step 4), as in the reference (ppl_hard_router.py → add_expert.py → new_lang_adapt.sh):

    labkit dmoe add-language --model DMOE_DIR --language sw --out OUT [--steps 100] [--data corpus]
    labkit dmoe add-language --model DMOE_DIR --language ml,mr --out OUT     # one expert for a group of languages

1. perplexity of the new language's text with every token hard-routed to expert e, for each e;
2. the expert with the lowest perplexity is copied (weights and router row) as a new expert, mapped to the language;
3. a `dmoe-stage1` run (a normal job: monitored, resumable) trains only the MoE parameters, the new language's
   text routed to its new expert with the router cross-entropy — the reference's lr 2e-4, cosine, coef 1.28.

OUT/model is the extended model, OUT/data.jsonl the training text, OUT/trained the result with routing.json.
"""

from __future__ import annotations

import json
from pathlib import Path

from labkit.errors import LabkitError
from labkit.dmoe.analysis import language_texts
from labkit.dmoe.routing import expert_perplexities
from labkit.dmoe.upcycle import add_expert, read_meta
from labkit.jsonl import write_jsonl
from labkit.models import resolve_model
from labkit.train.recipe import from_dict

# the reference's adaptation run (scripts/new_lang_adapt.sh), except the batch
# (there 4 × 30 accumulation × 8 GPUs of 2048 tokens)
TRAINER = {
    "learning_rate": 2e-4,
    "lr_scheduler_type": "cosine",
    "warmup_steps": 0.03,
    "weight_decay": 0.01,
    "per_device_train_batch_size": 4,
    "logging_steps": 1,
    "save_steps": 50,
    "seed": 8,
    "max_length": 512,
}


def pick_expert(model_dir: str, texts: list[str], max_length: int = 512) -> tuple[int, list[float]]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype="auto").eval()
    ppl = expert_perplexities(model, tok, texts, max_length)
    return min(range(len(ppl)), key=ppl.__getitem__), ppl


def languages_of(language: str | list[str]) -> list[str]:
    """`ml,mr` → ["ml", "mr"] (the reference names such a group ml-mr; codes may hold a hyphen, so "," splits)."""
    raw = language if isinstance(language, list) else str(language or "").split(",")
    langs = list(dict.fromkeys(l.strip() for l in raw if l and l.strip()))
    if not langs:
        raise LabkitError("No new language given.", hint="--language sw, or --language ml,mr for a group.")
    return langs


def prepare(
    model: str,
    language: str | list[str],
    out: str | Path,
    steps: int = 100,
    data: dict | None = None,
    trainer: dict | None = None,
    eval_texts: int = 64,
):
    """Steps 1–2 and the recipe of step 3 (not yet launched). Returns (recipe, summary). `language` may name a
    group (`ml,mr`): the expert is picked on their texts together, and all of them are routed to it."""

    path = resolve_model(model)
    meta = read_meta(path)
    if meta is None:
        raise LabkitError(
            f"{model} is not a DMoE model (no dmoe.json).",
            hint="Upcycle and train one first (labkit dmoe upcycle, dmoe-stage1/2).",
        )
    langs = languages_of(language)
    served = [l for l in langs if l in meta["language_to_expert"]]
    if served:
        raise LabkitError(
            f"{served[0]!r} already has expert {meta['language_to_expert'][served[0]]}.",
            hint="Pick languages the model does not serve.",
        )
    texts = {lang: language_texts(lang, data) for lang in langs}
    per_lang = max(1, eval_texts // len(langs))  # the group's texts in equal parts pick its expert
    best, ppl = pick_expert(path, [t for lang in langs for t in texts[lang][:per_lang]])
    out = Path(out)
    added = add_expert(path, best, langs, out / "model")
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "data.jsonl", [{"text": t, "lang": lang} for lang in langs for t in texts[lang]])
    name = "-".join(langs)
    recipe = from_dict(
        {
            "name": f"dmoe-add-{name}",
            "method": "dmoe-stage1",
            "model": {"name": str(out / "model")},
            "data": {"path": str(out / "data.jsonl")},
            "method_args": {"train": "moe", "router_coef": 1.28},
            "trainer": {**TRAINER, **(trainer or {}), "max_steps": int(steps)},
            "output": {"dir": str(out / "trained")},
            "tags": ["dmoe", f"add:{name}"],
        }
    )
    summary = {
        "language": name,
        "languages": langs,
        "perplexities": {str(e): p for e, p in enumerate(ppl)},
        "copied_expert": best,
        "new_expert": added["new_expert"],
        "num_experts": added["num_experts"],
        "model_dir": added["output_dir"],
    }
    (out / "add_language.json").write_text(json.dumps(summary, indent=1))
    return recipe, summary
