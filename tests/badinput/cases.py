"""The bad-input corpus: malformed inputs for every command, each one a case the CLI must refuse cleanly.

A case is (id, argv, files): `files` are written into the case's working folder first (text or bytes). Every case
must end with exit code 2, a message on stderr (or a JSON error), no traceback, within the time and memory caps,
and leave the store readable and no empty run or cache folders behind. Add a case whenever an input is found
to break something.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PARALLEL = str(ROOT / "configs" / "train" / "grpo-parallel-tiny.yaml")  # a recipe with data.parallel, for sweeps

GOOD_SFT = (
    "\n".join(
        json.dumps(
            {"messages": [{"role": "user", "content": f"hi {i}"}, {"role": "assistant", "content": f"hello {i}"}]}
        )
        for i in range(4)
    )
    + "\n"
)
GOOD_DPO = "\n".join(json.dumps({"prompt": f"p{i}", "chosen": "yes", "rejected": "no"}) for i in range(4)) + "\n"
RECIPE = """name: bad
method: sft
model:
  name: tiny
data:
  path: data.jsonl
trainer:
  max_steps: 2
  per_device_train_batch_size: 2
"""
BOMB = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n" for p, c in zip("abcdefgh", "bcdefghi")
)
CSV = "n_languages,score\n1,0.4\n2,0.5\n4,0.55\n8,0.6\n"
TROVE = (
    json.dumps(
        {
            "sources": [["The cat sat on the mat."]],
            "target": ["The cat sat."],
            "labels": [{"relation": "Quotation", "sources": [[0, 0]]}],
        }
    )
    + "\n"
)
PNG_HEADER_ONLY = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
BINARY = bytes(range(256)) * 8
HUGE_PAGE_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 14400 14400]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def png(width: int = 64, height: int = 32) -> bytes:
    """A valid white RGB PNG (made by hand: no imaging library at import)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\xff" * (3 * width) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@dataclass
class Case:
    id: str
    argv: list[str]
    files: dict[str, str | bytes] = field(default_factory=dict)
    leaves_no_run: bool = False  # also checked: the store holds no run afterwards (not even a failed one)
    expect: int = 2  # the exit code; 0 for an input that is bounded rather than refused


def recipe(**changes) -> str:
    """The minimal SFT recipe with some lines replaced (key: text of the new line, None removes it)."""
    lines = RECIPE.splitlines()
    for key, new in changes.items():
        lines = [
            (new if ln.strip().startswith(key + ":") else ln)
            for ln in lines
            if not (new is None and ln.strip().startswith(key + ":"))
        ]
    return "\n".join(lines) + "\n"


