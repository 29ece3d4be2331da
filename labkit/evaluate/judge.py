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
from labkit.backends import GenParams

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
JUDGE_TOP_LOGPROBS = 5  # what AlpacaEval 2's weighted judge asks an OpenAI server for


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


def verdict_logprobs(tokens: list[tuple[str, dict[str, float]]] | None) -> list[float | None] | None:
    """[log P(A), log P(B), log P(C)] at the judge's last verdict letter, read from a generation's top
    log-probabilities (`[(token, {alternative: logprob})]`), as AlpacaEval's `logprob_parser` reads its verdict
    token's. An alternative counts for a letter when it has the generated token's text up to the letter, the
    letter, then nothing or the closing brackets; a letter absent from the top-k is None (probability 0). None
    when there is no verdict or none of the letters is among the alternatives."""
    if not tokens:
        return None
    found = list(_VERDICT.finditer("".join(t for t, _ in tokens)))
    if not found:
        return None
    at, start = found[-1].start(1), 0
    for tok, alts in tokens:
        if start <= at < start + len(tok):
            k, per_letter = at - start, {}
            for alt, lp in alts.items():
                rest = alt[k + 1 :].strip()
                if lp is None or len(alt) <= k or alt[:k] != tok[:k] or (rest and not rest.startswith("]")):
                    continue
                if alt[k].upper() in "ABC":
                    per_letter.setdefault(alt[k].upper(), []).append(lp)
            if not per_letter:
                return None
            return [_logsumexp(per_letter[c]) if c in per_letter else None for c in "ABC"]
        start += len(tok)
    return None


def _logsumexp(xs: list[float]) -> float:
    top = max(xs)
    return top + math.log(sum(math.exp(x - top) for x in xs))


def judge_pairs(
    backend,
    backend_name: str,
    model_name: str,
    items: list[tuple[str, str, str, bool]],
    cache: JudgeCache,
    max_new_tokens: int = 512,
    weighted: bool = True,
    top_logprobs: int = JUDGE_TOP_LOGPROBS,
) -> list[dict]:
    """items: (instruction, model output, reference output, model shown first). Returns per item
    {"judge_output", "verdict", "preference", "kind"}; only uncached prompts reach the backend, in one batch.

    kind "weighted": the preference is the judge's expected verdict, P(model's letter) + P(tie)/2, from the
    probabilities of [[A]], [[B]] and [[C]] after its own explanation, as AlpacaEval 2's weighted judge takes its
    verdict token's probabilities. An OpenAI-compatible server is asked for each generated token's `top_logprobs`
    and the verdict letter's are read (`verdict_logprobs`); hf and vllm score the three verdicts after the judge's
    explanation. kind "discrete": the parsed verdict (1 / 0.5 / 0), where no log-probabilities are to be had (a
    server that returns none, or none of the letters among its top-k)."""

    prompts = [judge_messages(ins, m, r) if first else judge_messages(ins, r, m) for ins, m, r, first in items]
    keys = [JudgeCache.key(backend_name, model_name, p) for p in prompts]
    cached = cache.get_many(keys)
    missing = [i for i, k in enumerate(keys) if k not in cached]
    fresh: dict[str, str] = {}
    if missing:
        params = GenParams(max_new_tokens=max_new_tokens)
        with_logprobs = getattr(backend, "generate_with_logprobs", None) if weighted else None
        if with_logprobs:
            outs = with_logprobs([prompts[i] for i in missing], params, top_logprobs=top_logprobs)
            fresh = {keys[i]: text for i, (text, _) in zip(missing, outs)}
            letters = {keys[i] + ":weighted": verdict_logprobs(toks) for i, (_, toks) in zip(missing, outs)}
            cache.put_many({k: json.dumps(v) for k, v in letters.items() if v is not None})
        else:
            outs = backend.generate([prompts[i] for i in missing], params)
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
    """Replace discrete preferences by the judge's verdict probabilities: those read at generation time, else
    scored now where the backend can (hf, vllm)."""
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
        except Exception:  # the backend scores no log-probabilities (openai) or failed to: these stay discrete
            scores = None
        if scores is not None:
            new = {keys[i] + ":weighted": json.dumps(scores[3 * j : 3 * j + 3]) for j, i in enumerate(need)}
            cache.put_many(new)
            stored.update(new)
    for i, wk in zip(judged, wkeys):
        if wk not in stored:
            continue
        lp = json.loads(stored[wk])
        top = max(x for x in lp if x is not None)
        pa, pb, pc = (0.0 if x is None else math.exp(x - top) for x in lp)
        total = pa + pb + pc
        p_model = (pa if items[i][3] else pb) / total
        results[i].update(preference=p_model + 0.5 * pc / total, kind="weighted")
