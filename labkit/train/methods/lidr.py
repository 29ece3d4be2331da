"""LIDR, Language Imbalance Driven Rewarding (METHODS.md §3; arXiv 2410.08964;
ZNLP/Language-Imbalance-Driven-Rewarding): its typed method_args, its row in the method table and its pipeline.

Each round: the model answers in English and each target language, translates its answers both ways (a translation
counts only with its closing tag) → pairs per prompt: every target prompt gets chosen = English answer translated
into it, rejected = its own answer; the English prompt gets one pair, chosen = its answer, rejected = the target
answer translated back. A failed translation drops both pairs of that prompt and language. Prompts that are
themselves translation requests keep the untranslated English answer as chosen → DPO + NLL. The stage machinery is
labkit/train/selfimprove.py's.

    labkit train configs/train/lidr-tiny.yaml
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from labkit.backends import GenParams
from labkit.errors import LabkitError
from labkit.jsonl import read_jsonl, write_jsonl
from labkit.languages import NAMES as LANG_NAMES
from labkit.languages import name as language_name
from labkit.train import selfimprove
from labkit.train.methods.args import TRANSLATE_PROMPT, positive
from labkit.train.methods.dpo import self_improving
from labkit.train.methods.registry import method_args, register
from labkit.train.recipe import Recipe

# ZNLP/Language-Imbalance-Driven-Rewarding, utils/inference.py PROMPT_PREFIX: how its arithmetic-reasoning (GSM8K) run
# asks for an answer in each language (scripts/batch_inference.sh, with_prefix=true; the same prompt goes into the DPO
# pairs). Its general-instruction run (with_prefix=false) sends the instruction as it is.
LIDR_REASONING_TEMPLATE = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request in "
    "{language}. Please answer in {language}.\n\n### Instruction:\n{question}\n\n### Response:\n"
)

# The same repository's LANGUAGES (utils/inference.py, utils/translate.py): the names its prompts give languages.
LIDR_LANGUAGE_NAMES = {
    "en": "English",
    "es": "Spanish",
    "it": "Italian",
    "zh": "Chinese",
    "ko": "Korean",
    "ar": "Arabic",
    "ja": "Japanese",
    "de": "German",
    "fr": "French",
    "ru": "Russian",
    "th": "Thai",
}


@dataclass
class LIDRArgs:
    """Language Imbalance Driven Rewarding (arXiv 2410.08964; ZNLP/Language-Imbalance-Driven-Rewarding)."""

    languages: list = field(default_factory=list)
    source: str = "en"
    rounds: int = 2
    temperature: float = 0.0  # greedy
    repetition_penalty: float = 1.1  # answers; translations use 1.0, as the reference script runs them
    max_new_tokens: int = 2400
    translation_max_new_tokens: int = 4096
    translate_prompt: str = TRANSLATE_PROMPT
    # the answer prompt per language: "{question}" (the reference's instruction run) or "reasoning" (its GSM8K run,
    # LIDR_REASONING_TEMPLATE) or your own with {question} and {language}; the pairs keep the same prompt
    answer_template: str = "{question}"
    language_names: dict = field(default_factory=dict)  # merged over LIDR_LANGUAGE_NAMES (the reference's names)
    translation_requests: str = "auto"  # auto (labkit's classifier) | none | a file of prompt ids you curate
    accept_unclosed_translations: bool = (
        False  # the reference needs </translated>; only the tiny demo model turns this on
    )
    nll_weight: float = 1.0
    limit: int | None = None
    backend: str = "hf"

    def __post_init__(self):
        positive(self, "rounds", "max_new_tokens", "translation_max_new_tokens")
        if "{text}" not in self.translate_prompt or "{tgt}" not in self.translate_prompt:
            raise LabkitError("method_args.translate_prompt must contain {text} and {tgt}.")
        if self.answer_template == "reasoning":
            self.answer_template = LIDR_REASONING_TEMPLATE
        try:
            self.answer_template.format(question="", language="")
            ok = "{question}" in self.answer_template
        except (KeyError, IndexError, ValueError):
            ok = False
        if not ok:
            raise LabkitError(
                "method_args.answer_template must contain {question} (and may contain {language}), nothing else "
                "in braces.",
                hint='"{question}" (the prompt as is), "reasoning" (the reference\'s GSM8K prompt) or your own.',
            )
        self.language_names = {**LIDR_LANGUAGE_NAMES, **{str(k): str(v) for k, v in self.language_names.items()}}

    def language(self, code: str) -> str:
        """The name the prompts give a language: `language_names`, else labkit's."""
        return self.language_names.get(code) or language_name(code)

    def answer_prompt(self, lang: str, question: str) -> str:
        return self.answer_template.format(question=question, language=self.language(lang))


register(self_improving("lidr", LIDRArgs, "labkit.train.methods.lidr:run_lidr"))

# --- which prompts ask for a translation ---------------------------------------------------------------

