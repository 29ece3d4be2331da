"""Self-improvement recipes as multi-stage, multi-round pipelines: ICR, LIDR and RaDis (METHODS.md §2, §3, §10).

Every stage reads and writes files under RUN_DIR/pipeline/round{r}/ (JSONL you can open) and is marked
done only after its output is complete, so rerunning a killed pipeline skips the finished stages and
starts again at the one that died. Round r+1 starts from round r's model. Per-round metrics go to
rounds.json, metrics.jsonl (event "round") and the store (`round{r}/...`).

- ICR: sample n responses per prompt and language → score each by the implicit reward of an English DPO
  model vs its reference, β·(Σlog π(y|x) − Σlog π_ref(y|x)) with EOS, under the English instruction (with
  "answer only in <language>" for other languages; ablations: the target-language prompt, or the English
  translation of the response) → length control α (grid) so chosen and rejected lengths match on average →
  pairs = highest vs lowest → DPO + NLL.
- LIDR: the model answers in English and each target language, translates its answers both ways (tagged
  prompt; failed translations dropped and counted) → pairs: English prompt: chosen = English answer,
  rejected = target answer translated to English; target prompt: chosen = English answer translated into
  the target, rejected = the target answer. Prompts that are themselves translation requests are left out
  (translating their answers would change what was asked) and counted → DPO + NLL.
- RaDis: the frozen original model writes a rationale for each (source, reference) translation pair; SFT
  targets = reference followed by the rationale; `rationale_loss: false` masks the rationale tokens.
"""
from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Callable

from labkit.errors import LabkitError
from labkit.jsonl import read_jsonl, write_jsonl
from labkit.languages import NAMES as LANG_NAMES
from labkit.train.recipe import Recipe

TRANSLATE_PROMPT = ("Translate the following text from {src} into {tgt}. Write only the translation, between <translation> and "
                    "</translation>.\n\n<text>\n{text}\n</text>")
_TRANSLATION_REQUEST = re.compile(r"\btranslat|traduc|übersetz|переве|翻译|翻譯|翻訳|번역|tafsiri|แปล|অনুবাদ|అనువ", re.I)


# --- the runner ----------------------------------------------------------------------------------------
class Pipeline:
    def __init__(self, run_dir: Path):
        from labkit.jobs import MetricsWriter

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
        self.writer.log(event="stage", round=r, stage=name, state="done", **{k: v for k, v in stats.items() if isinstance(v, (int, float))})
        return out

    def stats(self, r: int, name: str) -> dict:
        marker = self.path(r, name).parent / f".{name}.done"
        return json.loads(marker.read_text()) if marker.exists() else {}

    def record_round(self, r: int, metrics: dict) -> None:
        rounds = json.loads(self.rounds_file.read_text()) if self.rounds_file.exists() else []
        rounds = [x for x in rounds if x["round"] != r] + [{"round": r, **metrics}]
        self.rounds_file.write_text(json.dumps(sorted(rounds, key=lambda x: x["round"]), indent=1, default=str))
        self.writer.log(event="round", round=r, **{k: v for k, v in metrics.items() if isinstance(v, (int, float))})
        if os.environ.get("LABKIT_RUN_ID"):
            from labkit.store import open_store

            open_store().update(os.environ["LABKIT_RUN_ID"], metrics={f"round{r}/{k}": v for k, v in metrics.items() if isinstance(v, (int, float))})


# --- shared pieces -----------------------------------------------------------------------------------
def load_prompts(recipe: Recipe) -> dict[str, dict[str, str]]:
    """{id: {lang: prompt}} from rows with a shared id across languages."""
    from labkit.train.data import load_dataset

    ds = load_dataset(copy.deepcopy(recipe))
    by_id: dict[str, dict[str, str]] = {}
    for row in ds:
        by_id.setdefault(str(row["id"]), {})[row["lang"]] = row["prompt"]
    source = recipe.method_args.get("source", "en")
    langs = recipe.method_args.get("languages") or []
    missing = [l for l in [source, *langs] if not any(l in v for v in by_id.values())]
    if missing:
        raise LabkitError(f"The prompt data has no rows in {missing}.", hint="Rows need id, lang and prompt; the same id across languages.")
    complete = {i: v for i, v in by_id.items() if source in v}
    limit = recipe.method_args.get("limit")
    return dict(list(complete.items())[: int(limit)] if limit else complete)


