"""Pairwise win-rate statistics for X-AlpacaEval-style evaluation, following AlpacaEval 2.

A judge compares the model's output with a reference model's output per instruction; a preference is
1.0 (model wins), 0.0 (reference wins), 0.5 (tie) or a soft judge probability in [0, 1]; NaN = the
judge call failed. `winrate` gives the raw rate with its standard error; `glm_winrate` AlpacaEval's
length-controlled rate (Dubois et al., 2024), which removes the judge's bias toward longer answers, computed
exactly as alpaca_eval's get_length_controlled_winrate (tests/unit/test_glm_winrate.py compares the two).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from labkit.errors import LabkitError


def _preferences(preferences: Sequence[float]) -> np.ndarray:
    p = np.asarray(preferences, dtype=float).ravel()
    if p.size == 0:
        raise ValueError("no preferences given: need at least one judged instruction")
    ok = p[~np.isnan(p)]
    if np.any((ok < 0) | (ok > 1)):
        raise ValueError("preferences must lie in [0, 1] (1 = model wins, 0 = reference wins, 0.5 = tie) or be NaN")
    return p


def winrate(preferences: Sequence[float]) -> dict:
    """Raw win rate in percent (mean preference, so a tie counts half) with its standard error."""
    p = _preferences(preferences)
    n_failed = int(np.isnan(p).sum())
    p = p[~np.isnan(p)]
    n = p.size
    if n == 0:
        raise ValueError(f"all {n_failed} preferences are NaN (every judge call failed): nothing to score")
    se = 100 * float(np.std(p, ddof=1)) / np.sqrt(n) if n > 1 else 0.0
    return {
        "win_rate": 100 * float(p.mean()),
        "standard_error": float(se),
        "n_wins": int((p > 0.5).sum()),
        "n_draws": int((p == 0.5).sum()),
        "n_losses": int((p < 0.5).sum()),
        "n_total": int(n),
        "n_failed": n_failed,
    }


# ---------------------------------------------------------------- AlpacaEval's length-controlled GLMs
# The three GLMs of alpaca_eval/metrics/glm_winrate.py (Dubois et al., 2024). Terms, in AlpacaEval's order:
# tanh of the standardised length difference (baseline minus model, in characters), the instruction's
# difficulty, and a constant for "this model, not a gamed baseline". v1 also trains on the gamed baselines'
# annotations (df_gamed.csv) with weight lambda/2 each, which pulls the fit toward them.
GLMS = {
    "length_controlled_v1": {"difficulty": True, "regularize_to_baseline_lambda": 0.2},
    "length_controlled_noreg": {"difficulty": True, "regularize_to_baseline_lambda": None},
    "length_controlled_minimal": {"difficulty": False, "regularize_to_baseline_lambda": None},
}
N_SPLITS, CS, RANDOM_STATE = 5, np.logspace(-4, 4, 10), 123  # LogisticRegressionCV's defaults, as AlpacaEval uses them
DF_GAMED = {"repo_id": "tatsu-lab/alpaca_eval", "filename": "df_gamed.csv", "repo_type": "dataset"}


def alpaca_preferences(values) -> np.ndarray:
    """AlpacaEval's encoding, 1 = baseline (output_1) wins, 2 = model (output_2) wins, 1.5 or 0 = draw,
    anything in [1, 2] = a weighted preference → model-win probability in [0, 1]; NaN stays NaN."""
    p = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    p[p == 0] = 1.5
    if np.any((p[~np.isnan(p)] < 1) | (p[~np.isnan(p)] > 2)):
        raise ValueError(
            "preference must lie in [1, 2] (1 = output_1 wins, 2 = output_2 wins, 1.5 or 0 = draw) or be null"
        )
    return p - 1


def head2head(p: np.ndarray) -> dict:
    """AlpacaEval's get_winrate on model-win probabilities (NaN dropped): percent, standard error of the mean."""
    ok = p[~np.isnan(p)]
    n = ok.size
    se = float(np.std(ok, ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    discrete = np.where(ok == 0.5, 0.5, np.round(ok))
    return {
        "win_rate": 100 * float(ok.mean()) if n else float("nan"),
        "standard_error": 100 * se,
        "n_wins": int((ok > 0.5).sum()),
        "n_wins_base": int((ok < 0.5).sum()),
        "n_draws": int((ok == 0.5).sum()),
        "n_total": int(n),
        "discrete_win_rate": 100 * float(discrete.mean()) if n else float("nan"),
    }


def glm_winrate(annotations: list[dict], glm: str = "length_controlled_v1", difficulty=None) -> dict:
    """AlpacaEval's get_length_controlled_winrate, re-implemented: the raw win rate, and the length-controlled
    one = 100 × mean over items of the GLM's predicted preference at zero length difference.

    annotations: dicts with output_1 (baseline), output_2 (model), preference in [1, 2] (or 0 / null), index
    (the AlpacaEval instruction index; needed by the GLMs with a difficulty term), generator_1 / generator_2.
    difficulty: a DataFrame in df_gamed.csv's schema (index, instruction_difficulty; for v1 also the gamed
    baselines' rows: preference in [0, 1], std_delta_len, not_gamed_baseline = False)."""
    import pandas as pd

    if glm not in GLMS:
        raise ValueError(f"unknown GLM {glm!r}; choose one of {', '.join(GLMS)}")
    info = GLMS[glm]
    df = pd.DataFrame(annotations)
    p = alpaca_preferences(df["preference"])
    out = {**head2head(p), "glm": glm, "n_annotations": len(df)}
    gens = {c: sorted(set(df[c].astype(str))) if c in df else [] for c in ("generator_1", "generator_2")}
    if (
        gens["generator_1"] and gens["generator_1"] == gens["generator_2"]
    ):  # the baseline against itself: 50 by construction
        return {**out, "length_controlled_winrate": 50.0, "lc_standard_error": 0.0, "weights": {}}
    delta = df["output_1"].astype(str).str.len() - df["output_2"].astype(str).str.len()
    sd = float(delta.std())
    std_delta = delta / sd if sd > 0 else delta * 0.0
    X = [np.tanh(std_delta.to_numpy(dtype=float))]
    names = ["np.tanh(std_delta_len)"]
    diff = None
    if info["difficulty"]:
        table = _difficulty_by_index(difficulty)
        missing = (
            sorted({int(i) for i in df["index"] if int(i) not in table})[:5] if "index" in df else ["(no index column)"]
        )
        if missing:
            raise ValueError(f"no instruction difficulty for index {missing}; pass the AlpacaEval index of every item")
        diff = np.array([table[int(i)] for i in df["index"]], dtype=float)
        X.append(diff)
        names.append("instruction_difficulty")
    X.append(np.ones(len(df)))
    names.append("not_gamed_baseline.astype(float)")
    X = np.column_stack(X)
    y, weight = p, None
    if info["regularize_to_baseline_lambda"]:
        gamed = _gamed_rows(difficulty)
        Xg = np.column_stack(
            [
                np.tanh(gamed["std_delta_len"].to_numpy(dtype=float)),
                gamed["instruction_difficulty"].to_numpy(dtype=float),
                np.zeros(len(gamed)),
            ]
        )
        X = np.vstack([Xg, X])
        y = np.concatenate([gamed["preference"].to_numpy(dtype=float), p])
        weight = np.concatenate([np.full(len(gamed), info["regularize_to_baseline_lambda"] / 2), np.ones(len(p))])
    keep = ~np.isnan(y)
    if keep[-len(p) :].sum() < N_SPLITS:
        raise ValueError(
            f"need at least {N_SPLITS} judged items for the {N_SPLITS}-fold fit, got {int(keep[-len(p) :].sum())}"
        )
    coef = _fit_l1_logistic_cv(X[keep], y[keep], None if weight is None else weight[keep])
    X_test = np.column_stack([np.zeros(len(df))] + ([diff] if diff is not None else []) + [np.ones(len(df))])
    pred = np.exp(-np.logaddexp(0, -(X_test @ coef)))
    se = float(np.std(pred, ddof=1) / np.sqrt(pred.size)) if pred.size > 1 else float("nan")
    return {
        **out,
        "length_controlled_winrate": 100 * float(pred.mean()),
        "lc_standard_error": 100 * se,
        "weights": dict(zip(names, map(float, coef))),
    }


def _fit_l1_logistic_cv(X: np.ndarray, p: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
    """L1 logistic regression on soft labels, C chosen by 5-fold grouped CV on the weighted log loss, then refit:
    AlpacaEval's fit_LogisticRegressionCV. A soft label p is two rows, (x, 1) weighted p and (x, 0) weighted 1-p,
    that share a group so that CV never splits them."""
    from sklearn.model_selection import GroupKFold

    n = len(p)
    Xd, yd = np.vstack([X, X]), np.concatenate([np.ones(n), np.zeros(n)])
    prob = np.concatenate([p, 1 - p])  # the probability of each duplicated row's label
    w_true = None if weight is None else np.concatenate([weight, weight])
    sw = prob if w_true is None else prob * w_true
    groups = np.concatenate([np.arange(n), np.arange(n)])
    folds = list(GroupKFold(n_splits=N_SPLITS).split(Xd, yd, groups))
    scores = np.zeros(len(CS))
    for train, test in folds:
        for k, C in enumerate(CS):
            coef = _l1_logistic(Xd[train], yd[train], sw[train], C)
            pred = np.clip(np.exp(-np.logaddexp(0, -(Xd[test] @ coef))), 1e-15, 1 - 1e-15)
            target = np.where(yd[test] == 1, prob[test], 1 - prob[test])
            ll = target * np.log(pred) + (1 - target) * np.log(1 - pred)
            scores[k] += np.mean(ll if w_true is None else ll * w_true[test])  # = minus the weighted log loss
    return _l1_logistic(Xd, yd, sw, CS[int(np.argmax(scores))])


def _l1_logistic(X, y, sample_weight, C) -> np.ndarray:
    import sklearn
    from sklearn.linear_model import LogisticRegression

    major, minor = (int(x) for x in sklearn.__version__.split(".")[:2])
    l1 = {"l1_ratio": 1.0} if (major, minor) >= (1, 8) else {"penalty": "l1"}  # `penalty` is deprecated from 1.8
    model = LogisticRegression(C=C, solver="liblinear", fit_intercept=False, random_state=RANDOM_STATE, **l1)
    model.fit(X, y.astype(int), sample_weight=sample_weight)
    return model.coef_[0]


def _difficulty_by_index(table) -> dict[int, float]:
    if table is None:
        raise ValueError("this GLM needs the instruction-difficulty table (AlpacaEval's df_gamed.csv)")
    first = table.drop_duplicates("index")
    return dict(zip(first["index"].astype(int), first["instruction_difficulty"].astype(float)))


def _gamed_rows(table):
    need = {"preference", "std_delta_len", "instruction_difficulty", "not_gamed_baseline"}
    if table is None or not need <= set(table.columns):
        raise ValueError(
            "length_controlled_v1 regularises toward the gamed baselines: the difficulty table must be "
            f"df_gamed.csv with columns {', '.join(sorted(need))}"
        )
    return table[~table["not_gamed_baseline"].astype(bool)]


def cached_difficulty():
    """AlpacaEval's df_gamed.csv if it is already in the Hub cache (never downloads), else None."""
    try:
        from huggingface_hub import hf_hub_download

        import pandas as pd

        return pd.read_csv(hf_hub_download(**DF_GAMED, local_files_only=True))
    except Exception:  # not cached: the caller falls back to a GLM without the difficulty term
        return None


def load_difficulty(path=None):
    """The difficulty table: a CSV in df_gamed.csv's schema, or AlpacaEval's own, downloaded once into the Hub cache."""
    import pandas as pd

    if path is None:
        try:
            from huggingface_hub import hf_hub_download

            path = hf_hub_download(**DF_GAMED)
        except Exception as e:  # offline, or the Hub refused
            raise LabkitError(
                f"Cannot get AlpacaEval's df_gamed.csv from the Hub: {type(e).__name__}.",
                hint="Pass --difficulty CSV (df_gamed.csv), or use --glm length_controlled_minimal.",
            ) from e
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as e:
        raise LabkitError(
            f"Cannot read the difficulty table {path}: {e}", hint="A CSV with index and instruction_difficulty."
        ) from e
    if not {"index", "instruction_difficulty"} <= set(table.columns):
        raise LabkitError(
            f"{Path(str(path)).name} lacks index / instruction_difficulty (has {', '.join(table.columns)}).",
            hint="Use AlpacaEval's df_gamed.csv or a table in its schema.",
        )
    return table


def annotations_from_samples(rows: list[dict]) -> list[dict]:
    """labkit xalpaca samples as AlpacaEval annotations: the reference is output_1, the model output_2, and the
    preference 1 + the model's win probability."""
    return [
        {
            "instruction": r.get("question", ""),
            "output_1": r["reference"],
            "output_2": r["output"],
            "generator_1": "reference",
            "generator_2": "model",
            "preference": None if r.get("preference") is None else 1 + r["preference"],
            "index": r.get("index"),
        }
        for r in rows
    ]


def read_annotations(path) -> list[dict]:
    """AlpacaEval annotations (a JSON list or JSONL), or a labkit xalpaca samples.jsonl (converted: the reference is
    output_1, the model output_2, preference 1 + model-win probability)."""
    import json

    hint = (
        "AlpacaEval's annotation format: instruction, output_1, output_2, generator_1, generator_2, preference, index."
    )
    if not Path(path).is_file():
        raise LabkitError(f"ANNOTATIONS {path} is not a file.", hint=hint)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise LabkitError(f"ANNOTATIONS {Path(path).name} is not UTF-8 text.", hint=hint) from e
    try:
        rows = (
            json.loads(text)
            if text.lstrip().startswith("[")
            else [json.loads(l) for l in text.splitlines() if l.strip()]
        )
    except ValueError as e:
        raise LabkitError(f"ANNOTATIONS {Path(path).name} is not JSON or JSON lines: {e}", hint=hint) from e
    if not rows or not all(isinstance(r, dict) for r in rows):
        raise LabkitError(f"ANNOTATIONS {Path(path).name} holds no annotation objects.", hint=hint)
    if "output_1" not in rows[0] and {"output", "reference"} <= set(rows[0]):
        rows = annotations_from_samples(rows)
    missing = {"output_1", "output_2", "preference"} - set(rows[0])
    if missing:
        raise LabkitError(f"ANNOTATIONS lack {', '.join(sorted(missing))}.", hint=hint)
    return rows
