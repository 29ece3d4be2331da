"""The README's environment table names every variable labkit/settings.py reads."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_lists_every_environment_variable_settings_reads():
    source = (ROOT / "labkit" / "settings.py").read_text(encoding="utf-8")
    read = set(re.findall(r"""env(?:iron)?\.get\(\s*["']([A-Z][A-Z0-9_]+)["']""", source))
    assert {"LABKIT_HOME", "LABKIT_UI_SYNC_DELAY", "LABKIT_SHARED"} <= read  # the pattern still finds them
    table = (ROOT / "README.md").read_text(encoding="utf-8").split("## Configuration (environment)")[1]
    listed = set(re.findall(r"`([A-Z][A-Z0-9_]+)(?:=[^`]*)?`", table.split("\n## ")[0]))
    assert not read - listed, f"add to README's environment table: {sorted(read - listed)}"
