"""Synthetic MGSM: grade-school arithmetic word problems, parallel across 11 languages.

One problem is an operation (add, sub, mul), two numbers, a template slot, a name pair and an item; it renders
in every language from that language's own templates (labkit.synth.templates), so all languages share the
numbers and the answer. Output, in MGSM's schema (`question`, `answer_number`, worked `answer`):

    DIR/<lang>.jsonl          the test split: `labkit eval --task mgsm --data DIR` reads it as it reads MGSM
    DIR/train/<lang>.jsonl    the train split, same schema
    DIR/train.jsonl           every train row with id, lang, and the prompt/completion the SFT recipe learns
                              (the prompt is exactly what the evaluation sends: MGSM's instruction included)
    DIR/translation.jsonl     parallel pairs (English → each language) for the translation recipes
    DIR/synth.json            the manifest: languages, sizes, seed, split rule, digits

Disjoint by construction: a problem's split is a hash of what defines it, never a draw, so the splits cannot
overlap in any language or for any seed. `split="problem"` (default) hashes the whole problem (operation,
numbers, template, names, item): no test question appears in training in any language, while the arithmetic
facts themselves recur, as they do between GSM8K's splits. `split="arithmetic"` hashes only the operation and
numbers: no test sum is ever seen in training, a harder world where the model must compute, not recall.

Digits: MGSM writes Western digits in all 11 languages (e.g. its Bengali exemplar "রজারের 5টি টেনিস বল আছে…
উত্তর হল 11।", and its final answers are ASCII everywhere), so ASCII is the default; `digits="native"` writes
Bengali, Telugu and Thai numbers in their own digits (the extractor reads both).
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import string
from dataclasses import dataclass
from pathlib import Path

from labkit.errors import LabkitError
from labkit.languages import math_prompt
from labkit.synth import cipher
from labkit.synth.templates import ANSWERS, ITEMS, LANGUAGES, NAMES, OPS, SLOTS, TEMPLATES
from labkit.jsonl import write_jsonl

# Number ranges per operation (inclusive): small enough that a from-scratch model learns them on a CPU.
RANGES = {"add": ((2, 12), (2, 12)), "sub": ((5, 20), (2, None)), "mul": ((2, 9), (2, 9))}
# Arithmetic levels: `full` (337 facts, the default) and `small` (154 facts: sums of 2–9, differences of numbers up
# to 14, products of 2–6), which a model learns in fewer steps, so that a short run's accuracy says more about
# reading the question than about recalling facts.
FACTS = {"full": RANGES, "small": {"add": ((2, 9), (2, 9)), "sub": ((5, 14), (2, None)), "mul": ((2, 6), (2, 6))}}
SYMBOL = {"add": "+", "sub": "-", "mul": "×"}
NATIVE_ZERO = {"bn": 0x09E6, "te": 0x0C66, "th": 0x0E50}  # languages with their own decimal digits
TEST_SHARE = 5  # one problem (or fact) in TEST_SHARE goes to the test split
SPLITS = ("problem", "arithmetic")


@dataclass(frozen=True)
class Problem:
    id: str
    op: str
    a: int
    b: int
    slot: int
    names: int
    item: int

    @property
    def answer(self) -> int:
        return {"add": self.a + self.b, "sub": self.a - self.b, "mul": self.a * self.b}[self.op]


def split_of(key: tuple, by: str = "problem") -> str:
    """train or test, from a hash of the problem's key (op, a, b, slot, names, item), or of (op, a, b) alone."""
    text = ":".join(map(str, key if by == "problem" else key[:3]))
    return "test" if int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % TEST_SHARE == 0 else "train"


def _ranges(facts: str) -> dict:
    if facts not in FACTS:
        raise LabkitError(f"facts: {facts!r} is not one of {', '.join(FACTS)}.")
    return FACTS[facts]


def _draw(rng: random.Random, facts: str = "full") -> tuple[str, int, int]:
    op = rng.choice(OPS)
    (lo_a, hi_a), (lo_b, hi_b) = _ranges(facts)[op]
    a = rng.randint(lo_a, hi_a)
    b = rng.randint(lo_b, hi_b if hi_b is not None else a - 2)
    return op, a, b


def _facts(facts: str = "full") -> list[tuple[str, int, int]]:
    out = []
    for op, ((lo_a, hi_a), (lo_b, hi_b)) in _ranges(facts).items():
        out += [
            (op, a, b) for a in range(lo_a, hi_a + 1) for b in range(lo_b, (hi_b if hi_b is not None else a - 2) + 1)
        ]
    return out


def _uses_names(op: str, slot: int) -> bool:
    return any("{P" in TEMPLATES[l][op][slot] or "{Q" in TEMPLATES[l][op][slot] for l in LANGUAGES)


def _keys(facts: str = "full"):
    for fact in _facts(facts):
        for slot in range(SLOTS):
            for names in range(len(NAMES["en"]) if _uses_names(fact[0], slot) else 1):
                for item in range(len(ITEMS["en"])):
                    yield (*fact, slot, names, item)