def _train_cases() -> list[Case]:
    data = {"data.jsonl": GOOD_SFT}
    t = lambda cid, text, extra=(), files=None: Case(
        f"train-{cid}", ["train", "r.yaml", "--detach", *extra], {"r.yaml": text, **(data if files is None else files)}
    )
    return [
        t("yaml-syntax", "name: [unclosed\nmethod: sft\n"),
        t("yaml-tab-indent", "name: x\n\tmethod: sft\n"),
        t("yaml-not-mapping", "- a\n- b\n"),
        t("yaml-scalar", "just a string\n"),
        t("yaml-empty", ""),
        t("yaml-alias-bomb", BOMB),
        t("yaml-huge", "name: x\n# " + "y" * 2_000_000 + "\n"),
        t("yaml-binary", BINARY.decode("latin-1")),
        t("yaml-python-tag", "name: !!python/object/apply:os.system ['echo pwned']\n"),
        t("unknown-key", RECIPE + "trainr:\n  max_steps: 1\n"),
        t("unknown-method", recipe(method="method: sfft")),
        t("method-number", recipe(method="method: 3")),
        t("max-steps-word", recipe(max_steps="  max_steps: six")),
        t("lr-word", RECIPE.replace("trainer:\n", "trainer:\n  learning_rate: fast\n")),
        t("batch-zero", recipe(per_device_train_batch_size="  per_device_train_batch_size: 0")),
        t("batch-negative", recipe(per_device_train_batch_size="  per_device_train_batch_size: -2")),
        t("limit-word", RECIPE.replace("  path: data.jsonl", "  path: data.jsonl\n  limit: lots")),
        t("num-processes-word", RECIPE + "launch:\n  num_processes: many\n"),
        t("trainer-not-mapping", recipe(trainer="trainer: 5", max_steps=None, per_device_train_batch_size=None)),
        t("trainer-unknown-arg", RECIPE.replace("trainer:\n", "trainer:\n  max_seq_length: 10\n")),
        t("set-unclosed", RECIPE, ["--set", "trainer.max_steps=[1,2"]),
        t("set-no-equals", RECIPE, ["--set", "trainer.max_steps"]),
        t("set-unknown-key", RECIPE, ["--set", "trainer.nonsense_key=1"]),
        t("model-missing-folder", RECIPE.replace("name: tiny", "name: ./no-such-model")),
        t("model-long-name", RECIPE.replace("name: tiny", "name: " + "m" * 5000)),
        t("data-missing", RECIPE, files={}),
        t("data-path-etc", RECIPE.replace("path: data.jsonl", "path: /etc/passwd")),
        t("data-path-dir", RECIPE.replace("path: data.jsonl", "path: ."), files={}),
        t("data-empty", RECIPE, files={"data.jsonl": ""}),
        t("data-bad-json-line2", RECIPE, files={"data.jsonl": GOOD_SFT.splitlines()[0] + "\n{not json\n"}),
        t("data-binary", RECIPE, files={"data.jsonl": BINARY}),
        t("data-wrong-columns", RECIPE, files={"data.jsonl": '{"text_x": "a"}\n{"text_x": "b"}\n'}),
        t("data-messages-string", RECIPE, files={"data.jsonl": '{"messages": "hello"}\n{"messages": "bye"}\n'}),
        t("data-messages-no-role", RECIPE, files={"data.jsonl": '{"messages": [{"content": "x"}]}\n'}),
        t("data-scalar-lines", RECIPE, files={"data.jsonl": "1\n2\n3\n"}),
        t(
            "dpo-missing-rejected",
            recipe(method="method: dpo"),
            files={"data.jsonl": '{"prompt": "p", "chosen": "c"}\n'},
        ),
        t("sft-given-dpo-data", RECIPE, files={"data.jsonl": GOOD_DPO}),
        t("base-etc-passwd", "base: /etc/passwd\n" + RECIPE),
        t("base-missing", "base: no-such-base.yaml\n" + RECIPE),
        t("base-self", "base: r.yaml\n" + RECIPE),
        t("output-unwritable", RECIPE + "output:\n  dir: /proc/labkit-out\n"),
        t("evaluate-unknown-key", RECIPE + "evaluate:\n  taks: mgsm\n"),
        t("tags-not-list", RECIPE + "tags: 5\n"),
        t("tags-too-many", RECIPE + "tags: [" + ",".join(f"t{i}" for i in range(500)) + "]\n"),
        t("name-newline", recipe(name='name: "a\\nrm -rf /"')),
        t("name-slash", recipe(name="name: ../../escape")),
        t("max-steps-1e30", RECIPE, ["--set", "trainer.max_steps=1e30"]),
        t("max-steps-23-digits", recipe(max_steps="  max_steps: 12345678901234567890123")),
        t("lr-inf", RECIPE.replace("trainer:\n", "trainer:\n  learning_rate: .inf\n")),
        t("epochs-huge", RECIPE.replace("trainer:\n", "trainer:\n  num_train_epochs: 1.0e+20\n")),
        t("save-steps-23-digits", RECIPE.replace("trainer:\n", "trainer:\n  save_steps: 12345678901234567890123\n")),
        Case("train-recipe-missing", ["train", "nope.yaml"]),
        Case("train-recipe-is-dir", ["train", "."]),
        Case("train-no-recipe", ["train"]),
        Case("train-resume-unknown", ["train", "--resume", "train-doesnotexist"]),
    ]