def translate(backend, texts: list[str], src: str, tgt: str, max_new_tokens: int) -> list[str | None]:
    """Translations with the model itself; None when the answer has no usable translation. The reply is
    prefilled with the opening <translation> tag (the chat template rendered, the tag appended), so the
    model only has to write the translation and close the tag."""
    from labkit.backends import GenParams

    src_name = "its language" if src == "auto" else LANG_NAMES.get(src, src)
    prompts = [backend.render([{"role": "user", "content": TRANSLATE_PROMPT.format(src=src_name, tgt=LANG_NAMES.get(tgt, tgt), text=t)}])
               + "<translation>" for t in texts]
    outs = backend.generate(prompts, GenParams(max_new_tokens=max_new_tokens, stop=("</translation>",))) if prompts else []
    return [parse_translation("<translation>" + o[0], source=t) for o, t in zip(outs, texts)]


def parse_translation(output: str, source: str = "") -> str | None:
    m = re.search(r"<translation>\s*(.*?)\s*(?:</translation>|$)", output or "", re.S)
    text = m.group(1).strip() if m else ""
    if not text or text == source.strip():
        return None  # no tags, empty, or the input copied back untranslated
    if source and not 0.2 <= len(text) / max(len(source), 1) <= 5:
        return None  # far too short or too long to be a translation of it
    return text


def dpo_round(recipe: Recipe, pipe: Pipeline, r: int, policy: str, pairs_path: Path) -> dict:
    """DPO (+ NLL) on the round's pairs, from the current policy; the model goes to round{r}/model."""
    from datasets import Dataset

    from labkit.train.methods import prep_dpo
    from labkit.train.worker import fit

    rows = read_jsonl(pairs_path)
    if not rows:
        raise LabkitError(f"Round {r} produced no preference pairs.", hint="More prompts or samples, or check the stage files.")
    sub = copy.deepcopy(recipe)
    sub.method, sub.model = "dpo", {**recipe.model, "name": policy, "lora": recipe.model.get("lora")}
    sub.method_args = {"nll_weight": recipe.method_args.get("nll_weight", 1.0)}
    ds = prep_dpo(Dataset.from_list([{"prompt": x["prompt"], "chosen": x["chosen"], "rejected": x["rejected"]} for x in rows]), sub, None)
    final, _ = fit(sub, pipe.root.parent, pipe.path(r, "model"), dataset=ds, extra_log={"round": r})
    return {k: final[k] for k in ("loss", "rewards/margins", "rewards/accuracies", "rewards/chosen", "rewards/rejected") if k in final}


def evaluate_round(recipe: Recipe, pipe: Pipeline, r: int, model: str) -> dict:
    """The recipe's optional `evaluate:` section, run on round r's model: an eval run tagged round=r."""
    if not recipe.evaluate:
        return {}
    from labkit.train.worker import evaluate_after

    evals = evaluate_after(recipe, Path(model), pipe.root.parent, eval_dir=pipe.path(r, "eval"), extra_tags=[f"round={r}"])
    values = [e["value"] for e in evals]
    return {"eval/average": mean(values), **{f"eval/{e['config']}": e["value"] for e in evals}}


def backend(recipe: Recipe, model: str):
    """The generation/scoring backend of a pipeline stage: hf on CPU, `method_args.backend: vllm` on a GPU."""
    from labkit.backends import get_backend

    return get_backend(recipe.method_args.get("backend", "hf"), model, cache=False)


def mean(xs) -> float | None:
    xs = list(xs)
    return sum(xs) / len(xs) if xs else None


# --- ICR -----------------------------------------------------------------------------------------------
def choose_alpha(groups: list[list[tuple[float, float]]], grid: list[float] | None = None) -> tuple[float, list[tuple[int, int]]]:
    """Length control: among α on the grid, the one whose chosen/rejected (argmax/argmin of score − α·length,
    per group of (score, length)) have the closest mean lengths; ties → the smallest α."""
    import numpy as np

    scores = [s for g in groups for s, _ in g]
    lengths = [l for g in groups for _, l in g]
    scale = (np.std(scores) / np.std(lengths)) if len(lengths) > 1 and np.std(lengths) > 0 else 0.0
    grid = grid if grid is not None else [0.0, *(scale * np.geomspace(1e-3, 10, 60)).tolist()]
    best = None
    for a in grid:
        picks = []
        for g in groups:
            adj = [s - a * l for s, l in g]
            picks.append((int(np.argmax(adj)), int(np.argmin(adj))))
        gap = abs(mean(g[c][1] for g, (c, _) in zip(groups, picks)) - mean(g[j][1] for g, (_, j) in zip(groups, picks)))
        if best is None or gap < best[0] - 1e-12:
            best = (gap, a, picks)
    return best[1], best[2]


