"""ICR, Implicit Cross-Lingual Rewarding (METHODS.md §2; arXiv 2503.04647; ZNLP/Implicit-Cross-Lingual-Rewarding):
its typed method_args, its row in the method table and its pipeline.

Each round: sample n responses per prompt and language (truncated ones marked) → score each by the implicit reward
β·(Σlog π(y|x) − Σlog π_ref(y|x)) under the English instruction (with the reference's "answer only in <language>"
prefix for other languages), EOS appended only to responses that ended → length control per language: α on the
reference's grid so chosen and rejected mean character lengths match → pairs = highest vs lowest of
log-ratio − α·length → DPO + NLL. The stage machinery is labkit/train/selfimprove.py's.

    labkit train configs/train/icr-tiny.yaml
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal

from labkit.backends import GenParams
from labkit.errors import LabkitError
from labkit.jsonl import read_jsonl, write_jsonl
from labkit.languages import NAMES as LANG_NAMES
from labkit.train import selfimprove
from labkit.train.methods.args import TRANSLATE_PROMPT, positive
from labkit.train.methods.dpo import self_improving
from labkit.train.methods.registry import method_args, register
from labkit.train.recipe import Recipe

# ZNLP/Implicit-Cross-Lingual-Rewarding, utils/inference.py PREFIX: put before the English instruction when a
# response in another language is scored (the "cross-lingual rewarding" prompt).
ICR_REWARD_PREFIX = (
    "Please answer the following instruction using only {language}, unless explicitly instructed to respond "
    "in a different language.\n\n"
)


@dataclass
class ICRArgs:
    """Implicit Cross-Lingual Rewarding (arXiv 2503.04647; ZNLP/Implicit-Cross-Lingual-Rewarding)."""

    reference: str = field(metadata={"hint": "The reference model π_ref of the English DPO model being improved."})
    reward_model: str | None = None  # π of the implicit reward; None = the round's policy, as the reference code
    later_reference: Literal["initial", "previous"] = (
        "initial"  # π_ref from round 2 on (the code's default / its t−1 ablation)
    )
    languages: list = field(default_factory=list)
    source: str = "en"
    rounds: int = 2
    samples: int = 10
    temperature: float = 0.9
    top_p: float = 1.0
    max_new_tokens: int = 2400
    seed: int = 42
    include_truncated: bool = False  # responses cut at max_new_tokens may be paired (scored without EOS)
    scoring: Literal["english", "target", "translated"] = "english"
    reward_prefix: str = ICR_REWARD_PREFIX
    translate_prompt: str = TRANSLATE_PROMPT  # the `translated` ablation only
    length_control: bool = True
    alpha_range: list = field(default_factory=lambda: [0.0, 1.0, 0.001])  # np.arange(start, stop, step)
    beta: float = 0.1
    nll_weight: float = 1.0
    limit: int | None = None
    backend: str = "hf"

    def __post_init__(self):
        positive(self, "rounds", "samples", "max_new_tokens")
        if "{language}" not in self.reward_prefix:
            raise LabkitError(
                "method_args.reward_prefix must contain {language}.", hint=f"Default: {ICR_REWARD_PREFIX!r}"
            )
        if (
            len(self.alpha_range) != 3
            or not all(isinstance(x, (int, float)) for x in self.alpha_range)
            or self.alpha_range[2] <= 0
        ):
            raise LabkitError(
                "method_args.alpha_range must be [start, stop, step] with step > 0.", hint="Default: [0.0, 1.0, 0.001]."
            )
        if self.samples < 2:
            raise LabkitError(
                "method_args.samples must be ≥ 2: a pair needs two responses.", hint="The paper samples 10."
            )


register(self_improving("icr", ICRArgs, "labkit.train.methods.icr:run_icr"))


def icr_sample(out: Path, prompts: dict, args: ICRArgs, policy: str, seed: int) -> dict:
    """n responses per prompt and language; `truncated[k]` marks a response cut at max_new_tokens."""

    items = selfimprove.prompt_items(prompts, [args.source, *args.languages])
    outs = selfimprove.open_backend(args.backend, policy).generate(
        [selfimprove.user(p) for _, _, p in items],
        GenParams(
            max_new_tokens=args.max_new_tokens,
            temperature=args.temperature,
            top_p=args.top_p,
            n=args.samples,
            seed=seed,
        ),
    )
    rows = [
        {
            "id": i,
            "lang": lang,
            "prompt": p,
            "responses": [str(x) for x in o],
            "truncated": [bool(getattr(x, "truncated", False)) for x in o],
        }
        for (i, lang, p), o in zip(items, outs)
    ]
    write_jsonl(out, rows)
    return {
        "prompts": len(items),
        "responses": sum(len(x["responses"]) for x in rows),
        "truncated": sum(sum(x["truncated"]) for x in rows),
    }


def icr_instruction(args: ICRArgs, english: str, lang: str, prompt: str) -> str:
    """The instruction a response is scored under: the English one, prefixed for other languages (the method);
    the response's own prompt (`target` ablation); the bare English one (`translated` ablation)."""
    if args.scoring == "target":
        return prompt
    if args.scoring == "translated" or lang == args.source:
        return english
    return args.reward_prefix.format(language=LANG_NAMES.get(lang, lang)) + english


