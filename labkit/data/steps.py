"""labkit's curation steps as datatrove pipeline steps (small generators with per-step stats).

- `CountingJsonlReader`/`CountingParquetReader`: datatrove's readers, but every line is a document (empty text
  included) and a malformed line is marked; `InputCheck` drops those under `malformed`.
- `RuleFilter`: one ChineseWebText 2.0 rule (rules.py); what it drops goes to its own exclusion writer
  (DIR/dropped/<rule>/), with `filter_reason` = the rule's name.
- `QualityStep`: quality_score on every document; with a threshold, selects documents, the reference's chunks
  (paragraph level, segments.py) or lines.
- `AnnotateStep`: domain or toxicity fields on every document.
- `Progress`: documents read so far per task, in LOGS/progress/<rank>.json, for the job's progress bar.
Models load lazily inside the worker that runs the step, so a pipeline pickles small (local processes, Slurm, Ray).
"""

from __future__ import annotations

import contextlib
import json
import os
import time

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.readers import JsonlReader, ParquetReader
from datatrove.pipeline.writers.disk_base import DiskWriter
from datatrove.utils.batching import batched
from datatrove.utils.typeshelper import StatHints

from labkit.data import rules as R
from labkit.data import segments as S
from labkit.data.annotate import Annotator, AnnotatorSpec


class _EveryDocument:
    """Reader mixin: a document with empty (or null) text stays a document. datatrove's readers skip it, so it
    would be in neither kept/ nor dropped/; the reference files it under `length` (len("") <= 200)."""

    def get_document_from_dict(self, data: dict, source_file: str, id_in_file: int | str):
        doc = super().get_document_from_dict(dict(data), source_file, id_in_file)
        if doc is None:
            doc = super().get_document_from_dict({**data, self.text_key: " "}, source_file, id_in_file)
            doc.text = ""
        return doc


class CountingJsonlReader(_EveryDocument, JsonlReader):
    """datatrove's JsonlReader, except that no non-blank line goes uncounted: empty text is a document, and a
    line that is not a JSON object with a string `text_key` becomes a document whose text is the raw line,
    marked `malformed: <why>` (InputCheck drops it under `malformed`). The reference stops at such a line."""

    name = "🐿 Jsonl (every line)"

    def read_file(self, filepath: str):
        import orjson

        with self.data_folder.open(filepath, "r", compression=self.compression) as f:
            for li, line in enumerate(f):
                if not line.strip():
                    continue
                with self.track_time():
                    try:
                        data = orjson.loads(line)
                        why = None if isinstance(data, dict) else "not a JSON object"
                    except orjson.JSONDecodeError as e:
                        data, why = None, f"not JSON: {e}"
                    if why is None and self.text_key not in data:
                        why = f"no {self.text_key!r} field"
                    elif why is None and not isinstance(data[self.text_key], (str, type(None))):
                        why = f"{self.text_key!r} is not a string"
                    if why is None:
                        document = self.get_document_from_dict(data, filepath, li)
                    else:
                        document = Document(
                            text=line.rstrip("\r\n"),
                            id=f"{filepath}/{li}",
                            metadata={"malformed": why, "line": li + 1},
                        )
                yield document


class CountingParquetReader(_EveryDocument, ParquetReader):
    name = "📒 Parquet (every row)"


class InputCheck(BaseFilter):
    """Drops the lines the reader marked malformed, under `malformed` (DIR/dropped/malformed/)."""

    type = "🔍 - INPUT"
    name = "malformed"

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        return (False, "malformed") if doc.metadata.get("malformed") else True


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


