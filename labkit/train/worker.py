"""The training process: `python -m labkit.train.worker RUN_DIR/recipe.yaml [--resume]`, started by the
job launcher (or by `accelerate launch -m labkit.train.worker` for several processes).

It builds the model, data and TRL trainer from the recipe, logs every TRL log line to metrics.jsonl and
the store (main process only), saves the model and tokenizer, writes final_metrics.json and the inputs
of the model card, then optionally evaluates the result and pushes it to the Hub.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from labkit.errors import LabkitError
from labkit.train.methods import get_method
from labkit.train.recipe import Recipe, load
from labkit import hub, jobs
from labkit.evaluate.service import run_eval
from labkit.evaluate.spec import EvalSpec
from labkit.jobs import MetricsWriter, StoreMetrics
from labkit.models import resolve_model
from labkit.train.trainset import load_dataset

FINAL = "final_metrics.json"


def output_dir(recipe: Recipe, run_dir: Path) -> Path:
    return Path(recipe.output.get("dir") or run_dir / "output")


def trainer_args(recipe: Recipe, out: Path, cuda: bool | None = None) -> dict:
    """TRL config kwargs: labkit's defaults, then the method's, then the recipe's `trainer:` (which wins)."""
    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    bf16 = bool(cuda) and _bf16_ok()
    base = {
        "output_dir": str(out),
        "report_to": "none",
        "use_cpu": not cuda,
        "bf16": bf16,
        "gradient_checkpointing": False,
        "logging_steps": 1,
        "save_strategy": "steps",
        "save_steps": 50,
        "save_total_limit": 2,
    }
    method = get_method(recipe.method)
    return {**base, **method.defaults, **method.config_kwargs(recipe), **recipe.trainer}


# transformers 5.2x renamed gradient_checkpointing(_kwargs) to activation_checkpointing(_kwargs): the old names still
# work but warn, and are ignored once the new one is set. labkit and its recipes use the old names (every supported
# transformers knows them); they are passed under the new ones where the config class has them.
RENAMED = {
    "gradient_checkpointing": "activation_checkpointing",
    "gradient_checkpointing_kwargs": "activation_checkpointing_kwargs",
}


def make_config(config_cls, kwargs: dict):
    """`config_cls(**kwargs)` (a TRL config), with renamed settings passed under their current names."""
    import dataclasses

    names = {f.name for f in dataclasses.fields(config_cls)}
    current = {}
    for key, value in kwargs.items():  # in order: a later setting (the recipe's) wins over an earlier default
        new = RENAMED.get(key)
        current[new if new in names else key] = value
    return config_cls(**current)


def _bf16_ok() -> bool:
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def peft_config(recipe: Recipe):
    lora = recipe.model.get("lora")
    if not lora:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=int(lora.get("r", 16)),
        lora_alpha=int(lora.get("alpha", 32)),
        lora_dropout=float(lora.get("dropout", 0.05)),
        target_modules=lora.get("target_modules", "all-linear"),
        task_type="CAUSAL_LM",
    )


def load_model(recipe: Recipe):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model(recipe.model["name"], revision=recipe.model.get("revision"))
    tok = AutoTokenizer.from_pretrained(path, trust_remote_code=recipe.model.get("trust_remote_code", False))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    dtype = recipe.model.get("dtype", "auto")
    kwargs = {
        "dtype": "auto" if dtype == "auto" else getattr(torch, dtype),
        "trust_remote_code": recipe.model.get("trust_remote_code", False),
    }
    if (recipe.model.get("lora") or {}).get("qlora"):
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16
        )
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    return model, tok, path


