"""What a benchmark is: its data per language, its prompt, its answer extraction and its scoring.

A Task's `score` is also the GRPO correctness reward for verifiable tasks (one place for "is this
right"). Data come from the Hub (`datasets.load_dataset(hub_id, config, split)`) or, equally, from a
local folder or file in the same schema: a folder with `<lang>.jsonl` / `<lang>.json` / `<lang>.parquet`,
or one file with a `lang` column.
"""

from __future__ import annotations

import abc
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.errors import LabkitError
from labkit.evaluate.extract import Extracted
from labkit.evaluate import langid

SAMPLE = "sample"  # `--data sample` / the Local data field: the small bundled data in the task's Hub schema
SAMPLES_DIR = Path(__file__).resolve().parents[1] / "samples"
WORLD = "synth"  # `--data synth`: the synthetic world's test set (labkit.synth.mgsm.world_test_set), MGSM only


SIGN_NOTE = "sign differs from gold: wrong here, correct under lm-eval's punctuation-blind match"


@dataclass
class Doc:
    id: str
    lang: str
    question: str
    gold: Any
    extra: dict = field(default_factory=dict)


class Task(abc.ABC):
    name: str = ""
    hub_id: str = ""
    languages: tuple[str, ...] = ()
    split: str = "test"
    required: tuple[str, ...] = ()  # columns the data must have
    description: str = ""
    variants: tuple[str, ...] = ("native",)  # prompt variants, first is the default
    version: int = (
        1  # bumped when prompts, data handling or scoring change; recorded in results.json, part of the resume key
    )
    options: dict[str, tuple[str, ...]] = {}  # task options and their allowed values, e.g. PolyMath's level
    numeric: bool = False  # answers are numbers: the extractor choice (labkit / lm-eval) applies
    card_metrics: dict[str, str] = {"accuracy": "accuracy"}  # model-card metric name -> key in results.json

    def __init__(self, **options):
        for key, value in options.items():
            if key not in self.options:
                raise LabkitError(
                    f"{self.name} has no option {key!r}.", hint=f"Options: {', '.join(self.options) or 'none'}."
                )
            if str(value) not in self.options[key]:
                raise LabkitError(
                    f"{self.name} option {key}={value!r} is not one of {', '.join(self.options[key])}.",
                    hint=f"For example {key}={self.options[key][0]}.",
                )
            setattr(self, key, str(value))

    # --- data ----------------------------------------------------------------------------------
    def hub_args(self, lang: str) -> dict:
        return {"path": self.hub_id, "name": lang, "split": self.split}

    def sample_languages(self) -> list[str]:
        """The languages of the bundled sample data (a few items each, offline, in the Hub schema)."""
        return sorted(p.stem for p in (SAMPLES_DIR / self.name).glob("*.jsonl") if p.stem in self.languages)

    def world_dir(self) -> Path:
        """The synthetic world's test set for this task (`--data synth`); only MGSM has one."""
        raise LabkitError(
            f"{self.name} has no synthetic data: `{WORLD}` is the synthetic arithmetic world, for mgsm only.",
            hint=f"Use --data {SAMPLE} (the bundled sample data) or a local folder.",
        )

    def world_languages(self) -> list[str]:
        return []

    def load(self, lang: str, source: str | None = None, limit: int | None = None) -> list[Doc]:
        self.check_language(lang)
        if source == WORLD:
            source = str(self.world_dir())
        if source == SAMPLE:
            if lang not in self.sample_languages():
                raise LabkitError(
                    f"The bundled {self.name} sample data has no {lang!r}.",
                    hint=f"Sample languages: {', '.join(self.sample_languages())}.",
                )
            source = str(SAMPLES_DIR / self.name)
        rows = read_rows(source, lang) if source else self._load_hub(lang)
        if rows:
            missing = [c for c in self.required if c not in rows[0]]
            if missing:
                raise LabkitError(
                    f"{self.name} data for {lang!r} lacks column(s) {', '.join(missing)} (has {', '.join(rows[0])}).",
                    hint=f"{self.name} needs {', '.join(self.required)} — the schema of {self.hub_id}.",
                )
        docs = [self.to_doc(i, r, lang) for i, r in enumerate(rows)]
        return docs[:limit] if limit else docs

    def _load_hub(self, lang: str) -> list[dict]:
        try:
            import datasets
        except ImportError as e:  # pragma: no cover - a dependency
            raise LabkitError("The datasets library is missing.", hint="pip install datasets") from e
        try:
            ds = datasets.load_dataset(**self.hub_args(lang))
        except Exception as e:  # datasets raises many types: offline, missing config, gated …
            raise LabkitError(
                f"Cannot load {self.hub_id} ({lang}): {e}",
                hint=f"Offline? Use --data {SAMPLE} (the bundled sample data), or point --data at a local "
                "folder with <lang>.jsonl files in the same schema.",
            ) from e
        return [dict(r) for r in ds]

    def knows(self, lang: str) -> bool:
        """Whether the task covers this language (its `languages`; MGSM also the synthetic world's ciphers)."""
        return lang in self.languages

    def check_language(self, lang: str) -> None:
        if not self.knows(lang):
            raise LabkitError(f"{self.name} has no language {lang!r}.", hint=f"Languages: {', '.join(self.languages)}.")

    @abc.abstractmethod
    def to_doc(self, index: int, row: dict, lang: str) -> Doc:
        """Implemented by each task."""

    # --- prompting and scoring -----------------------------------------------------------------
    @abc.abstractmethod
    def prompt(self, doc: Doc, variant: str | None = None, cot: bool = True) -> list[dict]:
        """Implemented by each task."""

    def template(self, lang: str, variant: str | None = None, cot: bool = True) -> str:
        """The prompt template text, recorded with the results."""
        return self.prompt(Doc("template", lang, "{question}", None, {"options": ["{option}"]}), variant, cot)[-1][
            "content"
        ]

    @abc.abstractmethod
    def extract(self, text: str, lang: str) -> Extracted:
        """Implemented by each task."""

    @abc.abstractmethod
    def score(self, doc: Doc, extracted: Extracted) -> float:
        """Implemented by each task."""

    # --- set-level hooks (pairwise tasks override them) -----------------------------------------
    def score_batch(self, docs: list[Doc], outputs: list[str], spec=None) -> list[dict]:
        """One sample record per (doc, output)."""

        extractor = getattr(spec, "extractor", None) or "labkit"
        return [
            {
                "id": doc.id,
                "lang": doc.lang,
                "gold": doc.gold,
                "output": output,
                **self.judge_output(doc, output, extractor),
                "detected_lang": langid.detect(output, candidates=self.languages),
            }
            for doc, output in zip(docs, outputs)
        ]

    def judge_output(self, doc: Doc, output: str, extractor: str = "labkit") -> dict:
        """The fields a sample gets from scoring one output: extracted, correct, parse_failed, ..."""
        ex = self.extract(output, doc.lang)
        return {
            "extracted": ex.value,
            "extracted_text": ex.text,
            "method": ex.method,
            "correct": self.score(doc, ex),
            "parse_failed": ex.parse_failed,
        }

    def summarize_lang(self, rows: list[dict], lang: str) -> dict:
        import math

        n = len(rows)
        acc = sum(float(r["correct"]) for r in rows) / n
        fid, judged = langid.fidelity([r.get("detected_lang") for r in rows], lang)
        failed = sum(bool(r["parse_failed"]) for r in rows)
        out = {
            "accuracy": acc,
            "stderr": math.sqrt(acc * (1 - acc) / (n - 1)) if n > 1 else 0.0,  # sample std / sqrt(n), as lm-eval
            "n": n,
            "parse_failed": failed,
            "parse_failed_rate": failed / n,
            "fidelity": fid,
            "fidelity_n": judged,
        }
        both = [r for r in rows if "labkit_correct" in r and "lm_eval_flexible_correct" in r]
        if both:  # how far this number is from an lm-eval-based paper's
            out["agreement"] = sum(
                bool(r["labkit_correct"]) == bool(r["lm_eval_flexible_correct"]) for r in both
            ) / len(both)
            out["lm_eval_flexible_accuracy"] = sum(bool(r["lm_eval_flexible_correct"]) for r in both) / len(both)
            out["sign_mismatch"] = sum(r.get("note") == SIGN_NOTE for r in rows)
        return out

    def reward(self, completions: list[str], gold: list, lang: list[str]) -> list[float]:
        """The correctness reward for RL on this task (same extraction, same scoring)."""
        return [self.score(Doc("", l, "", g), self.extract(c, l)) for c, g, l in zip(completions, gold, lang)]


