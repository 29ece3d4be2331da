"""Backends by name: `get_backend("hf"|"vllm"|"openai"|"scripted", model, **options)`.

A string-keyed registry of import paths, so naming a backend imports only that backend. Loaded
backends are cached per (name, model, options): the UI and evaluation reuse a loaded model.
"""

from __future__ import annotations

import importlib
import threading

from labkit.backends.base import Backend, GenParams, Message, Prompt
from labkit.errors import unknown

REGISTRY = {
    "hf": "labkit.backends.hf:HFBackend",
    "vllm": "labkit.backends.vllm:VLLMBackend",
    "openai": "labkit.backends.openai:OpenAIBackend",
    "scripted": "labkit.backends.scripted:ScriptedBackend",  # answers from a script, no model (lm-eval's `dummy`)
}
# what a person picks from in the app's lists; `scripted` stays reachable by name (tests, dry runs, --backend)
CHOICES = tuple(name for name in REGISTRY if name != "scripted")
_cache: dict = {}
_cache_lock = threading.Lock()


def backend_class(name: str):
    if name not in REGISTRY:
        raise unknown("backend", name, REGISTRY)
    module, cls = REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), cls)


def get_backend(name: str, model: str, cache: bool = True, **options) -> Backend:
    key = (name, model, tuple(sorted(options.items())))
    with _cache_lock:
        if cache and key in _cache:
            return _cache[key]
        if cache:
            _unload_cached()  # one loaded model at a time: the next one may not fit beside it
        backend = backend_class(name)(model, **options)
        if cache:
            _cache[key] = backend
        return backend


def unload_all() -> None:
    """Drop every cached backend and free its weights (GPU memory included)."""
    with _cache_lock:
        _unload_cached()


def _unload_cached() -> None:
    for backend in _cache.values():
        unload = getattr(backend, "unload", None)
        if unload:
            unload()
    _cache.clear()


def load_backend(state: dict) -> Backend:
    """The backend for the UI's model state `{"backend", "model", "base_url"}` (shared by every tab)."""
    options = {"base_url": state.get("base_url")} if state["backend"] == "openai" else {}
    return get_backend(state["backend"], state["model"], **options)


__all__ = [
    "Backend",
    "GenParams",
    "Message",
    "Prompt",
    "REGISTRY",
    "get_backend",
    "backend_class",
    "load_backend",
    "unload_all",
]
