"""Upcycling (DMoE step 2): a dense Qwen2-family model → a transformers `Qwen2MoeForCausalLM` checkpoint.

    labkit dmoe upcycle --model tiny --analysis analysis.json --out dmoe-tiny

Supported: dense models with `model_type: qwen2` (Qwen2, Qwen2.5 of every size, and labkit's tiny model).
Other families are refused with a clear error: transformers has no MoE class that hosts, say, a Llama or
Gemma FFN unchanged.

In each layer the analysis chose, the FFN becomes one expert per language group, each a copy of that FFN;
a new router (normal(0, initializer_range)) picks the top 2 and renormalises their weights
(`norm_topk_prob: true`), so with identical experts the output equals the dense model's. Qwen2MoE always
builds a shared expert: here it has zero width (`shared_expert_intermediate_size: 0`) and a zero gate, so it
adds exactly nothing and never learns. The other layers stay dense (`mlp_only_layers`).

Beside the weights, `dmoe.json` records the groups, the language → expert map and the MoE layers; training
(stage 1 routing) and new-language extension read it.
"""

from __future__ import annotations

import json
from pathlib import Path

from labkit.errors import LabkitError
from labkit import guard
from labkit.dmoe.analysis import load_analysis
from labkit.models import resolve_model

META = "dmoe.json"
SUPPORTED = ("qwen2",)


