"""Support chat tab: chat with the strategy-aware agent (strategy badge and rationale per reply, researcher
override, inferred user state, strategy distribution, stage indicator, crisis bypass, JSON export), generate
role-play dialogues, build self-evolution DPO pairs and push data to the Hub."""

from __future__ import annotations

import tempfile
from pathlib import Path

import gradio as gr

from labkit.errors import LabkitError
from labkit.jsonl import read_jsonl, write_jsonl
from labkit.support import roleplay, safety, session
from labkit.support.agent import SupportAgent
from labkit.support.strategies import load_prompts, strategies
from labkit.ui.common import SessionFlags, guarded_buttons, handler

TITLE = "Support chat"
ID = "support"
STAGES = ("exploration", "comforting", "action")


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
    fig.update_layout(
        template="plotly_white",
        height=280,
        margin=dict(l=10, r=10, t=30, b=30),
        title="Strategies used in this session",
    )
    return fig


def build(ctx, shared) -> None:
    gr.Markdown(f"⚠️ {safety.DISCLAIMER}")
    state = gr.State(session.new())
    rp_cancels = SessionFlags()
    with gr.Row():
        with gr.Column(scale=3):
            chat = gr.Chatbot(height=460, label="Conversation", elem_id="lk-support-chat")
            with gr.Row():
                msg = gr.Textbox(
                    placeholder="How are you feeling today?", show_label=False, scale=5, elem_id="lk-support-msg"
                )
                send = gr.Button("Send", variant="primary", scale=1)
            with gr.Row():
                override = gr.Dropdown(
                    ["(counselor decides)", *strategies()],
                    value="(counselor decides)",
                    label="Next strategy (researcher override)",
                )
                reset = gr.Button("New session")
                export_btn = gr.Button("Export session (JSON)")
            export_file = gr.File(label="Session export")
            gr.Examples(EXAMPLES, msg, label="Example messages (click one, then Send)")
        with gr.Column(scale=2):
            stage = gr.Markdown(stage_markdown(None), elem_id="lk-support-stage")
            badge = gr.Markdown(elem_id="lk-support-badge")
            state_view = gr.JSON(label="Inferred user state (profile, emotion, situation)")
            dist = gr.Plot(label="Strategy distribution")
    with gr.Accordion("Role-play data and self-evolution pairs", open=False):
        prompts = load_prompts()
        with gr.Row():
            n = gr.Number(4, precision=0, label="Dialogues")
            turns = gr.Number(3, precision=0, label="Turns per dialogue")
            langs = gr.CheckboxGroup(
                sorted(prompts["scenarios"]), value=sorted(prompts["scenarios"]), label="Languages"
            )
        with gr.Row():
            scen = gr.Textbox(
                "\n".join(f"{l}: {s}" for l, ss in prompts["scenarios"].items() for s in ss),
                lines=6,
                label="Scenarios (lang: text, one per line)",
            )
            pers = gr.Textbox(
                "\n".join(f"{l}: {p}" for l, ps in prompts["personas"].items() for p in ps),
                lines=6,
                label="Seeker personas (lang: text, one per line)",
            )
        with guarded_buttons(ctx.settings) as button, gr.Row():
            gen_btn = button("Generate dialogues", "batch", variant="primary")
            rp_stop = gr.Button("Cancel", variant="stop")
            pairs_btn = button("Build self-evolution pairs", "batch")
        rp_status = gr.Markdown(elem_id="lk-support-rp-status")
        rp_preview = gr.Markdown(label="Preview", elem_id="lk-support-rp-preview")
        with gr.Row():
            rp_file = gr.File(label="Dialogues (JSONL)")
            pairs_file = gr.File(label="DPO pairs (JSONL) — for configs/train/support-dpo-tiny.yaml")
        with guarded_buttons(ctx.settings) as button, gr.Row():
            repo = gr.Textbox(label="Dataset repo id (you/name)")
            push_btn = button("Push dialogues to the Hub", "push")

    def agent_for(model_state) -> SupportAgent:
        from labkit.backends import load_backend

        return SupportAgent(load_backend(model_state))

    @handler
    def respond(text, sess, chosen, model_state):
        agent = agent_for(model_state)
        plan = agent.plan(sess["history"], text, None if chosen == "(counselor decides)" else chosen)
        text = text.strip()
        title = session.label(plan)
        display = [
            *session.display(sess),
            {"role": "user", "content": text},
            {"role": "assistant", "content": plan["rationale"] or "", "metadata": {"title": title}},
        ]
        reply = ""
        badge_md = f"**{title}**  \n_{plan['rationale']}_"
        for delta in agent.stream_reply(sess["history"], text, plan):
            reply += delta
            yield (
                display + [{"role": "assistant", "content": reply}],
                sess,
                stage_markdown(plan["stage"]),
                badge_md,
                plan["user_state"],
                gr.update(),
                "",
            )
        sess = session.record(sess, plan, text, reply)
        yield (
            session.display(sess),
            sess,
            stage_markdown(plan["stage"]),
            badge_md,
            plan["user_state"],
            distribution_figure(sess["log"]),
            "",
        )

    def new_session():
        return [], session.new(), stage_markdown(None), "", {}, distribution_figure([])

    def export(sess):
        return str(session.export(sess, tempfile.mkdtemp(dir=ctx.settings.cache_dir)))

    def parse_lines(text):
        table: dict[str, list[str]] = {}
        for line in (text or "").splitlines():
            if ":" in line:
                lang, item = line.split(":", 1)
                if item.strip():
                    table.setdefault(lang.strip(), []).append(item.strip())
        return table

    @handler
    def generate(n_, turns_, langs_, scen_, pers_, model_state, request: gr.Request, progress=gr.Progress()):
        if not langs_:
            raise LabkitError("Pick at least one language.")
        agent = agent_for(model_state)
        rp_cancel = rp_cancels(request)
        rp_cancel.clear()
        dialogues = roleplay.generate(
            agent,
            int(n_),
            int(turns_),
            list(langs_),
            parse_lines(scen_),
            parse_lines(pers_),
            progress=lambda d, t: progress(d / t, desc=f"dialogue {d}/{t}"),
            cancel=rp_cancel,
        )
        path = write_jsonl(Path(tempfile.mkdtemp(dir=ctx.settings.cache_dir)) / "roleplay.jsonl", dialogues)
        counts = roleplay.strategy_counts(dialogues)
        note = (
            f"{len(dialogues)} dialogues · strategies: "
            + ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda x: -x[1]))
            + f" · counselor answers unreadable → fallback: {agent.counselor_fallbacks}"
        )
        if rp_cancel.is_set():
            note = f"**Cancelled** after {len(dialogues)} of {int(n_)} dialogues (kept below). " + note
        return str(path), note, roleplay.preview(dialogues)

    def rp_do_cancel(request: gr.Request):
        rp_cancels(request).set()
        return "Cancelling … (the dialogue in progress is dropped)"

    @handler
    def build_pairs(f, model_state, progress=gr.Progress()):
        if not f:
            raise LabkitError("Generate or upload dialogues first.")
        rows = roleplay.pairs(agent_for(model_state), read_jsonl(f), progress=lambda d, t: progress(d / t))
        path = write_jsonl(Path(tempfile.mkdtemp(dir=ctx.settings.cache_dir)) / "support-pairs.jsonl", rows)
        return str(path), f"{len(rows)} preference pairs."

    @handler
    def push(f, repo_id, langs_, model_state):
        from labkit import guard, hub

        guard.require("push")  # before anything is written for the upload
        if not f:
            raise LabkitError("Generate dialogues first.")
        folder = Path(tempfile.mkdtemp(dir=ctx.settings.cache_dir))
        (folder / "train.jsonl").write_text(Path(f).read_text(encoding="utf-8"), encoding="utf-8")
        n_ = len(Path(f).read_text(encoding="utf-8").splitlines())
        card = roleplay.dataset_card(repo_id, n_, model_state["model"], list(langs_))
        return f"✅ {hub.push(hub.plan_push(folder, repo_id, kind='dataset', card=card))}"

    outs = [chat, state, stage, badge, state_view, dist, msg]
    send.click(respond, [msg, state, override, shared.model_state], outs, api_name="support_send")
    msg.submit(respond, [msg, state, override, shared.model_state], outs, api_name="support_submit")
    reset.click(new_session, None, [chat, state, stage, badge, state_view, dist], api_name="support_reset")
    export_btn.click(export, state, export_file, api_name="support_export")
    gen_btn.click(
        generate,
        [n, turns, langs, scen, pers, shared.model_state],
        [rp_file, rp_status, rp_preview],
        api_name="support_roleplay",
    )
    rp_stop.click(rp_do_cancel, None, rp_status, api_name="support_roleplay_cancel")
    pairs_btn.click(build_pairs, [rp_file, shared.model_state], [pairs_file, rp_status], api_name="support_pairs")
    push_btn.click(push, [rp_file, repo, langs, shared.model_state], rp_status, api_name="support_push")
