"""The "Run on Hugging Face Jobs" panel that Train, Evaluate, Data and Experiment share.

Each tab adds it with one line, naming the form fields a Job needs and the function that turns them into a
labkit command (`train_job`, `eval_job`, `data_job`, `experiment_job` below):

    hfjobs_panel.attach(ctx, shared, "eval", [task, model, ...], hfjobs_panel.eval_job)

The Job runs `labkit <command>` on the chosen flavor, pushes what it wrote to the results repo named in the
form, and the panel follows it as every tab follows a run (`labkit.ui.runpanel.RunPanel`, a look every 15 s): its
status from `jobs.status` (the Job's stage, inspect_job), its logs streamed on request (fetch_job_logs), Cancel
through the Jobs route (cancel_job), and its results loaded back into the local run folder, where the tab shows
them like a local run.

Who may: on a local app, its user (with their `hf auth login` token). On a demo Space, only an owner
(LABKIT_OWNERS, default the Space's author) who signed in with the button here; the Job gets that person's
OAuth token, never the Space's own token. Anonymous visitors are refused by labkit.guard, whichever way they ask.
"""

# No `from __future__ import annotations`: Gradio reads the handlers' gr.OAuthProfile / gr.OAuthToken /
# gr.Request annotations to inject the signed-in user, so they must be real types.

import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from labkit import guard, hfjobs, jobs
from labkit.config import allowed_roots
from labkit.hfjobs import Job
from labkit.errors import LabkitError
from labkit.execution import HFJobsOptions
from labkit.data import recipe as curation
from labkit.data.run import curation_job
from labkit.evaluate.service import summary_metrics
from labkit.store import FINAL
from labkit.train import launch, recipe as rmod
from labkit.ui.common import clear_first, handler, owner_tags, who
from labkit.ui.runpanel import RunPanel, ending, headline, polling
from labkit.evaluate.spec import cli_args, form_to_spec

EVERY = 15.0  # seconds between two looks at a live Job: each asks the Hub
MOCK_TOKEN = "mock-oauth-token-for-local-dev"  # what Gradio's local OAuth mock puts in the session: not a token
LOG_LINES = 300
NOTE = (
    "Heavy work runs on [Hugging Face Jobs](https://huggingface.co/docs/huggingface_hub/guides/jobs), billed to "
    "the account that submits it (pay-as-you-go, per minute of the flavor). The Job runs the labkit command of "
    "this form and pushes its run folder (results, checkpoints) to the results repo, a private dataset repo under "
    "the Job's id; **Load results** brings them back here."
)


def oauth_enabled(settings) -> bool:
    """A sign-in button only where OAuth works: on a Space with `hf_oauth: true` (the Hub sets OAUTH_CLIENT_ID), or
    locally with LABKIT_OAUTH=1 (Gradio then mocks the login with this machine's `hf auth login`)."""
    return bool(settings.env.get("OAUTH_CLIENT_ID")) or settings.env.get("LABKIT_OAUTH") == "1"


def identity(profile, oauth, request) -> tuple:
    """(login, token) of the caller: a Hub user who signed in and their OAuth token; or an --auth user, whose Jobs
    use the server's own login (the host chose who may sign in); or nobody."""
    if profile is not None:
        token = getattr(oauth, "token", None)
        if not token:
            raise LabkitError("Your sign-in carries no token.", hint="Sign out and sign in with Hugging Face again.")
        return profile.username, (None if token == MOCK_TOKEN else token)
    return getattr(request, "username", None), None


