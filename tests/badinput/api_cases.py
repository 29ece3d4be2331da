"""The bad-input corpus through the Gradio API: malformed values for the main endpoints of the served app.

A case is (id, api, args). An `Upload(name, content)` in the args is written to a file and uploaded; a callable
in place of the args gets the Train tab's loaded form ({"text": recipe YAML, "values": the 11 form fields, "sync":
values → the YAML with them written in}) and
returns them. Every case must end in a gr.Error with a message, within the time cap, with no traceback in the
server's log and no temporary upload path in the message. Add a case whenever an input is found to break something.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cases import BINARY, BOMB, HUGE_PAGE_PDF, png  # noqa: E402  (tests/badinput is on sys.path)

ROOT = Path(__file__).resolve().parents[2]
CURATE = (ROOT / "configs" / "curate" / "rules-only.yaml").read_text(encoding="utf-8")
LONG = "x" * 5000
HUGE = "word " * 400_000  # 2 MB of text in one field
BAD_JSON_LINE_2 = '{"a": 1}\n{"a": \n'
NOT_OBJECTS = "[1, 2]\n3\n"
# form fields: name, method, model, data, lr, max_steps, batch, lora_r, processes, strategy, push
NAME, MODEL, DATA, LR, BATCH = 0, 2, 3, 4, 6


@dataclass
class Upload:
    name: str
    content: str | bytes


@dataclass
class ApiCase:
    id: str
    api: str
    args: tuple | object  # a tuple, or a callable(form) -> tuple


def form(changes: dict | None = None, text: str | None = None, prefix: tuple = ()):
    """Args for a Train endpoint that takes the editor and the form: the loaded recipe with some fields changed."""

    def build(loaded):
        values = list(loaded["values"])
        for i, v in (changes or {}).items():
            values[i] = v
        # typed fields reach an action as a click sends them: written into the YAML first (/train_form_to_yaml)
        return (loaded["sync"](values) if changes else loaded["text"] if text is None else text, *prefix)

    return build


def yaml_edit(old: str, new: str):
    """The loaded recipe's YAML with one piece of text replaced (the form follows the editor when they disagree)."""
    return lambda loaded: (loaded["text"].replace(old, new, 1),)


EVAL = ("mgsm", "tiny", "hf", ["en"], 2, "native", True, 8, "sample", "", "", "openai", "")


def eval_args(**changes) -> tuple:
    names = ["task", "model", "backend", "langs", "limit", "variant", "cot", "max_new", "data", "tags", "judge"]
    args = list(EVAL)
    for k, v in changes.items():
        args[names.index(k)] = v
    return tuple(args)


TROVE_OK_SOURCES = "The cat sat on the mat. It was warm."
DOC = ("(auto)", "zh", "pipeline", "", 150, "", "")


def doc(f, **changes) -> tuple:
    args = [f, *DOC]
    for k, v in changes.items():
        args[["f", "src", "tgt", "engine", "pages", "dpi", "domain", "glossary"].index(k)] = v
    return tuple(args)