def implicit_logratios(policy_backend, ref_backend, pairs: list[tuple], append_eos: bool = True) -> list[float]:
    """Σlog π(y|x) − Σlog π_ref(y|x) per (prompt, response), both models scored in batches."""
    if not pairs:
        return []
    lp = policy_backend.logprob(pairs, append_eos=append_eos)
    lr = ref_backend.logprob(pairs, append_eos=append_eos)
    return [a - b for a, b in zip(lp, lr)]


def implicit_rewards(policy_backend, ref_backend, pairs: list[tuple], beta: float) -> list[float]:
    """β·(Σlog π(y|x) − Σlog π_ref(y|x)), EOS included as TRL's DPO does."""
    return [beta * x for x in implicit_logratios(policy_backend, ref_backend, pairs)]


def icr_score(
    out: Path, samples_path: Path, prompts: dict, args: ICRArgs, reward_model: str, reference: str, policy: str
) -> dict:
    """Implicit reward of every usable response. A response that ended is scored with EOS appended (as TRL's DPO
    sees it); a truncated one is left unscored unless `include_truncated`, and then scored without EOS: it did not
    end. In the `translated` ablation a response whose translation failed is left unscored."""
    import numpy as np

    rows = read_jsonl(samples_path)
    slots = [
        (r, k)
        for r, row in enumerate(rows)
        for k in range(len(row["responses"]))
        if args.include_truncated or not row["truncated"][k]
    ]
    texts = {s: rows[s[0]]["responses"][s[1]] for s in slots}
    failed = 0
    if args.scoring == "translated":
        foreign = [s for s in slots if rows[s[0]]["lang"] != args.source]
        done = selfimprove.translate(
            selfimprove.open_backend(args.backend, policy),
            [texts[s] for s in foreign],
            args.source,
            args.max_new_tokens,
            args.translate_prompt,
        )
        for s, t in zip(foreign, done):
            if t is None:
                failed += 1
                slots.remove(s)
            else:
                texts[s] = t
    pol, ref = selfimprove.open_backend(args.backend, reward_model), selfimprove.open_backend(args.backend, reference)
    scores: dict[tuple, float] = {}
    for ended in (True, False):
        group = [s for s in slots if rows[s[0]]["truncated"][s[1]] != ended]
        pairs = [
            (
                selfimprove.user(
                    icr_instruction(args, prompts[rows[r]["id"]][args.source], rows[r]["lang"], rows[r]["prompt"])
                ),
                texts[(r, k)],
            )
            for r, k in group
        ]
        scores.update(zip(group, implicit_logratios(pol, ref, pairs, append_eos=ended)))
    for r, row in enumerate(rows):
        row["logratio"] = [scores.get((r, k)) for k in range(len(row["responses"]))]
        row["reward"] = [None if x is None else args.beta * x for x in row["logratio"]]
        row["length"] = [len(t) for t in row["responses"]]  # characters, as the reference's length control
    write_jsonl(out, rows)
    rewards = [args.beta * x for x in scores.values()]
    return {
        "reward_mean": selfimprove.mean(rewards),
        "reward_std": float(np.std(rewards)) if rewards else None,
        "scored": len(scores),
        "unscored_truncated": sum(sum(x["truncated"]) for x in rows)
        - sum(1 for r, k in scores if rows[r]["truncated"][k]),
        "failed_translations": failed,
        "reward_model": reward_model,
        "reference_model": reference,
    }


def choose_alpha(
    groups: list[list[tuple[float, float]]], alpha_range=(0.0, 1.0, 0.001)
) -> tuple[float, list[tuple[int, int]], float]:
    """The reference's length control: for α in np.arange(*alpha_range), chosen/rejected = argmax/argmin of
    score − α·length in each group of (score, length); keep the α whose mean (chosen − rejected) length is closest
    to zero, the first one on ties. Returns (α, picks, that mean difference)."""
    import numpy as np

    width = max(len(g) for g in groups)
    scores = np.full((len(groups), width), np.nan)
    lengths = np.zeros((len(groups), width))
    for i, g in enumerate(groups):
        scores[i, : len(g)] = [s for s, _ in g]
        lengths[i, : len(g)] = [n for _, n in g]
    rows = np.arange(len(groups))
    best = None
    for a in np.arange(*alpha_range):
        adj = scores - a * lengths
        c, j = np.nanargmax(adj, axis=1), np.nanargmin(adj, axis=1)
        diff = float(np.mean(lengths[rows, c] - lengths[rows, j]))
        if best is None or abs(diff) < abs(best[2]):
            best = (float(a), list(zip(c.tolist(), j.tolist())), diff)
    return best


