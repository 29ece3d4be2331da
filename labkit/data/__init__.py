"""Pretraining-data curation in the style of ChineseWebText 2.0's MDFG tool, built as datatrove pipeline steps.

    rules.py       the six reference rules as plain functions
    annotate.py    quality/domain/toxicity annotators (heuristic, fasttext, hf, llm)
    heuristics.py  the offline default (heuristic) annotators
    langs.py       ISO 639-3 codes, per-language filter thresholds
    recipe.py      configs/curate/*.yaml
    steps.py       datatrove steps (rules, quality, annotate, progress)
    pipeline.py    the pipeline, executors by name, summary
    classifier.py  train a fastText domain/toxicity/quality model
    run.py         curation as a labkit job (progress, cancel, resume), cluster launch scripts
    report.py      funnels, histograms, browsing, dataset card
    cli.py         `labkit data ...`

Importing this package imports neither datatrove nor any model library; the modules that need them do.
"""