def _eval_cases() -> list[Case]:
    p = lambda cid, text, extra=(): Case(
        f"eval-pred-{cid}", ["eval", "--task", "mgsm", "--predictions", "p.jsonl", *extra], {"p.jsonl": text}
    )
    e = lambda cid, *extra: Case(
        f"eval-{cid}", ["eval", "--task", "mgsm", "--model", "tiny", "--limit", "1", "--languages", "en", *extra]
    )
    return [
        p("empty", ""),
        p("scalars", "1\n2\n"),
        p("lists", "[1, 2]\n[3]\n"),
        p("bad-json-line2", '{"id": 0, "lang": "en", "output": "4"}\n{oops\n'),
        p("output-number", '{"id": 0, "lang": "en", "output": 4}\n'),
        p("output-list", '{"id": 0, "lang": "en", "output": ["4"]}\n'),
        p("lang-list", '{"id": 0, "lang": ["en"], "output": "4"}\n'),
        p("lang-unknown", '{"id": 0, "lang": "xx", "output": "4"}\n'),
        p("no-lang", '{"id": 0, "output": "4"}\n'),
        p("no-output", '{"id": 0, "lang": "en"}\n'),
        p("binary", BINARY.decode("latin-1")),
        p("id-unknown", '{"id": 999999, "lang": "en", "output": "4"}\n'),
        Case("eval-pred-missing", ["eval", "--task", "mgsm", "--predictions", "nope.jsonl"]),
        Case("eval-task-unknown", ["eval", "--task", "gsm9k", "--model", "tiny"]),
        Case("eval-task-empty", ["eval", "--task", "", "--model", "tiny"]),
        e("lang-unknown", "--languages", "xx"),
        e("lang-empty", "--languages", ","),
        e("batch-zero", "--batch-size", "0"),
        e("batch-negative", "--batch-size", "-4"),
        e("limit-zero", "--limit", "0"),
        e("limit-negative", "--limit", "-1"),
        e("max-new-zero", "--max-new-tokens", "0"),
        e("temperature-negative", "--temperature", "-1"),
        e("model-long", "--model", "m" * 5000),
        e("model-missing-folder", "--model", "./no-such-model"),
        e("model-folder-no-config", "--model", "."),
        e("output-is-file", "--output", "cases.txt"),
        e("data-missing", "--data", "no-such-dir"),
        e("variant-unknown", "--variant", "klingon"),
        e("level-unknown", "--level", "impossible"),
        e("shards-zero", "--data", "sample", "--shards", "0"),
        e("shards-more-than-items", "--data", "sample", "--shards", "5"),
        e("shards-executor-alone", "--data", "sample", "--executor", "slurm"),
        e("shards-slurm-no-partition", "--data", "sample", "--shards", "1", "--executor", "slurm"),
        e(
            "shards-slurm-partition-shell",
            "--data",
            "sample",
            "--shards",
            "1",
            "--executor",
            "slurm",
            "--partition",
            "gpu;id",
        ),
        e("shards-hf-jobs-no-repo", "--data", "sample", "--shards", "1", "--executor", "hf-jobs"),
        e("shards-index-out-of-range", "--data", "sample", "--shards", "1", "--shard-index", "3", "--output", "o"),
        e("shards-model-missing-folder", "--data", "sample", "--shards", "1", "--model", "./no-such-model"),
        Case(
            "eval-data-wrong-schema",
            ["eval", "--task", "mgsm", "--model", "tiny", "--languages", "en", "--data", "d"],
            {"d/en.jsonl": '{"q": "what", "a": 1}\n'},
        ),
        Case(
            "eval-synth-not-mgsm",
            ["eval", "--task", "polymath", "--model", "tiny", "--languages", "en", "--data", "synth"],
        ),
        Case(
            "eval-data-empty",
            ["eval", "--task", "mgsm", "--model", "tiny", "--languages", "en", "--data", "d"],
            {"d/en.jsonl": ""},
        ),
        Case(
            "eval-xalpaca-no-judge",
            [
                "eval",
                "--task",
                "xalpaca",
                "--model",
                "tiny",
                "--limit",
                "1",
                "--languages",
                "en",
                "--judge-model",
                "./no-such-judge",
            ],
        ),
        Case(
            "eval-data-binary",
            ["eval", "--task", "mgsm", "--model", "tiny", "--languages", "en", "--data", "d"],
            {"d/en.jsonl": BINARY},
            leaves_no_run=True,
        ),
        Case("compare-unknown", ["compare", "eval-nope1", "eval-nope2"]),
        Case("compare-folder-empty", ["compare", "a", "b"], {"a/x.txt": "", "b/x.txt": ""}),
    ]


