"""DMoE training (step 3) as labkit recipes, run by the normal job path (`labkit train recipe.yaml`):

    method: dmoe-stage1    # routing forced to each language's group expert + router cross-entropy (coef 1.28)
    method: dmoe-stage2    # free top-k routing + load-balancing loss (coef 0.02)

Coefficients are the reference's (ZNLP/DMoE scripts/train_dmoe.sh: ROUTER_COEF_S1=1.28, ROUTER_COEF_S2=0.02).
Data: rows with `text` and `lang`; `lang` picks the expert through the model's dmoe.json (stage 1) and
groups the routing statistics. The model is a DMoE checkpoint (`labkit dmoe upcycle`) or a dense Qwen2 model
plus `method_args.analysis` (or `groups` + `moe_layers`): the run then upcycles it first, into RUN/upcycled.

Unlike the reference, which routes a whole batch to the mode of its dataset ids, each sequence is routed to
its own group's expert, so mixed batches are correct. `method_args.train: moe` trains only the experts and
routers of the MoE layers (new-language adaptation). `method_args.pack: true` trains on fixed-length blocks
without EOS between documents, as the reference does (tokenize). After training, the share of each language's
tokens that each expert receives is written to OUTPUT/routing.json and to metrics.jsonl (event "routing")."""

from __future__ import annotations

import json
from pathlib import Path

from labkit.errors import LabkitError
from labkit.train.methods import Method, register
from labkit.train.recipe import Recipe
from labkit.dmoe.analysis import language_texts
from labkit.dmoe.routing import Routing, load_balancing_loss, router_ce_loss
from labkit.dmoe.routing import routing_stats
from labkit.jobs import MetricsWriter
from labkit.models import resolve_model
from labkit.train.trainset import load_dataset
from labkit.train.methods import get_method
from labkit.train.worker import make_callback, make_config, train_to_end, trainer_args

METHOD_ARGS = ("analysis", "groups", "moe_layers", "top_k", "router_coef", "train", "routing_texts", "pack")
COEF = {1: 1.28, 2: 0.02}
ROUTING = "routing.json"
WORKER = "labkit.dmoe.worker"  # a job's entry point: registers these methods, then runs labkit.train.worker


def _as_is(ds, recipe, tok):
    return ds


# Group-then-Scale DMoE (METHODS.md §4): stage 1 forced group routing + router CE, stage 2 free routing + load
# balancing. Registered with the training methods when labkit.dmoe is imported.
register(
    Method(
        "dmoe-stage1",
        "SFTConfig",
        "SFTTrainer",
        (("text", "lang"),),
        _as_is,
        method_args=METHOD_ARGS,
        defaults={"max_length": 1024},
        pipeline="labkit.dmoe.train:run_stage1",
        plots=("loss", "lm_loss", "router_ce", "learning_rate", "grad_norm"),
        worker=WORKER,
    )
)
register(
    Method(
        "dmoe-stage2",
        "SFTConfig",
        "SFTTrainer",
        (("text", "lang"), ("text",)),
        _as_is,
        method_args=METHOD_ARGS,
        defaults={"max_length": 1024},
        pipeline="labkit.dmoe.train:run_stage2",
        plots=("loss", "lm_loss", "load_balancing", "learning_rate", "grad_norm"),
        worker=WORKER,
    )
)


def run_stage1(recipe: Recipe, run_dir: Path, out: Path, resume: bool = False) -> dict:
    return run_stage(recipe, Path(run_dir), Path(out), resume, stage=1)


def run_stage2(recipe: Recipe, run_dir: Path, out: Path, resume: bool = False) -> dict:
    return run_stage(recipe, Path(run_dir), Path(out), resume, stage=2)


def moe_model_dir(recipe: Recipe, run_dir: Path) -> str:
    """The DMoE checkpoint to train: the recipe's model if it is one, else an upcycled copy (made once per run)."""
    from labkit.dmoe.upcycle import read_meta, upcycle, upcycle_from_analysis

    path = resolve_model(recipe.model["name"], revision=recipe.model.get("revision"))
    if read_meta(path):
        return path
    target = run_dir / "upcycled"
    if read_meta(target):  # a resumed run reuses its upcycled model
        return str(target)
    a = recipe.method_args
    top_k = int(a.get("top_k", 2))
    if a.get("analysis"):
        analysis = Path(a["analysis"])
        if not analysis.is_absolute() and recipe.source:
            analysis = Path(recipe.source).parent / analysis
        upcycle_from_analysis(recipe.model["name"], str(analysis), target, top_k=top_k)
    elif a.get("groups") and a.get("moe_layers") is not None:
        upcycle(recipe.model["name"], target, [list(g) for g in a["groups"]], list(a["moe_layers"]), top_k=top_k)
    else:
        raise LabkitError(
            f"{recipe.model['name']} is not a DMoE model and the recipe says how to make one.",
            hint="Set model.name to a `labkit dmoe upcycle` output, or method_args.analysis (or groups + moe_layers).",
        )
    print(f"[dmoe] upcycled {recipe.model['name']} into {target}", flush=True)
    return str(target)


