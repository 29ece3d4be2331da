"""Support chat tab: chat with the strategy-aware agent (strategy badge and rationale per reply, researcher
override, inferred user state, strategy distribution, stage indicator, crisis bypass, JSON export), generate
role-play dialogues, build self-evolution DPO pairs and push data to the Hub."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from labkit.errors import LabkitError
from labkit.jsonl import read_jsonl, write_jsonl
from labkit.plotstyle import style
from labkit.support import roleplay, safety, session
from labkit.support.agent import SupportAgent, language_warning
from labkit.support.strategies import load_prompts, strategies
from labkit.ui.common import SessionFlags, clear_first, guarded_buttons, handler, heavy
from labkit import guard
from labkit.backends import load_backend
from labkit.ui.scratch import export_dir

TITLE = "Support chat"
ID = "support"
STAGES = ("exploration", "comforting", "action")
AUTO = "(counselor decides)"


EXAMPLES = [
    ["I failed my driving test today and I feel like an idiot."],
    ["I moved to a new city for work and I don't know anyone here."],
    ["我和最好的朋友吵架了，现在心里很难受，不知道该怎么办。"],
    ["My dog died last week and the house feels so empty."],
]


def stage_markdown(stage: str | None) -> str:
    if stage is None:
        return "**Stage:** —"
    return "**Stage:** " + " → ".join(f"**[{s}]**" if s == stage else s for s in STAGES)


def distribution_figure(log: list[dict]):
    import plotly.graph_objects as go

    names = list(strategies())
    counts = [sum(t.get("strategy") == n for t in log) for n in names]
    fig = go.Figure(go.Bar(x=counts, y=names, orientation="h", marker_color="#4C72B0"))
    return style(fig, 280, margin=dict(l=10, r=10, t=30, b=30), title="Strategies used in this session")


def _layout(ctx) -> SimpleNamespace:
    """The tab's components, in page order (no events)."""
    ui = SimpleNamespace()
    gr.Markdown(f"⚠️ {safety.DISCLAIMER}")
    ui.state = gr.State(session.new())
    with gr.Row():
        with gr.Column(scale=3):
            ui.chat = gr.Chatbot(height=460, label="Conversation", elem_id="lk-support-chat")
            with gr.Row():
                ui.msg = gr.Textbox(
                    placeholder="How are you feeling today?", show_label=False, scale=5, elem_id="lk-support-msg"
                )
                ui.send = gr.Button("Send", variant="primary", scale=1)
            with gr.Row():
                ui.override = gr.Dropdown(
                    [AUTO, *strategies()], value=AUTO, label="Next strategy (researcher override)"
                )
                ui.reset = gr.Button("New session")
                ui.export_btn = gr.Button("Export session (JSON)")
            ui.export_file = gr.File(label="Session export")
            gr.Examples(EXAMPLES, ui.msg, label="Example messages (click one, then Send)")
        with gr.Column(scale=2):
            ui.stage = gr.Markdown(stage_markdown(None), elem_id="lk-support-stage")
            ui.badge = gr.Markdown(elem_id="lk-support-badge")
            ui.state_view = gr.JSON(label="Inferred user state (profile, emotion, situation)")
            ui.dist = gr.Plot(label="Strategy distribution")
    with gr.Accordion("Role-play data and self-evolution pairs", open=False):
        prompts = load_prompts()
        with gr.Row():
            ui.n = gr.Number(4, precision=0, label="Dialogues")
            ui.turns = gr.Number(3, precision=0, label="Turns per dialogue")
            ui.langs = gr.CheckboxGroup(
                sorted(prompts["scenarios"]), value=sorted(prompts["scenarios"]), label="Languages"
            )
        with gr.Row():
            ui.scen = gr.Textbox(
                roleplay.table_text(prompts["scenarios"]), lines=6, label="Scenarios (lang: text, one per line)"
            )
            ui.pers = gr.Textbox(
                roleplay.table_text(prompts["personas"]), lines=6, label="Seeker personas (lang: text, one per line)"
            )
        with guarded_buttons(ctx.settings) as button, gr.Row():
            ui.gen_btn = button("Generate dialogues", "batch", variant="primary")
            ui.rp_stop = gr.Button("Cancel", variant="stop", elem_id="lk-support-rp-stop")
            ui.pairs_btn = button("Build self-evolution pairs", "batch")
        ui.rp_status = gr.Markdown(elem_id="lk-support-rp-status")
        ui.rp_preview = gr.Markdown(label="Preview", elem_id="lk-support-rp-preview")
        with gr.Row():
            ui.rp_file = gr.File(label="Dialogues (JSONL)")
            ui.pairs_file = gr.File(label="DPO pairs (JSONL) — for configs/train/support-dpo-tiny.yaml")
        with guarded_buttons(ctx.settings) as button, gr.Row():
            ui.repo = gr.Textbox(label="Dataset repo id (you/name)")
            ui.push_btn = button("Push dialogues to the Hub", "push")
    return ui