_MORE_LANGUAGES = """Mandarin Cantonese Dutch Turkish Greek Latin Hebrew Polish Swedish Norwegian Danish Finnish
Czech Ukrainian Persian Farsi Urdu Tamil Filipino Tagalog Romanian Hungarian Catalan Irish Welsh Esperanto Sanskrit
Punjabi Gujarati Marathi Nepali Burmese Khmer"""
_LANGUAGE_NAMES = sorted({n.split(" (")[0] for n in LANG_NAMES.values()} | set(_MORE_LANGUAGES.split()))
_LANG = r"(?:" + "|".join(_LANGUAGE_NAMES) + r")\b"
_POLITE = (
    r"(?:please\s+|kindly\s+|now\s+|(?:can|could|would|will)\s+you\s+(?:please\s+)?"
    r"|i\s+(?:need|want|would like)\s+you\s+to\s+|help\s+me\s+)*"
)
# A request to translate, read in the source-language (English) prompt, one sentence at a time:
_REQUEST = [
    re.compile(r"^\W*" + _POLITE + r"s?translat(?:e|es)\b", re.I),  # "Translate …", "Could you translate …"
    re.compile(
        r"^\W*"
        + _POLITE
        + r"(?:give|provide|write|tell)\s+(?:me\s+)?(?:a|the)\s+(?:\w+\s+)?translation\s+(?:of|for)\b",
        re.I,
    ),
    re.compile(r"\bhow\s+(?:do|would|can|should)\s+(?:you|i|we|one)\s+say\b.*\bin\s+" + _LANG, re.I | re.S),
    re.compile(r"\bwhat\s+(?:is|'s|does)\s+[\"'“‘«].+?[\"'”’»]\s+(?:mean\s+)?in\s+" + _LANG, re.I | re.S),
    re.compile(r"^\W*" + _POLITE + r"(?:render|put|convert|rewrite)\b.*\b(?:in|into)\s+" + _LANG, re.I | re.S),
]


def is_translation_request(prompt: str) -> bool:
    """labkit's classifier (`translation_requests: auto`): does this English prompt ask for a translation? It reads
    requests ("Translate …", "How do you say … in French?"), not mentions ("What is the translation industry worth?",
    "Who translated the Bible into German?")."""
    sentences = [s for s in re.split(r"(?<=[.!?:])\s+|\n+", prompt or "") if s.strip()]
    return any(rx.search(s) for rx in _REQUEST for s in sentences)


def translation_request_ids(
    setting: str, prompts: dict[str, dict[str, str]], source: str, base: Path | None = None
) -> set[str]:
    """Ids of prompts that are themselves translation requests: `auto` (the classifier on the source prompt), `none`,
    or a file you curate: one id per line (# comments allowed), or JSONL rows with an `id` (the reference code's
    instruction_about_translate.jsonl is such a file)."""
    if setting == "auto":
        return {i for i, v in prompts.items() if is_translation_request(v[source])}
    if setting == "none":
        return set()
    path = Path(setting).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    if not path.exists():
        raise LabkitError(
            f"method_args.translation_requests: no file {path}.",
            hint="auto, none, or a file of prompt ids, one per line.",
        )
    ids = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("{"):
            ids.add(str(json.loads(line)["id"]))
        elif line and not line.startswith("#"):
            ids.add(line)
    return ids


def lidr_prompts(prompts: dict[str, dict[str, str]], args: LIDRArgs) -> dict[str, dict[str, str]]:
    """Each prompt as the model is asked it (`answer_template`, the language named as the reference names it); the
    DPO pairs keep this prompt, as the reference's do."""
    return {i: {lang: args.answer_prompt(lang, p) for lang, p in v.items()} for i, v in prompts.items()}


def lidr_answer(out: Path, prompts: dict, args: LIDRArgs, policy: str) -> dict:

    items = selfimprove.prompt_items(lidr_prompts(prompts, args), [args.source, *args.languages])
    outs = selfimprove.open_backend(args.backend, policy).generate(
        [selfimprove.user(p) for _, _, p in items],
        GenParams(
            max_new_tokens=args.max_new_tokens, temperature=args.temperature, repetition_penalty=args.repetition_penalty
        ),
    )
    write_jsonl(
        out,
        [
            {
                "id": i,
                "lang": lang,
                "prompt": p,
                "answer": str(o[0]),
                "truncated": bool(getattr(o[0], "truncated", False)),
            }
            for (i, lang, p), o in zip(items, outs)
        ],
    )
    return {"answers": len(items), "truncated": sum(bool(getattr(o[0], "truncated", False)) for o in outs)}


