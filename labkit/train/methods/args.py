"""Typed `method_args` of the multi-stage recipes (ICR, LIDR, RaDis), checked when the recipe loads.

One dataclass per method; its defaults are the papers' or their reference code's (docs/selfimprove.md says
which and where labkit departs). `parse` turns the recipe's mapping into the dataclass: an unknown key fails
with a did-you-mean, a wrong type or value names the field, before any process starts.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Literal

from labkit.errors import LabkitError
from labkit.errors import did_you_mean

# ZNLP/Implicit-Cross-Lingual-Rewarding, utils/inference.py PREFIX: put before the English instruction when a
# response in another language is scored (the "cross-lingual rewarding" prompt).
ICR_REWARD_PREFIX = (
    "Please answer the following instruction using only {language}, unless explicitly instructed to respond "
    "in a different language.\n\n"
)
# ZNLP/Language-Imbalance-Driven-Rewarding, utils/trans_prompts.py: the model's reply is primed with "<translated>\n",
# and a translation counts only when the closing tag follows.
TRANSLATE_PROMPT = (
    "Please translate the following sentences into {tgt}. The input sentences are wrapped by <sentence> and "
    "</sentence>:\n\n<sentence>\n{text}\n</sentence>\n\nThe translated result should be wrapped by <translated> "
    "and </translated>.\n"
)
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
# RaDis's prompts are not public: labkit's own wording, both settings.
RATIONALE_PROMPT = (
    "Here is a {src} sentence and its {tgt} translation.\nSource: {source}\nTranslation: {reference}\n"
    "Explain briefly how the translation conveys the meaning of the source."
)
TRANSLATE_TASK = "Translate the following {src} text into {tgt}.\n{source}"


@dataclass
class ICRArgs:
    """Implicit Cross-Lingual Rewarding (arXiv 2503.04647; ZNLP/Implicit-Cross-Lingual-Rewarding)."""

    reference: str = field(metadata={"hint": "The reference model π_ref of the English DPO model being improved."})
    reward_model: str | None = None  # π of the implicit reward; None = the round's policy, as the reference code
    later_reference: Literal["initial", "previous"] = (
        "initial"  # π_ref from round 2 on (the code's default / its t−1 ablation)
    )
    languages: list = field(default_factory=list)
    source: str = "en"
    rounds: int = 2
    samples: int = 10
    temperature: float = 0.9
    top_p: float = 1.0
    max_new_tokens: int = 2400
    seed: int = 42
    include_truncated: bool = False  # responses cut at max_new_tokens may be paired (scored without EOS)
    scoring: Literal["english", "target", "translated"] = "english"
    reward_prefix: str = ICR_REWARD_PREFIX
    translate_prompt: str = TRANSLATE_PROMPT  # the `translated` ablation only
    length_control: bool = True
    alpha_range: list = field(default_factory=lambda: [0.0, 1.0, 0.001])  # np.arange(start, stop, step)
    beta: float = 0.1
    nll_weight: float = 1.0
    limit: int | None = None
    backend: str = "hf"

    def __post_init__(self):
        _positive(self, "rounds", "samples", "max_new_tokens")
        if "{language}" not in self.reward_prefix:
            raise LabkitError(
                "method_args.reward_prefix must contain {language}.", hint=f"Default: {ICR_REWARD_PREFIX!r}"
            )
        if (
            len(self.alpha_range) != 3
            or not all(isinstance(x, (int, float)) for x in self.alpha_range)
            or self.alpha_range[2] <= 0
        ):
            raise LabkitError(
                "method_args.alpha_range must be [start, stop, step] with step > 0.", hint="Default: [0.0, 1.0, 0.001]."
            )
        if self.samples < 2:
            raise LabkitError(
                "method_args.samples must be ≥ 2: a pair needs two responses.", hint="The paper samples 10."
            )


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
        _positive(self, "rounds", "max_new_tokens", "translation_max_new_tokens")
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
        from labkit.languages import name

        return self.language_names.get(code) or name(code)

    def answer_prompt(self, lang: str, question: str) -> str:
        return self.answer_template.format(question=question, language=self.language(lang))


@dataclass
class RaDisArgs:
    """RaDis rationale distillation (arXiv 2410.13944); its prompts are not public."""

    rationale_prompt: str = RATIONALE_PROMPT
    translate_prompt: str = TRANSLATE_TASK
    rationale_loss: bool = True  # false: the rationale is context only, no loss on its tokens
    max_new_tokens: int = 256
    src_lang: str = "en"
    tgt_lang: str = "zh"
    limit: int | None = None
    backend: str = "hf"

    def __post_init__(self):
        _positive(self, "max_new_tokens")


def _positive(args, *names: str) -> None:
    for n in names:
        if getattr(args, n) < 1:
            raise LabkitError(f"method_args.{n} must be ≥ 1, got {getattr(args, n)}.")


def names(cls) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def parse(cls, given: dict | None, method: str):
    """The recipe's `method_args` mapping → `cls`, every key and type checked."""

    given = dict(given or {})
    hints = typing.get_type_hints(cls)
    for key in given:
        if key not in hints:
            raise LabkitError(f"Unknown key method_args.{key} for {method}.", hint=did_you_mean(key, hints))
    required = [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    missing = [k for k in required if given.get(k) in (None, "")]
    if missing:
        raise LabkitError(
            f"{method} needs method_args.{missing[0]}.",
            hint=cls.__dataclass_fields__[missing[0]].metadata.get("hint", ""),
        )
    return cls(**{k: _check(f"method_args.{k}", hints[k], v) for k, v in given.items()})


def _check(name: str, tp, value):
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return _check(name, next(a for a in args if a is not type(None)), value)
    if origin is Literal:
        if value not in args:
            raise LabkitError(
                f"{name} must be one of {', '.join(map(str, args))}; got {value!r}.", hint="See docs/selfimprove.md."
            )
        return value
    ok = {
        bool: lambda v: isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        str: lambda v: isinstance(v, str),
        list: lambda v: isinstance(v, list),
        dict: lambda v: isinstance(v, dict),
    }[tp]
    if not ok(value):
        kind = {
            bool: "true or false",
            int: "an integer",
            float: "a number",
            str: "a string",
            list: "a list",
            dict: "a mapping",
        }[tp]
        raise LabkitError(
            f"{name} must be {kind}; got {value!r}.", hint="Check the recipe's method_args (or your --set)."
        )
    return float(value) if tp is float else value
