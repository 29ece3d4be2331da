"""Crisis detector: recall on the indirect statements and false-positive rate on ordinary sad messages,
per net and per language (tests/fixtures/crisis/heldout.yaml). Prints JSON.

    python benchmarks/crisis.py
"""

import json
import time
from pathlib import Path

import yaml

from labkit.support import safety

HELD_OUT = Path(__file__).parents[1] / "tests" / "fixtures" / "crisis" / "heldout.yaml"


def main() -> None:
    sets = yaml.safe_load(HELD_OUT.read_text(encoding="utf-8"))
    safety.check("warm-up")  # loads the encoder and the exemplars once
    out, t = {}, time.perf_counter()
    for name, by_lang in sets.items():
        rows = [(lang, text, safety.check(text)) for lang, texts in by_lang.items() for text in texts]
        out[name] = {
            "n": len(rows),
            "flagged": sum(c.crisis for _, _, c in rows),
            "flagged_by_patterns": sum(c.method == "pattern" for _, _, c in rows),
            "rate": round(sum(c.crisis for _, _, c in rows) / len(rows), 4),
            "flagged_texts": [
                f"{lang}: {text} ({c.score})" for lang, text, c in rows if c.crisis != (name == "positive")
            ],
        }
    n = sum(v["n"] for v in out.values())
    out["seconds_per_message"] = round((time.perf_counter() - t) / n, 4)
    out["threshold"] = safety.SEMANTIC["threshold"]
    print(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
