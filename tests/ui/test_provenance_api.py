"""Provenance tab through gradio_client: trace the example, select a sentence, score TROVE data."""

from pathlib import Path

from gradio_client import handle_file

from labkit.ui.tabs.provenance import EXAMPLE_SOURCES, EXAMPLE_TARGET


def test_trace_round_trip(client):
    spans, docs_html, stats, export, pick = client.predict(
        EXAMPLE_SOURCES, [], EXAMPLE_TARGET, "heuristic", "bm25", 10, "", api_name="/trace"
    )
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


def test_one_click_examples_trace_in_english_and_chinese(client):
    for api in ("/trace_example_en", "/trace_example_zh"):
        src, tgt = client.predict(api_name=api)
        spans, docs_html, stats, export, pick = client.predict(
            src, [], tgt, "heuristic", "union", 10, "", api_name="/trace"
        )
        items = spans["value"] if isinstance(spans, dict) else spans
        labels = [s["class_or_confidence"] if isinstance(s, dict) else s[1] for s in items]
        assert labels[0] == "Quotation" and labels[-1] == "no source", (api, labels)
        assert 'class="lk-src"' in docs_html
    assert "地铁" in src


def test_sample_file_scores_in_one_click(client):
    path = client.predict(api_name="/trace_eval_sample")
    res = client.predict(handle_file(path), "heuristic", "bm25", 10, api_name="/trace_eval")
    assert res["n_targets"] >= 100 and res["track"]["micro"]["f1"] >= 0.9
    assert set(res["by_language"]) == {"en", "zh"} and set(res["by_bucket"]) == {"alone", "with-distractors"}
