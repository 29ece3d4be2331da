"""The one error type a person sees: what went wrong and what to do about it.

The CLI prints `message` and `hint` and exits 2; the UI shows them with `gr.Error`.
Anything else that escapes is a bug in labkit, not bad input.
"""


class LabkitError(Exception):
    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


def did_you_mean(name: str, options, what: str = "Choose one of") -> str:
    """'Did you mean X?' for the closest option, else the list of options: the one hint for a misspelt name."""
    import difflib

    options = [str(o) for o in options]
    close = difflib.get_close_matches(str(name), options, n=1)
    return f"Did you mean {close[0]!r}?" if close else f"{what}: {', '.join(sorted(options))}."


def unknown(kind: str, name, options) -> LabkitError:
    """The error for a name that is not one of `options` (a backend, task, method, hardware …)."""
    return LabkitError(f"Unknown {kind} {name!r}.", hint=did_you_mean(name, options))