class Panel:
    def __init__(self, ctx, kind: str, build_job):
        self.ctx, self.kind, self.build_job = ctx, kind, build_job

    @property
    def settings(self):
        return self.ctx.settings

    def _run(self, run_id, login, request, action="hf-jobs"):
        guard.require_owner_login(action, login, self.settings)  # a visitor of a demo learns nothing about runs
        if not (run_id or "").strip():
            raise LabkitError("No Job run selected.", hint="Submit a Job first, or paste its run id in the Run field.")
        run = self.ctx.store.get(run_id.strip())
        if hfjobs.job_id(run) is None:
            raise LabkitError(f"{run.id} is not a Hugging Face Jobs run.", hint="Local runs are followed above.")
        caller = who(self.ctx, request)
        guard.require_owner(run, caller["caller"], caller["authenticated"] or bool(login))
        return run

    @handler
    def submit(
        self,
        profile: gr.OAuthProfile | None,
        oauth: gr.OAuthToken | None,
        request: gr.Request | None,
        flavor,
        timeout,
        repo,
        *values,
    ):
        login, token = identity(profile, oauth, request)
        guard.require_owner_login("hf-jobs", login, self.settings)  # before any work on the form
        if not flavor:
            raise LabkitError("Pick a flavor (the Job's hardware).")
        wanted = hfjobs.seconds(timeout or "")
        expires = getattr(oauth, "expires_at", None)
        left = (expires or 0) - time.time()
        if token and expires and wanted > left:
            raise LabkitError(
                f"Your sign-in expires in {int(left // 60)} min, before the Job's timeout ({timeout}): the Job could "
                "not push its results.",
                hint="Sign out and in again, or shorten the Timeout field.",
            )
        job = self.build_job(self.settings, *values)
        run = hfjobs.submit_job(
            job,
            self.kind,
            flavor=flavor,
            timeout=str(timeout).strip(),
            push_repo=(repo or "").strip(),
            token=token,
            login=login,
            tags=guard.owner_tag(login) if login else owner_tags(self.ctx, request),  # who: the Hub login
            settings=self.settings,
        )
        return run.id, self._status(run), polling(run.status not in FINAL)

    @staticmethod
    def describe(run) -> str:
        """The Job after the run panel's state and time: its id (a link), flavor, timeout and results repo."""
        info = (run.config or {}).get("hf_job", {})
        link = f"[{info.get('id')}]({info['url']})" if info.get("url") else f"`{info.get('id')}`"
        text = (
            f"Job {link} · {info.get('flavor')} · timeout {info.get('timeout')}"
            f" · results → `{info.get('push_repo')}/{run.id}/`"
        )
        if run.status == "succeeded":
            text += "\n\nFinished: **Load results** brings its results and checkpoints into this lab."
        return text

    def _status(self, run) -> str:
        """The status line, as the run panel's look writes it."""
        return f"{headline(run)} · {self.describe(run)}{ending(run)}"

    def find(self, rid, request, profile, oauth):
        """The run panel's look: the Job run as the signed-in user may see it, its stage asked for with their token
        (`jobs.status`). On a demo the stage is asked for as the owner who signed in (`hfjobs.sync` with her login),
        which `jobs.status` cannot carry."""
        login, token = identity(profile, oauth, request)
        run = self._run(rid, login, request)
        if self.settings.demo:
            return hfjobs.sync(run.id, token=token, settings=self.settings, login=login)
        return jobs.status(run.id, self.settings, token=token)

    @handler
    def refresh(self, profile: gr.OAuthProfile | None, oauth: gr.OAuthToken | None, request: gr.Request | None, rid):
        run = self.find(rid, request, profile, oauth)
        return self._status(run), polling(run.status not in FINAL)

    @handler
    def logs(self, profile: gr.OAuthProfile | None, oauth: gr.OAuthToken | None, request: gr.Request | None, rid):
        """The Job's log, streamed while it runs (the last LOG_LINES lines)."""
        login, token = identity(profile, oauth, request)
        run = self._run(rid, login, request)
        lines, shown = [], time.monotonic()
        follow = run.status not in FINAL
        for line in hfjobs.logs(run.id, follow=follow, token=token, settings=self.settings, login=login):
            lines = [*lines[-(LOG_LINES - 1) :], line.rstrip("\n")]
            if time.monotonic() - shown >= 1.0:  # at most one page update a second, however fast lines come
                shown = time.monotonic()
                yield "\n".join(lines)
        yield "\n".join(lines) or "(no log lines yet)"

    @handler
    def cancel(self, profile: gr.OAuthProfile | None, oauth: gr.OAuthToken | None, request: gr.Request | None, rid):
        login, token = identity(profile, oauth, request)
        run = self._run(rid, login, request, "cancel")
        run = hfjobs.cancel(run.id, token=token, settings=self.settings, login=login)
        return self._status(run), polling(False)

    def cancel_line(
        self, profile: gr.OAuthProfile | None, oauth: gr.OAuthToken | None, request: gr.Request | None, rid
    ):
        """The run panel's Cancel: the status line only (the panel's next look stops its timer)."""
        return self.cancel(profile, oauth, request, rid)[0]

    @handler
    def results(self, profile: gr.OAuthProfile | None, oauth: gr.OAuthToken | None, request: gr.Request | None, rid):
        login, token = identity(profile, oauth, request)
        run = self._run(rid, login, request)
        run = hfjobs.fetch_results(run.id, token=token, settings=self.settings, login=login, metrics=summary_metrics)
        where = {
            "eval": "the leaderboard, heatmap and samples above (Refresh)",
            "train": "the Runs table and curves above (type the run id in Run)",
            "data": "the summary and plots above (type the run id in Run id)",
        }.get(self.kind, "its run folder")
        text = f"✅ Loaded into `{run.run_dir}`: see {where}.\n\n" + self._status(run)
        for report in sorted(Path(run.run_dir).glob("experiments/*/report.md")):  # an experiment's write-up
            text += f"\n\n---\n\n{report.read_text(encoding='utf-8')}"
        return text

    def flavors(self, oauth: gr.OAuthToken | None):
        token = getattr(oauth, "token", None)
        token = token if token and token != MOCK_TOKEN else (False if self.settings.demo else None)
        choices = hfjobs.flavors(token=token, settings=self.settings)
        names = [value for _, value in choices]
        default = HFJobsOptions.flavor
        return gr.update(choices=choices, value=default if default in names else names[0])


