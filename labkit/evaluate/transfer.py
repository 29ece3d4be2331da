"""Cross-lingual transferability of a training run: the Multilingual Transferability Index (MTI).

    MTI = mean over target languages l of  (acc_after[l] − acc_before[l]) / (acc_after[src] − acc_before[src])

with src the trained language (English by default). The exact formula of the Parallel Scaling Law paper
is not public; this is labkit's definition (METHODS.md §1), shown wherever the number is. Ratios are kept
per language. When the trained language did not improve (|gain| < min_gain), the ratios are meaningless
and MTI is None with a note — never a silent inf or NaN.
"""

from __future__ import annotations

from pathlib import Path

from labkit.errors import LabkitError
from labkit.jsonl import read_json

FORMULA = "MTI = mean_l [ (acc_after[l] − acc_before[l]) / (acc_after[src] − acc_before[src]) ],  l ∈ languages ≠ src"


def load_results(path_or_dir: str | Path) -> dict:
    p = Path(path_or_dir)
    p = p / "results.json" if p.is_dir() else p
    return read_json(
        p, f"Cannot read evaluation results {p}", hint="Give an eval run folder (with results.json) or the file."
    )


def transferability(
    before: dict, after: dict, source: str = "en", metric: str = "accuracy", min_gain: float = 1e-9
) -> dict:
    if before.get("task") != after.get("task"):
        raise LabkitError(f"Cannot compare runs of different tasks ({before.get('task')} vs {after.get('task')}).")
    b, a = before["results"], after["results"]
    common = sorted(set(a) & set(b))
    if source not in common:
        raise LabkitError(
            f"Both runs need the trained language {source!r}.",
            hint=f"Languages in both: {', '.join(common) or 'none'}.",
        )
    src_gain = a[source][metric] - b[source][metric]
    rows, ratios = {}, []
    for lang in common:
        gain = a[lang][metric] - b[lang][metric]
        ratio = gain / src_gain if abs(src_gain) >= min_gain else None
        rows[lang] = {"before": b[lang][metric], "after": a[lang][metric], "gain": gain, "ratio": ratio}
        if lang != source and ratio is not None:
            ratios.append(ratio)
    note = (
        ""
        if abs(src_gain) >= min_gain
        else f"The trained language {source} did not change ({src_gain:+.4f}): no ratio is defined."
    )
    return {
        "task": after.get("task"),
        "source": source,
        "source_gain": src_gain,
        "mti": (sum(ratios) / len(ratios)) if ratios else None,
        "languages": rows,
        "formula": FORMULA,
        "note": note,
    }