@functools.cache
def capacity(by: str = "problem", facts: str = "full") -> dict[str, int]:
    """Distinct problems the world holds per split."""
    splits = [split_of(k, by) for k in _keys(facts)]
    return {s: splits.count(s) for s in ("test", "train")}


def sample(
    n_test: int, n_train: int, seed: int = 0, by: str = "problem", facts: str = "full"
) -> dict[str, list[Problem]]:
    """Distinct problems for each split (distinct in numbers, slot, names and item)."""
    if by not in SPLITS:
        raise LabkitError(f"split: {by!r} is not one of {', '.join(SPLITS)}.")
    rng = random.Random(seed)
    want = {"test": n_test, "train": n_train}
    cap = capacity(by, facts)
    if any(want[s] > cap[s] // 2 for s in want):  # beyond half, random draws take long to find the rest
        raise LabkitError(
            f"n: the world holds about {cap['test']} test and {cap['train']} train problems; "
            f"asked for {n_test} and {n_train}.",
            hint=f"Ask for fewer problems (at most {cap['test'] // 2} test, {cap['train'] // 2} train).",
        )
    out: dict[str, list[Problem]] = {"test": [], "train": []}
    seen: set[tuple] = set()
    tries = 0
    while any(len(out[s]) < want[s] for s in out):
        tries += 1
        if tries > 50 * (n_test + n_train) + 10_000:  # cannot happen below half the capacity; a guard, not a limit
            raise LabkitError("n: could not draw enough distinct problems.", hint="Ask for fewer problems.")
        op, a, b = _draw(rng, facts)
        slot, names, item = rng.randrange(SLOTS), rng.randrange(len(NAMES["en"])), rng.randrange(len(ITEMS["en"]))
        key = (
            op,
            a,
            b,
            slot,
            names if _uses_names(op, slot) else 0,
            item,
        )  # a template without names: one problem, not three
        split = split_of(key, by)
        if key in seen or len(out[split]) >= want[split]:
            continue
        seen.add(key)
        out[split].append(Problem(f"{split}-{len(out[split]):05d}", *key))
    return out


# --- rendering -------------------------------------------------------------------------------------
def _plural_ru(n: int) -> int:
    if n % 10 == 1 and n % 100 != 11:
        return 0
    return 1 if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14 else 2


class _Formatter(string.Formatter):
    """`{a:N}` → the number and the item noun in the form it governs; `{a:x|y|z}` with an explicit list."""

    def __init__(self, item: dict, digits):
        self.item, self.digits = item, digits

    def format_field(self, value, spec):
        if isinstance(value, int):
            forms = self.item["N"] if spec == "N" else spec
            text = self.digits(str(value))
            return f"{text} {forms.split('|')[_plural_ru(value)]}" if forms else text
        return super().format_field(value, spec)


def _name_forms(name, prefix: str) -> dict:
    forms = name if isinstance(name, dict) else {"": name}
    return {prefix + k: forms.get(k, forms[""]) for k in ("", "g", "o")}


def digit_mapper(lang: str, digits: str):
    if digits == "native" and lang in NATIVE_ZERO:
        table = {ord("0") + i: NATIVE_ZERO[lang] + i for i in range(10)}
        return lambda s: s.translate(table)
    return lambda s: s


def render(p: Problem, lang: str, digits: str = "ascii") -> dict:
    """One problem in one language, as an MGSM row."""
    d = digit_mapper(lang, digits)
    item = ITEMS[lang][p.item]
    P, Q = NAMES[lang][p.names]
    fmt = _Formatter(item, d)
    fields = {
        **{k: v for k, v in item.items() if k != "N"},
        **_name_forms(P, "P"),
        **_name_forms(Q, "Q"),
        "a": p.a,
        "b": p.b,
    }
    question = fmt.format(TEMPLATES[lang][p.op][p.slot], **fields)
    eq = d(f"{p.a} {SYMBOL[p.op]} {p.b} = {p.answer}")
    answer = ANSWERS[lang].format(eq=eq, c=d(str(p.answer)))
    return {"id": p.id, "question": question, "answer": answer, "answer_number": p.answer, "equation_solution": eq}


def render_any(p: Problem, lang: str, digits: str = "ascii", overlap: float = 1.0) -> dict:
    """`render`, and for a cipher language the source's row with the question re-spelled (labkit.synth.cipher):
    numbers and the worked answer are the source's."""
    parsed = cipher.parse(lang)
    if parsed is None:
        return render(p, lang, digits)
    row = render(p, parsed[0], digits)
    return {**row, "question": cipher.encipher(row["question"], lang, overlap)}


# --- writing ---------------------------------------------------------------------------------------
def check_languages(languages: list[str]) -> list[str]:
    """The languages, deduplicated; a cipher language (`en-x1`, labkit.synth.cipher) is a language too."""
    bad = [l for l in languages if l not in LANGUAGES and not cipher.is_cipher(l)]
    if bad:
        raise LabkitError(
            f"languages: no templates for {', '.join(bad)}.",
            hint=f"Languages: {', '.join(LANGUAGES)}; cipher languages: <source>-x<i>, e.g. en-x1.",
        )
    if not languages:
        raise LabkitError("languages: none given.", hint=f"Languages: {', '.join(LANGUAGES)}.")
    return list(dict.fromkeys(languages))


def prompt_text(question: str, lang: str) -> str:
    """The user message the MGSM evaluation sends for this question (native instruction, chain of thought)."""
    return math_prompt(question, lang)


def write(
    out: str | Path,
    languages: list[str],
    n: int,
    n_train: int,
    seed: int = 0,
    digits: str = "ascii",
    split: str = "problem",
    overlap: float = cipher.OVERLAP,
    facts: str = "full",
) -> dict:
    """Write the synthetic set (layout in the module docstring); returns the manifest. A cipher language
    (labkit.synth.cipher, re-spelled with `overlap`) gets a test split only: it is never in training data."""

    languages = check_languages(languages)
    if n < 1 or n_train < 0:
        raise LabkitError(
            f"n: need at least 1 test problem and 0 or more train problems (got n={n}, n_train={n_train})."
        )
    if digits not in ("ascii", "native"):
        raise LabkitError(f"digits: {digits!r} is not ascii or native.")
    out = Path(out).expanduser()
    problems = sample(n, n_train, seed, split, facts)
    train_rows, pairs = [], []
    ciphers = [l for l in languages if cipher.is_cipher(l)]
    if ciphers:
        cipher.check_overlap(overlap)
    for lang in languages:
        test = [render_any(p, lang, digits, overlap) for p in problems["test"]]
        write_jsonl(out / f"{lang}.jsonl", test)
        if lang in ciphers:
            continue
        train = [render(p, lang, digits) for p in problems["train"]]
        write_jsonl(out / "train" / f"{lang}.jsonl", train)
        train_rows += [
            {**r, "lang": lang, "prompt": prompt_text(r["question"], lang), "completion": r["answer"]} for r in train
        ]
    write_jsonl(out / "train.jsonl", train_rows)
    if "en" in languages:
        en = {p.id: render(p, "en", digits)["question"] for p in problems["test"]}
        pairs = [
            {
                "id": f"{p.id}-{lang}",
                "src_lang": "en",
                "tgt_lang": lang,
                "source": en[p.id],
                "reference": render(p, lang, digits)["question"],
            }
            for lang in languages
            if lang != "en" and lang not in ciphers  # a cipher's text stays out of every file a recipe trains on
            for p in problems["test"]
        ]
        write_jsonl(out / "translation.jsonl", pairs)
    manifest = {
        "task": "mgsm",
        "languages": languages,
        "n_test": n,
        "n_train": n_train,
        "seed": seed,
        "digits": digits,
        "split": split,
        "split_rule": f"sha256({'op:a:b:slot:names:item' if split == 'problem' else 'op:a:b'})"
        f" % {TEST_SHARE} == 0: test",
        "facts": facts,
        "ranges": _ranges(facts),
        "ops": {op: sum(p.op == op for p in problems["train"]) for op in OPS},
        "world": {"kind": "cipher", "overlap": overlap} if ciphers else {"kind": "natural"},
        "ciphers": {l: cipher.describe(l, overlap) for l in ciphers},
        "dir": str(out),
        "files": {
            "test": "<lang>.jsonl",
            "train": "train/<lang>.jsonl",
            "sft": "train.jsonl",
            "translation": "translation.jsonl" if pairs else None,
        },
    }
    (out / "synth.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
    return manifest


WORLD_N = 60  # test problems per language in `--data synth` (labkit.evaluate.tasks.base.WORLD)


def world_test_set(settings=None) -> Path:
    """The synthetic world's test split (seed 0, every language), written on first use under LABKIT_HOME: offline,
    in a second. Disjoint from every train split by construction, whatever the seed or size of that one."""
    import shutil
    import tempfile

    from labkit.settings import get_settings

    out = (settings or get_settings()).home / "synth" / "mgsm-test"
    want = {"languages": list(LANGUAGES), "n_test": WORLD_N, "seed": 0}
    try:
        have = json.loads((out / "synth.json").read_text(encoding="utf-8"))
        if all(have.get(k) == v for k, v in want.items()):
            return out
    except (OSError, ValueError):
        pass
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".mgsm-test-", dir=out.parent))  # two first uses at once: one wins
    write(tmp, list(LANGUAGES), WORLD_N, 0, seed=0)
    shutil.rmtree(out, ignore_errors=True)
    try:
        tmp.rename(out)
    except OSError:  # the other writer renamed first: its set is the same
        shutil.rmtree(tmp, ignore_errors=True)
    return out