def _generate_cases() -> list[Case]:
    g = lambda cid, *argv: Case(f"generate-{cid}", ["generate", *argv])
    return [
        g("model-long", "--model", "m" * 5000, "hi"),
        g("model-missing", "--model", "./no-such-model", "hi"),
        g("model-not-folder", "--model", "cases.txt", "hi"),
        g("max-new-negative", "--model", "tiny", "--max-new-tokens", "-1", "hi"),
        g("n-zero", "--model", "tiny", "--n", "0", "hi"),
        g("temperature-negative", "--model", "tiny", "--temperature", "-0.5", "hi"),
        g("top-p-two", "--model", "tiny", "--top-p", "2", "hi"),
        g("top-p-zero", "--model", "tiny", "--top-p", "0", "hi"),
        g("empty-prompt", "--model", "tiny", ""),
        g("whitespace-prompt", "--model", "tiny", "   "),
        g("openai-bad-url", "--backend", "openai", "--base-url", "not a url", "--model", "x", "hi"),
        g("openai-closed-port", "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1", "--model", "x", "hi"),
        g("backend-unknown", "--backend", "vlm", "--model", "tiny", "hi"),
        g("max-new-past-context", "--model", "tiny", "--max-new-tokens", "100000", "hi"),
        g("max-new-23-digits", "--model", "tiny", "--max-new-tokens", "12345678901234567890123", "hi"),
    ]


def _fit_cases() -> list[Case]:
    f = lambda cid, text, *extra: Case(f"fit-{cid}", ["fit", "d.csv", *extra], {"d.csv": text})
    return [
        f("empty", ""),
        f("header-only", "n_languages,score\n"),
        f("no-score-column", "n_languages,acc\n1,0.1\n2,0.2\n"),
        f("non-numeric", "n_languages,score\n1,high\n2,low\n"),
        f("one-point", "n_languages,score\n1,0.5\n"),
        f("same-x", "n_languages,score\n2,0.5\n2,0.6\n2,0.7\n"),
        f("binary", BINARY.decode("latin-1")),
        f("bootstrap-negative", CSV, "--bootstrap", "-5"),
        f("bootstrap-huge", CSV, "--bootstrap", "100000000"),
        f("level-two", CSV, "--level", "2"),
        f("level-zero", CSV, "--level", "0"),
        f("predict-nan", CSV, "--predict", "nan"),
        f("predict-inf", CSV, "--predict", "inf"),
        f("fit-min-x-beyond", CSV, "--fit-min-x", "100"),
        f("x-missing", CSV, "--x", "languages"),
        f("series-missing", CSV, "--series", "family"),
        f("nan-scores", "n_languages,score\n1,nan\n2,nan\n4,nan\n"),
        f(
            "too-many-rows",
            "n_languages,score\n" + "".join(f"{1 + i % 8},{0.1 + (i % 7) / 10}\n" for i in range(200_000)),
        ),
        Case("fit-json-not-list", ["fit", "d.json"], {"d.json": '{"a": 1}'}),
        Case("fit-jsonl-bad-line", ["fit", "d.jsonl"], {"d.jsonl": '{"n_languages": 1, "score": 0.1}\n{bad\n'}),
        Case("fit-missing-file", ["fit", "nope.csv"]),
        Case("fit-no-data", ["fit"]),
        Case("fit-output-is-file", ["fit", "d.csv", "--output", "d.csv"], {"d.csv": CSV}),
    ]