class QualityStep(BaseFilter):
    """quality_score on every document, and with a threshold a selection at one of three levels:

    - `document`: a document scoring below the threshold is dropped;
    - `paragraph`: the reference's BERTEval selection (segments.py): chunks of up to 510 characters, the short
      ones unscored, one record per run of consecutive chunks scoring above the threshold;
    - `line`: each non-empty line scored, the lines scoring at least the threshold kept in one record.
    A document with nothing kept goes to DIR/dropped/quality/ unchanged.
    """

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

    def filter(self, doc: Document):  # BaseFilter requires it; run() goes through select()
        return self.filter_batch([doc])[0]

    def filter_batch(self, batch: list[Document]) -> list[bool]:
        return [bool(records) for records in self.select(batch)]

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        # BaseFilter.run yields each document once; the paragraph level may make several records of one
        with self.exclusion_writer if self.exclusion_writer else contextlib.nullcontext() as writer:
            for batch in batched(data, self.batch_size):
                with self.track_time("batch"):
                    selected = self.select(batch)
                for doc, records in zip(batch, selected):
                    self.stat_update(StatHints.total)
                    if records:
                        self.stat_update(StatHints.forwarded)
                        self.stat_update("records", value=len(records))
                        for record in records:
                            self.update_doc_stats(record)
                            yield record
                    else:
                        self.stat_update(StatHints.dropped)
                        self.stat_update("dropped_quality")
                        if writer:
                            doc.metadata["filter_reason"] = "quality"
                            writer.write(doc, rank)

    def select(self, batch: list[Document]) -> list[list[Document]]:
        """For each document, the records it yields (an empty list: dropped)."""
        name = self.annotator.scorer.name
        if self.level == "document":
            scores = [f["quality_score"] for f in self.annotator.annotate([d.text for d in batch])]
            for doc, s in zip(batch, scores):
                doc.metadata.update(quality_score=s, annotator_quality=name)
            return [[doc] if self._at_least(s) else [] for doc, s in zip(batch, scores)]
        units = [(S.chunks if self.level == "paragraph" else S.lines)(d.text) for d in batch]
        flat = self.annotator.annotate([u for us in units for u in us])
        out, i = [], 0
        for doc, us in zip(batch, units):
            scores = [f["quality_score"] for f in flat[i : i + len(us)]]
            i += len(us)
            self.stat_update("paragraphs", value=len(us))
            doc.metadata["annotator_quality"] = name
            out.append(self._paragraphs(doc, us, scores) if self.level == "paragraph" else self._lines(doc, us, scores))
        return out

    def _at_least(self, score) -> bool:
        return self.threshold is None or (score is not None and score >= self.threshold)

    def _lines(self, doc: Document, lines: list[str], scores: list) -> list[Document]:
        kept = [(l, s) for l, s in zip(lines, scores) if s is not None and self._at_least(s)]
        self.stat_update("paragraphs_kept", value=len(kept))
        doc.metadata["paragraphs"] = {"kept": len(kept), "total": len(lines)}
        valid = [s for _, s in kept] or [s for s in scores if s is not None]
        doc.metadata["quality_score"] = round(sum(valid) / len(valid), 6) if valid else None
        if not kept:
            return []
        doc.text = "\n".join(l for l, _ in kept)
        return [doc]

    def _paragraphs(self, doc: Document, chunks: list[str], scores: list) -> list[Document]:
        spans = S.runs(scores, self.threshold)
        n_kept = sum(b - a for a, b in spans)
        self.stat_update("paragraphs_kept", value=n_kept)
        if not spans:
            valid = [s for s in scores if s is not None]
            doc.metadata["quality_score"] = round(sum(valid) / len(valid), 6) if valid else None
            doc.metadata["paragraphs"] = {"kept": 0, "total": len(chunks)}
            return []
        records = []
        for k, (a, b) in enumerate(spans):
            meta = dict(doc.metadata)
            meta["quality_score"] = round(sum(scores[a:b]) / (b - a), 6)
            meta["paragraphs"] = {"kept": b - a, "total": len(chunks), "run": k, "runs": len(spans)}
            rid = doc.id if len(spans) == 1 else f"{doc.id}#{k}"
            records.append(Document(text="".join(chunks[a:b]), id=rid, metadata=meta))
        return records


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
