"""`labkit data train-classifier`: a fastText domain, toxicity or quality classifier from labelled JSONL, trained as
ChineseWebText 2.0 trains its own (jieba tokens, word bigrams; one-vs-all loss for the multi-label domain model).

    {"text": "...", "label": "news"}                  one label
    {"text": "...", "labels": ["news", "education"]}  several (domain)

The .bin it writes is what a recipe's `annotators.<task>: {kind: fasttext, model: PATH}` loads.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from labkit.errors import LabkitError
from labkit.data.annotate import segment
from labkit.data.annotate import stop_words


def _rows(path: str | Path, text_key: str = "text") -> list[tuple[str, list[str]]]:
    rows = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise LabkitError(
            f"Cannot read {path}: {e}", hint='Labelled JSONL: one {"text", "label"} object per line.'
        ) from e
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as e:
            raise LabkitError(f"{Path(path).name} line {i} is not JSON: {e}") from e
        labels = row.get("labels") if row.get("labels") is not None else row.get("label")
        labels = [str(l) for l in (labels if isinstance(labels, list) else [labels]) if l is not None and str(l) != ""]
        if text_key not in row or not labels:
            raise LabkitError(f"{Path(path).name} line {i} needs {text_key!r} and 'label' (or 'labels').")
        rows.append((str(row[text_key]), [l.replace(" ", "_") for l in labels]))
    if not rows:
        raise LabkitError(f"{path} has no labelled rows.")
    return rows


def _fasttext_file(rows, folder: Path, name: str, stopwords: str) -> str:

    path = folder / name
    with open(path, "w", encoding="utf-8") as f:
        for text, labels in rows:
            f.write(" ".join(f"__label__{l}" for l in labels) + " " + segment(text, stopwords) + "\n")
    return str(path)


def train(
    data: str | Path,
    out: str | Path,
    task: str = "domain",
    test: str | Path | None = None,
    epoch: int = 5,
    lr: float = 0.5,
    word_ngrams: int = 2,
    dim: int = 100,
    seed: int = 0,
    text_key: str = "text",
    stopwords: str = "spacy",
) -> dict:
    """Train and save `out` (.bin); returns labels, counts and, with `test`, precision/recall at 1.

    lr, epoch, wordNgrams and dim are the reference's (Domain_Classifier/fasttext/train.py and
    toxic_classifier/main.py: lr 0.5, epoch 5, wordNgrams 2, fastText's default dim 100). A set of a few
    hundred rows may need more epochs (`--epoch 25`). Predict with the same `stopwords` the model was trained on.
    """
    import fasttext

    stop_words(stopwords)  # a missing file fails before any work

    rows = _rows(data, text_key)
    labels = sorted({l for _, ls in rows for l in ls})
    if len(labels) < 2:
        raise LabkitError(f"Only one label ({labels[0]}) in {data}.", hint="A classifier needs at least two labels.")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        train_file = _fasttext_file(rows, Path(tmp), "train.txt", stopwords)
        # one-vs-all for domain: independent label probabilities, so multi_label (p >= 0.3) means what it says
        model = fasttext.train_supervised(
            input=train_file,
            lr=lr,
            epoch=epoch,
            wordNgrams=word_ngrams,
            dim=dim,
            minCount=1,
            loss="ova" if task == "domain" else "softmax",
            seed=seed,
            thread=1,
            verbose=0,
        )
        model.save_model(str(out))
        result = {
            "model": str(out),
            "task": task,
            "labels": labels,
            "train_rows": len(rows),
            "epoch": epoch,
            "dim": dim,
            "stopwords": stopwords,
        }
        if test:
            n, precision, recall = model.test(_fasttext_file(_rows(test, text_key), Path(tmp), "test.txt", stopwords))
            result.update(test_rows=n, precision_at_1=round(precision, 4), recall_at_1=round(recall, 4))
    return result