class Support:
    """The tab's handlers: thin, over labkit.support (agent, session, roleplay)."""

    def __init__(self, ctx):
        self.settings, self.cancels = ctx.settings, SessionFlags()  # one role-play Cancel per browser session

    @staticmethod
    def agent_for(model_state) -> SupportAgent:

        return SupportAgent(load_backend(model_state))

    def workdir(self) -> Path:
        return export_dir(self.settings.cache_dir, "support-")

    @handler
    @heavy
    def respond(self, text, sess, chosen, model_state):
        agent = self.agent_for(model_state)
        plan = agent.plan(sess["history"], text, None if chosen == AUTO else chosen)
        text = text.strip()
        title = session.label(plan)
        display = [
            *session.display(sess),
            {"role": "user", "content": text},
            {"role": "assistant", "content": plan["rationale"] or "", "metadata": {"title": title}},
        ]
        reply = ""
        side = (stage_markdown(plan["stage"]), f"**{title}**  \n_{plan['rationale']}_", plan["user_state"])
        for delta in agent.stream_reply(sess["history"], text, plan):
            reply += delta
            yield display + [{"role": "assistant", "content": reply}], sess, *side, gr.update(), ""
        sess = session.record(sess, plan, text, reply)
        if wrong := language_warning(reply, plan["language"]):  # named beside the turn's strategy
            side = (side[0], f"{side[1]}\n\n**{wrong}**", side[2])
        yield session.display(sess), sess, *side, distribution_figure(sess["log"]), ""

    @staticmethod
    def new_session():
        return [], session.new(), stage_markdown(None), "", {}, distribution_figure([])

    def export(self, sess):
        return str(session.export(sess, self.workdir()))

    @handler
    def generate(self, n_, turns_, langs_, scen_, pers_, model_state, request: gr.Request, progress=gr.Progress()):
        with self.cancels.running(request) as cancel:  # raised by Cancel, from the click on
            return self._generate(n_, turns_, langs_, scen_, pers_, model_state, cancel, progress)

    def _generate(self, n_, turns_, langs_, scen_, pers_, model_state, cancel, progress):
        if not langs_:
            raise LabkitError("Pick at least one language.")
        scenarios, personas = roleplay.parse_table(scen_), roleplay.parse_table(pers_)
        roleplay.check_roleplay(n_, turns_, list(langs_), scenarios, personas)  # before a model loads
        agent = self.agent_for(model_state)
        dialogues = roleplay.generate(
            agent,
            int(n_),
            int(turns_),
            list(langs_),
            scenarios,
            personas,
            progress=lambda d, t: progress(d / t, desc=f"dialogue {d}/{t}"),
            cancel=cancel,
        )
        path = write_jsonl(self.workdir() / "roleplay.jsonl", dialogues)
        counts = roleplay.strategy_counts(dialogues)
        note = (
            f"{len(dialogues)} dialogues · strategies: "
            + ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda x: -x[1]))
            + f" · counselor answers unreadable → fallback: {agent.counselor_fallbacks}"
        )
        if cancel.is_set():
            note = f"**Cancelled** after {len(dialogues)} of {int(n_)} dialogues (kept below). " + note
        return str(path), note, roleplay.preview(dialogues)

    def cancel(self, request: gr.Request, clicks=None):
        if self.cancels.stop(request, clicks):
            return "Cancelling … (the dialogue in progress is dropped)"
        return "Nothing to cancel: no role-play generation of yours is running."

    @handler
    def build_pairs(self, f, model_state, progress=gr.Progress()):
        if not f:
            raise LabkitError("Generate or upload dialogues first.")
        dialogues = read_jsonl(f)
        roleplay.check_pairs(dialogues)  # before a model loads
        rows = roleplay.pairs(self.agent_for(model_state), dialogues, progress=lambda d, t: progress(d / t))
        path = write_jsonl(self.workdir() / "support-pairs.jsonl", rows)
        return str(path), f"{len(rows)} preference pairs."

    @handler
    def push(self, f, repo_id, langs_, model_state):
        if not f:
            guard.require("push")  # a demo hears that pushing is off, not that nothing was generated
            raise LabkitError("Generate dialogues first.")
        url = roleplay.push_dialogues(f, repo_id, model_state["model"], list(langs_), self.settings.cache_dir)
        return f"✅ {url}"


def build(ctx, shared) -> None:
    ui, h = _layout(ctx), Support(ctx)
    chat_in = [ui.msg, ui.state, ui.override, shared.model_state]
    side = [ui.chat, ui.state, ui.stage, ui.badge, ui.state_view, ui.dist]
    ui.send.click(h.respond, chat_in, [*side, ui.msg], api_name="support_send")
    ui.msg.submit(h.respond, chat_in, [*side, ui.msg], api_name="support_submit")
    ui.reset.click(h.new_session, None, side, api_name="support_reset")
    ui.export_btn.click(h.export, ui.state, ui.export_file, api_name="support_export")
    # each click first empties what the earlier one said, so a refusal's toast shows alone
    clear_first(ui.gen_btn.click, ui.rp_status, stop=h.cancels).then(
        h.generate,
        [ui.n, ui.turns, ui.langs, ui.scen, ui.pers, shared.model_state],
        [ui.rp_file, ui.rp_status, ui.rp_preview],
        api_name="support_roleplay",
    )
    h.cancels.wire_cancel(ui.rp_stop, h.cancel, "support_roleplay_cancel")
    clear_first(ui.pairs_btn.click, ui.rp_status).then(
        h.build_pairs, [ui.rp_file, shared.model_state], [ui.pairs_file, ui.rp_status], api_name="support_pairs"
    )
    clear_first(ui.push_btn.click, ui.rp_status).then(
        h.push, [ui.rp_file, ui.repo, ui.langs, shared.model_state], ui.rp_status, api_name="support_push"
    )
