"""A cold `labkit trace` (a fresh process, the default static encoder, its token table already distilled) imports
none of the libraries it does not need: not scipy (BM25 and the encoder's sums are numpy), not the tokenizers
library (ASCII words are split by the encoder's own WordPiece), not numpy.ma, and no model library; and it traces
as the in-process tracer does."""

import json
import subprocess

import numpy as np

from labkit.provenance import static
from labkit.provenance.segment import segment_sources, segment_target
from labkit.provenance.trace import trace

SOURCE = (
    "The city council approved the new budget on Monday after a long debate. The budget allocates 40 million "
    "dollars to public transport. Bus fares will not change this year. Critics said the plan ignores the roads."
)
TARGET = "The council passed the budget on Monday. Fares stay the same this year. Nobody mentioned the weather."
RUN = """
import json, sys
from labkit.cli import main
rc = main(["trace", "--source", sys.argv[1], "--target", sys.argv[2], "--output", sys.argv[3]])
heavy = ("scipy", "tokenizers", "numpy.ma", "torch", "transformers", "sentence_transformers", "sklearn")
print(json.dumps({"rc": rc, "loaded": sorted(m for m in heavy if m in sys.modules)}))
"""


def test_a_cold_trace_loads_no_library_it_does_not_need(tmp_path, python, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("LABKIT_HOME", str(home))
    monkeypatch.setattr(static, "_encoder", None)
    # the install's distilled table, for these texts' tokens (made-up vectors: no model in this test)
    enc = static.static_encoder()
    assert enc.folder.is_relative_to(home)
    texts = [s.text for doc in segment_sources([SOURCE]) for s in doc] + [t.text for t in segment_target(TARGET)]
    ids = np.unique(enc._flat_ids(texts)[0])
    enc.table[ids] = np.random.default_rng(0).normal(size=(len(ids), static.DIM)).astype(np.float32)
    enc.done[ids] = True
    enc.table.flush()
    enc.done.flush()
    src, tgt, out = tmp_path / "s.txt", tmp_path / "t.txt", tmp_path / "trace.jsonl"
    src.write_text(SOURCE, encoding="utf-8")
    tgt.write_text(TARGET, encoding="utf-8")
    proc = subprocess.run([python, "-c", RUN, str(src), str(tgt), str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got == {"rc": 0, "loaded": []}
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    here = trace([SOURCE], TARGET)["targets"]
    assert [(x["id"], [s["id"] for s in x["sources"]], x["relation"]) for x in lines] == [
        (t["id"], t["sources"], t["relation"]) for t in here
    ]
    assert lines[0]["sources"] and lines[0]["sources"][0]["id"] == "D1-1"
