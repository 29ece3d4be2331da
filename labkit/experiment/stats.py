"""The study's statistics: intervals over seeds and problems, and the teacher-forced answer NLL.

Intervals: a two-level bootstrap. One replicate draws the seeds with replacement and, independently, the test
problems with replacement (a problem is the unit: its renderings in the held-out languages go together), and
takes the held-out accuracy over the drawn (seed, problem) cells. Every point of a study shares its seeds and its
test problems, so one replicate uses the same draw at every point: differences between points (the leap, the
change from k = 0 to the last k) get paired intervals, and the fit is refitted on each replicate's points.

Answer NLL: the trained model reads the prompt and the gold worked answer (`7 + 5 = 12. The answer is 12.`)
exactly as SFT formats them (the chat template), and the NLL (nats) of the answer's operator and digit tokens is
summed per problem — the tokens that say which numbers, which operation and which result; the words of the
answer sentence are format, shared by every language, and left out. Mean over problems per language.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ANSWER_CHARS = set("0123456789+-×")


def held_out_matrix(samples: list[list[dict]], held_out: list[str]) -> np.ndarray | None:
    """(seeds × problems) held-out correctness, averaged over the held-out languages; None when a run's samples
    lack a problem the others have (a partial evaluation)."""
    rows = []
    ids = None
    for run in samples:
        cells: dict[str, list[float]] = {}
        for r in run:
            if r.get("lang") in held_out and r.get("correct") is not None:
                cells.setdefault(str(r["id"]), []).append(float(r["correct"]))
        if not cells:
            return None
        ids = ids or sorted(cells)
        if sorted(cells) != ids or any(len(cells[i]) != len(held_out) for i in ids):
            return None
        rows.append([sum(cells[i]) / len(cells[i]) for i in ids])
    return np.asarray(rows, dtype=float) if rows else None


def draws(n_seeds: int, n_items: int, n_boot: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_seeds, (n_boot, n_seeds)), rng.integers(0, n_items, (n_boot, n_items))


def replicate_means(cell: np.ndarray, seed_idx: np.ndarray, item_idx: np.ndarray) -> np.ndarray:
    """The mean of `cell` (seeds × problems) on each replicate's drawn seeds and problems."""
    picked = cell[seed_idx]  # (B, S, N)
    return np.take_along_axis(picked, item_idx[:, None, :].repeat(cell.shape[0], axis=1), axis=2).mean(axis=(1, 2))


def interval(cell: np.ndarray, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> list[float]:
    s_idx, i_idx = draws(*cell.shape, n_boot, seed)
    return percentile(replicate_means(cell, s_idx, i_idx), level)


def percentile(values, level: float = 0.95) -> list[float] | None:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return None
    a = (1 - level) / 2
    return [float(np.quantile(v, a)), float(np.quantile(v, 1 - a))]


def point_replicates(cells: list[np.ndarray], n_boot: int = 2000, seed: int = 0) -> np.ndarray | None:
    """(B × points) held-out accuracy per replicate, with the same draw of seeds and problems at every point."""
    if any(c is None for c in cells) or len({c.shape for c in cells}) != 1:
        return None
    s_idx, i_idx = draws(*cells[0].shape, n_boot, seed)
    return np.stack([replicate_means(c, s_idx, i_idx) for c in cells], axis=1)


def excludes_zero(ci) -> bool | None:
    return None if not ci else bool(ci[0] > 0 or ci[1] < 0)


# --- answer NLL -------------------------------------------------------------------------------------
def answer_nll(model_dir: str | Path, data_dir: str | Path, langs: list[str], limit: int | None = None) -> dict:
    """{lang: mean over test problems of the summed NLL of the answer's operator and digit tokens}."""
    items = answer_nll_items(model_dir, data_dir, langs, limit)
    return {lang: float(np.mean(v)) if v else None for lang, v in items.items()}


def nll_matrix(per_run: list[dict], langs: list[str]) -> np.ndarray | None:
    """(seeds × problems) answer NLL averaged over `langs`, from each run's {lang: [NLL per problem]}; None when a
    run lacks a language or the runs scored different numbers of problems."""
    rows = []
    for items in per_run:
        cols = [items.get(l) for l in langs] if items else [None]
        if any(not c for c in cols) or len({len(c) for c in cols}) != 1:
            return None
        rows.append(np.mean(np.asarray(cols, dtype=float), axis=0))
    if not rows or len({len(r) for r in rows}) != 1:
        return None
    return np.stack(rows)


def answer_nll_items(
    model_dir: str | Path, data_dir: str | Path, langs: list[str], limit: int | None = None
) -> dict[str, list[float]]:
    """{lang: [summed NLL of the answer's operator and digit tokens, per test problem in file order]}."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from labkit.synth.mgsm import prompt_text

    torch.set_num_threads(1)  # the study's own process: the training jobs have the cores
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir)).eval()
    scored_ids = {i for t, i in tok.get_vocab().items() if (s := tok.decode([i]).strip()) and set(s) <= ANSWER_CHARS}
    out = {}
    for lang in langs:
        path = Path(data_dir) / f"{lang}.jsonl"
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        rows = rows[:limit] if limit else rows
        seqs, masks = [], []
        for r in rows:
            user = [{"role": "user", "content": prompt_text(r["question"], lang)}]
            prefix = tok.apply_chat_template(user, add_generation_prompt=True, tokenize=True)
            full = tok.apply_chat_template(user + [{"role": "assistant", "content": r["answer"]}], tokenize=True)
            prefix, full = list(_ids(prefix)), list(_ids(full))
            n = len(prefix) if full[: len(prefix)] == prefix else _common(prefix, full)
            seqs.append(full)
            masks.append([j >= n and t in scored_ids for j, t in enumerate(full)])
        totals = []
        for b in range(0, len(seqs), 64):
            batch, mask = seqs[b : b + 64], masks[b : b + 64]
            width = max(map(len, batch))
            ids = torch.full((len(batch), width), tok.pad_token_id or 0)
            att = torch.zeros((len(batch), width), dtype=torch.long)
            sel = torch.zeros((len(batch), width), dtype=torch.bool)
            for i, (s, m) in enumerate(zip(batch, mask)):
                ids[i, : len(s)], att[i, : len(s)], sel[i, : len(m)] = torch.tensor(s), 1, torch.tensor(m)
            with torch.no_grad():
                logp = torch.log_softmax(model(input_ids=ids, attention_mask=att).logits[:, :-1].float(), -1)
            nll = -logp.gather(-1, ids[:, 1:, None])[..., 0] * sel[:, 1:]
            totals += nll.sum(1).tolist()
        out[lang] = [float(t) for t in totals]
    return out


def _ids(x):
    return x["input_ids"] if isinstance(x, dict) or hasattr(x, "keys") else x


def _common(a: list, b: list) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n
