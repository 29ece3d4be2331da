"""Deviation analysis (DMoE step 1): which layers should become MoE, and which languages should share an expert.

    labkit dmoe analyze --model tiny --languages en,zh,ja,de,fr,ru --steps 10 --groups 3 --out analysis.json

For each language the dense model is fine-tuned for a few steps (the reference: 10) on text in that language
through labkit's training path (`worker.fit`, causal LM on a `text` column). Then, per layer, the L2 norm of the
change of the FFN weights (gate/up/down) and of the attention weights (q/k/v/o). The FFN norms are averaged
over languages and min-max normalised across layers; layers with a normalised value ≥ ε (0.6) become MoE.
Language similarity is the cosine of the concatenated FFN deltas of the last 3 layers; grouping.py turns it
into K groups.

Weights are compared in float32: a 10-step update at the reference's learning rate (8e-6) is below bf16
resolution, so the analysis loads the model in float32 (training itself may use bf16 autocast on GPU).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

from labkit.errors import LabkitError
from labkit import guard
from labkit.dmoe.grouping import group_languages
from labkit.dmoe.grouping import group_sizes
from labkit.models import resolve_model
from labkit.models.tiny import CORPUS_DIR, corpus_languages
from labkit.train.recipe import from_dict, load
from labkit.train.worker import fit

FFN = ("mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight")
ATTN = ("self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight")
SIMILARITY_LAYERS = 3

# The reference's per-language fine-tune (src/finetune_delta_18langs.py) except the batch: it uses 8 × 256
# accumulation × 512 tokens on a GPU; this default (8 sequences a step) is a CPU demo, and the analysis says so.
# configs/train/dmoe-analyze-qwen2.5-0.5b.yaml is the paper's setting.
DEFAULT_TRAINER = {
    "learning_rate": 8e-6,
    "lr_scheduler_type": "linear",
    "per_device_train_batch_size": 8,
    "gradient_accumulation_steps": 1,
    "max_length": 512,
    "save_strategy": "no",
    "logging_steps": 1,
    "seed": 0,
}


PAPER_BATCH = 2048  # src/finetune_delta_18langs.py: 8 per device × 256 accumulation


def sequences_per_step(trainer: dict) -> int:
    return int(trainer.get("per_device_train_batch_size") or 8) * int(trainer.get("gradient_accumulation_steps") or 1)


# --- pure parts --------------------------------------------------------------------------------
def _layer_vector(state: dict, layer: int, names):
    import torch

    try:
        return torch.cat([state[f"model.layers.{layer}.{n}"].float().reshape(-1) for n in names])
    except KeyError as e:
        raise LabkitError(
            f"The model has no weight {e.args[0]}.",
            hint="Deviation analysis reads Llama-style layers (model.layers.N.mlp.gate_proj, self_attn.q_proj …): "
            "Qwen2, Llama, Mistral, Gemma.",
        ) from e


def num_layers(state: dict) -> int:
    return 1 + max(int(k.split(".")[2]) for k in state if k.startswith("model.layers."))


def deviations(before: dict, after: dict) -> dict:
    """Per-layer ‖Δθ‖₂ of the FFN and the attention, and the concatenated FFN delta of the last layers."""
    import torch

    n = num_layers(before)
    ffn, attn = [], []
    for layer in range(n):
        ffn.append(
            float(torch.linalg.vector_norm(_layer_vector(after, layer, FFN) - _layer_vector(before, layer, FFN)))
        )
        attn.append(
            float(torch.linalg.vector_norm(_layer_vector(after, layer, ATTN) - _layer_vector(before, layer, ATTN)))
        )
    last = range(max(0, n - SIMILARITY_LAYERS), n)
    delta = torch.cat([_layer_vector(after, l, FFN) - _layer_vector(before, l, FFN) for l in last])
    return {"ffn": ffn, "attn": attn, "delta": delta, "similarity_layers": list(last)}


def normalize(values: list[float]) -> list[float] | None:
    """Min-max to [0, 1]; None when every layer moved equally: no layer is more language-specific than another
    (the reference divides by zero there and gets NaN, log/delta-stat/stat.py `normalize`)."""
    lo, hi = min(values), max(values)
    return None if hi == lo else [(v - lo) / (hi - lo) for v in values]


EQUAL = "every layer has the same FFN deviation: no layer is more language-specific, so no layer becomes MoE"
DEMO_BATCH = (
    "the default fine-tune batch ({batch} sequences per step) is a demo; the paper's is 2,048 "
    "(8 × 256 accumulation): configs/train/dmoe-analyze-qwen2.5-0.5b.yaml on a GPU"
)


def cosine_matrix(vectors: dict) -> dict[str, dict[str, float]]:
    import torch

    langs = list(vectors)
    m = torch.stack([vectors[l] for l in langs]).double()
    m = m / m.norm(dim=1, keepdim=True).clamp_min(1e-12)
    sim = m @ m.T
    sim = ((sim + sim.T) / 2).clamp(-1.0, 1.0)  # exactly symmetric, so grouping does not depend on language order
    return {
        a: {b: (1.0 if a == b else round(float(sim[i, j]), 6)) for j, b in enumerate(langs)}
        for i, a in enumerate(langs)
    }


def summarize(
    per_language: dict[str, dict], similarity: dict, epsilon: float, groups: int, algorithm: str = "auto"
) -> dict:
    """The analysis result from per-language FFN/attention norms and the similarity matrix."""

    langs = list(per_language)
    n = len(per_language[langs[0]]["ffn"])
    ffn = [sum(per_language[l]["ffn"][i] for l in langs) / len(langs) for i in range(n)]
    attn = [sum(per_language[l]["attn"][i] for l in langs) / len(langs) for i in range(n)]
    norm = normalize(ffn)
    grouped, used = group_languages(similarity, groups, algorithm)
    return {
        "layers": [
            {"layer": i, "ffn_deviation": ffn[i], "attn_deviation": attn[i], "normalized": norm[i] if norm else None}
            for i in range(n)
        ],
        "epsilon": epsilon,
        "moe_layers": [i for i in range(n) if norm and norm[i] >= epsilon],
        "notes": [] if norm else [EQUAL],
        "similarity": similarity,
        "groups": grouped,
        "group_algorithm": used,
        "per_language": {l: {"ffn": per_language[l]["ffn"], "attn": per_language[l]["attn"]} for l in langs},
    }


def load_analysis(path: str | Path) -> dict:

    shown = str(path)[:200]
    p = guard.require_readable(path, "The analysis file")  # on a demo: the same refusal, existing or not
    if not p.is_file():
        raise LabkitError(f"No analysis file {shown!r}.", hint="Run `labkit dmoe analyze ... --out FILE` first.")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise LabkitError(f"{shown!r} is not JSON.", hint="Use the file written by `labkit dmoe analyze`.") from None
    except OSError:
        raise LabkitError(f"The analysis file {shown!r} cannot be read.", hint="Check the path.") from None
    missing = [k for k in ("moe_layers", "groups", "layers") if not isinstance(data, dict) or k not in data]
    if missing:
        raise LabkitError(
            f"{shown!r} is not a DMoE analysis (no {', '.join(missing)}).",
            hint="Use the file written by `labkit dmoe analyze`.",
        )
    return data


# --- text per language -------------------------------------------------------------------------
def language_texts(lang: str, source: dict | None = None) -> list[str]:
    """Text in `lang`. `source` is a recipe's `data` section: path `corpus` (the bundled offline corpus, the
    default), a local file (`{lang}` in the name is replaced) or a Hub dataset whose config is
    `config` with `{lang}` replaced (e.g. uonlp/CulturaX, config "{lang}"), streamed and cut at `limit`."""
    source = source or {}
    path = str(source.get("path") or "corpus")
    limit = source.get("limit")
    column = next((yours for yours, theirs in (source.get("columns") or {}).items() if theirs == "text"), "text")
    if path == "corpus":
        f = CORPUS_DIR / f"{lang}.txt"
        if not f.exists():
            raise LabkitError(
                f"The bundled corpus has no language {lang!r}.",
                hint=f"Offline languages: {', '.join(corpus_languages())}.",
            )
        texts = [ln.strip() for ln in f.read_text(encoding="utf-8").splitlines() if ln.strip()]
    else:
        texts = _dataset_texts(
            path.replace("{lang}", lang),
            (source.get("config") or "").replace("{lang}", lang) or None,
            source.get("split") or "train",
            column,
            limit,
            lang,
        )
    texts = texts[: int(limit)] if limit else texts
    if not texts:
        raise LabkitError(f"No text in {lang!r} from {path}.", hint="Check data.path / data.config for that language.")
    return texts


def _dataset_texts(path: str, config: str | None, split: str, column: str, limit, lang: str) -> list[str]:
    import datasets

    local = Path(path).expanduser()
    try:
        if local.exists():
            ds = datasets.load_dataset(
                "json" if local.suffix in (".jsonl", ".json") else local.suffix.lstrip("."),
                data_files=str(local),
                split="train",
            )
            if "lang" in ds.column_names:
                ds = ds.filter(lambda r: r["lang"] == lang)
            rows = ds
        else:
            rows = datasets.load_dataset(path, config, split=split, streaming=True)
            rows = rows.take(int(limit)) if limit else rows
        return [str(r[column]) for r in rows if r.get(column)]
    except KeyError as e:
        raise LabkitError(
            f"{path} has no column {column!r}.", hint="Map yours with data.columns: {your_column: text}."
        ) from e
    except Exception as e:
        raise LabkitError(
            f"Cannot read text for {lang!r} from {path}: {e}",
            hint="Offline? Use data.path: corpus. Gated (CulturaX)? Log in.",
        ) from e


# --- the analysis ------------------------------------------------------------------------------
def analysis_recipe(model: str, steps: int, recipe_path: str | None = None, data: str | None = None):
    """The per-language fine-tune recipe: a `dmoe-analyze-*.yaml` file or the built-in defaults; CLI flags win."""

    base = load(recipe_path) if recipe_path else None
    d = (
        base.to_dict()
        if base
        else {"name": "dmoe-analyze", "method": "sft", "data": {"path": "corpus"}, "trainer": dict(DEFAULT_TRAINER)}
    )
    d["method"] = "sft"
    d["model"] = {**(d.get("model") or {}), "dtype": "float32", **({"name": model} if model else {})}
    if not d["model"].get("name"):
        raise LabkitError("No model given.", hint="--model tiny, a local folder or a Hub id.")
    d["trainer"] = {**DEFAULT_TRAINER, **(d.get("trainer") or {}), **({"max_steps": int(steps)} if steps else {})}
    d["trainer"].setdefault("max_steps", 10)
    if data:
        d["data"] = {**(d.get("data") or {}), "path": data}
        d["data"]["config"] = (
            d["data"].get("config") or "{lang}"
        )  # Hub corpora (CulturaX, MADLAD-400) have one config per language
    return from_dict(d, source=base.source if base else None)


def analyze(
    model: str,
    languages: list[str],
    steps: int = 10,
    groups: int = 2,
    epsilon: float = 0.6,
    out: str | Path | None = None,
    recipe_path: str | None = None,
    data: str | None = None,
    algorithm: str = "auto",
    log=print,
) -> dict:
    languages = [l.strip() for l in languages if l.strip()]
    if len(set(languages)) < 2:
        raise LabkitError("--languages needs at least two different languages.", hint="e.g. --languages en,zh,ja,de")
    if not 0.0 <= float(epsilon) <= 1.0:
        raise LabkitError(f"--epsilon {epsilon} is outside [0, 1].", hint="The reference uses 0.6.")

    group_sizes(len(languages), int(groups))  # fail before any training
    import datasets  # after the checks: these imports take seconds
    import torch
    from transformers import AutoModelForCausalLM

    recipe = analysis_recipe(model, steps, recipe_path, data)
    batch = sequences_per_step(recipe.trainer)
    if batch < PAPER_BATCH:
        log(f"[dmoe] note: {DEMO_BATCH.format(batch=batch)}")
    texts = {
        lang: language_texts(lang, recipe.data) for lang in languages
    }  # all data first: a missing language fails fast

    path = resolve_model(recipe.model["name"], revision=recipe.model.get("revision"))
    before = {
        k: v.detach().clone()
        for k, v in AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).state_dict().items()
    }
    per_language, deltas, seconds = {}, {}, {}
    work = Path(tempfile.mkdtemp(prefix="dmoe-analyze-"))
    try:
        for i, lang in enumerate(languages):
            t0 = time.perf_counter()
            log(
                f"[dmoe] {i + 1}/{len(languages)} {lang}: {recipe.trainer['max_steps']} steps "
                f"on {len(texts[lang])} texts"
            )
            run_dir = work / lang
            final, _ = fit(
                recipe, run_dir, run_dir / "model", dataset=datasets.Dataset.from_dict({"text": texts[lang]})
            )
            after = AutoModelForCausalLM.from_pretrained(run_dir / "model", dtype=torch.float32).state_dict()
            dev = deviations(before, after)
            per_language[lang] = {
                "ffn": dev["ffn"],
                "attn": dev["attn"],
                "train_loss": final.get("train_loss", final.get("loss")),
            }
            deltas[lang] = dev["delta"]
            shutil.rmtree(run_dir / "model", ignore_errors=True)
            seconds[lang] = round(time.perf_counter() - t0, 3)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = summarize(per_language, cosine_matrix(deltas), float(epsilon), int(groups), algorithm)
    if batch < PAPER_BATCH:
        result["notes"].append(DEMO_BATCH.format(batch=batch))
    result.update(
        model=recipe.model["name"],
        sequences_per_step=batch,
        languages=languages,
        steps=int(recipe.trainer["max_steps"]),
        similarity_layers=dev["similarity_layers"],
        seconds_per_language=seconds,
        train_loss={l: per_language[l]["train_loss"] for l in languages},
        data=recipe.data.get("path"),
    )
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(result, indent=1, ensure_ascii=False))
        result["out"] = str(out)
    return result