def read_meta(model_dir: str | Path) -> dict | None:
    """The folder's DMoE metadata; None for anything that is not a readable upcycled model (no file, a name too long,
    a malformed file): every caller says "choose an upcycled model", whatever the reason."""
    try:
        meta = json.loads((Path(model_dir) / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def write_meta(model_dir: str | Path, meta: dict) -> None:
    (Path(model_dir) / META).write_text(json.dumps(meta, indent=1, ensure_ascii=False))


def language_map(groups: list[list[str]]) -> dict[str, int]:
    seen: dict[str, int] = {}
    for e, group in enumerate(groups):
        for lang in group:
            if lang in seen:
                raise LabkitError(
                    f"Language {lang!r} is in two groups ({seen[lang]} and {e}).",
                    hint="Each language belongs to one group.",
                )
            seen[lang] = e
    return seen


def moe_config(dense_config, num_experts: int, moe_layers: list[int], top_k: int = 2):
    from transformers import Qwen2MoeConfig

    d = dense_config.to_dict()
    for k in ("model_type", "architectures", "transformers_version", "_name_or_path"):
        d.pop(k, None)
    n = dense_config.num_hidden_layers
    return Qwen2MoeConfig(
        **{
            **d,
            "num_experts": num_experts,
            "num_experts_per_tok": min(top_k, num_experts),
            "moe_intermediate_size": dense_config.intermediate_size,
            "shared_expert_intermediate_size": 0,
            "norm_topk_prob": True,
            "decoder_sparse_step": 1,
            "qkv_bias": True,
            "mlp_only_layers": [l for l in range(n) if l not in moe_layers],
            "output_router_logits": False,
        }
    )


def _check_layers(moe_layers: list[int], n: int) -> list[int]:
    layers = sorted({int(l) for l in moe_layers})
    bad = [l for l in layers if not 0 <= l < n]
    if bad:
        raise LabkitError(
            f"MoE layers {bad} do not exist: the model has {n} layers.", hint="Use the analysis of this model."
        )
    if not layers:
        raise LabkitError(
            "No layer reaches ε, so nothing would become MoE.",
            hint="Lower --epsilon in the analysis (the reference uses 0.6).",
        )
    return layers


def build_moe(dense, num_experts: int, moe_layers: list[int], top_k: int = 2, seed: int = 0):
    """The upcycled model in memory (same dtype as `dense`)."""
    import torch
    from transformers import Qwen2MoeForCausalLM

    if dense.config.model_type not in SUPPORTED:
        raise LabkitError(
            f"Upcycling supports Qwen2-family dense models; this one is {dense.config.model_type!r}.",
            hint="Use Qwen/Qwen2.5-*, Qwen2-*, or 'tiny'.",
        )
    layers = _check_layers(moe_layers, dense.config.num_hidden_layers)
    cfg = moe_config(dense.config, num_experts, layers, top_k)
    moe = Qwen2MoeForCausalLM(cfg)
    src = dense.state_dict()
    state = {k: v for k, v in moe.state_dict().items()}
    gen = torch.Generator().manual_seed(seed)
    for k in state:
        if k in src:
            state[k] = src[k]
    for l in layers:
        p = f"model.layers.{l}.mlp."
        gate_up = torch.cat([src[p + "gate_proj.weight"], src[p + "up_proj.weight"]], dim=0)
        state[p + "experts.gate_up_proj"] = gate_up.unsqueeze(0).repeat(num_experts, 1, 1)
        state[p + "experts.down_proj"] = src[p + "down_proj.weight"].unsqueeze(0).repeat(num_experts, 1, 1)
        state[p + "gate.weight"] = torch.randn(num_experts, cfg.hidden_size, generator=gen) * cfg.initializer_range
        state[p + "shared_expert_gate.weight"] = torch.zeros(1, cfg.hidden_size)
    moe.load_state_dict(state)
    if dense.generation_config is not None:
        moe.generation_config = dense.generation_config
    return moe.to(dense.dtype).eval()


def upcycle(
    model: str,
    out: str | Path,
    groups: list[list[str]],
    moe_layers: list[int],
    top_k: int = 2,
    seed: int = 0,
    analysis: str | None = None,
) -> dict:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    guard.require("write")  # a new checkpoint on the server's disk
    if not groups or any(not g for g in groups):
        raise LabkitError("No language groups given (or an empty group).", hint="Take them from `labkit dmoe analyze`.")
    lang_map = language_map(groups)
    path = resolve_model(model)
    dense = AutoModelForCausalLM.from_pretrained(path, dtype="auto")
    moe = build_moe(dense, len(groups), moe_layers, top_k, seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    moe.save_pretrained(out)
    AutoTokenizer.from_pretrained(path).save_pretrained(out)
    meta = {
        "base_model": model,
        "groups": groups,
        "language_to_expert": lang_map,
        "moe_layers": sorted(set(moe_layers)),
        "num_experts": len(groups),
        "top_k": moe.config.num_experts_per_tok,
        "analysis": analysis,
        "added": [],
    }
    write_meta(out, meta)
    return {
        "output_dir": str(out),
        "num_experts": len(groups),
        "moe_layers": meta["moe_layers"],
        "groups": groups,
        "language_to_expert": lang_map,
        "parameters": sum(p.numel() for p in moe.parameters()),
    }


def upcycle_from_analysis(model: str, analysis_path: str, out: str | Path, top_k: int = 2, seed: int = 0) -> dict:

    guard.require("write")

    a = load_analysis(analysis_path)
    if not a["moe_layers"] and a.get("notes"):
        raise LabkitError(
            f"The analysis made no MoE layer: {a['notes'][0]}.",
            hint="Rerun it with the paper's batch (configs/train/dmoe-analyze-*.yaml) or more steps.",
        )
    return upcycle(model, out, a["groups"], a["moe_layers"], top_k=top_k, seed=seed, analysis=str(analysis_path))


def add_expert(model_dir: str | Path, copy_from: int, language: str | list[str], out: str | Path) -> dict:
    """A copy of `model_dir` with one more expert in every MoE layer, a copy of expert `copy_from` (its router
    row too), and `language` mapped to it: one language, or a group sharing the expert (the reference's
    data/expert-map/new4langs_dataset_map.json maps ml-mr and be-sr to one expert each)."""
    languages = [language] if isinstance(language, str) else list(language)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    meta = read_meta(model_dir)
    if meta is None:
        raise LabkitError(
            f"{model_dir} is not a DMoE model (no {META}).", hint="Upcycle a model with `labkit dmoe upcycle` first."
        )
    src = AutoModelForCausalLM.from_pretrained(model_dir, dtype="auto")
    e = src.config.num_experts
    if not 0 <= copy_from < e:
        raise LabkitError(f"Expert {copy_from} does not exist (the model has {e}).")
    cfg = src.config
    cfg.num_experts = e + 1
    dst = type(src)(cfg)
    state = src.state_dict()
    for l in meta["moe_layers"]:
        p = f"model.layers.{l}.mlp."
        for k in ("experts.gate_up_proj", "experts.down_proj", "gate.weight"):
            state[p + k] = torch.cat([state[p + k], state[p + k][copy_from : copy_from + 1]], dim=0)
    dst.load_state_dict(state)
    dst = dst.to(src.dtype)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dst.save_pretrained(out)
    AutoTokenizer.from_pretrained(model_dir).save_pretrained(out)
    meta = {
        **meta,
        "num_experts": e + 1,
        "language_to_expert": {**meta["language_to_expert"], **{lang: e for lang in languages}},
        "groups": [*meta["groups"], languages],
        "added": [
            *meta.get("added", []),
            {"language": "-".join(languages), "languages": languages, "expert": e, "copied_from": copy_from},
        ],
        "parent": str(model_dir),
    }
    write_meta(out, meta)
    return {
        "output_dir": str(out),
        "num_experts": e + 1,
        "new_expert": e,
        "copied_from": copy_from,
        "moe_layers": meta["moe_layers"],
    }