def implicit_rewards(policy_backend, ref_backend, pairs: list[tuple], beta: float) -> list[float]:
    """β·(Σlog π(y|x) − Σlog π_ref(y|x)), EOS included as TRL's DPO does; both models scored in batches."""
    lp = policy_backend.logprob(pairs, append_eos=True)
    lr = ref_backend.logprob(pairs, append_eos=True)
    return [beta * (a - b) for a, b in zip(lp, lr)]


def run_icr(recipe: Recipe, run_dir: Path, out: Path, resume: bool = False) -> dict:
    from labkit.backends import GenParams

    A = recipe.method_args
    source, langs = A.get("source", "en"), list(A.get("languages") or [])
    prompts = load_prompts(recipe)
    rounds, n, beta = int(A.get("rounds", 2)), int(A.get("samples", 4)), float(A.get("beta", 0.1))
    scoring = A.get("scoring", "english")
    if scoring not in ("english", "target", "translated"):
        raise LabkitError(f"Unknown ICR scoring {scoring!r}.", hint="english (the method), target or translated (ablations).")
    pipe = Pipeline(run_dir)
    policy = recipe.model["name"]
    reward_model, reference = A.get("reward_model", recipe.model["name"]), A.get("reference")
    if not reference:
        raise LabkitError("ICR needs method_args.reference: the reference model of the English DPO model.")
    max_new = int(A.get("max_new_tokens", 256))
    for r in range(1, rounds + 1):
        def sample(path, policy=policy):
            b = backend(recipe, policy)
            items = [(i, l, p) for i, v in prompts.items() for l, p in v.items() if l in [source, *langs]]
            outs = b.generate([[{"role": "user", "content": p}] for _, _, p in items],
                              GenParams(max_new_tokens=max_new, temperature=float(A.get("temperature", 0.9)), n=n, seed=r))
            write_jsonl(path, [{"id": i, "lang": l, "prompt": p, "responses": o} for (i, l, p), o in zip(items, outs)])
            return {"prompts": len(items), "responses": len(items) * n}

        samples = pipe.stage(r, "samples.jsonl", sample)

        def score(path, policy=policy):
            rows = read_jsonl(samples)
            pol, ref = backend(recipe, reward_model), backend(recipe, reference)
            texts = [resp for row in rows for resp in row["responses"]]
            translations = translate(backend(recipe, policy), texts, "auto", source, max_new) if scoring == "translated" else None
            pairs, k = [], 0
            for row in rows:
                for resp in row["responses"]:
                    en = prompts[row["id"]][source]
                    if scoring == "target":
                        x = row["prompt"]
                    elif row["lang"] == source:
                        x = en
                    else:
                        x = f"Please answer only in {LANG_NAMES.get(row['lang'], row['lang'])}.\n{en}"
                    y = (translations[k] or resp) if translations else resp
                    pairs.append(([{"role": "user", "content": x if scoring != "translated" else en}], y))
                    k += 1
            rewards = implicit_rewards(pol, ref, pairs, beta)
            tok = pol.tok
            lengths = [len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts]
            k = 0
            for row in rows:
                row["scores"], row["lengths"] = rewards[k : k + len(row["responses"])], lengths[k : k + len(row["responses"])]
                k += len(row["responses"])
            write_jsonl(path, rows)
            return {"reward_mean": mean(rewards), "reward_std": float(__import__("numpy").std(rewards)) if rewards else None}

        scored = pipe.stage(r, "scored.jsonl", score)

        def make_pairs(path):
            rows = [x for x in read_jsonl(scored) if len(x["responses"]) >= 2]
            alpha, picks = choose_alpha([list(zip(x["scores"], x["lengths"])) for x in rows], A.get("alpha_grid"))
            out_rows = []
            for x, (c, j) in zip(rows, picks):
                if c == j or x["responses"][c] == x["responses"][j]:
                    continue
                out_rows.append({"id": x["id"], "lang": x["lang"], "prompt": x["prompt"], "chosen": x["responses"][c], "rejected": x["responses"][j],
                                 "chosen_score": x["scores"][c], "rejected_score": x["scores"][j], "margin": x["scores"][c] - x["scores"][j],
                                 "chosen_len": x["lengths"][c], "rejected_len": x["lengths"][j], "alpha": alpha})
            write_jsonl(path, sorted(out_rows, key=lambda p: -p["margin"]))
            return {"pairs": len(out_rows), "alpha": alpha, "chosen_len": mean(p["chosen_len"] for p in out_rows),
                    "rejected_len": mean(p["rejected_len"] for p in out_rows), "margin_mean": mean(p["margin"] for p in out_rows)}

        pairs = pipe.stage(r, "pairs.jsonl", make_pairs)
        pipe.stage(r, "model", lambda path, policy=policy: dpo_round(recipe, pipe, r, policy, pairs))
        pipe.record_round(r, {**pipe.stats(r, "scored.jsonl"), **pipe.stats(r, "pairs.jsonl"), **{f"dpo/{k}": v for k, v in pipe.stats(r, "model").items()},
                              **evaluate_round(recipe, pipe, r, str(pipe.path(r, "model")))})
        policy = str(pipe.path(r, "model"))
    return finish(pipe, policy, out)