def _trace_cases() -> list[Case]:
    files = {"s.txt": "The cat sat on the mat. It was warm.\n", "t.txt": "The cat sat.\n"}
    t = lambda cid, *extra, f=None: Case(f"trace-{cid}", ["trace", *extra], files if f is None else f)
    return [
        t("no-source", "--target", "t.txt"),
        t("no-target", "--source", "s.txt"),
        t("source-missing", "--source", "nope.txt", "--target", "t.txt"),
        t("target-missing", "--source", "s.txt", "--target", "nope.txt"),
        t("k-negative", "--source", "s.txt", "--target", "t.txt", "--k", "-3"),
        t("k-zero", "--source", "s.txt", "--target", "t.txt", "--k", "0"),
        t("source-binary", "--source", "b.bin", "--target", "t.txt", f={**files, "b.bin": BINARY}),
        t("target-empty", "--source", "s.txt", "--target", "e.txt", f={**files, "e.txt": ""}),
        t("output-is-dir", "--source", "s.txt", "--target", "t.txt", "--output", "."),
        t("eval-binary", "--eval", "b.bin", f={"b.bin": BINARY}),
        t("eval-empty", "--eval", "e.jsonl", f={"e.jsonl": ""}),
        t("eval-bad-json", "--eval", "e.jsonl", f={"e.jsonl": TROVE + "{nope\n"}),
        t("eval-wrong-schema", "--eval", "e.jsonl", f={"e.jsonl": '{"a": 1}\n'}),
        t("eval-missing", "--eval", "nope.jsonl"),
        t(
            "huge-source",
            "--source",
            "big.txt",
            "--target",
            "t.txt",
            f={
                **files,
                "big.txt": "The quick brown fox jumps over the lazy dog number %d. " * 0
                + "".join(f"Sentence number {i} talks about topic {i % 97}. " for i in range(200_000)),
            },
        ),
        t("llm-no-model", "--source", "s.txt", "--target", "t.txt", "--engine", "llm", "--model", "./no-such-model"),
        t(
            "dense-model-missing",
            "--source",
            "s.txt",
            "--target",
            "t.txt",
            "--retriever",
            "dense",
            "--dense-model",
            "./nope",
        ),
    ]


def _translate_cases() -> list[Case]:
    tr = lambda cid, *argv, f=None: Case(f"translate-{cid}", ["translate", *argv], f or {})
    return [
        tr("missing-file", "run", "nope.png", "--out", "o"),
        tr("corrupt-png", "run", "x.png", "--out", "o", f={"x.png": PNG_HEADER_ONLY}),
        tr("text-as-image", "run", "x.png", "--out", "o", f={"x.png": "hello"}),
        tr("binary-pdf", "run", "x.pdf", "--out", "o", f={"x.pdf": BINARY}),
        tr("empty-file", "run", "x.pdf", "--out", "o", f={"x.pdf": b""}),
        tr("dpi-zero", "ocr", "x.pdf", "--dpi", "0", f={"x.pdf": HUGE_PAGE_PDF}),
        tr("dpi-negative", "ocr", "x.pdf", "--dpi", "-10", f={"x.pdf": HUGE_PAGE_PDF}),
        tr("dpi-huge", "ocr", "x.pdf", "--dpi", "100000", f={"x.pdf": HUGE_PAGE_PDF}),
        tr("huge-page", "ocr", "x.pdf", f={"x.pdf": HUGE_PAGE_PDF}),
        tr("pages-reversed", "ocr", "x.pdf", "--pages", "3-1", f={"x.pdf": HUGE_PAGE_PDF}),
        tr("pages-word", "ocr", "x.pdf", "--pages", "first", f={"x.pdf": HUGE_PAGE_PDF}),
        tr("pages-beyond", "ocr", "x.pdf", "--pages", "5", f={"x.pdf": HUGE_PAGE_PDF}),
        tr("pages-zero", "ocr", "x.pdf", "--pages", "0", f={"x.pdf": HUGE_PAGE_PDF}),
        tr("eval-missing-dir", "eval", "nope"),
        tr("eval-empty-dir", "eval", "d", f={"d/readme.txt": "nothing"}),
        tr("glossary-missing", "run", "x.png", "--glossary", "nope.txt", "--out", "o", f={"x.png": PNG_HEADER_ONLY}),
        tr("unknown-language", "run", "x.png", "--to", "klingon", "--out", "o", f={"x.png": PNG_HEADER_ONLY}),
        tr("to-klingon-real-page", "run", "x.png", "--to", "klingon", "--out", "o", f={"x.png": png()}),
        tr("from-klingon-real-page", "run", "x.png", "--from", "tlh", "--out", "o", f={"x.png": png()}),
        tr("glossary-binary", "run", "x.png", "--glossary", "g.txt", "--out", "o", f={"x.png": png(), "g.txt": BINARY}),
        tr("glossary-is-dir", "run", "x.png", "--glossary", ".", "--out", "o", f={"x.png": png()}),
        tr("out-under-proc", "run", "x.png", "--out", "/proc/labkit-x", f={"x.png": png()}),
        tr("out-is-file", "run", "x.png", "--out", "cases.txt", f={"x.png": png()}),
    ]


