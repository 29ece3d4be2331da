"""The settings of one scaling-law fit: built once, checked once, used by the CLI (`labkit scaling`) and the
Scaling laws tab alike, and written into fit.json as the record of what was run.

Defaults are the paper's: the headline power law is fitted on x ≥ 2, so the monolingual point does not
bias the curve that the Monolingual Generalization Gap is measured against.

Bounds keep the work and memory small whatever the input: at most MAX_BOOTSTRAP resamples (fewer with
the Huber loss), MAX_POINTS rows, MAX_DISTINCT_X distinct x values and MAX_WORK resamples × rows, and the
bootstrap runs in chunks (labkit.scaling.fit.BOOT_CHUNK_ELEMENTS).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from labkit.errors import LabkitError
from labkit.scaling.analysis import fit_table

FORMS = ("power", "saturating", "loglinear", "auto", "auto-aic", "auto-bic")
LOSSES = ("squared", "huber")
MAX_BOOTSTRAP = 10_000
MAX_POINTS = 2_000  # a sweep of 10 x values × 17 languages × 10 seeds is 1,700 rows
MAX_DISTINCT_X = 200  # leave-one-out refits once per distinct x
MAX_WORK = 2_000_000  # resamples × rows: 1,000 resamples of 2,000 rows, or 10,000 of 200 (seconds, not minutes)
MAX_BOOTSTRAP_HUBER = 2_000  # Huber refits every resample with an optimiser (no closed form): ~4 ms each
MIN_BOOTSTRAP = 100  # fewer resamples give intervals that move from run to run
# How each field is called where the user sets it: (CLI flag, UI label).
_NAMES = {
    "n_boot": ("--bootstrap", "Bootstrap resamples"),
    "level": ("--level", "Confidence level"),
    "predict_at": ("--predict", "Predict at x"),
    "fit_min_x": ("--fit-min-x", "Fit on x ≥"),
    "fit_max_x": ("--fit-max-x", "Fit on x ≤"),
    "form": ("--form", "Form"),
    "loss": ("--loss", "Loss"),
}


@dataclass(frozen=True)
class FitSettings:
    x: str = "n_languages"
    y: str = "score"
    series: tuple[str, ...] = ()
    form: str = "power"
    loss: str = "squared"
    fit_min_x: float | None = 2.0
    fit_max_x: float | None = None
    n_boot: int = 1000
    level: float = 0.95
    predict_at: tuple[float, ...] = ()
    source: str = ""
    surface: str = field(default="cli", compare=False)  # "cli" or "ui": whose words the errors use

    def __post_init__(self):
        # 0 or an empty box means "no limit" in both the CLI and the tab
        for name in ("fit_min_x", "fit_max_x"):
            v = getattr(self, name)
            object.__setattr__(self, name, None if v is None or v == 0 else v)
        object.__setattr__(self, "series", tuple(self.series or ()))
        object.__setattr__(self, "predict_at", tuple(self.predict_at or ()))

    def _name(self, key: str) -> str:
        cli, ui = _NAMES[key]
        return cli if self.surface == "cli" else f"the {ui} field"

    def _bad(self, key: str, message: str, hint: str) -> LabkitError:
        return LabkitError(f"{self._name(key)}: {message}", hint=hint)

    def checked(self) -> FitSettings:
        """These settings, or a LabkitError naming the field that is out of range."""
        if self.form not in FORMS:
            raise self._bad("form", f"unknown form {self.form!r}.", f"One of {', '.join(FORMS)}.")
        if self.loss not in LOSSES:
            raise self._bad("loss", f"unknown loss {self.loss!r}.", f"One of {', '.join(LOSSES)}.")
        if (
            isinstance(self.n_boot, bool)
            or not isinstance(self.n_boot, int)
            or not MIN_BOOTSTRAP <= self.n_boot <= MAX_BOOTSTRAP
        ):
            raise self._bad(
                "n_boot",
                f"{self.n_boot!r} resamples is out of range.",
                f"Use a whole number from {MIN_BOOTSTRAP} to {MAX_BOOTSTRAP:,} (1000 is plenty for 95% intervals).",
            )
        if self.loss == "huber" and self.n_boot > MAX_BOOTSTRAP_HUBER:
            raise self._bad(
                "n_boot",
                f"{self.n_boot:,} resamples with the Huber loss is too slow.",
                f"Use at most {MAX_BOOTSTRAP_HUBER:,} with Huber (each resample is refitted by an optimiser).",
            )
        if not (isinstance(self.level, (int, float)) and 0.5 <= self.level < 1):
            raise self._bad(
                "level", f"{self.level!r} is not a confidence level.", "Use a number from 0.5 to below 1, e.g. 0.95."
            )
        for key in ("fit_min_x", "fit_max_x"):
            v = getattr(self, key)
            if v is not None and not (math.isfinite(v) and v > 0):
                raise self._bad(
                    key,
                    f"{v!r} is not a positive number.",
                    "x counts training languages: 1, 2, 3, …; 0 means no limit.",
                )
        if self.fit_min_x and self.fit_max_x and self.fit_min_x > self.fit_max_x:
            raise self._bad(
                "fit_max_x", f"{self.fit_max_x:g} is below the lower limit {self.fit_min_x:g}.", "Widen the fit range."
            )
        bad = [v for v in self.predict_at if not (math.isfinite(v) and v > 0)]
        if bad:
            raise self._bad(
                "predict_at", f"{bad[0]!r} is not a positive number.", "Predict at language counts such as 12 or 16."
            )
        if len(self.predict_at) > 100:
            raise self._bad("predict_at", f"{len(self.predict_at)} values; at most 100.", "Predict at a few x values.")
        return self

    def fit_kwargs(self) -> dict:
        """Keyword arguments of labkit.scaling.fit_table."""
        return {
            "x": self.x,
            "y": self.y,
            "series": list(self.series) or None,
            "form": self.form,
            "loss": self.loss,
            "fit_min_x": self.fit_min_x,
            "fit_max_x": self.fit_max_x,
            "n_boot": self.n_boot,
            "level": self.level,
            "predict_at": self.predict_at,
            "extrapolate_to": max(self.predict_at) if self.predict_at else None,
        }

    def to_dict(self) -> dict:
        """JSON-safe record of the settings (written into fit.json and the store)."""
        d = asdict(self)
        d.pop("surface")
        d["series"], d["predict_at"] = list(self.series), list(self.predict_at)
        return d


DEFAULTS = FitSettings()


def check_size(df, settings: FitSettings) -> None:
    n_rows = len(df)
    if settings.x in df.columns and df[settings.x].nunique() > MAX_DISTINCT_X:
        raise LabkitError(
            f"The data have {df[settings.x].nunique():,} distinct {settings.x} values; "
            f"a fit takes at most {MAX_DISTINCT_X}.",
            hint="x counts training languages; leave-one-out refits once per distinct x.",
        )
    if n_rows > MAX_POINTS:
        raise LabkitError(
            f"The data have {n_rows:,} rows; a fit takes at most {MAX_POINTS:,}.",
            hint="Average repeated measurements, or fit one benchmark or model at a time.",
        )
    if n_rows * settings.n_boot > MAX_WORK:
        raise settings._bad(
            "n_boot",
            f"{settings.n_boot:,} resamples of {n_rows:,} rows is more work than a fit takes.",
            f"Use at most {max(MAX_WORK // max(n_rows, 1), 1):,} resamples for this table.",
        )


def run_fit(df, settings: FitSettings):
    """Check the settings and the table size, then fit every series: the one path of the CLI and the tab."""

    settings.checked()
    check_size(df, settings)
    return fit_table(df, **settings.fit_kwargs())
