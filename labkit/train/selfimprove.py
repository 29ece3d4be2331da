"""Self-improvement recipes as multi-stage, multi-round pipelines: ICR, LIDR and RaDis (METHODS.md §2, §3, §10).

Every stage is a top-level function `stage(out, ...)` that reads the files of earlier stages and writes one output
under RUN_DIR/pipeline/round{r}/ (JSONL you can open); `Pipeline.stage` marks it done only after it returns, so
rerunning a killed pipeline skips the finished stages and starts again at the one that died. Round r+1 starts
from round r's model. Per-round metrics go to rounds.json, metrics.jsonl (event "round") and the store
(`round{r}/...`). Each method follows its reference code; docs/selfimprove.md lists where and why labkit departs.

- ICR: sample n responses per prompt and language (truncated ones marked) → score each by the implicit reward
  β·(Σlog π(y|x) − Σlog π_ref(y|x)) under the English instruction (with the reference's "answer only in
  <language>" prefix for other languages), EOS appended only to responses that ended → length control per
  language: α on the reference's grid so chosen and rejected mean character lengths match → pairs = highest vs
  lowest of log-ratio − α·length → DPO + NLL.
- LIDR: the model answers in English and each target language, translates its answers both ways (a translation
  counts only with its closing tag) → pairs per prompt: every target prompt gets chosen = English answer translated
  into it, rejected = its own answer; the English prompt gets one pair, chosen = its answer, rejected = the target
  answer translated back. A failed translation drops both pairs of that prompt and language. Prompts that are
  themselves translation requests keep the untranslated English answer as chosen → DPO + NLL.
- RaDis: the frozen original model writes a rationale for each (source, reference) translation pair; SFT
  targets = reference followed by the rationale, with `labels` that give the prompt no loss and the rationale
  loss only when `rationale_loss` is on.
"""

from __future__ import annotations

import copy
import json
import re
from functools import partial
from pathlib import Path
from collections.abc import Callable

from labkit.errors import LabkitError
from labkit.jsonl import read_jsonl, write_jsonl
from labkit.languages import NAMES as LANG_NAMES
from labkit.train.methods.args import ICRArgs, LIDRArgs, RaDisArgs
from labkit.train.recipe import Recipe
from labkit.backends import GenParams
from labkit import jobs
from labkit.jobs import MetricsWriter
from labkit.models import resolve_model
from labkit.store import open_store
from labkit.train.data import load_dataset
from labkit.train.methods import method_args
from labkit.train.methods import prep_dpo
from labkit.train.worker import evaluate_after
from labkit.train.worker import fit


# --- the runner ----------------------------------------------------------------------------------------
class Pipeline:
    def __init__(self, run_dir: Path):

        self.root = Path(run_dir) / "pipeline"
        self.root.mkdir(parents=True, exist_ok=True)
        self.writer = MetricsWriter(run_dir)
        self.rounds_file = self.root / "rounds.json"

    def path(self, r: int, name: str) -> Path:
        return self.root / f"round{r}" / name

    def stage(self, r: int, name: str, fn: Callable[[Path], dict | None]) -> Path:
        """Run fn(output path) unless this stage finished before; a stage is done only when its marker exists."""
        out = self.path(r, name)
        marker = out.parent / f".{name}.done"
        if marker.exists():
            print(f"[labkit] round {r} · {name}: done before, skipped", flush=True)
            return out
        out.parent.mkdir(parents=True, exist_ok=True)
        print(f"[labkit] round {r} · {name}: start", flush=True)
        self.writer.log(event="stage", round=r, stage=name, state="start")
        stats = fn(out) or {}
        marker.write_text(json.dumps(stats, default=str))
        self.writer.log(event="stage", round=r, stage=name, state="done", **_numbers(stats))
        return out

    def stats(self, r: int, name: str) -> dict:
        marker = self.path(r, name).parent / f".{name}.done"
        return json.loads(marker.read_text()) if marker.exists() else {}

    def record_round(self, r: int, metrics: dict) -> None:
        """rounds.json keeps everything; metrics.jsonl and the store get numbers and short strings (which models
        scored the round, say)."""
        rounds = json.loads(self.rounds_file.read_text()) if self.rounds_file.exists() else []
        rounds = [x for x in rounds if x["round"] != r] + [{"round": r, **metrics}]
        self.rounds_file.write_text(json.dumps(sorted(rounds, key=lambda x: x["round"]), indent=1, default=str))
        scalars = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)}
        self.writer.log(event="round", round=r, **scalars)
        if job := jobs.current():
            open_store().update(job.id, attempt=job.attempt, metrics={f"round{r}/{k}": v for k, v in scalars.items()})


