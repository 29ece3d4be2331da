"""`labkit train` checks a recipe without importing torch, TRL or transformers once the TRL settings are cached:
the worker imports them anyway, and importing them twice was most of the launch overhead."""

import json
import subprocess
from pathlib import Path

from labkit.train import validate
from labkit.train.methods import get_method

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"
CHECK = """
import json, sys
from labkit.train import recipe, validate
found = validate.problems(recipe.load(sys.argv[1]))
print(json.dumps({"problems": found, "heavy": sorted(m for m in ("torch", "trl", "transformers") if m in sys.modules)}))
"""


def test_a_warm_check_imports_neither_torch_nor_trl(tiny_path, python):
    validate.settings_schema(get_method("sft"))  # what the first launch on this install leaves in the cache
    out = subprocess.run([python, "-c", CHECK, str(CONFIGS / "sft-tiny.yaml")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"problems": [], "heavy": []}


def test_a_bad_setting_is_still_caught_from_the_cache(tiny_path, python, tmp_path):
    validate.settings_schema(get_method("sft"))
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        f"base: {CONFIGS / '_base-tiny.yaml'}\nname: bad\nmethod: sft\ndata:\n  path: "
        f"{CONFIGS.parent / 'train-data' / 'sft-tiny.jsonl'}\ntrainer:\n  lerning_rate: 0.1\n"
    )
    out = subprocess.run([python, "-c", CHECK, str(bad)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["heavy"] == [] and "did you mean 'learning_rate'" in got["problems"][0]
