"""The one way a tab follows a run: a run field, a status line (state, elapsed time, the kind's own progress), the log
tail, a timer that polls while the run lives, Cancel, re-attaching after a reload (?run=ID in the page address, else
the newest live run of the tab's kind), and opening a run by clicking its row in a table.

    panel = RunPanel(ctx, "train")                        # in the tab's layout, where the panel goes
    panel.wire(shared, describe=progress_line,            # run -> the kind's own progress text
               extra=(curves, [picked, log_y], [picked, plot, table]))  # the tab's other outputs, each look
    launch_btn.click(start, ..., [panel.run_id, panel.timer, ...])      # a started run is followed at once

Every look reads the store and the run folder only (`labkit.jobs`), so a reload or an app restart finds the run
again, and no handler waits in a loop: the page's timer asks again. A tab whose runs need more says so in `wire`:
how a typed value becomes a run (`find`: a file path is no run; an HF Jobs run is asked for as the signed-in
user), how Cancel stops it (`cancel`: a study stops every run it started), what the log shows (`tail`), which
run a reload re-attaches to (`owns`, `newest`), and the panel's timer polls every `every` seconds.
"""

from __future__ import annotations

import contextlib
import logging
import time

import gradio as gr

from labkit import guard, jobs
from labkit.errors import LabkitError
from labkit.store import FINAL
from labkit.ui.common import LastSent, guarded_buttons, handler, who

log = logging.getLogger(__name__)
# in the browser: the followed run goes into the page address (?run=ID), so a reload re-attaches to it
REMEMBER = """(rid) => { if (rid) { const u = new URL(window.location.href); u.searchParams.set("run", rid.trim());
  window.history.replaceState(null, "", u); } return []; }"""
LIVE = ("running", "queued")


def polling(active: bool) -> gr.Timer:
    """The update that starts (True) or stops a panel's timer, for a handler that sets the run field."""
    return gr.Timer(active=bool(active))