def _chat_cases() -> list[Case]:
    c = lambda cid, *argv, f=None: Case(f"chat-{cid}", ["chat", *argv], f or {})
    return [
        c("whitespace", "--model", "tiny", "--once", "   "),
        c("empty", "--model", "tiny", "--once", ""),
        c("unknown-strategy", "--model", "tiny", "--once", "I feel sad", "--strategy", "Telepathy"),
        c("model-missing", "--model", "./no-such-model", "--once", "hi"),
        c("roleplay-n-zero", "roleplay", "--model", "tiny", "--n", "0", "--out", "o.jsonl"),
        c("roleplay-turns-negative", "roleplay", "--model", "tiny", "--turns", "-1", "--out", "o.jsonl"),
        c("roleplay-turns-10e23", "roleplay", "--model", "tiny", "--turns", str(10**23), "--out", "o.jsonl"),
        c("roleplay-n-huge", "roleplay", "--model", "tiny", "--n", str(10**12), "--turns", "1", "--out", "o.jsonl"),
        c(
            "roleplay-out-under-proc",
            "roleplay",
            "--model",
            "tiny",
            "--n",
            "1",
            "--turns",
            "1",
            "--out",
            "/proc/x/o.jsonl",
        ),
        c("once-100kb", "--model", "tiny", "--once", "I feel sad. " * 8_500),
        c("once-max-new-past-context", "--model", "tiny", "--once", "hi", "--max-new-tokens", "100000"),
        c(
            "roleplay-unknown-language",
            "roleplay",
            "--model",
            "tiny",
            "--languages",
            "xx",
            "--n",
            "1",
            "--out",
            "o.jsonl",
        ),
        c("roleplay-out-is-dir", "roleplay", "--model", "tiny", "--n", "1", "--turns", "1", "--out", "."),
        c("pairs-missing-dialogues", "pairs", "--model", "tiny", "--out", "o.jsonl"),
        c("pairs-dialogues-missing-file", "pairs", "--model", "tiny", "--dialogues", "nope.jsonl", "--out", "o.jsonl"),
        c(
            "pairs-dialogues-bad",
            "pairs",
            "--model",
            "tiny",
            "--dialogues",
            "d.jsonl",
            "--out",
            "o.jsonl",
            f={"d.jsonl": '{"turns": "not a list"}\n'},
        ),
        c(
            "pairs-dialogues-empty",
            "pairs",
            "--model",
            "tiny",
            "--dialogues",
            "d.jsonl",
            "--out",
            "o.jsonl",
            f={"d.jsonl": ""},
        ),
    ]