def attach(ctx, shared, kind: str, inputs: list, build_job, before=None) -> SimpleNamespace:
    """Add the panel to the current tab: `build_job(settings, *values of inputs)` returns the Job to run.
    `before`: the tab's form sync (`formsync.Bound.before`), so that Submit sends the recipe the form shows."""
    p = Panel(ctx, kind, build_job)
    ui = SimpleNamespace()
    with gr.Accordion("Run on Hugging Face Jobs", open=False, elem_id=f"lk-{kind}-hfjobs"):
        gr.Markdown(NOTE, elem_classes="lk-note")
        if oauth_enabled(ctx.settings):
            gr.LoginButton()
        with gr.Row():
            ui.flavor = gr.Dropdown(hfjobs.static_flavors(), value=HFJobsOptions.flavor, label="Flavor (hardware)")
            ui.timeout = gr.Textbox(HFJobsOptions.timeout, label="Timeout", info="30m, 6h, 1d")
            ui.repo = gr.Textbox(label="Results repo (a dataset, you/name)", placeholder="you/labkit-results")
            ui.submit = gr.Button("Submit to HF Jobs", variant="primary")

        def buttons():  # beside the run field and Cancel Job
            ui.refresh = gr.Button("Status", scale=0)
            ui.logs_btn = gr.Button("Logs", scale=0)
            ui.load = gr.Button("Load results", scale=0)

        # Cancel Job is a plain button: on a demo an owner who signed in may cancel her Jobs (the handler guards)
        ui.panel = RunPanel(
            ctx,
            kind,
            label="Job run",
            cancel="Cancel Job",
            every=EVERY,
            elem=f"lk-{kind}-hfjob",
            log_label="Job log",
            guarded=False,
            beside=buttons,
        )
    panel = ui.panel
    ui.run_id, ui.status, ui.log, ui.poll, ui.cancel = panel.run_id, panel.status, panel.log, panel.timer, panel.cancel
    # the panel's look: the status from the Hub every 15 s; the log box is the Logs button's (streamed from the Hub);
    # no re-attach on load and no run in the page address (the tab's own panel follows the tab's runs)
    panel.wire(
        shared,
        describe=p.describe,
        api=f"{kind}_hf_job",
        find=p.find,
        cancel=p.cancel_line,
        tail=lambda run: gr.update(),
        reattach=False,
        remember=False,
    )
    # a submit first empties what an earlier click said, so a refusal's toast shows alone
    submit = (
        clear_first(ui.submit.click, ui.status).then if before is None else before(ui.submit.click, [ui.status]).success
    )
    submit(
        p.submit, [ui.flavor, ui.timeout, ui.repo, *inputs], [ui.run_id, ui.status, ui.poll], api_name=f"{kind}_hf_job"
    )
    ui.refresh.click(p.refresh, ui.run_id, [ui.status, ui.poll], api_name=f"{kind}_hf_job_status")
    ui.logs_btn.click(p.logs, ui.run_id, ui.log, api_name=f"{kind}_hf_job_logs")
    clear_first(ui.load.click, ui.status).then(p.results, ui.run_id, ui.status, api_name=f"{kind}_hf_job_results")
    shared.demo.load(p.flavors, None, ui.flavor, api_name=f"{kind}_hf_job_flavors")
    return ui