def finish(pipe: Pipeline, policy: str, out: Path) -> dict:
    """The last round's model becomes the run's output; the final metrics are the last round's."""
    import shutil

    if Path(policy).resolve() != out.resolve():
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(policy, out)
    rounds = json.loads(pipe.rounds_file.read_text()) if pipe.rounds_file.exists() else []
    return {"rounds": len(rounds), **(rounds[-1] if rounds else {})}


# --- LIDR ----------------------------------------------------------------------------------------------
def lidr_pairs(prompts: dict[str, dict[str, str]], answers: dict[tuple[str, str], str], to_target: dict[tuple[str, str], str | None],
               to_source: dict[tuple[str, str], str | None], languages: list[str], source: str = "en") -> tuple[list[dict], dict]:
    """Pairs from answers and their self-translations (METHODS.md §3). Keys are (id, lang)."""
    pairs, stats = [], {"failed_translations": 0, "translation_prompts_skipped": 0}
    for pid, by_lang in prompts.items():
        if _TRANSLATION_REQUEST.search(by_lang[source]):
            stats["translation_prompts_skipped"] += 1
            continue
        en_answer = answers.get((pid, source))
        for l in languages:
            if l not in by_lang or (pid, l) not in answers:
                continue
            back = to_source.get((pid, l))
            if back:  # English prompt: the original English answer beats the target answer brought back to English
                pairs.append({"id": pid, "lang": source, "prompt": by_lang[source], "chosen": en_answer, "rejected": back, "via": l})
            else:
                stats["failed_translations"] += 1
            fwd = to_target.get((pid, l))
            if fwd:  # target prompt: the English answer translated into it beats the model's own target answer
                pairs.append({"id": pid, "lang": l, "prompt": by_lang[l], "chosen": fwd, "rejected": answers[(pid, l)], "via": source})
            else:
                stats["failed_translations"] += 1
    stats["pairs"] = len(pairs)
    return pairs, stats


def run_lidr(recipe: Recipe, run_dir: Path, out: Path, resume: bool = False) -> dict:
    from labkit.backends import GenParams

    A = recipe.method_args
    source, langs = A.get("source", "en"), list(A.get("languages") or [])
    prompts = load_prompts(recipe)
    max_new = int(A.get("max_new_tokens", 256))
    pipe = Pipeline(run_dir)
    policy = recipe.model["name"]
    for r in range(1, int(A.get("rounds", 2)) + 1):
        def answer(path, policy=policy):
            items = [(i, l, p) for i, v in prompts.items() for l, p in v.items() if l in [source, *langs]]
            outs = backend(recipe, policy).generate([[{"role": "user", "content": p}] for _, _, p in items],
                                              GenParams(max_new_tokens=max_new, repetition_penalty=float(A.get("repetition_penalty", 1.1))))
            write_jsonl(path, [{"id": i, "lang": l, "prompt": p, "answer": o[0]} for (i, l, p), o in zip(items, outs)])
            return {"answers": len(items)}

        answers_path = pipe.stage(r, "answers.jsonl", answer)

        def translate_all(path, policy=policy):
            b = backend(recipe, policy)
            answers = {(x["id"], x["lang"]): x["answer"] for x in read_jsonl(answers_path)}
            rows = []
            for l in langs:
                ids = [i for i in prompts if (i, l) in answers and (i, source) in answers]
                fwd = translate(b, [answers[(i, source)] for i in ids], source, l, max_new)
                back = translate(b, [answers[(i, l)] for i in ids], l, source, max_new)
                rows += [{"id": i, "lang": l, "to_target": f, "to_source": k} for i, f, k in zip(ids, fwd, back)]
            write_jsonl(path, rows)
            return {"translations": 2 * len(rows), "failed": sum((x["to_target"] is None) + (x["to_source"] is None) for x in rows)}

        trans_path = pipe.stage(r, "translations.jsonl", translate_all)

        def make_pairs(path):
            answers = {(x["id"], x["lang"]): x["answer"] for x in read_jsonl(answers_path)}
            trans = read_jsonl(trans_path)
            pairs, stats = lidr_pairs(prompts, answers, {(x["id"], x["lang"]): x["to_target"] for x in trans},
                                      {(x["id"], x["lang"]): x["to_source"] for x in trans}, langs, source)
            write_jsonl(path, pairs)
            return {**stats, "chosen_len": mean(len(p["chosen"]) for p in pairs), "rejected_len": mean(len(p["rejected"]) for p in pairs)}

        pairs = pipe.stage(r, "pairs.jsonl", make_pairs)
        pipe.stage(r, "model", lambda path, policy=policy: dpo_round(recipe, pipe, r, policy, pairs))
        pipe.record_round(r, {**pipe.stats(r, "translations.jsonl"), **pipe.stats(r, "pairs.jsonl"),
                              **{f"dpo/{k}": v for k, v in pipe.stats(r, "model").items()}, **evaluate_round(recipe, pipe, r, str(pipe.path(r, "model")))})
        policy = str(pipe.path(r, "model"))
    return finish(pipe, policy, out)


