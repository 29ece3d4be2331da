"""Provenance tab through gradio_client: trace the example, select a sentence, score TROVE data."""
from pathlib import Path

from gradio_client import handle_file

from labkit.ui.tabs.provenance import EXAMPLE_SOURCES, EXAMPLE_TARGET



def test_trace_round_trip(client):
    spans, docs_html, stats, export, pick = client.predict(EXAMPLE_SOURCES, [], EXAMPLE_TARGET, "heuristic", "bm25", 10, "", api_name="/trace")
    items = spans["value"] if isinstance(spans, dict) else spans
    labels = [s["class_or_confidence"] if isinstance(s, dict) else s[1] for s in items]
    assert labels[0] == "Quotation" and "no source" in labels
    assert 'class="lk-src"' in docs_html and "D1-1" in docs_html and "of target sentences have a source" in stats
    assert Path(export).read_text().count("\n") == 5
    html_t3 = client.predict("T3", api_name="/trace_pick")
    assert "D1-3" in html_t3 and "Others" in html_t3


def test_trove_eval(client):
    data = Path(__file__).resolve().parents[1] / "fixtures" / "trove" / "sample.jsonl"
    res = client.predict(handle_file(str(data)), "heuristic", "bm25", 10, api_name="/trace_eval")
    assert res["overall_f1"] == 1.0 and set(res["by_language"]) == {"en", "zh"}
