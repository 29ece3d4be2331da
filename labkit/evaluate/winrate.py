"""Pairwise win-rate statistics for X-AlpacaEval-style evaluation, following AlpacaEval 2.

A judge compares the model's output with a reference model's output per instruction; a preference is
1.0 (model wins), 0.0 (reference wins), 0.5 (tie) or a soft judge probability in [0, 1]; NaN = the
judge call failed. `winrate` gives the raw rate with its standard error; `length_controlled_winrate`
the length-controlled rate of Dubois et al. (2024), which removes the judge's bias toward longer answers.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


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
    return {"win_rate": 100 * float(p.mean()), "standard_error": float(se),
            "n_wins": int((p > 0.5).sum()), "n_draws": int((p == 0.5).sum()), "n_losses": int((p < 0.5).sum()),
            "n_total": int(n), "n_failed": n_failed}


def _fit_logistic(X: np.ndarray, y: np.ndarray, reg: float):
    """Maximise the soft-label Bernoulli log-likelihood minus reg/2 * ||w||^2 with L-BFGS-B."""
    from scipy.optimize import minimize

    def loss_and_grad(w):
        z = X @ w
        # log sigmoid(z) = -logaddexp(0, -z): stable for large |z| (perfect separation pushes z far out).
        nll = np.sum(y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z))
        prob = np.exp(-np.logaddexp(0, -z))
        return nll + 0.5 * reg * w @ w, X.T @ (prob - y) + reg * w

    return minimize(loss_and_grad, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B",
                    options={"maxiter": 1000, "gtol": 1e-8})


def length_controlled_winrate(preferences: Sequence[float], len_model: Sequence[float], len_ref: Sequence[float],
                              difficulty: Sequence[float] | None = None, reg: float = 0.01) -> dict:
    """AlpacaEval 2 length-controlled win rate in percent.

    Fits P(model preferred_i) = sigmoid(theta + phi * tanh(dlen_i / sd(dlen)) [+ psi * difficulty_i]) and
    reports 100 * mean_i sigmoid(theta [+ psi * difficulty_i]): the predicted win rate had both outputs been
    equally long. The L2 penalty `reg` (on every coefficient, intercept included) keeps the fit finite
    under perfect separation, e.g. when the model wins every item; with the summed log-likelihood its pull
    on theta shrinks as n grows. `difficulty` is used as given (AlpacaEval estimates it per instruction
    across many models; here the caller supplies it).
    """
    p = _preferences(preferences)
    lm, lr = np.asarray(len_model, dtype=float).ravel(), np.asarray(len_ref, dtype=float).ravel()
    d = None if difficulty is None else np.asarray(difficulty, dtype=float).ravel()
    if lm.size != p.size or lr.size != p.size or (d is not None and d.size != p.size):
        raise ValueError("preferences, len_model, len_ref (and difficulty) must have the same length")
    if reg < 0:
        raise ValueError("reg must be >= 0")
    keep = ~np.isnan(p)  # failed judge calls carry no information: drop them with their lengths
    p, lm, lr = p[keep], lm[keep], lr[keep]
    d = None if d is None else d[keep]
    if not (np.all(np.isfinite(lm)) and np.all(np.isfinite(lr)) and (d is None or np.all(np.isfinite(d)))):
        raise ValueError("lengths and difficulty must be finite for every judged item")
    out = {"lc_win_rate": None, "theta": None, "phi": None, "psi": None, "converged": False, "note": ""}
    if p.size < 2:
        out["note"] = f"need at least 2 judged items for the length-controlled fit, got {p.size}"
        return out

    notes = []
    dlen = lm - lr
    sd = float(np.std(dlen, ddof=1))
    columns = [np.ones_like(p)]
    if sd > 0:
        columns.append(np.tanh(dlen / sd))
    else:  # no length variation: the length term is unidentifiable, so leave it out (phi = 0)
        notes.append("length difference has zero spread; length term dropped (LC rate ~ raw win rate)")
    if d is not None:
        columns.append(d)
    X = np.column_stack(columns)

    res = _fit_logistic(X, p, reg)
    w = np.asarray(res.x, dtype=float)
    # L-BFGS-B sometimes stops with a line-search "failure" at the optimum to machine precision;
    # accept that when the gradient is negligible relative to the number of items.
    grad_small = bool(np.all(np.isfinite(res.jac))) and float(np.max(np.abs(res.jac))) < 1e-4 * p.size
    converged = bool(res.success) or grad_small
    if not np.all(np.isfinite(w)):
        out["note"] = f"GLM fit gave non-finite coefficients ({res.message})"
        return out
    if not converged:
        out["note"] = f"GLM optimiser did not converge: {res.message}"
        return out
    if not res.success:
        notes.append(f"optimiser reported '{res.message}' but the gradient is ~0; result accepted")

    theta = float(w[0])
    phi = float(w[1]) if sd > 0 else 0.0
    psi = float(w[-1]) if d is not None else None
    # Length term set to 0: each item's predicted preference from intercept (+ difficulty) only.
    z0 = theta + (psi * d if d is not None else 0.0)
    lc = 100 * float(np.mean(np.exp(-np.logaddexp(0, -np.asarray(z0, dtype=float)))))
    if not np.isfinite(lc):
        out["note"] = "length-controlled win rate is not finite"
        return out
    out.update(lc_win_rate=lc, theta=theta, phi=phi, psi=psi, converged=True, note="; ".join(notes) or "ok")
    return out


def avg_length(texts: Sequence[str]) -> float:
    """Mean output length in characters (the unit AlpacaEval reports avg_length in)."""
    if len(texts) == 0:
        raise ValueError("no texts given: cannot average an empty list")
    return float(np.mean([len(t) for t in texts]))