def lidr_translate(out: Path, answers_path: Path, prompts: dict, args: LIDRArgs, policy: str) -> dict:
    """The model translates English answers into each target language and target answers into English."""
    b = selfimprove.open_backend(args.backend, policy)
    answers = {(x["id"], x["lang"]): x["answer"] for x in read_jsonl(answers_path)}
    rows = []
    for lang in args.languages:
        ids = [i for i in prompts if (i, lang) in answers and (i, args.source) in answers]
        fwd = selfimprove.translate(
            b,
            [answers[(i, args.source)] for i in ids],
            lang,
            args.translation_max_new_tokens,
            args.translate_prompt,
            args.accept_unclosed_translations,
            args.language(lang),
        )
        back = selfimprove.translate(
            b,
            [answers[(i, lang)] for i in ids],
            args.source,
            args.translation_max_new_tokens,
            args.translate_prompt,
            args.accept_unclosed_translations,
            args.language(args.source),
        )
        rows += [{"id": i, "lang": lang, "to_target": f, "to_source": k} for i, f, k in zip(ids, fwd, back)]
    write_jsonl(out, rows)
    return {
        "translations": 2 * len(rows),
        "failed": sum((x["to_target"] is None) + (x["to_source"] is None) for x in rows),
    }


def lidr_pairs(
    prompts: dict[str, dict[str, str]],
    answers: dict[tuple[str, str], str],
    to_target: dict[tuple[str, str], str | None],
    to_source: dict[tuple[str, str], str | None],
    languages: list[str],
    source: str = "en",
    requests: set[str] = frozenset(),
) -> tuple[list[dict], dict]:
    """Pairs from answers and their self-translations, keyed (id, lang), as the reference code builds them:
    - a target prompt: chosen = the English answer translated into it (the untranslated English answer when the
      prompt is a translation request: translating it would change what was asked), rejected = its own answer;
    - the English prompt, once: chosen = its answer, rejected = the answer in the last listed language translated
      back (the reference rewrites the English pairs for each language, so the last one's remain);
    - a translation that failed either way drops both pairs of that prompt and language."""
    pairs, stats = [], {"failed_translations": 0, "translation_prompts": 0}
    via = languages[-1] if languages else None
    for pid, by_lang in prompts.items():
        en_answer = answers.get((pid, source))
        if en_answer is None:
            continue
        stats["translation_prompts"] += pid in requests
        for lang in languages:
            if lang not in by_lang or (pid, lang) not in answers:
                continue
            fwd, back = to_target.get((pid, lang)), to_source.get((pid, lang))
            if not fwd or not back:
                stats["failed_translations"] += 1
                continue
            chosen = en_answer if pid in requests else fwd
            pairs.append(
                {
                    "id": pid,
                    "lang": lang,
                    "prompt": by_lang[lang],
                    "chosen": chosen,
                    "rejected": answers[(pid, lang)],
                    "via": source,
                }
            )
            if lang == via:
                pairs.append(
                    {
                        "id": pid,
                        "lang": source,
                        "prompt": by_lang[source],
                        "chosen": en_answer,
                        "rejected": back,
                        "via": lang,
                    }
                )
    stats["pairs"] = len(pairs)
    return pairs, stats


def lidr_make_pairs(
    out: Path, answers_path: Path, trans_path: Path, prompts: dict, args: LIDRArgs, requests: set[str]
) -> dict:
    answers = {(x["id"], x["lang"]): x["answer"] for x in read_jsonl(answers_path)}
    trans = read_jsonl(trans_path)
    pairs, stats = lidr_pairs(
        lidr_prompts(prompts, args),
        answers,
        {(x["id"], x["lang"]): x["to_target"] for x in trans},
        {(x["id"], x["lang"]): x["to_source"] for x in trans},
        args.languages,
        args.source,
        requests,
    )
    write_jsonl(out, pairs)
    return {
        **stats,
        "chosen_len": selfimprove.mean(len(p["chosen"]) for p in pairs),
        "rejected_len": selfimprove.mean(len(p["rejected"]) for p in pairs),
    }


def run_lidr(recipe: Recipe, run_dir: Path, out: Path, resume: bool = False) -> dict:

    args: LIDRArgs = method_args(recipe)
    prompts = selfimprove.load_prompts(recipe, args.source, args.languages, args.limit)
    requests = translation_request_ids(
        args.translation_requests, prompts, args.source, Path(recipe.source).parent if recipe.source else None
    )
    pipe = selfimprove.Pipeline(run_dir)
    policy = recipe.model["name"]
    for r in range(1, args.rounds + 1):
        answers = pipe.stage(r, "answers.jsonl", partial(lidr_answer, prompts=prompts, args=args, policy=policy))
        trans = pipe.stage(
            r,
            "translations.jsonl",
            partial(lidr_translate, answers_path=answers, prompts=prompts, args=args, policy=policy),
        )
        pairs = pipe.stage(
            r,
            "pairs.jsonl",
            partial(
                lidr_make_pairs, answers_path=answers, trans_path=trans, prompts=prompts, args=args, requests=requests
            ),
        )
        model = pipe.path(r, "model")
        pipe.stage(r, "model", partial(selfimprove.dpo_round, recipe, pipe, r, policy, pairs, args.nll_weight))
        pipe.record_round(
            r,
            {
                **pipe.stats(r, "translations.jsonl"),
                **pipe.stats(r, "pairs.jsonl"),
                **{f"dpo/{k}": v for k, v in pipe.stats(r, "model").items()},
                **selfimprove.evaluate_round(recipe, pipe, r, str(model)),
            },
        )
        policy = str(model)
    return selfimprove.finish(pipe, policy, out)
