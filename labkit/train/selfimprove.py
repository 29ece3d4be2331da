"""The machinery shared by the multi-stage, multi-round training methods (labkit/train/methods/icr.py, lidr.py,
radis.py; METHODS.md §2, §3, §10): the round runner, prompts by id and language, a stage's backend, the model's
self-translation, a round's DPO fit and evaluation, and the run's final model.

Every stage is a top-level function `stage(out, ...)` that reads the files of earlier stages and writes one output
under RUN_DIR/pipeline/round{r}/ (JSONL you can open); `Pipeline.stage` marks it done only after it returns, so
rerunning a killed pipeline skips the finished stages and starts again at the one that died. Round r+1 starts
from round r's model. Per-round metrics go to rounds.json, metrics.jsonl (event "round") and the store
(`round{r}/...`). Each method follows its reference code; docs/selfimprove.md lists where and why labkit departs.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path

from labkit import jobs
from labkit.backends import GenParams, get_backend
from labkit.errors import LabkitError
from labkit.jobs import MetricsWriter
from labkit.jsonl import read_jsonl
from labkit.languages import NAMES as LANG_NAMES
from labkit.store import open_store
from labkit.train import worker  # as a module: the worker imports the method table, whose methods import this one
from labkit.train.trainset import load_dataset
from labkit.train.methods.dpo import prep_dpo
from labkit.train.recipe import Recipe

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
    final, _ = worker.fit(sub, pipe.root.parent, out, dataset=ds, extra_log={"round": r})
    return {
        k: final[k]
        for k in ("loss", "rewards/margins", "rewards/accuracies", "rewards/chosen", "rewards/rejected")
        if k in final
    }


def evaluate_round(recipe: Recipe, pipe: Pipeline, r: int, model: str) -> dict:
    """The recipe's optional `evaluate:` section, run on round r's model: an eval run tagged round=r."""
    if not recipe.evaluate:
        return {}

    evals = worker.evaluate_after(
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


def prompt_items(prompts: dict[str, dict[str, str]], langs: list[str]) -> list[tuple[str, str, str]]:
    return [(i, lang, p) for i, v in prompts.items() for lang, p in v.items() if lang in langs]
