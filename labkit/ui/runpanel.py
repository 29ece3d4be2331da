"""The one way a tab follows a run: a run field, a status line (state, elapsed time, the kind's own progress), the log
tail, a timer that polls while the run lives, Cancel, re-attaching after a reload (?run=ID in the page address, else
the newest live run of the tab's kind), and opening a run by clicking its row in a table.

    panel = RunPanel(ctx, "train")                        # in the tab's layout, where the panel goes
    panel.wire(shared, describe=progress_line,            # run -> the kind's own progress text
               extra=(curves, [picked, log_y], [picked, plot, table]))  # the tab's other outputs, each look
    launch_btn.click(start, ..., [panel.run_id, panel.timer, ...])      # a started run is followed at once

Every look reads the store and the run folder only (`labkit.jobs`), so a reload or an app restart finds the run
again, and no handler waits in a loop: the page's timer asks again.
"""

from __future__ import annotations

import logging
import time

import gradio as gr

from labkit import guard, jobs
from labkit.errors import LabkitError
from labkit.store import FINAL
from labkit.ui.common import guarded_buttons, handler, who

log = logging.getLogger(__name__)
# in the browser: the followed run goes into the page address (?run=ID), so a reload re-attaches to it
REMEMBER = """(rid) => { if (rid) { const u = new URL(window.location.href); u.searchParams.set("run", rid.trim());
  window.history.replaceState(null, "", u); } return []; }"""
LIVE = ("running", "queued")


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
    ):
        self.ctx, self.kind = ctx, kind
        with guarded_buttons(ctx.settings) as button, gr.Row():
            self.run_id = gr.Textbox(label=label, elem_id=run_elem or f"lk-{kind}-run", scale=3)
            self.cancel = button(cancel, "cancel", variant="stop", scale=0) if cancel else None
        self.status = gr.Markdown(elem_id=f"lk-{kind}-status")
        self.log = gr.Code(label="Log (tail)", lines=log_lines, language=None, elem_id=f"lk-{kind}-log")
        self.timer = gr.Timer(2.0, active=False)

    # --- handlers -------------------------------------------------------------------------------------------------
    def _run(self, rid, request):
        caller = who(self.ctx, request)
        run = jobs.status(rid.strip(), self.ctx.settings)
        guard.require_visible(run, caller["caller"], caller["authenticated"], self.ctx.settings)
        return run

    def _look(self, describe, extra, failure=None):
        n_extra = len(extra[2]) if extra else 0

        def look(request: gr.Request, rid, *inputs):
            if not (rid or "").strip():
                return ("", gr.update(), gr.Timer(active=False), *[gr.update()] * n_extra)
            try:
                run = self._run(rid, request)
            except LabkitError as e:
                return (f"**{e.message}**", gr.update(), gr.Timer(active=False), *[gr.update()] * n_extra)
            text = headline(run)
            try:
                more = describe(run) if describe else ""
                rest = tuple(extra[0](run, *inputs)) if extra else ()
            except Exception as e:  # noqa: BLE001 — a run folder half-written or removed: said in the status line
                log.warning("%s: its files cannot be read right now", run.id, exc_info=True)
                more, rest = f"(its files cannot be read right now: {type(e).__name__})", (gr.update(),) * n_extra
            said = f"\n\n{failure(run)}" if failure and run.status == "failed" else ending(run)
            text += (f" · {more}" if more else "") + said
            tail = jobs.tail_log(run.run_dir, 6000) if run.run_dir else ""
            return (text, tail, gr.Timer(active=run.status not in FINAL), *rest)

        return look

    def reattach(self, request: gr.Request | None = None):
        """After a reload: the run in the page address when it is of this tab's kind, else the newest live one this
        visitor may see; the timer starts when it lives."""
        caller = who(self.ctx, request)
        asked = request.query_params.get("run") if request is not None else None
        run = None
        if asked:
            try:
                run = self._run(str(asked), request)
            except LabkitError:
                run = None
            run = run if run is not None and run.kind == self.kind else None
        if run is None:
            live = [
                r
                for r in jobs.list_runs(self.ctx.settings, kind=self.kind, limit=50)
                if r.status in LIVE and guard.may_see(r, caller["caller"], caller["authenticated"], self.ctx.settings)
            ]
            run = live[0] if live else None
        if run is None:
            return gr.update(), gr.Timer(active=False)
        return run.id, gr.Timer(active=run.status not in FINAL)

    def cancel_run(self, rid, request: gr.Request):
        if not (rid or "").strip():
            raise LabkitError("No run to cancel.", hint="Type or pick a run id first.")
        run = jobs.cancel(rid.strip(), self.ctx.settings, **who(self.ctx, request))
        return f"**{run.status}** · `{run.id}`"

    # --- wiring -----------------------------------------------------------------------------------------------------
    def wire(self, shared, describe=None, extra=None, api: str | None = None, failure=None) -> None:
        """`describe(run)`: the kind's progress text; `extra = (fn, inputs, outputs)`: `fn(run, *inputs)` gives
        the tab's other outputs at each look (curves, charts, tables); `failure(run)`: a failed run's error in the
        tab's own words (default: the stored error). `self.loaded` is the re-attach on page load, for a tab to
        chain what else it restores."""
        api = api or self.kind
        inputs = [self.run_id, *(extra[1] if extra else [])]
        outputs = [self.status, self.log, self.timer, *(extra[2] if extra else [])]
        look = handler(self._look(describe, extra, failure))
        self.timer.tick(look, inputs, outputs, api_name=f"{api}_follow", show_progress="hidden")
        self.run_id.submit(look, inputs, outputs, api_name=f"{api}_attach")
        self.run_id.change(None, self.run_id, None, js=REMEMBER)
        if self.cancel is not None:
            self.cancel.click(handler(self.cancel_run), self.run_id, self.status, api_name=f"{api}_cancel").then(
                look, inputs, outputs, api_name=f"{api}_follow_after_cancel"
            )
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