def tokenize(ds, tok, lang_to_expert: dict[str, int], max_length: int, need_lang: bool, pack: bool = False):
    """One row per text (EOS appended, cut at max_length), or with `pack` the reference's blocks: each expert's
    texts concatenated without EOS and cut into blocks of exactly max_length tokens, the short tail dropped
    (ZNLP/DMoE src/dmoe_utils.py ConstantLengthDataset, add_eos_token=False). Packing per expert keeps one
    expert per block, so stage 1's forced routing stays right."""
    if need_lang:
        unknown = sorted({l for l in ds["lang"] if l not in lang_to_expert})
        if unknown:
            raise LabkitError(
                f"The data has languages {unknown} that no expert serves.",
                hint=f"The model's groups cover {', '.join(sorted(lang_to_expert))}; "
                "add a language with `labkit dmoe add-language`.",
            )
    if pack:
        return pack_blocks(ds, tok, lang_to_expert, max_length)
    eos = tok.eos_token or ""

    def row(r):
        ids = tok(r["text"] + eos, truncation=True, max_length=max_length)["input_ids"]
        return {"input_ids": ids, "expert": lang_to_expert.get(r.get("lang"), -1)}

    return ds.map(row, remove_columns=ds.column_names)


def pack_blocks(ds, tok, lang_to_expert: dict[str, int], block: int):
    import datasets

    streams: dict[int, list[int]] = {}
    for r in ds:
        expert = lang_to_expert.get(r.get("lang"), -1)
        streams.setdefault(expert, []).extend(tok(r["text"], add_special_tokens=False)["input_ids"])
    rows = [
        {"input_ids": ids[i : i + block], "expert": expert}
        for expert, ids in streams.items()
        for i in range(0, len(ids) - block + 1, block)
    ]
    if not rows:
        raise LabkitError(
            f"Packing made no block: no expert's text reaches {block} tokens.",
            hint="Lower trainer.max_length, add text, or set method_args.pack: false.",
        )
    return datasets.Dataset.from_list(rows)


def collator(pad_id: int):
    def collate(rows):
        import torch

        n = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), n), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), n), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r["input_ids"])] = torch.tensor(r["input_ids"])
            mask[i, : len(r["input_ids"])] = 1
        return {
            "input_ids": ids,
            "attention_mask": mask,
            "labels": ids.masked_fill(mask == 0, -100),
            "expert": torch.tensor([r["expert"] for r in rows], dtype=torch.long),
        }

    return collate


def make_trainer_class():
    from transformers import Trainer

    class DMoETrainer(Trainer):
        """LM loss + the stage's router loss, with routing forced (stage 1) or free (stage 2)."""

        def __init__(self, *args, stage: int, coef: float, **kw):
            super().__init__(*args, **kw)
            self.stage, self.coef = stage, coef
            self.routing = Routing(self.model)
            self.model_accepts_loss_kwargs = (
                False  # our loss is a per-batch mean: the Trainer scales it for accumulation
            )
            self._sums: dict[str, float] = {}
            self._count = 0

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            experts = inputs.pop("expert")
            self.routing.reset()
            self.routing.forced = experts if self.stage == 1 else None
            outputs = model(**inputs)
            if self.stage == 1:
                name, aux = "router_ce", router_ce_loss(self.routing.logits, experts, inputs.get("attention_mask"))
            else:
                cfg = self.routing.routers[0]
                name, aux = (
                    "load_balancing",
                    load_balancing_loss(self.routing.logits, cfg.num_experts, cfg.top_k, inputs.get("attention_mask")),
                )
            loss = outputs.loss + self.coef * aux
            for k, v in (("lm_loss", outputs.loss), (name, aux)):
                self._sums[k] = self._sums.get(k, 0.0) + float(v.detach())
            self._count += 1
            return (loss, outputs) if return_outputs else loss

        def log(self, logs, *args, **kw):
            if self._count and "loss" in logs:
                logs.update({k: v / self._count for k, v in self._sums.items()})
                self._sums, self._count = {}, 0
            super().log(logs, *args, **kw)

    return DMoETrainer


