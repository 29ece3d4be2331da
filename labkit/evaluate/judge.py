"""Pairwise LLM-as-judge with position randomisation and a persistent cache.

The judge sees the instruction and two responses in an order drawn per item (seeded, so reruns match),
answers with [[A]], [[B]] or [[C]] (tie) on its last line, and its verdict is mapped back to the model
under test: 1 = model better, 0 = reference better, 0.5 = tie, NaN = unparsable (counted, never guessed).
Raw judge outputs are cached in LABKIT_HOME/cache/judge.sqlite keyed by (backend, judge model, prompt),
so rescoring or resuming never pays for the same judgement twice.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path

from labkit.kvcache import KVCache

JUDGE_SYSTEM = "You are a careful, impartial judge of AI assistant responses."
JUDGE_TEMPLATE = """Compare two responses to the user instruction below. Judge helpfulness, correctness, depth, \
and whether each response is written in the language of the instruction. The order of the responses is random: \
ignore it. Do not prefer a response because it is longer.

[Instruction]
{instruction}

[Response A]
{a}

[Response B]
{b}

Explain your judgement in a few sentences, then give the verdict on the last line as exactly one of: \
[[A]] if A is better, [[B]] if B is better, [[C]] for a tie."""
_VERDICT = re.compile(r"\[\[\s*([ABC])\s*\]\]", re.I)


def model_first(seed: int | None, lang: str, doc_id: str) -> bool:
    """Whether the model's response is shown as A — a stable coin flip per (seed, language, item)."""
    digest = hashlib.sha256(f"{seed}:{lang}:{doc_id}".encode()).digest()
    return digest[0] % 2 == 0


def judge_messages(instruction: str, a: str, b: str) -> list[dict]:
    return [
        {"role": "system", "content": JUDGE_SYSTEM},
        {"role": "user", "content": JUDGE_TEMPLATE.format(instruction=instruction, a=a, b=b)},
    ]


def parse_verdict(text: str) -> str | None:
    found = _VERDICT.findall(text or "")
    return found[-1].upper() if found else None


def preference(verdict: str | None, model_is_a: bool) -> float:
    if verdict is None:
        return math.nan
    if verdict == "C":
        return 0.5
    return 1.0 if (verdict == "A") == model_is_a else 0.0


class JudgeCache(KVCache):
    """Judge outputs by (backend, judge model, messages): labkit's one key→value cache, in its own table."""

    def __init__(self, path: str | Path):
        super().__init__(path, table="judge_outputs")

    @staticmethod
    def key(backend: str, model: str, messages: list[dict]) -> str:
        return KVCache.key(backend, model, messages)


def judge_pairs(
    backend,
    backend_name: str,
    model_name: str,
    items: list[tuple[str, str, str, bool]],
    cache: JudgeCache,
    max_new_tokens: int = 512,
    weighted: bool = True,
) -> list[dict]:
    """items: (instruction, model output, reference output, model shown first). Returns per item
    {"judge_output", "verdict", "preference", "kind"}; only uncached prompts reach the backend, in one batch.

    kind "weighted": where the backend scores log-probabilities (hf, vllm), the preference is the judge's expected
    verdict, P(model's letter) + P(tie)/2, from the log-probabilities of [[A]], [[B]] and [[C]] after its own
    explanation, as AlpacaEval 2's weighted judge takes the verdict token's probabilities. kind "discrete": the
    parsed verdict (1 / 0.5 / 0), used where the backend has no log-probabilities (the openai chat API)."""
    from labkit.backends import GenParams

    prompts = [judge_messages(ins, m, r) if first else judge_messages(ins, r, m) for ins, m, r, first in items]
    keys = [JudgeCache.key(backend_name, model_name, p) for p in prompts]
    cached = cache.get_many(keys)
    missing = [i for i, k in enumerate(keys) if k not in cached]
    fresh: dict[str, str] = {}
    if missing:
        outs = backend.generate([prompts[i] for i in missing], GenParams(max_new_tokens=max_new_tokens))
        fresh = {keys[i]: o[0] for i, o in zip(missing, outs)}
        cache.put_many(fresh)
        cached.update(fresh)
    results = []
    for (_ins, _m, _r, first), k in zip(items, keys):
        verdict = parse_verdict(cached[k])
        results.append(
            {
                "judge_output": cached[k],
                "verdict": verdict,
                "preference": preference(verdict, first),
                "cached": k not in fresh,
                "kind": "discrete",
            }
        )
    if weighted:
        _weigh(backend, prompts, keys, items, results, cache)
    return results


def _weigh(backend, prompts, keys, items, results, cache: JudgeCache) -> None:
    """Replace discrete preferences by the judge's verdict probabilities where the backend can score them."""
    judged = [i for i, r in enumerate(results) if r["verdict"] is not None]
    wkeys = [keys[i] + ":weighted" for i in judged]
    stored = cache.get_many(wkeys)
    need = [i for i, wk in zip(judged, wkeys) if wk not in stored]
    if need:
        pairs = []
        for i in need:
            text = results[i]["judge_output"]
            head = text[: text.rfind("[[")] if "[[" in text else text
            pairs += [(prompts[i], head + f"[[{letter}]]") for letter in "ABC"]
        try:
            scores = backend.logprob(pairs)
        except (
            Exception
        ):  # the backend scores no log-probabilities (openai chat) or failed to: keep the discrete verdicts
            return
        new = {keys[i] + ":weighted": json.dumps(scores[3 * j : 3 * j + 3]) for j, i in enumerate(need)}
        cache.put_many(new)
        stored.update(new)
    for i, wk in zip(judged, wkeys):
        lp = json.loads(stored[wk])
        top = max(lp)
        pa, pb, pc = (math.exp(x - top) for x in lp)
        total = pa + pb + pc
        p_model = (pa if items[i][3] else pb) / total
        results[i].update(preference=p_model + 0.5 * pc / total, kind="weighted")
