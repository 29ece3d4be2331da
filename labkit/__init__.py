"""labkit — a multilingual LLM research lab: a plain Python package with a Gradio app on top.

`import labkit` is cheap on purpose: torch, transformers, gradio, trl and vllm are imported
inside the functions that need them.
"""

from labkit.errors import LabkitError

__version__ = "0.1.0"
__all__ = ["LabkitError", "__version__"]