# --- RaDis ---------------------------------------------------------------------------------------------
RATIONALE_PROMPT = ("Here is a {src} sentence and its {tgt} translation.\nSource: {source}\nTranslation: {reference}\n"
                    "Explain briefly how the translation conveys the meaning of the source.")
TRANSLATE_TASK = "Translate the following {src} text into {tgt}.\n{source}"


def radis_example(tok, prompt: str, reference: str, rationale: str, rationale_loss: bool) -> dict:
    """Pre-tokenised SFT example: loss on the reference (+ EOS) and, if `rationale_loss`, on the rationale."""
    p_text = tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True)
    p_ids = tok(p_text, add_special_tokens=False)["input_ids"]
    ref_ids = tok(reference, add_special_tokens=False)["input_ids"]
    rat_ids = tok("\n\n" + rationale, add_special_tokens=False)["input_ids"] if rationale else []
    eos = [tok.eos_token_id]
    ids = p_ids + ref_ids + rat_ids + eos
    mask = [0] * len(p_ids) + [1] * len(ref_ids) + [int(rationale_loss)] * len(rat_ids) + [1]
    return {"input_ids": ids, "completion_mask": mask}


def run_radis(recipe: Recipe, run_dir: Path, out: Path, resume: bool = False) -> dict:
    from datasets import Dataset
    from transformers import AutoTokenizer

    from labkit.backends import GenParams
    from labkit.models import resolve_model
    from labkit.train.data import load_dataset
    from labkit.train.worker import fit

    A = recipe.method_args
    pipe = Pipeline(run_dir)
    rows = [dict(x) for x in load_dataset(copy.deepcopy(recipe))]
    if A.get("limit"):
        rows = rows[: int(A["limit"])]
    names = lambda x: (LANG_NAMES.get(x.get("src_lang", A.get("src_lang", "en")), "source-language"),  # noqa: E731
                       LANG_NAMES.get(x.get("tgt_lang", A.get("tgt_lang", "zh")), "target-language"))

    def rationales(path):
        prompts = [[{"role": "user", "content": A.get("rationale_prompt", RATIONALE_PROMPT).format(src=names(x)[0], tgt=names(x)[1], **x)}] for x in rows]
        outs = backend(recipe, recipe.model["name"]).generate(prompts, GenParams(max_new_tokens=int(A.get("max_new_tokens", 256))))
        write_jsonl(path, [{**x, "rationale": o[0].strip()} for x, o in zip(rows, outs)])
        return {"examples": len(rows), "empty_rationales": sum(not o[0].strip() for o in outs)}

    rat_path = pipe.stage(1, "rationales.jsonl", rationales)

    def train(path):
        tok = AutoTokenizer.from_pretrained(resolve_model(recipe.model["name"]))
        data = [radis_example(tok, A.get("translate_prompt", TRANSLATE_TASK).format(src=names(x)[0], tgt=names(x)[1], **x), x["reference"],
                              x["rationale"], bool(A.get("rationale_loss", True))) for x in read_jsonl(rat_path)]
        sub = copy.deepcopy(recipe)
        sub.method, sub.method_args = "sft", {}
        final, _ = fit(sub, run_dir, path, dataset=Dataset.from_list(data), extra_log={"round": 1})
        return {k: final[k] for k in ("loss", "mean_token_accuracy", "train_loss") if k in final}

    pipe.stage(1, "model", train)
    pipe.record_round(1, {**pipe.stats(1, "rationales.jsonl"), **{f"sft/{k}": v for k, v in pipe.stats(1, "model").items()}})
    return finish(pipe, str(pipe.path(1, "model")), out)
