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