def _misc_cases() -> list[Case]:
    m = lambda cid, *argv, f=None: Case(cid, list(argv), f or {})
    good = {"r.yaml": RECIPE, "data.jsonl": GOOD_SFT}
    return [
        m("runs-show-unknown", "runs", "show", "train-nope"),
        m("runs-logs-unknown", "runs", "logs", "train-nope"),
        m("runs-cancel-unknown", "runs", "cancel", "train-nope"),
        m("runs-show-no-id", "runs", "show"),
        m("runs-list-limit-negative", "runs", "list", "--limit", "-1"),
        m("runs-list-bad-status", "runs", "list", "--status", "exploded"),
        Case("runs-list-limit-23-digits", ["runs", "list", "--limit", "12345678901234567890123"], expect=0),
        m("runs-show-traversal", "runs", "show", "../../etc/passwd"),
        m("hub-push-missing-folder", "hub", "push", "nope", "me/x", "--dry-run"),
        m("hub-push-no-namespace", "hub", "push", ".", "justname", "--dry-run", f={"a.txt": "x"}),
        m("hub-push-bad-repo", "hub", "push", ".", "me/bad name!", "--dry-run", f={"a.txt": "x"}),
        m(
            "hub-push-eval-run-unknown",
            "hub",
            "push",
            ".",
            "me/x",
            "--dry-run",
            "--eval-run",
            "eval-nope",
            f={"a.txt": "x"},
        ),
        m(
            "hub-push-dataset-no-license",
            "hub",
            "push",
            ".",
            "me/x",
            "--kind",
            "dataset",
            "--dry-run",
            f={"a.txt": "x"},
        ),
        m("hub-pull-invalid-id", "hub", "pull", "not a valid id!!"),
        m("hub-pull-offline-missing", "hub", "pull", "someone/not-cached"),
        m("hub-deploy-no-namespace", "hub", "deploy-space", "justname", "--dry-run"),
        m("export-target-unknown", "export", "r.yaml", "--target", "kubernetes", f=good),
        m("export-nodes-zero", "export", "r.yaml", "--nodes", "0", f=good),
        m("export-gpus-negative", "export", "r.yaml", "--gpus-per-node", "-1", f=good),
        m("export-partition-injection", "export", "r.yaml", "--partition", "gpu\nrm -rf ~", f=good),
        # a hostile --recipe-path is quoted, not refused: tests/unit/test_train_recipes.py runs that script with stubs
        m("export-missing-recipe", "export", "nope.yaml"),
        m("sweep-k-word", "sweep", "r.yaml", "--languages", "zh,th", "--k", "one,two", f=good),
        m("sweep-k-too-big", "sweep", "r.yaml", "--languages", "zh,th", "--k", "0,5", f=good),
        m("sweep-k-negative", "sweep", "r.yaml", "--languages", "zh,th", "--k", "-1", f=good),
        m("sweep-languages-empty", "sweep", "r.yaml", "--languages", ",", "--k", "0", f=good),
        Case("sweep-parallel-k-negative", ["sweep", PARALLEL, "--languages", "zh,th", "--k", "-1"], leaves_no_run=True),
        Case("sweep-parallel-k-beyond", ["sweep", PARALLEL, "--languages", "zh,th", "--k", "0,3"], leaves_no_run=True),
        Case("sweep-parallel-k-twice", ["sweep", PARALLEL, "--languages", "zh,th", "--k", "1,1"], leaves_no_run=True),
        Case(
            "sweep-unknown-languages-whole-command",
            ["sweep", PARALLEL, "--languages", "xx,yy", "--k", "0,1"],
            leaves_no_run=True,
        ),
        m("serve-port-huge", "serve", "--port", "99999"),
        m("serve-auth-no-colon", "serve", "--auth", "justuser", "--port", "0"),
        m("unknown-command", "frobnicate"),
        m("no-command"),
    ]