def icr_pairs(out: Path, scored_path: Path, args: ICRArgs) -> dict:
    """Per language, α fitted on that language's prompts (length control off: α = 0); the pair of a prompt is its
    highest against its lowest log-ratio − α·length among scored responses. Prompts with fewer than two scored
    responses, or whose best and worst are the same text, give no pair."""
    rows = read_jsonl(scored_path)
    usable = {}
    for x in rows:
        ks = [k for k, s in enumerate(x["logratio"]) if s is not None]
        if len(ks) >= 2:
            usable.setdefault(x["lang"], []).append((x, ks))
    pairs, stats = [], {"prompts_without_pair": len(rows) - sum(len(v) for v in usable.values())}
    for lang, group in usable.items():
        groups = [[(x["logratio"][k], x["length"][k]) for k in ks] for x, ks in group]
        alpha, picks, gap = choose_alpha(groups, args.alpha_range if args.length_control else (0.0, 1.0, 1.0))
        stats[f"alpha/{lang}"], stats[f"length_gap/{lang}"] = alpha, gap
        for (x, ks), (c, j) in zip(group, picks):
            c, j = ks[c], ks[j]
            if x["responses"][c] == x["responses"][j]:
                stats["prompts_without_pair"] += 1
                continue
            pairs.append(
                {
                    "id": x["id"],
                    "lang": lang,
                    "prompt": x["prompt"],
                    "chosen": x["responses"][c],
                    "rejected": x["responses"][j],
                    "chosen_score": x["reward"][c],
                    "rejected_score": x["reward"][j],
                    "margin": x["reward"][c] - x["reward"][j],
                    "chosen_len": x["length"][c],
                    "rejected_len": x["length"][j],
                    "alpha": alpha,
                }
            )
    write_jsonl(out, sorted(pairs, key=lambda p: -p["margin"]))
    return {
        "pairs": len(pairs),
        **stats,
        "chosen_len": selfimprove.mean(p["chosen_len"] for p in pairs),
        "rejected_len": selfimprove.mean(p["rejected_len"] for p in pairs),
        "margin_mean": selfimprove.mean(p["margin"] for p in pairs),
    }


def icr_models(args: ICRArgs, r: int, policies: list[str]) -> tuple[str, str]:
    """(π, π_ref) of round r's implicit reward; policies[i] is the model that started round i+1. π is the round's
    policy unless `reward_model` fixes one; π_ref is `reference` in round 1 and, later, the initial reference or
    (`later_reference: previous`, the reference code's t−1 ablation) the model that started the previous round."""
    reward_model = args.reward_model or policies[r - 1]
    reference = args.reference if r == 1 or args.later_reference == "initial" else policies[r - 2]
    return reward_model, reference


def run_icr(recipe: Recipe, run_dir: Path, out: Path, resume: bool = False) -> dict:

    args: ICRArgs = method_args(recipe)
    prompts = selfimprove.load_prompts(recipe, args.source, args.languages, args.limit)
    pipe = selfimprove.Pipeline(run_dir)
    policies = [recipe.model["name"]]
    for r in range(1, args.rounds + 1):
        policy = policies[-1]
        reward_model, reference = icr_models(args, r, policies)
        samples = pipe.stage(
            r, "samples.jsonl", partial(icr_sample, prompts=prompts, args=args, policy=policy, seed=args.seed + r - 1)
        )
        scored = pipe.stage(
            r,
            "scored.jsonl",
            partial(
                icr_score,
                samples_path=samples,
                prompts=prompts,
                args=args,
                reward_model=reward_model,
                reference=reference,
                policy=policy,
            ),
        )
        pairs = pipe.stage(r, "pairs.jsonl", partial(icr_pairs, scored_path=scored, args=args))
        model = pipe.path(r, "model")
        pipe.stage(r, "model", partial(selfimprove.dpo_round, recipe, pipe, r, policy, pairs, args.nll_weight))
        pipe.record_round(
            r,
            {
                **pipe.stats(r, "samples.jsonl"),
                **pipe.stats(r, "scored.jsonl"),
                **pipe.stats(r, "pairs.jsonl"),
                "later_reference": args.later_reference,
                **{f"dpo/{k}": v for k, v in pipe.stats(r, "model").items()},
                **selfimprove.evaluate_round(recipe, pipe, r, str(model)),
            },
        )
        policies.append(str(model))
    return selfimprove.finish(pipe, policies[-1], out)