def read_rows(source: str | Path, lang: str) -> list[dict]:
    """Rows for `lang` from a local folder (<lang>.jsonl|json|parquet) or one file with a `lang` column."""
    path = Path(source).expanduser()
    if path.is_dir():
        for ext in (".jsonl", ".json", ".parquet"):
            f = path / f"{lang}{ext}"
            if f.exists():
                return _read_file(f)
        raise LabkitError(
            f"No {lang}.jsonl/.json/.parquet in {path}.", hint="One file per language, named by its code (zh.jsonl)."
        )
    if path.exists():
        rows = _read_file(path)
        if rows and "lang" not in rows[0]:
            raise LabkitError(
                f"{path.name} holds several languages but has no 'lang' column.",
                hint="Add a lang column, or use one file per language.",
            )
        return [r for r in rows if r.get("lang") == lang]
    raise LabkitError(
        f"No data at {path}.", hint="Give a folder with <lang>.jsonl files, or a JSONL/parquet file with a lang column."
    )


def _read_file(f: Path) -> list[dict]:
    try:
        if f.suffix == ".parquet":
            import pandas as pd

            return pd.read_parquet(f).to_dict("records")
        text = f.read_text(encoding="utf-8")
        if f.suffix == ".json":
            data = json.loads(text)
            return data if isinstance(data, list) else data.get("data", data.get("rows", []))
        return [json.loads(ln) for ln in text.splitlines() if ln.strip()]
    except (ValueError, OSError) as e:
        raise LabkitError(
            f"Cannot read {f}: {e}", hint="JSON lines (one object per line), a JSON list, or parquet."
        ) from e
