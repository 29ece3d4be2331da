"""The synthetic world's words, kept as data in world.yaml: per language, two problem templates per operation,
the names, the items and the worked-answer sentence. Each language's sentences were written in that language for
this world (not run through a translator); the same template slot means the same situation in every language, so
one problem renders as a parallel set.

Placeholders: {a} {b} numbers; {P} {Q} names, {Pg}/{Qg} genitive and {Po}/{Qo} object/dative forms where the
language inflects names; {n} the item noun (as a plural or bare noun), {c} its counter word (zh, ja, th), {q} the
"how many" word that agrees with it (es, sw), {ng} the genitive plural (ru). `{a:N}` is the number followed by
the item noun in the form the number governs (ru), and `{a:x|y|z}` the same with an explicit one|few|many list.
The worked answer uses {eq} (e.g. "5 + 3 = 8") and {c} for the result.
"""

from __future__ import annotations

from pathlib import Path

import yaml

OPS = ("add", "sub", "mul")
SLOTS = 2  # templates per operation

_WORLD = yaml.safe_load((Path(__file__).with_name("world.yaml")).read_text(encoding="utf-8"))
# lang: {op: [template per slot]}
TEMPLATES: dict[str, dict[str, list[str]]] = _WORLD["templates"]
# lang: the worked answer, the equation and then the answer sentence each language's extractor looks for
ANSWERS: dict[str, str] = _WORLD["answers"]
# lang: name pairs (P, Q); a name is a string or {"": nominative, "g": genitive, "o": object/dative}
NAMES: dict[str, list[tuple]] = {lang: [tuple(pair) for pair in pairs] for lang, pairs in _WORLD["names"].items()}
# lang: the items, in the same order in every language
ITEMS: dict[str, list[dict[str, str]]] = _WORLD["items"]

LANGUAGES = tuple(TEMPLATES)