def elapsed(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h {m:02d}m" if h else f"{m}m {s:02d}s" if m else f"{s}s"


def headline(run, now: float | None = None) -> str:
    """State and time: "**running** · 2m 13s so far", "**succeeded** in 3m 02s", "**cancelled** after 40s"."""
    now = time.time() if now is None else now
    start, end = run.created or now, (run.updated or now) if run.status in FINAL else now
    took = elapsed(end - start)
    when = {"succeeded": f"in {took}", "running": f"{took} so far", "queued": f"waiting {took}"}
    return f"**{run.status}** · `{run.id}` · " + when.get(run.status, f"after {took}")


def ending(run) -> str:
    """What a person needs after the end: a cancel is not an error; a failure shows its error whole."""
    if run.status == "cancelled":
        return "\n\nCancelled by request."
    if run.status == "failed":
        return f"\n\n```\n{(run.error or 'No error was recorded; see the log.')[-2000:]}\n```"
    return ""


class RunPanel:
    """The components, laid out where the panel is made (in the tab's layout)."""

    def __init__(
        self,
        ctx,
        kind: str,
        label: str = "Run",
        cancel: str | None = "Cancel",
        log_lines: int = 12,
        run_elem: str | None = None,
        *,
        every: float = 2.0,
        elem: str | None = None,
        log_label: str = "Log (tail)",
        log_fold: str | None = None,
        log_open: bool = True,
        guarded: bool = True,
        beside=None,
    ):
        """`every`: seconds between two looks while the run lives; `elem`: the prefix of the elements' ids
        (`lk-<kind>`: `…-run`, `…-status`, `…-log`); `log_fold`: the title of an accordion that holds the log
        (`log_open`: opened at first); `guarded`: Cancel is a guarded button (off on a demo); with False a plain one,
        for a handler that guards itself (an owner signed in on a demo may cancel her Jobs); `beside()`: called
        inside the run row after Cancel, to add the tab's own buttons there."""
        self.ctx, self.kind = ctx, kind
        elem = elem or f"lk-{kind}"
        with guarded_buttons(ctx.settings) as button, gr.Row():
            self.run_id = gr.Textbox(label=label, elem_id=run_elem or f"{elem}-run", scale=3)
            self.cancel = None
            if cancel:
                self.cancel = (
                    button(cancel, "cancel", variant="stop", scale=0)
                    if guarded
                    else gr.Button(cancel, variant="stop", scale=0)
                )
            if beside is not None:
                beside()
        self.status = gr.Markdown(elem_id=f"{elem}-status")
        with gr.Accordion(log_fold, open=log_open) if log_fold else contextlib.nullcontext():
            self.log = gr.Code(label=log_label, lines=log_lines, language=None, elem_id=f"{elem}-log")
        self.timer = gr.Timer(every, active=False)
        self.find, self.owns, self.newest = self.visible, (lambda run: run.kind == kind), self.newest_live
        self.elem, self.shown = elem, LastSent()  # a tick resends the log and the tab's outputs only when they changed

    # --- handlers -------------------------------------------------------------------------------------------------
    def visible(self, rid, request, profile=None, oauth=None):
        """The run `rid` as it is now, when this visitor may see it (the default `find`; the sign-in is unused)."""
        caller = who(self.ctx, request)
        run = jobs.status(rid.strip(), self.ctx.settings)
        guard.require_visible(run, caller["caller"], caller["authenticated"], self.ctx.settings)
        return run

    def runs(self, request, limit: int = 50) -> list:
        """The runs of this panel's kind that this visitor may see, newest first."""
        caller = who(self.ctx, request)
        return [
            r
            for r in jobs.list_runs(self.ctx.settings, kind=self.kind, limit=limit)
            if guard.may_see(r, caller["caller"], caller["authenticated"], self.ctx.settings)
        ]

    def newest_live(self, request):
        """The default re-attach: the newest live run of this kind that this visitor may see."""
        return next((r for r in self.runs(request) if r.status in LIVE), None)

    def _look(self, describe, extra, failure=None, tail=None):
        n_extra = len(extra[2]) if extra else 0

        # the sign-in (profile, oauth) is injected for a `find` that asks as the signed-in user (HF Jobs)
        def look(request: gr.Request, profile: gr.OAuthProfile | None, oauth: gr.OAuthToken | None, rid, *inputs):
            keep = (gr.update(), gr.Timer(active=False), *[gr.update()] * n_extra)
            if not (rid or "").strip():
                return ("", *keep)
            try:
                run = self.find(rid.strip(), request, profile, oauth)
            except LabkitError as e:
                return (f"**{e.message}**", *keep)
            if run is None:  # the field names no run (a file path): nothing to follow
                return (gr.update(), *keep)
            text = headline(run)
            # the progress text and the tab's other outputs are read apart: a file that one of them cannot read
            # (half-written, removed) is said in the status line and leaves the other to show what it can
            try:
                more = describe(run) if describe else ""
            except Exception as e:  # noqa: BLE001
                log.warning("%s: its progress cannot be read right now", run.id, exc_info=True)
                more = f"(its files cannot be read right now: {type(e).__name__})"
            try:
                rest = tuple(extra[0](run, *inputs)) if extra else ()
            except Exception as e:  # noqa: BLE001
                log.warning("%s: its files cannot be read right now", run.id, exc_info=True)
                more = more or f"(its files cannot be read right now: {type(e).__name__})"
                rest = (gr.update(),) * n_extra
            said = f"\n\n{failure(run)}" if failure and run.status == "failed" else ending(run)
            text += ("" if more.startswith("\n") else " · " if more else "") + more + said
            if tail is not None:
                shown = tail(run)
            else:
                shown = jobs.tail_log(run.run_dir, 6000) if run.run_dir else ""
            return (text, shown, gr.Timer(active=run.status not in FINAL), *rest)

        return look

    def _remembered(self, look, tick: bool):
        """`look` as the timer's tick (`tick`: the log and the tab's outputs that the page already shows are sent as
        no change: a chart given its own figure again is drawn anew) or as any other look (what it sends is what
        the page now shows). The status line and the timer are always sent."""

        def remembered(request: gr.Request, profile: gr.OAuthProfile | None, oauth: gr.OAuthToken | None, rid, *inputs):
            text, shown, timer, *rest = look(request, profile, oauth, rid, *inputs)
            if tick:
                shown, *rest = self.shown.changed(request, self.elem, (shown, *rest))
            else:
                self.shown.sent(request, self.elem, (shown, *rest))
            return (text, shown, timer, *rest)

        return remembered

    def reattach(self, request: gr.Request | None = None):
        """After a reload: the run in the page address when it is one of this panel's (`owns`: of its kind), else
        `newest(request)` (the newest live one this visitor may see); the timer starts when it lives."""
        asked = request.query_params.get("run") if request is not None else None
        run = None
        if asked:
            try:
                run = self.visible(str(asked), request)
            except LabkitError:
                run = None
            run = run if run is not None and self.owns(run) else None
        if run is None:
            run = self.newest(request)
        if run is None:
            return gr.update(), gr.Timer(active=False)
        return run.id, gr.Timer(active=run.status not in FINAL)

    def cancel_run(self, rid, request: gr.Request):
        if not (rid or "").strip():
            raise LabkitError("No run to cancel.", hint="Type or pick a run id first.")
        run = jobs.cancel(rid.strip(), self.ctx.settings, **who(self.ctx, request))
        return f"**{run.status}** · `{run.id}`"

    # --- wiring -----------------------------------------------------------------------------------------------------
    def wire(
        self,
        shared,
        describe=None,
        extra=None,
        api: str | None = None,
        failure=None,
        *,
        find=None,
        cancel=None,
        tail=None,
        owns=None,
        newest=None,
        reattach: bool = True,
        remember: bool = True,
    ) -> None:
        """`describe(run)`: the kind's progress text (after the state and time; text that starts on a new line
        stands on its own); `extra = (fn, inputs, outputs)`: `fn(run, *inputs)` gives the tab's other outputs at
        each look (curves, charts, tables); `failure(run)`: a failed run's error in the tab's own words (default:
        the stored error).
        `find(rid, request, profile, oauth)`: the run a typed value names, or None when it names none to follow
        (default: `visible`, the store's run if this visitor may see it); `cancel`: Cancel's handler, run field →
        status line (default: `jobs.cancel` as this visitor); `tail(run)`: the log box (default: the tail of the
        run folder's log); `owns(run)`: whether a run named in the page address is this panel's (default: of its
        kind); `newest(request)`: the run to re-attach to when the address names none (default: `newest_live`);
        `reattach`: re-attach on page load at all; `remember`: put the followed run in the page address.
        `self.loaded` is the re-attach on page load, for a tab to chain what else it restores."""
        api = api or self.kind
        self.find = find or self.find
        self.owns, self.newest = owns or self.owns, newest or self.newest
        inputs = [self.run_id, *(extra[1] if extra else [])]
        outputs = [self.status, self.log, self.timer, *(extra[2] if extra else [])]
        plain = self._look(describe, extra, failure, tail)
        look, tick = handler(self._remembered(plain, tick=False)), handler(self._remembered(plain, tick=True))
        self.timer.tick(tick, inputs, outputs, api_name=f"{api}_follow", show_progress="hidden")
        self.run_id.submit(look, inputs, outputs, api_name=f"{api}_attach")
        if remember:
            self.run_id.change(None, self.run_id, None, js=REMEMBER)
        if self.cancel is not None:
            self.cancel.click(
                cancel or handler(self.cancel_run), self.run_id, self.status, api_name=f"{api}_cancel"
            ).then(look, inputs, outputs, api_name=f"{api}_follow_after_cancel")
        self.loaded = None
        if reattach:
            self.loaded = shared.demo.load(self.reattach, None, [self.run_id, self.timer], api_name=f"{api}_reattach")
            self.loaded.then(look, inputs, outputs, api_name=f"{api}_follow_on_load")
        self.look, self.inputs, self.outputs = look, inputs, outputs

    def follow_after(self, event, api: str):
        """Chain a look after `event` (a launch or resume that set the run field): the status shows at once."""
        return event.then(self.look, self.inputs, self.outputs, api_name=f"{api}_first_look")

    def open_from(self, table, api: str) -> None:
        """Clicking a row of `table` (whose first column is a run id) follows that run here."""

        def pick(evt: gr.SelectData = None):
            row = getattr(evt, "row_value", None)
            rid = row[0] if isinstance(row, (list, tuple)) and row else None
            return (rid, gr.Timer(active=True)) if isinstance(rid, str) and rid else (gr.update(), gr.update())

        table.select(pick, None, [self.run_id, self.timer], api_name=f"{api}_open_row").then(
            self.look, self.inputs, self.outputs, api_name=f"{api}_open_row_look"
        )