def make_callback(run_dir: Path, extra: dict | None = None):
    import torch
    from transformers import TrainerCallback

    class LabkitCallback(TrainerCallback):
        """metrics.jsonl (every log line) and the store (at most once a second, and at the end), from the main
        process only."""

        def __init__(self):
            self.writer = MetricsWriter(run_dir)
            job = jobs.current()
            self.store = StoreMetrics(job.id) if job else None
            self.prefix = f"round{extra['round']}/" if extra and "round" in extra else ""
            self.gpu = torch.cuda if torch.cuda.is_available() else None  # asked once, not at every step

        def on_train_begin(self, args, state, control, **kw):
            if state.is_world_process_zero:
                self.writer.log(event="begin", step=state.global_step, max_steps=state.max_steps)

        def on_log(self, args, state, control, logs=None, **kw):
            if not state.is_world_process_zero or not logs:
                return
            values = {k: float(v) for k, v in logs.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            if self.gpu:
                values["gpu_mem_gb"] = self.gpu.max_memory_allocated() / 2**30
            self.writer.log(step=state.global_step, max_steps=state.max_steps, **(extra or {}), **values)
            if self.store:
                values = {**values, "step": state.global_step, "max_steps": state.max_steps}
                self.store.update({f"{self.prefix}{k}": v for k, v in values.items()})

        def on_save(self, args, state, control, **kw):
            if state.is_world_process_zero:
                self.writer.log(event="checkpoint", step=state.global_step)
                if self.store:
                    self.store.flush()

        def on_train_end(self, args, state, control, **kw):
            if state.is_world_process_zero and self.store:
                self.store.flush()

    return LabkitCallback()


def last_complete_checkpoint(out: Path) -> str | None:
    """The newest checkpoint-N that was written to the end. A run killed while saving leaves a folder
    without trainer_state.json (written last) or with a torn one (cut short: not a JSON object); resuming from it
    would fail on every retry, so it is skipped and the previous complete checkpoint is used."""
    if not out.exists():
        return None
    found = sorted(
        (d for d in out.glob("checkpoint-*") if d.name.split("-")[-1].isdigit()),
        key=lambda d: int(d.name.split("-")[-1]),
        reverse=True,
    )
    for d in found:
        problem = _state_problem(d / "trainer_state.json")
        if problem is None:
            return str(d)
        print(f"[labkit] skipping incomplete {d.name} ({problem}: the run stopped while saving it)", flush=True)
    return None


def _state_problem(path: Path) -> str | None:
    """Why a checkpoint's trainer_state.json cannot be resumed from, or None when it is a whole JSON object."""
    try:
        state = json.loads(path.read_bytes())
    except FileNotFoundError:
        return "no trainer_state.json"
    except (OSError, ValueError):
        return "a torn trainer_state.json"
    return None if isinstance(state, dict) else "a torn trainer_state.json"


def build_trainer(recipe: Recipe, run_dir: Path, out: Path, dataset=None, extra_log: dict | None = None):
    """The TRL trainer of `recipe` (sft/dpo/grpo) writing into `out`; `dataset` overrides the recipe's data
    (pipelines pass what they built). Tests read `trainer.train_dataset` and `trainer.data_collator` from it."""

    method = get_method(recipe.method)
    model, tok, _ = load_model(recipe)
    ds = dataset if dataset is not None else method.prepare(load_dataset(recipe), recipe, tok)
    config_cls, trainer_cls = method.classes()
    return trainer_cls(
        model=model,
        args=make_config(config_cls, trainer_args(recipe, out)),
        train_dataset=ds,
        processing_class=tok,
        callbacks=[make_callback(run_dir, extra_log)],
        peft_config=peft_config(recipe),
        **method.trainer_kwargs(recipe, tok),
    )


def fit(recipe: Recipe, run_dir: Path, out: Path, resume: bool = False, dataset=None, extra_log: dict | None = None):
    """One TRL training run of `recipe` into `out`; returns (final metrics, whether this is the main process)."""
    trainer = build_trainer(recipe, run_dir, out, dataset, extra_log)
    final = train_to_end(trainer, out, resume)
    if trainer.is_world_process_zero():
        trainer.save_model(str(out))
        trainer.processing_class.save_pretrained(str(out))
    return final, trainer.is_world_process_zero()


def train_to_end(trainer, out: Path, resume: bool) -> dict:
    """Train (from the last complete checkpoint in `out` when resuming); returns the last logged value of each
    numeric metric. Saving is left to the caller: some trainers must detach hooks first."""
    checkpoint = last_complete_checkpoint(out) if resume else None
    if resume and checkpoint is None:
        print("[labkit] no checkpoint to resume from: starting from the beginning", flush=True)
    elif checkpoint:
        print(f"[labkit] resuming from {checkpoint}", flush=True)
    trainer.train(resume_from_checkpoint=checkpoint)
    final = {}
    for entry in trainer.state.log_history:
        final.update({k: v for k, v in entry.items() if isinstance(v, (int, float))})
    return final


def train(recipe_path: str | Path, resume: bool = False) -> dict:
    recipe = load(recipe_path)
    run_dir = Path(recipe_path).resolve().parent
    out = output_dir(recipe, run_dir)
    method = get_method(recipe.method)
    if method.pipeline:  # multi-stage, multi-round recipes (ICR, LIDR, RaDis) orchestrate fits themselves
        import importlib

        module, func = method.pipeline.split(":")
        final = getattr(importlib.import_module(module), func)(recipe, run_dir, out, resume)
        main_process = True
    else:
        final, main_process = fit(recipe, run_dir, out, resume)
    if main_process:
        (run_dir / FINAL).write_text(json.dumps(final, indent=1, default=str))
        card = {
            "base_model": recipe.model["name"],
            "recipe": recipe.to_dict(),
            "datasets": [recipe.data.get("path")],
            "tags": [recipe.method, *recipe.tags],
            "evals": [],
        }
        if recipe.evaluate:
            card["evals"] = evaluate_after(recipe, out, run_dir)
        (out / "labkit_card.json").write_text(json.dumps(card, indent=1, default=str))
        if recipe.output.get("push_to_hub"):
            push(recipe, out)
    return final


def evaluate_after(
    recipe: Recipe, out: Path, run_dir: Path, eval_dir: Path | None = None, extra_tags: list[str] = ()
) -> list[dict]:
    """The optional `evaluate:` section: an eval run of the trained model, recorded with the run's tags
    (so a parallel-language sweep's evaluations reach the Scaling tab). Returns its model-card rows."""

    spec = EvalSpec.from_dict({"task": "mgsm", **recipe.evaluate, "model": str(out)})
    res = run_eval(
        spec,
        eval_dir or run_dir / "eval",
        name=f"{spec.task} {recipe.name}",
        tags=[*recipe.tags, *extra_tags],
        config_extra={"train_run": job.id if (job := jobs.current()) else None},
        replace=True,
    )
    print(f"[labkit] evaluation {res['run_id']}: average {res['results']['average']}", flush=True)
    return res["card"]


def push(recipe: Recipe, out: Path) -> str:

    inputs = hub.card_inputs(out)
    card = hub.model_card(
        recipe.output["push_to_hub"],
        base_model=inputs.get("base_model"),
        recipe=inputs.get("recipe"),
        datasets=inputs.get("datasets"),
        evals=inputs.get("evals"),
        tags=inputs.get("tags"),
    )
    url = hub.push(
        hub.plan_push(out, recipe.output["push_to_hub"], card=card, private=recipe.output.get("private", True))
    )
    print(f"[labkit] pushed to {url}", flush=True)
    return url


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print("usage: python -m labkit.train.worker RECIPE.yaml [--resume]", file=sys.stderr)
        return 2
    try:
        train(argv[0], resume="--resume" in argv)
    except LabkitError as e:
        print(f"error: {e.message}\nhint: {e.hint}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