# --- what each tab runs -------------------------------------------------------------------------------------
def eval_job(settings, task, model, backend, languages, limit, variant, cot, max_new_tokens) -> Job:
    """Evaluate: the tab's benchmark settings as `labkit eval …` (data from the Hub: a Job has no local files)."""

    if backend == "openai":
        raise LabkitError(
            "A Job cannot reach the OpenAI-compatible server this lab talks to.",
            hint="Pick the hf or vllm backend in the Backend field: the Job loads the model itself.",
        )
    form = dict(task=task, model=model, backend=backend, languages=languages, limit=limit, variant=variant)
    spec = form_to_spec({**form, "cot": cot, "max_new_tokens": max_new_tokens})
    argv = cli_args(spec)[3:]  # without `python -m labkit.cli`
    return Job(argv=argv, name=f"{task} {spec.model}", config={"task": task, "model": spec.model})


def train_job(settings, text, source) -> Job:
    """Train: the recipe in the editor (its `base:` resolved here), sent to the Job as recipe.yaml."""
    if not (text or "").strip():
        raise LabkitError("The recipe editor is empty.", hint="Load a recipe, or write one, before submitting.")
    return launch.recipe_job(rmod.loads(text, source=source or None, roots=allowed_roots(settings)))


def data_job(settings, source, recipe_text) -> Job:
    """Data: curate a Hub dataset with the recipe in the editor, as one Job (labkit.data.run.curation_job: the
    recipe and its word lists inside, the local executor on the flavor's cores)."""
    if not (recipe_text or "").strip():
        raise LabkitError("The Recipe YAML editor is empty.", hint="Pick a recipe first.")
    return curation_job(source, curation.loads(recipe_text))


def experiment_job(settings, budget, languages, held_out, model, seed, world=None, overlap=None, seeds=None) -> Job:
    """Experiment: the parallel-scaling study with the tab's settings: the budget, languages, model and first seed,
    and the world (its overlap s in the cipher world) and the seeds per point when the form gives them."""
    model = (model or "").strip() or "tiny-math"
    argv = ["experiment", "parallel-scaling", "--budget", str(budget), "--model", model, "--seed", str(int(seed or 0))]
    for flag, value in (("--languages", languages), ("--held-out", held_out)):
        if (value or "").strip():
            argv += [flag, value.strip()]
    config = {"budget": budget, "model": model}
    if world:
        argv += ["--world", str(world)]
        config["world"] = str(world)
    if overlap is not None and world != "natural":  # the natural world keeps no English words: no overlap
        argv += ["--overlap", str(float(overlap))]
        config["overlap"] = float(overlap)
    if seeds:
        argv += ["--seeds", str(int(seeds))]
        config["seeds"] = int(seeds)
    return Job(argv, f"parallel-scaling {budget} {model}", config=config)
