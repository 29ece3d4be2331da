"""One way for a form and its YAML editor to agree, so that a button runs what the page shows at the click.

The page holds three things: the YAML editor, the form's fields, and `synced`, the field values that the editor's
text was last reconciled with. Every button that acts on the recipe (validate, preview, launch, export, submit to
Jobs) first resolves all three, taken from its own click's payload, with `FormSync.text` (`Bound.before`), and its
handler then reads the editor alone:
- a field whose value differs from `synced` was edited since the last sync, and it wins over the editor;
- every other key comes from the editor (an editor edit not yet synced back to the form).

`synced` is a hidden component, never a `gr.State`. A State lives on the server, so the sync that a field's blur
starts can update it before the handler of the click that caused the blur runs, while the click's payload still
carries the old editor text: the edit was then silently lost. As a component, `synced` travels with the editor
text that it describes.

Fields sync on leaving them or on Enter (text and numbers) and on a choice (lists, boxes), each event with
trigger_mode "always_last", so a change made while a sync is in flight is never dropped. Syncing on every
keystroke (`.input` with Gradio's default "once") lost every character typed during the first one's round trip.
The editor syncs back to the form on blur, and then only the fields whose key changed in the editor are set, so
a field the user is typing into meanwhile keeps what they typed.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from collections.abc import Callable

from labkit.errors import LabkitError
from labkit.settings import get_settings
from labkit.config import get_path, yaml_load

EMPTY = (None, "")


@dataclass(frozen=True)
class Field:
    """One form field bound to a dotted key of the recipe.

    kind: "text" (required), "choice" (required), "optional" (empty → null), "number"/"int" (required),
    "optional-number" (empty → null), "bool". `clears`: a key set to null when the value is 0 (LoRA rank 0 = no
    LoRA section)."""

    key: str
    label: str
    kind: str = "text"
    clears: str | None = None

    def typed(self, value):
        """The value as the recipe holds it; an emptied required number is an error, never 'keep the old value'."""
        if self.kind in ("number", "int", "optional-number"):
            if value in EMPTY:
                if self.kind == "optional-number":
                    return None
                raise LabkitError(f"{self.label} is empty.", hint=f"Enter a number in the {self.label} field.")
            number = float(value)
            if self.kind == "int":
                if not number.is_integer():
                    raise LabkitError(
                        f"{self.label} must be a whole number, not {value}.",
                        hint=f"Enter a whole number in the {self.label} field.",
                    )
                return int(number)
            return number
        if self.kind == "bool":
            return bool(value)
        value = "" if value is None else str(value).strip()
        if not value and self.kind in ("text", "choice"):
            raise LabkitError(f"{self.label} is empty.", hint=f"Fill in the {self.label} field.")
        return value or None


def same(a, b) -> bool:
    a, b = (x.strip() if isinstance(x, str) else x for x in (a, b))
    return (a in EMPTY and b in EMPTY) or a == b


def mapping(text: str) -> dict:
    """The editor's YAML (bounded load), which must be a mapping of sections."""
    data = yaml_load(text or "")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise LabkitError(
            "The recipe must be a YAML mapping of sections (key: value lines), not a single value or a list.",
            hint="Load a bundled recipe to start from, or fix the editor's text.",
        )
    return data


