"""Form fields made from an options dataclass's metadata (label, kind, choices, default), so that a tab's form, the
CLI flags and the engine's checks name and default each setting the same way (EvalSpec is the first user).

    ui.limit = widget(EvalSpec, "limit")                      # gr.Number(precision=0, label="Items per language")
    ui.model = widget(EvalSpec, "model", as_=gr.Dropdown, choices=[...], allow_custom_value=True)

A tab may pass any Gradio keyword (info, scale, elem_id, value for a context-dependent start); the label, the kind
of widget and the default come from the dataclass unless given.
"""

from __future__ import annotations

from dataclasses import MISSING, fields

import gradio as gr


def default_of(spec_cls, name: str):
    f = {f.name: f for f in fields(spec_cls)}[name]
    if f.default_factory is not MISSING:
        return f.default_factory()
    return None if f.default is MISSING else f.default


def widget(spec_cls, name: str, as_=None, **kw):
    """The form field for `spec_cls.name`."""
    meta = {f.name: f.metadata for f in fields(spec_cls)}[name]
    kind, choices = meta.get("kind", "str"), meta.get("choices")
    kw.setdefault("label", meta["label"])
    if "value" not in kw:
        kw["value"] = default_of(spec_cls, name)
    if choices and "choices" not in kw and as_ is not gr.Textbox:
        kw["choices"] = list(choices())
    if as_ is None:
        as_ = {"bool": gr.Checkbox, "int": gr.Number, "float": gr.Number, "list": gr.CheckboxGroup}.get(kind)
        as_ = as_ or (gr.Dropdown if "choices" in kw else gr.Textbox)
    if as_ is gr.Number and kind == "int":
        kw.setdefault("precision", 0)
    if as_ is gr.Textbox and kw["value"] is None:
        kw["value"] = ""
    return as_(**kw)
