"""The Group-then-Scale steps as the app runs them: an analysis as a job, finding its result, launching the
training stages (stage 2 queued behind stage 1), and the routing of a trained model. The CLI runs the same
engine functions directly (labkit.dmoe.cli)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from labkit.errors import LabkitError
from labkit.settings import Settings, get_settings
from labkit import guard
from labkit import jobs
from labkit.dmoe.train import ROUTING, measure_routing
from labkit.dmoe.upcycle import read_meta
from labkit.store import new_run_id
from labkit.train import launch
from labkit.train.recipe import load
from labkit.dmoe.analysis import language_texts
from labkit.dmoe.upcycle import language_map
from labkit.jsonl import write_jsonl
from labkit.train.trainset import load_dataset

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
ANALYSIS = "analysis.json"
CORPUS = "corpus"  # the stages' text: the bundled corpus in the model's languages


def find_analysis(ref: str, settings: Settings | None = None) -> Path:
    """An analysis.json path, a folder holding one, or the id of the run that wrote it. On a demo a path goes
    through labkit.guard first, so the answer is the same refusal whether or not it exists."""

    settings = settings or get_settings()
    ref = (ref or "").strip()
    if not ref:
        raise LabkitError("No analysis given.", hint="Run an analysis, or give an analysis.json path or its run id.")
    run_id = ref.replace("-", "").replace("_", "").isalnum()
    if run_id and (settings.runs_dir / ref / ANALYSIS).is_file():
        return settings.runs_dir / ref / ANALYSIS
    p = guard.require_readable(ref, "The analysis file", settings)
    if p.is_dir():
        p = p / ANALYSIS
    if not p.is_file():
        raise LabkitError(
            f"No analysis file at {ref[:200]!r}.", hint="An analysis.json path, or the run id of a finished analysis."
        )
    return p


def start_analysis(
    model: str,
    languages: list[str],
    data: str,
    steps: int,
    groups: int,
    epsilon: float,
    settings: Settings,
    tags: list[str] | None = None,
) -> tuple:
    """Start `labkit dmoe analyze` as a job; returns the run and the analysis file it will write."""

    if len(languages) < 2:
        raise LabkitError("Give at least two languages.", hint="e.g. en,de,zh,ja")
    run_id = new_run_id("dmoe")
    out = settings.runs_dir / run_id / ANALYSIS
    argv = [sys.executable, "-m", "labkit.cli", "dmoe", "analyze", "--model", model, "--languages", ",".join(languages)]
    argv += ["--steps", str(steps), "--groups", str(groups), "--epsilon", str(epsilon), "--data", data]
    argv += ["--out", str(out), "--json"]
    run = jobs.start(
        argv,
        kind="dmoe",
        name=f"dmoe analyze {model}",
        config={"argv": argv},
        tags=["dmoe", *(tags or [])],
        settings=settings,
        run_id=run_id,
    )
    return run, out


def stage_recipe(stage: int, model_dir: str, data_path: str, steps: int):
    """The tiny stage recipe (configs/train/dmoe-stage{1,2}-tiny.yaml) on this model and data."""

    return load(
        CONFIGS / "train" / f"dmoe-stage{stage}-tiny.yaml",
        [f"model.name={model_dir}", f"data.path={data_path}", "method_args={}", f"trainer.max_steps={int(steps)}"],
    )


def launch_stages(
    model_dir: str,
    data_path: str,
    steps1: int,
    steps2: int,
    both: bool,
    settings: Settings | None = None,
    tags: list[str] | None = None,
) -> list[dict]:
    """Launch stage 1, and with `both` stage 2 queued behind it; returns each stage's run id and output folder.
    The data is checked against the model's groups first (`stage_data`), so a language without an expert is a
    message here, not a failed run."""

    settings = settings or get_settings()
    meta = read_meta(model_dir) if model_dir else None
    if meta is None:
        raise LabkitError("Choose an upcycled DMoE model folder.", hint="Upcycle one in step 2 (it fills this box).")
    data_path = stage_data(model_dir, meta, data_path, settings)
    r1 = launch.launch(stage_recipe(1, model_dir, data_path, steps1), settings=settings, extra_tags=tags)
    runs = [{"stage": 1, "run_id": r1.id, "output": str(Path(r1.run_dir) / "output")}]
    if both:  # from stage 1's output, which does not exist yet: not validated now
        recipe = stage_recipe(2, runs[0]["output"], data_path, steps2)
        r2 = launch.launch(recipe, settings=settings, validate=False, after=[r1.id], extra_tags=tags)
        runs.append({"stage": 2, "run_id": r2.id, "output": str(Path(r2.run_dir) / "output"), "after": r1.id})
    return runs


def stage_data(model_dir: str, meta: dict, data: str, settings: Settings) -> str:
    """The stages' text file. `corpus` (or nothing) writes the bundled text of exactly the model's languages, so the
    defaults agree whatever the analysis grouped; a file is read and every language in it must have an expert."""
    served = meta.get("language_to_expert") or language_map(meta.get("groups") or [])
    data = (data or "").strip()
    if data in ("", CORPUS):
        rows = [{"text": t, "lang": lang} for lang in served for t in language_texts(lang)]
        name = "-".join(sorted(served))[:120]
        return str(write_jsonl(settings.home / "dmoe" / "text" / f"corpus-{name}.jsonl", rows))
    guard.require_readable(data, "The text data", settings)  # on a demo: the same refusal, existing or not
    ds = load_dataset(stage_recipe(1, model_dir, data, 1))
    if "lang" not in ds.column_names:
        raise LabkitError(
            f"The text data {data[:200]!r} has no 'lang' column (it has {', '.join(ds.column_names)}).",
            hint="Stage 1 routes each text by its language: rows {text, lang}, or `corpus` for the bundled text.",
        )
    counts: dict[str, int] = {}
    for lang in ds["lang"]:
        counts[str(lang)] = counts.get(str(lang), 0) + 1
    missing = sorted(set(counts) - set(served))
    if missing:
        groups = "; ".join(", ".join(g) for g in meta.get("groups") or [])
        rows = sum(counts[m] for m in missing)
        raise LabkitError(
            f"The text data has {rows} rows in languages that no expert serves: {', '.join(missing)}.",
            hint=f"The model's experts serve {groups}. Use `corpus` (the bundled text of the model's languages), "
            "remove those rows, analyze with those languages too, or add one with `labkit dmoe add-language`.",
        )
    return data


def routing(model_dir: str, languages: list[str] | None = None) -> dict:
    """Routing statistics of a trained DMoE model: the stored routing.json when no languages are asked for,
    else measured now (and stored)."""

    if not model_dir:
        raise LabkitError("Give a trained DMoE model folder.", hint="A stage-1/2 output folder (RUN/output).")

    folder = guard.require_readable(model_dir, "The model folder")  # on a demo: refused, existing or not
    existing = folder / ROUTING
    if existing.is_file() and not languages:
        return check_routing(_json_file(existing, model_dir), model_dir)
    return check_routing(measure_routing(str(folder), None, languages, out=str(existing)), model_dir)


def _json_file(path: Path, shown: str):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise LabkitError(
            f"The {path.name} of {shown[:200]!r} is not JSON.", hint="Measure the routing again."
        ) from None
    except OSError:
        raise LabkitError(f"The {path.name} of {shown[:200]!r} cannot be read.", hint="Check the folder.") from None


def check_routing(stats, shown: str) -> dict:
    """Routing statistics in the shape the heatmap reads ({"languages": {lang: {"experts": [...], "per_layer":
    [[...], ...]}}}): a malformed file is refused with its name, not a KeyError half-way through a figure."""
    langs = stats.get("languages") if isinstance(stats, dict) else None
    ok = isinstance(langs, dict) and all(
        isinstance(v, dict)
        and isinstance(v.get("experts"), list)
        and all(isinstance(x, (int, float)) for x in v["experts"])
        and isinstance(v.get("per_layer"), list)
        and all(isinstance(row, list) and all(isinstance(x, (int, float)) for x in row) for row in v["per_layer"])
        for v in langs.values()
    )
    if not ok or len({len(v["experts"]) for v in langs.values()}) > 1:
        raise LabkitError(
            f"The routing statistics of {shown[:200]!r} are malformed.",
            hint="Each language needs 'experts' (shares per expert) and 'per_layer'; measure the routing again.",
        )
    return stats
