"""Every text, file and range a visitor sends is bounded before work starts: each heavy request runs in its own
process under a memory cap and a time limit, and must end in a LabkitError (a message, no traceback)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap

import pytest

MEMORY_CAP = 3 * 1024**3  # address space: numpy/pandas/PIL mapped, but none of these requests may need more
TIMEOUT_S = 60


def _cap():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def _refused(tmp_path, code: str, match: str, env: dict | None = None) -> str:
    script = "from labkit.errors import LabkitError\ntry:\n" + textwrap.indent(textwrap.dedent(code), "    ")
    script += "\nexcept LabkitError as e:\n    print('REFUSED:', e.message)\nelse:\n    print('ACCEPTED')\n"
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={
            **os.environ,
            "LABKIT_HOME": str(tmp_path / "home"),
            "PYTHONPATH": os.pathsep.join(sys.path),
            **(env or {}),
        },
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        preexec_fn=_cap,
    )
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out and "REFUSED:" in out, out[-3000:]
    assert match in out, out[-3000:]
    return out


def test_page_ranges_are_checked_before_any_list_is_built(tmp_path):
    out = _refused(tmp_path, "from labkit.doctrans.ocr import parse_range\nparse_range('1-120000000', 3)", "outside")
    assert len(out) < 2000  # the refusal names the range, not its pages
    _refused(tmp_path, "from labkit.doctrans.ocr import parse_range\nparse_range('1-2,' * 200, 3)", "more pages")
    _refused(tmp_path, "from labkit.doctrans.ocr import parse_range\nparse_range('9' * 40, 3)", "Cannot read")


def _png(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [12_000, 20_000, 100_000])
def test_png_declared_dimensions_are_refused_before_decoding(tmp_path, side):
    (tmp_path / "bomb.png").write_bytes(_png(side, side))
    _refused(tmp_path, "from labkit.doctrans.ocr import load_pages\nload_pages('bomb.png')", "limit")


def test_trove_sources_and_totals_are_bounded(tmp_path):
    import json

    (tmp_path / "chars.jsonl").write_text(json.dumps({"sources": ["a string, not sentences"], "targets": []}) + "\n")
    code = "from labkit.provenance.trace import evaluate_file\nevaluate_file('{}', engine='heuristic')"
    _refused(tmp_path, code.format("chars.jsonl"), "list of sentences")
    record = {"sources": [["word " * 2000] * 50], "targets": [{"text": "word " * 20}] * 10}
    (tmp_path / "big.jsonl").write_text("\n".join(json.dumps(record) for _ in range(6)) + "\n")  # 3 M source chars
    _refused(tmp_path, code.format("big.jsonl"), "characters")


def test_scaling_tables_are_cut_at_the_rows_a_fit_takes(tmp_path):
    (tmp_path / "big.csv").write_text("n_languages,score\n" + "1,0.5\n" * 1_000_000)
    _refused(tmp_path, "from labkit.scaling.table import read_table\nread_table('big.csv')", "2,000 rows")


def test_a_support_message_is_bounded_before_the_model(tmp_path):
    code = """
    from labkit.support.agent import SupportAgent
    SupportAgent(backend=None).plan([], 'word ' * 2_000_000)
    """
    _refused(tmp_path, code, "at most 4,000")


def test_generation_never_asks_past_the_models_context(tiny_path, tmp_path):
    from labkit.backends.base import GenParams
    from labkit.backends.hf import HFBackend
    from labkit.errors import LabkitError

    b = HFBackend(str(tiny_path))
    context = b.context_length()
    kw = b._gen_kwargs(GenParams(max_new_tokens=100_000), prompt_len=10)
    assert kw["max_new_tokens"] == context - 10
    with pytest.raises(LabkitError, match="reads at most"):
        b._gen_kwargs(GenParams(max_new_tokens=8), prompt_len=context)
    with pytest.raises(LabkitError, match="characters"):
        b.generate(["x" * (40 * context)], GenParams(max_new_tokens=2))
    long = " ".join(f"w{i}" for i in range(3 * context))  # more tokens than the model has positions
    assert b.prompt_length(long) > context
    assert b._fit(b._encode(long), GenParams(max_new_tokens=64)) == b._encode(long)[-(context - 64) :]
    assert isinstance(b.generate([long], GenParams(max_new_tokens=4))[0][0], str)  # cut from the left, answered
