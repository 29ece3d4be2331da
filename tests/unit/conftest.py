"""The unit tier is fast and pure. A test here that asks for a model, the served app or a job waiter, or loads a
model itself (LOADS_A_MODEL), is not: it is marked `slow` automatically, so `make test-fast` (-m "not slow")
skips it and `make test` still runs it."""

from pathlib import Path

import pytest

HEAVY_FIXTURES = {"tiny_path", "tiny_backend", "app_url", "client", "wait_run", "tiny_math_path"}
# Tests that load a model without a fixture: the OCR models (rapidocr), MiniLM, a VLM config probe.
LOADS_A_MODEL = {
    "test_ocr_english_and_chinese",
    "test_bundled_examples_read_as_image_scan_and_pdf_text",
    "test_vlm_engine_refuses_a_text_only_model_in_one_sentence",
    "test_retrieval_finds_planted_sources_in_a_long_document",
    "test_dense_retriever_runs_offline",
}
_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _HERE not in Path(str(item.fspath)).parents:
            continue
        if HEAVY_FIXTURES & set(getattr(item, "fixturenames", ())) or item.originalname in LOADS_A_MODEL:
            item.add_marker(pytest.mark.slow)