def _cases() -> list[ApiCase]:
    c = ApiCase
    return [
        # --- Models tab ---------------------------------------------------------------------
        c("models-generate-empty", "/generate", ("", "   ", 16, 0.0, 1.0, False)),
        c("models-generate-tokens-0", "/generate", ("", "hi", 0, 0.0, 1.0, False)),
        c("models-generate-temp-negative", "/generate", ("", "hi", 8, -1.0, 1.0, False)),
        c("models-generate-top-p-5", "/generate", ("", "hi", 8, 0.0, 5.0, False)),
        c("models-set-long-name", "/set_model", ("hf", LONG, "")),
        c("models-set-missing-folder", "/set_model", ("hf", "/nonexistent/model/folder", "")),
        c("models-pull-long-name", "/pull_model", (LONG,)),
        c("models-pull-bad-id", "/pull_model", ("not a repo id!!",)),
        c("models-log-unknown", "/run_log", ("no-such-run",)),
        c("models-log-empty", "/run_log", ("",)),
        c("models-cancel-unknown", "/cancel_run", ("no-such-run", "")),
        c("models-cancel-long", "/cancel_run", (LONG, "")),
        # --- Train tab ----------------------------------------------------------------------
        c("train-load-server-file", "/train_load_recipe", ("/etc/passwd",)),
        c("train-load-traversal", "/train_load_recipe", ("configs/../../../etc/passwd",)),
        c("train-load-empty", "/train_load_recipe", ("",)),
        c("train-validate-broken-yaml", "/train_validate", form(text="name: [broken")),
        c("train-validate-not-mapping", "/train_validate", form(text="- a\n- b\n")),
        c("train-validate-binary", "/train_validate", form(text=BINARY.decode("latin-1"))),
        c("train-validate-huge", "/train_validate", form(text="# " + HUGE + "\nname: x\n")),
        c("train-validate-bomb", "/train_validate", form(text=BOMB + "name: x\nmethod: sft\n")),
        c("train-validate-base-passwd", "/train_validate", form(text="base: /etc/passwd\nname: x\n")),
        c("train-launch-warmup-word", "/train_launch", yaml_edit("trainer:", "trainer:\n  warmup_ratio: lots")),
        c("train-launch-max-steps-1e30", "/train_launch", yaml_edit("trainer:", "trainer:\n  max_steps: 1.0e+30")),
        c(
            "train-launch-max-steps-23-digits",
            "/train_launch",
            yaml_edit("trainer:", "trainer:\n  max_steps: 12345678901234567890123"),
        ),
        c("train-launch-unknown-key", "/train_launch", yaml_edit("trainer:", "trainer:\n  max_stepz: 3")),
        c("train-launch-eval-key", "/train_launch", yaml_edit("trainer:", "evaluate:\n  taskz: [mgsm]\ntrainer:")),
        c("train-validate-data-passwd", "/train_validate", form({DATA: "/etc/passwd"})),
        c("train-validate-name-spaces", "/train_validate", form({NAME: "two words"})),
        c("train-validate-name-newline", "/train_validate", form({NAME: "a\nrm -rf /"})),
        c("train-validate-lr-negative", "/train_validate", form({LR: -1})),
        c("train-validate-batch-0", "/train_validate", form({BATCH: 0})),
        c("train-launch-model-long", "/train_launch", form({MODEL: LONG})),
        c("train-launch-name-spaces", "/train_launch", form({NAME: "two words"})),
        c("train-launch-data-missing", "/train_launch", form({DATA: "configs/train-data/no-such-file.jsonl"})),
        c("train-preview-broken", "/train_preview", form(text="name: [broken")),
        c("train-slurm-nodes-0", "/train_export_slurm", form(prefix=(0, 8))),
        c("train-slurm-gpus-negative", "/train_export_slurm", form(prefix=(1, -1))),
        c("train-hfjobs-bad-flavor", "/train_export_hf_jobs", form(prefix=("a10g small; rm -rf",))),
        c("train-cancel-empty", "/train_cancel", ("",)),
        c("train-cancel-unknown", "/train_cancel", ("no-such-run",)),
        c("train-resume-unknown", "/train_resume", ("no-such-run",)),
        c("train-resume-empty", "/train_resume", ("",)),
        c("train-stages-unknown", "/train_stages", ("no-such-run",)),
        c("train-stage-file-traversal", "/train_stage_file", ("no-such-run", "../../recipe.yaml")),
        # --- Evaluate tab -------------------------------------------------------------------
        c("eval-no-languages", "/eval_start", eval_args(langs=[])),
        c("eval-limit-negative", "/eval_start", eval_args(limit=-1)),
        c("eval-max-new-0", "/eval_start", eval_args(max_new=0)),
        c("eval-model-long", "/eval_start", eval_args(model=LONG)),
        c("eval-model-empty", "/eval_start", eval_args(model="   ")),
        c("eval-tags-many", "/eval_start", eval_args(tags=",".join(f"t{i}" for i in range(5000)))),
        c("eval-tag-long", "/eval_start", eval_args(tags="t" * 500)),
        c("eval-cancel-empty", "/eval_cancel", ("",)),
        c("eval-cancel-unknown", "/eval_cancel", ("no-such-run",)),
        c("eval-push-unknown", "/eval_push", ("no-such-run", "me/results")),
        c("eval-samples-unknown", "/eval_samples", ("no-such-run", "en", "all")),
        c("eval-compare-unknown", "/eval_compare", ("no-such-run", "other-run", "en")),
        # --- Scaling tab --------------------------------------------------------------------
        c("fit-upload-no-numbers", "/fit_upload", (Upload("bad.csv", "n_languages,score\nx,y\n"),)),
        c("fit-upload-binary", "/fit_upload", (Upload("bin.csv", BINARY),)),
        c("fit-upload-empty", "/fit_upload", (Upload("empty.csv", ""),)),
        c("fit-upload-bad-json", "/fit_upload", (Upload("bad.jsonl", BAD_JSON_LINE_2),)),
        c("fit-from-store-unknown", "/fit_from_store", ("no-such-sweep",)),
        c(
            "fit-table-without-its-columns",
            "/fit",
            ({"headers": ["x", "y"], "data": [[1, 2], [2, 3]]}, "power", [], "squared", 2, None, 50, 0.95, "", False),
        ),
        # --- Provenance tab -----------------------------------------------------------------
        c("trace-empty-target", "/trace", (TROVE_OK_SOURCES, None, "   ", "heuristic", "union", 10, "")),
        c("trace-empty-sources", "/trace", ("", None, "The cat sat.", "heuristic", "union", 10, "")),
        c("trace-k-negative", "/trace", (TROVE_OK_SOURCES, None, "The cat sat.", "heuristic", "union", -3, "")),
        c("trace-binary-upload", "/trace", ("", [Upload("bin.txt", BINARY)], "The cat.", "heuristic", "union", 10, "")),
        c("trace-huge-target", "/trace", (TROVE_OK_SOURCES, None, HUGE * 2, "heuristic", "union", 10, "")),
        c("trace-eval-binary", "/trace_eval", (Upload("bin.jsonl", BINARY), "heuristic", "union", 10)),
        c("trace-eval-empty", "/trace_eval", (Upload("empty.jsonl", ""), "heuristic", "union", 10)),
        c("trace-eval-bad-json", "/trace_eval", (Upload("bad.jsonl", BAD_JSON_LINE_2), "heuristic", "union", 10)),
        c("trace-eval-not-objects", "/trace_eval", (Upload("list.jsonl", NOT_OBJECTS), "heuristic", "union", 10)),
        c("trace-eval-none", "/trace_eval", (None, "heuristic", "union", 10)),
        # --- Translate tab ------------------------------------------------------------------
        c("doc-no-file", "/doc_translate", doc(None)),
        c("doc-bad-pdf", "/doc_translate", doc(Upload("bad.pdf", b"%PDF-1.4 garbage"))),
        c("doc-huge-page", "/doc_translate", doc(Upload("huge.pdf", HUGE_PAGE_PDF))),
        c("doc-dpi-0", "/doc_translate", doc(Upload("huge.pdf", HUGE_PAGE_PDF), dpi=0)),
        c("doc-pages-reversed", "/doc_translate", doc(Upload("huge.pdf", HUGE_PAGE_PDF), pages="3-1")),
        c("doc-pages-words", "/doc_translate", doc(Upload("huge.pdf", HUGE_PAGE_PDF), pages="first")),
        c("doc-target-klingon", "/doc_translate", doc(Upload("page.png", png()), tgt="klingon")),
        c("doc-source-klingon", "/doc_translate", doc(Upload("page.png", png()), src="tlh")),
        c("doc-glossary-binary", "/doc_glossary_upload", (Upload("g.txt", BINARY),)),
        c("doc-glossary-malformed", "/doc_glossary_upload", (Upload("g.txt", "no arrow here\n"),)),
        c("doc-eval-empty", "/doc_eval", ("", "zh")),
        c("doc-eval-missing", "/doc_eval", ("/nonexistent/folder", "zh")),
        # --- Data tab -----------------------------------------------------------------------
        c("data-load-recipe-server-file", "/data_load_recipe", ("/etc/passwd",)),
        c("data-preview-empty", "/data_preview", ("", CURATE)),
        c("data-preview-missing", "/data_preview", ("/nonexistent/input.jsonl", CURATE)),
        c("data-preview-broken-recipe", "/data_preview", ("x.jsonl", "name: [broken")),
        c("data-preview-bad-json", "/data_preview", ("UPLOAD:bad.jsonl", CURATE)),
        c("data-preview-binary", "/data_preview", ("UPLOAD:bin.jsonl", CURATE)),
        c("data-preview-not-objects", "/data_preview", ("UPLOAD:list.jsonl", CURATE)),
        c("data-curate-empty", "/data_curate", ("", CURATE, "")),
        c("data-curate-broken-recipe", "/data_curate", ("x.jsonl", "rules: 7", "")),
        c("data-cancel-unknown", "/data_cancel", ("no-such-run",)),
        c("data-resume-unknown", "/data_resume", ("no-such-run",)),
        c("data-export-no-out", "/data_export", ("x.jsonl", CURATE, "slurm", "")),
        c("data-card-unknown", "/data_card", ("no-such-run", "me/data", "cc-by-4.0")),
        # --- DMoE, experiment, support ------------------------------------------------------
        c("dmoe-one-language", "/dmoe_analyze", ("tiny", "en", "corpus", 10, 3, 0.6)),
        c("dmoe-show-empty", "/dmoe_show", ("",)),
        c("dmoe-show-unknown", "/dmoe_show", ("no-such-run",)),
        c("dmoe-routing-empty", "/dmoe_routing", ("", "")),
        c("experiment-no-languages", "/experiment_launch", ("small", "", "fr", "tiny-math", 0)),
        c("experiment-unknown-language", "/experiment_launch", ("small", "zz,qq", "fr", "tiny-math", 0)),
        c("experiment-cancel-empty", "/experiment_cancel", ("",)),
        c("support-send-blank", "/support_send", ("   ", "(counselor decides)")),
        c("support-pairs-none", "/support_pairs", (None,)),
        c("support-pairs-binary", "/support_pairs", (Upload("d.jsonl", BINARY),)),
        c("support-roleplay-0", "/support_roleplay", (0, 3, ["en"], "en: sad", "en: a student")),
        c("support-roleplay-turns-10e23", "/support_roleplay", (1, 10**23, ["en"], "en: sad", "en: a student")),
        c("support-roleplay-n-huge", "/support_roleplay", (10**12, 1, ["en"], "en: sad", "en: a student")),
        c("support-send-100kb", "/support_send", ("I feel sad. " * 8_500, "(counselor decides)")),
    ]


# Files uploaded once (through /data_upload) whose server path replaces "UPLOAD:<name>" in the Data tab's cases.
DATA_UPLOADS = {"bad.jsonl": BAD_JSON_LINE_2, "bin.jsonl": BINARY, "list.jsonl": NOT_OBJECTS}
API_CASES = _cases()
assert len({c.id for c in API_CASES}) == len(API_CASES)