def freeze_to_moe(model) -> int:
    """Only the MoE layers' experts and routers learn (the reference's only_tune_moe); returns trainable count."""
    n = 0
    for name, p in model.named_parameters():
        p.requires_grad = ".mlp.experts." in name or ".mlp.gate." in name
        n += p.numel() if p.requires_grad else 0
    return n


def run_stage(recipe: Recipe, run_dir: Path, out: Path, resume: bool, stage: int) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from labkit.dmoe.upcycle import read_meta, write_meta

    a = recipe.method_args
    model_dir = moe_model_dir(recipe, run_dir)
    meta = read_meta(model_dir)
    tok = AutoTokenizer.from_pretrained(model_dir)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    dtype = recipe.model.get("dtype", "auto")
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype="auto" if dtype == "auto" else getattr(torch, dtype))
    if a.get("train", "all") == "moe":
        print(f"[dmoe] training only the MoE experts and routers: {freeze_to_moe(model):,} parameters", flush=True)
    elif a.get("train", "all") != "all":
        raise LabkitError(
            f"method_args.train = {a['train']!r}.", hint="all (every parameter) or moe (experts and routers only)."
        )
    config_cls, _ = get_method(recipe.method).classes()
    targs = {**trainer_args(recipe, out), "remove_unused_columns": False}
    args = make_config(config_cls, targs)
    raw = load_dataset(recipe)
    if stage == 1 and "lang" not in raw.column_names:
        raise LabkitError(
            "Stage 1 needs a 'lang' column: it routes each text to its language's group expert.",
            hint='Rows like {"text": ..., "lang": "zh"}; map yours with data.columns.',
        )
    ds = tokenize(
        raw,
        tok,
        meta["language_to_expert"],
        int(getattr(args, "max_length", None) or 1024),
        need_lang=stage == 1,
        pack=bool(a.get("pack", False)),
    )
    trainer = make_trainer_class()(
        model=model,
        args=args,
        train_dataset=ds,
        data_collator=collator(tok.pad_token_id),
        processing_class=tok,
        callbacks=[make_callback(run_dir)],
        stage=stage,
        coef=float(a.get("router_coef", COEF[stage])),
    )
    final = train_to_end(trainer, out, resume)
    if trainer.is_world_process_zero():
        trainer.routing.remove()
        trainer.save_model(str(out))
        tok.save_pretrained(str(out))
        meta = {**meta, "stage": stage, "trained_from": model_dir}
        write_meta(out, meta)
        if trainer.accelerator.num_processes > 1:  # sharded weights (ZeRO-3/FSDP) cannot be run from one process here
            print(f"[dmoe] routing statistics: run `labkit dmoe routing --model {out}`", flush=True)
        elif "lang" in raw.column_names:
            texts: dict[str, list[str]] = {}
            for r in raw:
                if len(texts.setdefault(r["lang"], [])) < int(a.get("routing_texts", 32)):
                    texts[r["lang"]].append(r["text"])
            model.eval()
            stats = write_routing(model, tok, texts, out / ROUTING, meta)
            MetricsWriter(run_dir).log(
                event="routing",
                step=trainer.state.global_step,
                **{
                    f"routing/{l}/expert{e}": s
                    for l, v in stats["languages"].items()
                    for e, s in enumerate(v["experts"])
                },
            )
    return final


def write_routing(model, tok, texts: dict[str, list[str]], path: Path, meta: dict | None = None) -> dict:
    """Routing statistics per language (free routing) → `path` (routing.json)."""

    meta = meta or {}
    stats = {
        "languages": routing_stats(model, tok, texts),
        "language_to_expert": meta.get("language_to_expert"),
        "moe_layers": meta.get("moe_layers"),
        "num_experts": model.config.num_experts,
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(stats, indent=1, ensure_ascii=False))
    return stats


def measure_routing(
    model: str,
    data: dict | None = None,
    languages: list[str] | None = None,
    out: str | None = None,
    skip_missing: bool = True,
) -> dict:
    """Routing statistics of a DMoE model on each language's text → routing.json (beside the model unless `out`)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from labkit.dmoe.upcycle import read_meta

    path = resolve_model(model)
    meta = read_meta(path) or {}
    langs = languages or list(meta.get("language_to_expert") or {})
    if not langs:
        raise LabkitError("No languages to measure.", hint="--languages en,zh,...")
    texts = {}
    for lang in langs:
        try:
            texts[lang] = language_texts(lang, data)[:64]
        except LabkitError:
            if not skip_missing:
                raise
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype="auto").eval()
    return write_routing(model, tok, texts, Path(out or Path(path) / ROUTING), meta)