def _new_command_cases() -> list[Case]:
    m = lambda cid, *argv, f=None: Case(cid, list(argv), f or {})
    docs = '{"id": "a", "text": "一段足够长的中文文本。"}\n'
    return [
        m("winrate-missing-file", "winrate", "nope.json"),
        m("winrate-empty", "winrate", "a.json", f={"a.json": ""}),
        m("winrate-not-list", "winrate", "a.json", f={"a.json": '{"a": 1}'}),
        m(
            "winrate-bad-preference",
            "winrate",
            "a.jsonl",
            "--glm",
            "length_controlled_noreg",
            f={"a.jsonl": '{"instruction": "i", "output_1": "a", "output_2": "b", "preference": 7}\n'},
        ),
        m("winrate-binary", "winrate", "a.json", f={"a.json": BINARY}),
        m("synth-n-zero", "synth", "mgsm", "--n", "0", "--out", "o"),
        m("synth-unknown-language", "synth", "mgsm", "--languages", "xx,en", "--n", "2", "--out", "o"),
        m("synth-out-is-file", "synth", "mgsm", "--n", "2", "--out", "cases.txt"),
        m("synth-train-negative", "synth", "mgsm", "--n", "2", "--train", "-1", "--out", "o"),
        m("synth-out-under-proc", "synth", "mgsm", "--n", "2", "--out", "/proc/x"),
        m("synth-out-under-file", "synth", "mgsm", "--n", "2", "--out", "cases.txt/o"),
        m("experiment-unknown-language", "experiment", "parallel-scaling", "--languages", "xx,yy"),
        m("experiment-model-missing", "experiment", "parallel-scaling", "--model", "./no-such-model"),
        m("data-missing-input", "data", "curate", "nope.jsonl", "--out", "o"),
        m("data-binary-input", "data", "curate", "d.jsonl", "--out", "o", f={"d.jsonl": BINARY}),
        m("data-empty-input", "data", "curate", "d.jsonl", "--out", "o", f={"d.jsonl": ""}),
        m("data-no-text-column", "data", "curate", "d.jsonl", "--out", "o", f={"d.jsonl": '{"id": 1, "body": "x"}\n'}),
        m(
            "data-unknown-rule",
            "data",
            "curate",
            "d.jsonl",
            "--out",
            "o",
            "--set",
            "rules.lenght.max_chars=3",
            f={"d.jsonl": docs},
        ),
        m(
            "data-recipe-missing",
            "data",
            "curate",
            "d.jsonl",
            "--out",
            "o",
            "--recipe",
            "nope.yaml",
            f={"d.jsonl": docs},
        ),
        m("data-workers-zero", "data", "curate", "d.jsonl", "--out", "o", "--workers", "0", f={"d.jsonl": docs}),
        *[
            m(f"{cmd[0]}-out-proc", *cmd, flag, "/proc/labkit-out", f=files)
            for cmd, flag, files in [
                (("data", "curate", "d.jsonl"), "--out", {"d.jsonl": docs}),
                (("dmoe", "analyze", "--model", "tiny", "--languages", "en,de"), "--out", {}),
                (("scaling", "points.csv"), "--output", {"points.csv": "x,y\n1,0.1\n2,0.2\n3,0.3\n"}),
                (("eval", "--task", "mgsm", "--model", "tiny", "--limit", "1", "--languages", "en"), "--output", {}),
            ]
        ],
        m(
            "data-sensitive-words-binary",
            "data", "curate", "d.jsonl", "--out", "o", "--sensitive-words", "w.txt",
            f={"d.jsonl": docs, "w.txt": BINARY},
        ),  # fmt: skip
        m(
            "data-stopwords-binary",
            "data", "curate", "d.jsonl", "--out", "o", "--stopwords", "w.txt",
            f={"d.jsonl": docs, "w.txt": b"stop\x00words\n"},
        ),  # fmt: skip
        m("data-classifier-empty", "data", "train-classifier", "l.jsonl", "--out", "m.bin", f={"l.jsonl": ""}),
        m(
            "dmoe-analyze-one-language",
            "dmoe",
            "analyze",
            "--model",
            "tiny",
            "--languages",
            "en",
            "--groups",
            "2",
            "--out",
            "a.json",
        ),
        m(
            "dmoe-analyze-epsilon-two",
            "dmoe",
            "analyze",
            "--model",
            "tiny",
            "--languages",
            "en,zh",
            "--epsilon",
            "2",
            "--out",
            "a.json",
        ),
        m(
            "dmoe-analyze-groups-too-many",
            "dmoe",
            "analyze",
            "--model",
            "tiny",
            "--languages",
            "en,zh",
            "--groups",
            "5",
            "--out",
            "a.json",
        ),
        m("dmoe-analyze-steps-negative", "dmoe", "analyze", "--model", "tiny", "--languages", "en,zh", "--steps", "-1"),
        m("dmoe-analyze-steps-zero", "dmoe", "analyze", "--model", "tiny", "--languages", "en,zh", "--steps", "0"),
        m(
            "dmoe-analyze-steps-huge",
            "dmoe",
            "analyze",
            "--model",
            "tiny",
            "--languages",
            "en,zh",
            "--steps",
            str(10**23),
        ),
        m(
            "dmoe-upcycle-missing-analysis",
            "dmoe",
            "upcycle",
            "--model",
            "tiny",
            "--analysis",
            "nope.json",
            "--out",
            "u",
        ),
        m(
            "dmoe-upcycle-bad-analysis",
            "dmoe",
            "upcycle",
            "--model",
            "tiny",
            "--analysis",
            "a.json",
            "--out",
            "u",
            f={"a.json": '{"groups": "x"}'},
        ),
    ]


CASES: list[Case] = [
    *_new_command_cases(),
    *_train_cases(),
    *_eval_cases(),
    *_generate_cases(),
    *_fit_cases(),
    *_trace_cases(),
    *_translate_cases(),
    *_chat_cases(),
    *_misc_cases(),
]
