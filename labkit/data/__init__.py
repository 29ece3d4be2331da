"""Pretraining-data curation in the style of ChineseWebText 2.0's MDFG tool, built as datatrove pipeline steps.

    rules.py      the six reference rules as plain functions      annotate.py  quality/domain/toxicity annotators
    langs.py      ISO 639-3 codes, per-language filter thresholds  heuristics.py the offline default (heuristic) annotators
    recipe.py     configs/curate/*.yaml                            steps.py     datatrove steps (rules, quality, annotate)
    pipeline.py   the pipeline, executors by name, summary         classifier.py train a fastText domain/toxicity model
    run.py        curation as a labkit job (progress, cancel, resume), exports   report.py  funnels, histograms, browsing

Importing this package imports neither datatrove nor any model library; the modules that need them do.
"""
