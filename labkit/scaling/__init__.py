"""Scaling laws: fit score vs number of parallel training languages with honest uncertainty.

    from labkit.scaling import fit_table
    report = fit_table(df, x="n_languages", y="score", form="power", fit_min_x=2, bootstrap=1000)

fit.py holds the forms and the fitting/bootstrap machinery; analysis.py the paper analyses
(First-Parallel Leap, Monolingual Generalization Gap) and the per-series report; data.py reading
tables, files and store runs; export.py JSON/CSV/LaTeX; plots.py the plotly figures.
"""

from labkit.scaling.analysis import SeriesReport, fit_table

__all__ = ["SeriesReport", "fit_table"]
