"""labkit's curation steps as datatrove pipeline steps (small generators with per-step stats).

- `RuleFilter`: one ChineseWebText 2.0 rule (rules.py); what it drops goes to its own exclusion writer
  (DIR/dropped/<rule>/), with `filter_reason` = the rule's name.
- `QualityStep`: quality_score on every document; with a threshold, drops documents below it, or at paragraph
  level keeps only the paragraphs scoring at least the threshold (CWT 2.0 keeps segments above T).
- `AnnotateStep`: domain or toxicity fields on every document.
- `Progress`: documents read so far per task, in LOGS/progress/<rank>.json, for the job's progress bar.
Models load lazily inside the worker that runs the step, so a pipeline pickles small (Slurm, Ray, Jobs).
"""

from __future__ import annotations

import json
import os
import time

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.writers.disk_base import DiskWriter
from datatrove.utils.batching import batched

from labkit.data import rules as R
from labkit.data.annotate import Annotator, AnnotatorSpec


class RuleFilter(BaseFilter):
    type = "🀄 - MDFG RULE"

    def __init__(self, rule: str, settings: dict, exclusion_writer: DiskWriter | None = None):
        self.name = rule  # before super().__init__, which names the stats after it
        super().__init__(exclusion_writer)
        self.rule, self.settings = rule, settings
        self._resolved = None

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if self._resolved is None:
            self._resolved = R.resolve(self.settings)
        if R.RULES[self.rule].drops(doc.text, self._resolved):
            return False, self.rule
        return True


def split_paragraphs(text: str) -> list[str]:
    return [p for p in text.split("\n") if p.strip()]


class QualityStep(BaseFilter):
    type = "⭐ - QUALITY"
    name = "quality"

    def __init__(
        self,
        spec: AnnotatorSpec,
        threshold: float | None = None,
        level: str = "document",
        exclusion_writer: DiskWriter | None = None,
    ):
        super().__init__(exclusion_writer, batch_size=spec.batch_size)
        self.spec, self.threshold, self.level = spec, threshold, level
        self._annotator = None

    @property
    def annotator(self) -> Annotator:
        if self._annotator is None:
            self._annotator = Annotator(self.spec)
        return self._annotator

    def filter(self, doc: Document):  # BaseFilter requires it; batches go through filter_batch
        return self.filter_batch([doc])[0]

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        if self.level == "document":
            scores = [f["quality_score"] for f in self.annotator.annotate([d.text for d in batch])]
            results = []
            for doc, s in zip(batch, scores):
                doc.metadata.update(quality_score=s, annotator_quality=self.annotator.scorer.name)
                results.append(self._verdict(s))
            return results
        paras = [split_paragraphs(d.text) for d in batch]
        flat = self.annotator.annotate([p for ps in paras for p in ps])
        results, i = [], 0
        for doc, ps in zip(batch, paras):
            scores = [f["quality_score"] for f in flat[i : i + len(ps)]]
            i += len(ps)
            keep = [p for p, s in zip(ps, scores) if s is not None and (self.threshold is None or s >= self.threshold)]
            kept_scores = [s for s in scores if s is not None and (self.threshold is None or s >= self.threshold)]
            self.stat_update("paragraphs", value=len(ps))
            self.stat_update("paragraphs_kept", value=len(keep))
            doc.metadata.update(
                annotator_quality=self.annotator.scorer.name, paragraphs={"kept": len(keep), "total": len(ps)}
            )
            if keep:
                doc.text = "\n".join(keep)
                doc.metadata["quality_score"] = round(sum(kept_scores) / len(kept_scores), 6)
                results.append(True)
            else:
                valid = [s for s in scores if s is not None]
                doc.metadata["quality_score"] = round(sum(valid) / len(valid), 6) if valid else None
                results.append((False, "quality"))
        return results

    def _verdict(self, score):
        if self.threshold is None:
            return True
        return True if score is not None and score >= self.threshold else (False, "quality")


class AnnotateStep(PipelineStep):
    type = "🏷 - ANNOTATE"

    def __init__(self, spec: AnnotatorSpec):
        self.name = spec.task
        super().__init__()
        self.spec = spec
        self._annotator = None

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for batch in batched(data, self.spec.batch_size):
            if self._annotator is None:
                self._annotator = Annotator(self.spec)
            with self.track_time("batch"):
                fields = self._annotator.annotate([d.text for d in batch])
            for doc, f in zip(batch, fields):
                doc.metadata.update(f)
                doc.metadata[f"annotator_{self.spec.task}"] = self._annotator.scorer.name
                value = next(iter(f.values()))
                self.stat_update(StatKeys.total)
                if value is None:
                    self.stat_update("no_answer")
                elif self.spec.task == "domain":
                    self.stat_update(f"domain_{value['single_label']}")
                elif self.spec.task == "toxicity":
                    self.stat_update("toxic" if value["label"] else "clean")
                yield doc


class StatKeys:
    total = "total"


class Progress(PipelineStep):
    """Counts documents read by this task; writes LOGS/progress/<rank>.json at most every `every` seconds."""

    type = "📈 - PROGRESS"
    name = "progress"

    def __init__(self, folder: str, every: float = 1.0):
        super().__init__()
        self.folder, self.every = folder, every

    def _write(self, rank: int, n: int, done: bool) -> None:
        os.makedirs(self.folder, exist_ok=True)
        path = os.path.join(self.folder, f"{rank:05d}.json")
        with open(path + ".tmp", "w") as f:
            json.dump({"rank": rank, "read": n, "done": done}, f)
        os.replace(path + ".tmp", path)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        n, last = 0, 0.0
        for doc in data:
            n += 1
            if time.monotonic() - last >= self.every:
                self._write(rank, n, False)
                last = time.monotonic()
            yield doc
        self._write(rank, n, True)