def _numbers(stats: dict) -> dict:
    return {k: v for k, v in stats.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


# --- shared pieces -----------------------------------------------------------------------------------
def load_prompts(recipe: Recipe, source: str, languages: list[str], limit: int | None) -> dict[str, dict[str, str]]:
    """{id: {lang: prompt}} from rows sharing an id across languages; ids without the source language are left out."""

    by_id: dict[str, dict[str, str]] = {}
    for row in load_dataset(copy.deepcopy(recipe)):
        by_id.setdefault(str(row["id"]), {})[row["lang"]] = row["prompt"]
    missing = [lang for lang in [source, *languages] if not any(lang in v for v in by_id.values())]
    if missing:
        raise LabkitError(
            f"The prompt data has no rows in {missing}.",
            hint="Rows need id, lang and prompt; the same id across languages.",
        )
    complete = {i: v for i, v in by_id.items() if source in v}
    return dict(list(complete.items())[:limit] if limit else complete)


def open_backend(name: str, model: str):
    """A stage's generation/scoring backend (hf on CPU, `method_args.backend: vllm` on a GPU), loaded for that stage
    only, so a stage skipped on resume loads nothing."""
    from labkit.backends import get_backend

    return get_backend(name, model, cache=False)


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def translate(
    backend,
    texts: list[str],
    tgt: str,
    max_new_tokens: int,
    prompt: str,
    accept_unclosed: bool = False,
    tgt_name: str | None = None,
) -> list[str | None]:
    """The model translates each text into `tgt` (greedy; named `tgt_name`, else labkit's name); None when it did not
    close the <translated> tag. The reply is primed with the opening tag, as the LIDR reference code does."""

    primer = "<translated>\n"
    name = tgt_name or LANG_NAMES.get(tgt, tgt)
    prompts = [backend.render(user(prompt.format(tgt=name, text=t))) + primer for t in texts]
    outs = backend.generate(prompts, GenParams(max_new_tokens=max_new_tokens)) if prompts else []
    return [parse_translation(primer + o[0], accept_unclosed) for o in outs]


def parse_translation(output: str, accept_unclosed: bool = False) -> str | None:
    """The text between <translated> and </translated>; None when the tag is not closed (the model ran out of tokens
    or wandered off) or encloses nothing. `accept_unclosed` takes the rest of the text instead (tiny demo only)."""
    m = re.search(
        r"<translated>(.*?)(?:</translated>|$)" if accept_unclosed else r"<translated>(.*?)</translated>",
        output or "",
        re.S,
    )
    return (m.group(1).strip() or None) if m else None


def dpo_round(
    recipe: Recipe, pipe: Pipeline, r: int, policy: str, pairs_path: Path, nll_weight: float, out: Path
) -> dict:
    """DPO (+ NLL) on the round's pairs, from the current policy, into `out` (round{r}/model)."""
    from datasets import Dataset

    rows = read_jsonl(pairs_path)
    if not rows:
        raise LabkitError(
            f"Round {r} produced no preference pairs.", hint="More prompts or samples, or check the stage files."
        )
    sub = copy.deepcopy(recipe)
    sub.method, sub.model = "dpo", {**recipe.model, "name": policy, "lora": recipe.model.get("lora")}
    sub.method_args = {"nll_weight": nll_weight}
    ds = prep_dpo(
        Dataset.from_list([{"prompt": x["prompt"], "chosen": x["chosen"], "rejected": x["rejected"]} for x in rows]),
        sub,
        None,
    )
    final, _ = fit(sub, pipe.root.parent, out, dataset=ds, extra_log={"round": r})
    return {
        k: final[k]
        for k in ("loss", "rewards/margins", "rewards/accuracies", "rewards/chosen", "rewards/rejected")
        if k in final
    }


def evaluate_round(recipe: Recipe, pipe: Pipeline, r: int, model: str) -> dict:
    """The recipe's optional `evaluate:` section, run on round r's model: an eval run tagged round=r."""
    if not recipe.evaluate:
        return {}

    evals = evaluate_after(
        recipe, Path(model), pipe.root.parent, eval_dir=pipe.path(r, "eval"), extra_tags=[f"round={r}"]
    )
    return {"eval/average": mean(e["value"] for e in evals), **{f"eval/{e['config']}": e["value"] for e in evals}}


def finish(pipe: Pipeline, policy: str, out: Path) -> dict:
    """The last round's model becomes the run's output; the final metrics are the last round's."""
    import shutil

    if Path(policy).resolve() != out.resolve():
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(policy, out)
    rounds = json.loads(pipe.rounds_file.read_text()) if pipe.rounds_file.exists() else []
    return {"rounds": len(rounds), **(rounds[-1] if rounds else {})}


def mean(xs) -> float | None:
    xs = list(xs)
    return sum(xs) / len(xs) if xs else None


def _items(prompts: dict[str, dict[str, str]], langs: list[str]) -> list[tuple[str, str, str]]:
    return [(i, lang, p) for i, v in prompts.items() for lang, p in v.items() if lang in langs]


# --- ICR -----------------------------------------------------------------------------------------------
def icr_sample(out: Path, prompts: dict, args: ICRArgs, policy: str, seed: int) -> dict:
    """n responses per prompt and language; `truncated[k]` marks a response cut at max_new_tokens."""

    items = _items(prompts, [args.source, *args.languages])
    outs = open_backend(args.backend, policy).generate(
        [user(p) for _, _, p in items],
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
        done = translate(
            open_backend(args.backend, policy),
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
    pol, ref = open_backend(args.backend, reward_model), open_backend(args.backend, reference)
    scores: dict[tuple, float] = {}
    for ended in (True, False):
        group = [s for s in slots if rows[s[0]]["truncated"][s[1]] != ended]
        pairs = [
            (
                user(icr_instruction(args, prompts[rows[r]["id"]][args.source], rows[r]["lang"], rows[r]["prompt"])),
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
        "reward_mean": mean(rewards),
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
        "chosen_len": mean(p["chosen_len"] for p in pairs),
        "rejected_len": mean(p["rejected_len"] for p in pairs),
        "margin_mean": mean(p["margin"] for p in pairs),
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
    prompts = load_prompts(recipe, args.source, args.languages, args.limit)
    pipe = Pipeline(run_dir)
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
        pipe.stage(r, "model", partial(dpo_round, recipe, pipe, r, policy, pairs, args.nll_weight))
        pipe.record_round(
            r,
            {
                **pipe.stats(r, "samples.jsonl"),
                **pipe.stats(r, "scored.jsonl"),
                **pipe.stats(r, "pairs.jsonl"),
                "later_reference": args.later_reference,
                **{f"dpo/{k}": v for k, v in pipe.stats(r, "model").items()},
                **evaluate_round(recipe, pipe, r, str(model)),
            },
        )
        policies.append(str(model))
    return finish(pipe, policies[-1], out)


# --- LIDR ----------------------------------------------------------------------------------------------
_MORE_LANGUAGES = """Mandarin Cantonese Dutch Turkish Greek Latin Hebrew Polish Swedish Norwegian Danish Finnish
Czech Ukrainian Persian Farsi Urdu Tamil Filipino Tagalog Romanian Hungarian Catalan Irish Welsh Esperanto Sanskrit
Punjabi Gujarati Marathi Nepali Burmese Khmer"""
_LANGUAGE_NAMES = sorted({n.split(" (")[0] for n in LANG_NAMES.values()} | set(_MORE_LANGUAGES.split()))
_LANG = r"(?:" + "|".join(_LANGUAGE_NAMES) + r")\b"
_POLITE = (
    r"(?:please\s+|kindly\s+|now\s+|(?:can|could|would|will)\s+you\s+(?:please\s+)?"
    r"|i\s+(?:need|want|would like)\s+you\s+to\s+|help\s+me\s+)*"
)
# A request to translate, read in the source-language (English) prompt, one sentence at a time:
_REQUEST = [
    re.compile(r"^\W*" + _POLITE + r"s?translat(?:e|es)\b", re.I),  # "Translate …", "Could you translate …"
    re.compile(
        r"^\W*"
        + _POLITE
        + r"(?:give|provide|write|tell)\s+(?:me\s+)?(?:a|the)\s+(?:\w+\s+)?translation\s+(?:of|for)\b",
        re.I,
    ),
    re.compile(r"\bhow\s+(?:do|would|can|should)\s+(?:you|i|we|one)\s+say\b.*\bin\s+" + _LANG, re.I | re.S),
    re.compile(r"\bwhat\s+(?:is|'s|does)\s+[\"'“‘«].+?[\"'”’»]\s+(?:mean\s+)?in\s+" + _LANG, re.I | re.S),
    re.compile(r"^\W*" + _POLITE + r"(?:render|put|convert|rewrite)\b.*\b(?:in|into)\s+" + _LANG, re.I | re.S),
]


def is_translation_request(prompt: str) -> bool:
    """labkit's classifier (`translation_requests: auto`): does this English prompt ask for a translation? It reads
    requests ("Translate …", "How do you say … in French?"), not mentions ("What is the translation industry worth?",
    "Who translated the Bible into German?")."""
    sentences = [s for s in re.split(r"(?<=[.!?:])\s+|\n+", prompt or "") if s.strip()]
    return any(rx.search(s) for rx in _REQUEST for s in sentences)


def translation_request_ids(
    setting: str, prompts: dict[str, dict[str, str]], source: str, base: Path | None = None
) -> set[str]:
    """Ids of prompts that are themselves translation requests: `auto` (the classifier on the source prompt), `none`,
    or a file you curate: one id per line (# comments allowed), or JSONL rows with an `id` (the reference code's
    instruction_about_translate.jsonl is such a file)."""
    if setting == "auto":
        return {i for i, v in prompts.items() if is_translation_request(v[source])}
    if setting == "none":
        return set()
    path = Path(setting).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    if not path.exists():
        raise LabkitError(
            f"method_args.translation_requests: no file {path}.",
            hint="auto, none, or a file of prompt ids, one per line.",
        )
    ids = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("{"):
            ids.add(str(json.loads(line)["id"]))
        elif line and not line.startswith("#"):
            ids.add(line)
    return ids


def lidr_prompts(prompts: dict[str, dict[str, str]], args: LIDRArgs) -> dict[str, dict[str, str]]:
    """Each prompt as the model is asked it (`answer_template`, the language named as the reference names it); the
    DPO pairs keep this prompt, as the reference's do."""
    return {i: {lang: args.answer_prompt(lang, p) for lang, p in v.items()} for i, v in prompts.items()}


def lidr_answer(out: Path, prompts: dict, args: LIDRArgs, policy: str) -> dict:

    items = _items(lidr_prompts(prompts, args), [args.source, *args.languages])
    outs = open_backend(args.backend, policy).generate(
        [user(p) for _, _, p in items],
        GenParams(
            max_new_tokens=args.max_new_tokens, temperature=args.temperature, repetition_penalty=args.repetition_penalty
        ),
    )
    write_jsonl(
        out,
        [
            {
                "id": i,
                "lang": lang,
                "prompt": p,
                "answer": str(o[0]),
                "truncated": bool(getattr(o[0], "truncated", False)),
            }
            for (i, lang, p), o in zip(items, outs)
        ],
    )
    return {"answers": len(items), "truncated": sum(bool(getattr(o[0], "truncated", False)) for o in outs)}


def lidr_translate(out: Path, answers_path: Path, prompts: dict, args: LIDRArgs, policy: str) -> dict:
    """The model translates English answers into each target language and target answers into English."""
    b = open_backend(args.backend, policy)
    answers = {(x["id"], x["lang"]): x["answer"] for x in read_jsonl(answers_path)}
    rows = []
    for lang in args.languages:
        ids = [i for i in prompts if (i, lang) in answers and (i, args.source) in answers]
        fwd = translate(
            b,
            [answers[(i, args.source)] for i in ids],
            lang,
            args.translation_max_new_tokens,
            args.translate_prompt,
            args.accept_unclosed_translations,
            args.language(lang),
        )
        back = translate(
            b,
            [answers[(i, lang)] for i in ids],
            args.source,
            args.translation_max_new_tokens,
            args.translate_prompt,
            args.accept_unclosed_translations,
            args.language(args.source),
        )
        rows += [{"id": i, "lang": lang, "to_target": f, "to_source": k} for i, f, k in zip(ids, fwd, back)]
    write_jsonl(out, rows)
    return {
        "translations": 2 * len(rows),
        "failed": sum((x["to_target"] is None) + (x["to_source"] is None) for x in rows),
    }


def lidr_pairs(
    prompts: dict[str, dict[str, str]],
    answers: dict[tuple[str, str], str],
    to_target: dict[tuple[str, str], str | None],
    to_source: dict[tuple[str, str], str | None],
    languages: list[str],
    source: str = "en",
    requests: set[str] = frozenset(),
) -> tuple[list[dict], dict]:
    """Pairs from answers and their self-translations, keyed (id, lang), as the reference code builds them:
    - a target prompt: chosen = the English answer translated into it (the untranslated English answer when the
      prompt is a translation request: translating it would change what was asked), rejected = its own answer;
    - the English prompt, once: chosen = its answer, rejected = the answer in the last listed language translated
      back (the reference rewrites the English pairs for each language, so the last one's remain);
    - a translation that failed either way drops both pairs of that prompt and language."""
    pairs, stats = [], {"failed_translations": 0, "translation_prompts": 0}
    via = languages[-1] if languages else None
    for pid, by_lang in prompts.items():
        en_answer = answers.get((pid, source))
        if en_answer is None:
            continue
        stats["translation_prompts"] += pid in requests
        for lang in languages:
            if lang not in by_lang or (pid, lang) not in answers:
                continue
            fwd, back = to_target.get((pid, lang)), to_source.get((pid, lang))
            if not fwd or not back:
                stats["failed_translations"] += 1
                continue
            chosen = en_answer if pid in requests else fwd
            pairs.append(
                {
                    "id": pid,
                    "lang": lang,
                    "prompt": by_lang[lang],
                    "chosen": chosen,
                    "rejected": answers[(pid, lang)],
                    "via": source,
                }
            )
            if lang == via:
                pairs.append(
                    {
                        "id": pid,
                        "lang": source,
                        "prompt": by_lang[source],
                        "chosen": en_answer,
                        "rejected": back,
                        "via": lang,
                    }
                )
    stats["pairs"] = len(pairs)
    return pairs, stats


def lidr_make_pairs(
    out: Path, answers_path: Path, trans_path: Path, prompts: dict, args: LIDRArgs, requests: set[str]
) -> dict:
    answers = {(x["id"], x["lang"]): x["answer"] for x in read_jsonl(answers_path)}
    trans = read_jsonl(trans_path)
    pairs, stats = lidr_pairs(
        lidr_prompts(prompts, args),
        answers,
        {(x["id"], x["lang"]): x["to_target"] for x in trans},
        {(x["id"], x["lang"]): x["to_source"] for x in trans},
        args.languages,
        args.source,
        requests,
    )
    write_jsonl(out, pairs)
    return {
        **stats,
        "chosen_len": mean(len(p["chosen"]) for p in pairs),
        "rejected_len": mean(len(p["rejected"]) for p in pairs),
    }


def run_lidr(recipe: Recipe, run_dir: Path, out: Path, resume: bool = False) -> dict:

    args: LIDRArgs = method_args(recipe)
    prompts = load_prompts(recipe, args.source, args.languages, args.limit)
    requests = translation_request_ids(
        args.translation_requests, prompts, args.source, Path(recipe.source).parent if recipe.source else None
    )
    pipe = Pipeline(run_dir)
    policy = recipe.model["name"]
    for r in range(1, args.rounds + 1):
        answers = pipe.stage(r, "answers.jsonl", partial(lidr_answer, prompts=prompts, args=args, policy=policy))
        trans = pipe.stage(
            r,
            "translations.jsonl",
            partial(lidr_translate, answers_path=answers, prompts=prompts, args=args, policy=policy),
        )
        pairs = pipe.stage(
            r,
            "pairs.jsonl",
            partial(
                lidr_make_pairs, answers_path=answers, trans_path=trans, prompts=prompts, args=args, requests=requests
            ),
        )
        model = pipe.path(r, "model")
        pipe.stage(r, "model", partial(dpo_round, recipe, pipe, r, policy, pairs, args.nll_weight))
        pipe.record_round(
            r,
            {
                **pipe.stats(r, "translations.jsonl"),
                **pipe.stats(r, "pairs.jsonl"),
                **{f"dpo/{k}": v for k, v in pipe.stats(r, "model").items()},
                **evaluate_round(recipe, pipe, r, str(model)),
            },
        )
        policy = str(model)
    return finish(pipe, policy, out)


# --- RaDis ---------------------------------------------------------------------------------------------
def radis_example(tok, prompt: str, reference: str, rationale: str, rationale_loss: bool) -> dict:
    """Pre-tokenised SFT example with its own `labels` (TRL uses a `labels` column as is): -100 on the prompt,
    the reference (+ EOS) learned, the rationale learned only if `rationale_loss`."""
    p_text = tok.apply_chat_template(user(prompt), tokenize=False, add_generation_prompt=True)
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
        user(args.rationale_prompt.format(src=_radis_names(args, x)[0], tgt=_radis_names(args, x)[1], **x))
        for x in rows
    ]
    outs = open_backend(args.backend, model).generate(prompts, GenParams(max_new_tokens=args.max_new_tokens))
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
    final, _ = fit(
        radis_sft_recipe(recipe),
        run_dir,
        out,
        dataset=radis_dataset(tok, read_jsonl(rationales_path), args),
        extra_log={"round": 1},
    )
    return {k: final[k] for k in ("loss", "mean_token_accuracy", "train_loss") if k in final}


def run_radis(recipe: Recipe, run_dir: Path, out: Path, resume: bool = False) -> dict:

    args: RaDisArgs = method_args(recipe)
    pipe = Pipeline(run_dir)
    rows = [dict(x) for x in load_dataset(copy.deepcopy(recipe))][: args.limit or None]
    rationales = pipe.stage(
        1, "rationales.jsonl", partial(radis_rationales, rows=rows, args=args, model=recipe.model["name"])
    )
    pipe.stage(1, "model", partial(radis_train, recipe=recipe, run_dir=run_dir, rationales_path=rationales, args=args))
    pipe.record_round(
        1, {**pipe.stats(1, "rationales.jsonl"), **{f"sft/{k}": v for k, v in pipe.stats(1, "model").items()}}
    )
    return finish(pipe, str(pipe.path(1, "model")), out)