class FormSync:
    """A form bound to a YAML editor. `read(text, source)` gives the recipe as the form shows it (its `base:`
    merged, defaults filled in); `fields` says where each form value lives in it."""

    def __init__(self, fields: list[Field], read: Callable[[str, str | None], dict]):
        self.fields, self.read = list(fields), read

    # --- pure: what the form shows and what a click runs ------------------------------------------
    def values(self, text: str, source: str | None = None) -> list:
        data = self.read(text, source)
        return [get_path(data, f.key) for f in self.fields]

    def changed(self, values: list, synced: list | None, text: str, source: str | None) -> list[tuple[Field, object]]:
        before = synced if isinstance(synced, list) and len(synced) == len(self.fields) else None
        before = before if before is not None else self.values(text, source)
        return [(f, v) for f, v, b in zip(self.fields, values, before) if not same(v, b)]

    def text(self, text: str, synced: list | None, source: str | None, *values) -> str:
        """The recipe that a click runs: the editor's YAML with the fields changed since the last sync written in
        (round-trip, so its comments and `base:` stay)."""
        changes = self.changed(list(values), synced, text, source)
        if not changes:
            return text or ""
        from ruamel.yaml import YAML
        from ruamel.yaml.comments import CommentedMap

        mapping(text)  # bounded first: size, aliases, depth, with line and column on errors
        rt = YAML(typ="rt")
        rt.preserve_quotes = True
        rt.width = 120
        doc = rt.load(text or "") or CommentedMap()
        for f, value in changes:
            value = f.typed(value)
            if f.clears and not value:
                if get_path(self.read(text, source), f.clears) is not None or f.clears.split(".")[0] in doc:
                    _set(doc, f.clears, None, CommentedMap)
                continue
            _set(doc, f.key, value, CommentedMap)
        out = io.StringIO()
        rt.dump(doc, out)
        return out.getvalue()

    # --- handlers -----------------------------------------------------------------------------------
    def form_to_yaml(self, text, synced, source, *values):
        """A field was left or chosen: the editor gets it, and `synced` becomes what the form now shows."""
        _slow_down()
        return self.text(text, synced, source, *values), list(values)

    def yaml_to_form(self, text, synced, source):
        """The editor was left: set the fields whose key the editor changed, leave the others as they are (one
        the user is typing into meanwhile keeps its text). Half-typed YAML keeps the form and says where."""
        import gradio as gr

        _slow_down()
        try:
            values = self.values(text, source)
        except LabkitError as e:
            return [gr.update()] * len(self.fields) + [gr.update(), f"**{e.message}**"]
        before = synced if isinstance(synced, list) and len(synced) == len(self.fields) else [object()] * len(values)
        shown = [v if not same(v, b) else gr.update() for v, b in zip(values, before)]
        return [*shown, values, ""]

    # --- wiring -------------------------------------------------------------------------------------
    def wire(self, widgets: list, editor, synced, source, notes, api: str) -> Bound:
        """The sync events of one page's form. `source` (a State holding the file that `base:` counts from) may
        be None; `notes` shows a half-typed YAML's error. Returns what buttons chain their handler after."""
        return Bound(self, widgets, editor, synced, source, notes, api)


class Bound:
    """A FormSync wired to one page's components."""

    def __init__(self, sync: FormSync, widgets, editor, synced, source, notes, api: str):
        import gradio as gr

        from labkit.ui.common import handler

        self.editor, self.synced = editor, synced
        with_source = source is not None
        heads = [editor, synced] + ([source] if with_source else [])
        self.inputs = [*heads, *widgets]

        @handler
        def to_yaml(text, syn, *rest):
            src, values = (rest[0], rest[1:]) if with_source else (None, rest)
            return sync.form_to_yaml(text, syn, src, *values)

        @handler
        def to_form(text, syn, *rest):
            return sync.yaml_to_form(text, syn, rest[0] if with_source else None)

        self.to_yaml = to_yaml
        for w in widgets:
            choice = isinstance(w, (gr.Dropdown, gr.Checkbox, gr.Radio, gr.CheckboxGroup))
            for event in [w.input] if choice else [w.blur, w.submit]:
                event(
                    to_yaml,
                    self.inputs,
                    [editor, synced],
                    api_name=f"{api}_form_to_yaml",
                    trigger_mode="always_last",
                    show_progress="hidden",
                )
        editor.blur(
            to_form,
            heads,
            [*widgets, synced, notes],
            api_name=f"{api}_yaml_to_form",
            trigger_mode="always_last",
            show_progress="hidden",
        )

    def before(self, trigger, clear=()):
        """`trigger` (a button's `.click`) first writes the form into the editor from the click's own snapshot;
        chain the button's handler with `.success(fn, [editor, ...])`: it then reads the editor as synced.
        `clear`: messages of an earlier click (a "✅ Ready", a status line), emptied in the same step, so that a
        failing handler's toast does not stand beside them (see labkit.ui.common.clear_first)."""
        import gradio as gr

        if not clear:
            return trigger(
                self.to_yaml, self.inputs, [self.editor, self.synced], api_visibility="private", show_progress="hidden"
            )
        blanks = ["" if isinstance(c, (gr.Markdown, gr.Textbox)) else None for c in clear]

        def to_yaml_clearing(*values):
            return (*self.to_yaml(*values), *blanks)

        return trigger(
            to_yaml_clearing,
            self.inputs,
            [self.editor, self.synced, *clear],
            api_visibility="private",
            show_progress="hidden",
        )


def synced_component(values: list | None):
    """The hidden `synced` component (see the module's docstring for why it is not a gr.State)."""
    import gradio as gr

    return gr.JSON(values, visible=False)


def _set(doc, key: str, value, mapping_type) -> None:
    parts, node = key.split("."), doc
    for p in parts[:-1]:
        if not isinstance(node.get(p), dict):
            node[p] = mapping_type()
        node = node[p]
    node[parts[-1]] = value


def _slow_down() -> None:
    """LABKIT_UI_SYNC_DELAY: a test hook that makes each sync slow, as on a busy server."""
    delay = get_settings().ui_sync_delay_s
    if delay:
        time.sleep(delay)
