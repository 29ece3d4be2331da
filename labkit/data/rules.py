"""The rule stage of ChineseWebText 2.0's MDFG tool, one named rule per check (CASIA-LM/ChineseWebText-2.0,
`preprocess.py`), as plain functions of a text. The datatrove step that applies them is in `steps.py`.

Every rule reproduces the reference exactly, quirks included:
- `length`: drop when len(text) <= min_chars (200).
- `line_length`: drop when len(text) / len(text.split("\\n")) < min_mean (10).
- `chinese_share`: drop when the share of characters in U+4E00..U+9FA5 is < min_share (0.3).
- `traditional`: drop when zhconv's zh-cn conversion changes the text (any convertible character).
- `sensitive`: drop when (number of distinct listed words found in the text) / lines > max_per_line (0.5).
- `repetition`: lower-case, remove spaces/newlines/tabs, take character 13-grams over range(len - 13)
  (the reference leaves out the last one), drop when the share of n-gram occurrences whose n-gram
  occurs more than once is > max_share (0.5).
The reference runs them in this order and files a document under the first rule it breaks.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable

from labkit.errors import LabkitError
from labkit import guard

_ZH = re.compile(r"[\u4e00-\u9fa5]")
_SPACE = re.compile(" |\n|\t")


def n_lines(text: str) -> int:
    return len(text.split("\n"))


def mean_line_length(text: str) -> float:
    return len(text) / n_lines(text)


def chinese_share(text: str) -> float:
    return len(_ZH.findall(text)) / len(text) if text else 0.0


def has_traditional(text: str) -> bool:
    from zhconv import convert

    return convert(text, "zh-cn") != text


def sensitive_per_line(text: str, words: tuple[str, ...]) -> float:
    return sum(1 for w in words if w in text) / n_lines(text)


def repeated_ngram_share(text: str, n: int = 13) -> float:
    norm = _SPACE.sub("", text.strip().lower())
    grams = [norm] if len(norm) < n else [norm[i : i + n] for i in range(len(norm) - n)]
    if not grams:
        return 0.0
    counts = Counter(grams)
    return sum(c for c in counts.values() if c > 1) / len(grams)


@dataclass(frozen=True)
class Rule:
    """A document breaks the rule when `measure(text, settings)` crosses the setting `limit` (`op`: "<=", "<" or
    ">"); a rule with no limit breaks on a true measure."""

    name: str
    defaults: dict  # the rule's settings (thresholds) and their reference values
    measure: Callable  # (text, settings) -> float: the number the threshold is compared with
    limit: str | None
    op: str
    doc: str

    def drops(self, text: str, settings: dict) -> bool:
        value = self.measure(text, settings)
        if self.limit is None:
            return bool(value)
        bound = settings[self.limit]
        return value <= bound if self.op == "<=" else value < bound if self.op == "<" else value > bound


RULES: dict[str, Rule] = {
    r.name: r
    for r in (
        Rule("length", {"min_chars": 200}, lambda t, s: len(t), "min_chars", "<=",
             "text of at most min_chars characters"),
        Rule("line_length", {"min_mean": 10}, lambda t, s: mean_line_length(t), "min_mean", "<",
             "mean line length below min_mean characters"),
        Rule("chinese_share", {"min_share": 0.3}, lambda t, s: chinese_share(t), "min_share", "<",
             "share of Chinese characters below min_share"),
        Rule("traditional", {}, lambda t, s: float(has_traditional(t)), None, "",
             "any character that converts to Simplified Chinese"),
        Rule("sensitive", {"max_per_line": 0.5, "words": None}, lambda t, s: sensitive_per_line(t, s["_words"]),
             "max_per_line", ">",
             "distinct listed sensitive words per line above max_per_line (list: `words`, empty by default)"),
        Rule("repetition", {"n": 13, "max_share": 0.5}, lambda t, s: repeated_ngram_share(t, s["n"]), "max_share",
             ">", "share of repeated character n-grams above max_share"),
    )
}  # fmt: skip
ORDER = tuple(RULES)


def load_words(path: str | Path | None) -> tuple[str, ...]:
    """A word list: one word per line, or `category<TAB>word` lines as in the reference's dict.txt."""

    if not path:
        return ()
    try:  # through the guard: on a demo no server file becomes a line-by-line oracle
        lines = guard.readable_text(path, "The sensitive word list", max_bytes=20_000_000).splitlines()
    except LabkitError as e:
        raise LabkitError(e.message, hint="rules.sensitive.words: a UTF-8 text file, one word per line.") from None
    words = (l.split("\t")[-1].strip() for l in lines)
    return tuple(dict.fromkeys(w for w in words if w))


def resolve(settings: dict) -> dict:
    """Settings with the derived values rules need (the word list loaded once)."""
    out = dict(settings)
    if "words" in out:
        out["_words"] = load_words(out["words"])
    return out


def enabled_rules(recipe: dict) -> dict[str, dict]:
    """The recipe's enabled rules, in its order, with their settings (thresholds), not yet `resolve`d."""
    return {
        name: {k: v for k, v in cfg.items() if k != "enabled"}
        for name, cfg in recipe["rules"].items()
        if cfg.get("enabled", True)
    }


def first_broken(text: str, rules: dict[str, dict]) -> str | None:
    """The first rule (in the reference's order) that `text` breaks; `rules` maps enabled rule → resolved settings."""
    for name in ORDER:
        if name in rules and RULES[name].drops(text, rules[name]):
            return name
    return None
