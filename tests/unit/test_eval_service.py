"""The eval-run service and EvalSpec: flags generated from the spec, generic task options, the resume key,
one set of model-card rows, and the MGSM extractors (labkit vs lm-eval) with their agreement figure."""

import json
from dataclasses import fields
from pathlib import Path

import pytest

from labkit.cli import build_parser, main
from labkit.errors import LabkitError
from labkit.evaluate import runner, service
from labkit.evaluate.extract import cjk_number, extract_number, lm_eval_extract, lm_eval_match
from labkit.evaluate.spec import EvalSpec, cli_args, from_args
from labkit.evaluate.tasks import get_task
from labkit.evaluate.tasks.base import SIGN_NOTE, Doc

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def _parse(argv):
    return build_parser().parse_args(argv)


def test_every_spec_field_has_a_flag_and_cli_args_round_trip():
    spec = EvalSpec(
        task="polymath",
        languages=["en", "zh"],
        model="org/m",
        backend="openai",
        base_url="http://h/v1",
        limit=5,
        variant="english",
        cot=False,
        max_new_tokens=77,
        temperature=0.7,
        top_p=0.9,
        seed=3,
        data="/d",
        batch_size=8,
        task_options={"level": "high"},
        extractor="lm-eval-flexible",
    )
    argv = cli_args(spec, tags=["a=1"], name="n")
    assert "--top-p" in argv and argv[argv.index("--top-p") + 1] == "0.9"  # top_p had no flag before
    assert argv[argv.index("--task-option") + 1] == "level=high" and "--level" not in argv
    args = _parse(argv[3:])
    assert from_args(args) == spec and args.tag == ["a=1"] and args.name == "n"
    help_text = build_parser()._subparsers._group_actions[0].choices["eval"].format_help()
    for f in fields(EvalSpec):  # the parser is generated from the dataclass: nothing can be left out
        flag = "--no-cot" if f.name == "cot" else "--" + f.name.replace("_", "-").replace("task-options", "task-option")
        assert flag in help_text, flag


def test_task_options_are_generic():
    assert get_task("polymath", level="high").split == "high" and get_task("polymath").split == "low"
    with pytest.raises(LabkitError, match="level='huge'"):
        get_task("polymath", level="huge")
    with pytest.raises(LabkitError, match="no option 'level'"):
        get_task("mgsm", level="high")
    # a recipe's evaluate: section may name a task option directly; a typo is refused, not ignored
    assert EvalSpec.from_dict({"task": "polymath", "level": "top", "limit": 2}).task_options == {"level": "top"}
    with pytest.raises(LabkitError, match="Did you mean 'limit'"):
        EvalSpec.from_dict({"task": "mgsm", "limt": 2})


def test_the_resume_key_changes_with_what_changes_samples(tmp_path):
    base = EvalSpec(task="mgsm", languages=["en"])
    same = EvalSpec(
        task="mgsm", languages=["en", "zh"], limit=3, batch_size=2
    )  # which items and how batched: same samples
    assert base.spec_hash() == same.spec_hash()
    for change in (
        {"model": "other"},
        {"temperature": 0.5},
        {"top_p": 0.9},
        {"variant": "english"},
        {"cot": False},
        {"max_new_tokens": 7},
        {"extractor": "lm-eval-strict"},
    ):
        assert EvalSpec(task="mgsm", languages=["en"], **change).spec_hash() != base.spec_hash(), change
    out = tmp_path / "run"
    runner.claim_output(out, base.fingerprint())
    (out / runner.SAMPLES).write_text('{"id": "0", "lang": "en"}\n')
    runner.claim_output(out, same.fingerprint())  # the same evaluation resumes
    with pytest.raises(LabkitError, match="different evaluation.*model"):
        runner.claim_output(out, EvalSpec(task="mgsm", languages=["en"], model="other").fingerprint())


def test_card_rows_and_metrics_are_one_scale_per_metric():
    xal = {
        "task": "xalpaca",
        "results": {"en": {"accuracy": 0.625, "win_rate": 62.5, "lc_win_rate": 55.0, "n": 8, "parse_failed": 0}},
        "average": 0.625,
    }
    mgsm = {"task": "mgsm", "results": {"zh": {"accuracy": 0.5, "n": 4, "parse_failed": 1}}, "average": 0.5}
    assert service.card_rows(xal) == [
        {
            "task": "xalpaca",
            "dataset": "zhihz0535/X-AlpacaEval",
            "config": None,
            "split": "english",
            "metric": "win_rate",
            "value": 62.5,
        },
        {
            "task": "xalpaca",
            "dataset": "zhihz0535/X-AlpacaEval",
            "config": None,
            "split": "english",
            "metric": "length_controlled_win_rate",
            "value": 55.0,
        },
    ]
    assert service.card_rows(mgsm) == [
        {
            "task": "mgsm",
            "dataset": "juletxara/mgsm",
            "config": "zh",
            "split": "test",
            "metric": "accuracy",
            "value": 0.5,
        }
    ]
    assert service.summary_metrics(xal) == {"score/en": 0.625, "score": 0.625, "parse_failed": 0}
    synth = {**mgsm, "config": {"data": "synth"}}  # local data is never shown as the benchmark's score
    assert [(r["dataset"], r["config"]) for r in service.card_rows(synth)] == [("labkit synthetic world (synth)", "zh")]
    local = {**mgsm, "config": {"data": "/data/mine"}}
    assert service.card_rows(local)[0]["dataset"] == "local data (mine)"


def test_every_caller_goes_through_the_service(monkeypatch, tmp_path):
    """cli eval, the evaluate: step after training and hub push's card all get their rows from run_eval/card_rows."""
    from labkit.store import open_store
    from labkit.train import worker

    canned = {
        "task": "mgsm",
        "versions": {"mgsm": 1},
        "extractor": "labkit",
        "average": 0.75,
        "results": {"en": {"accuracy": 0.75, "stderr": 0.1, "n": 4, "parse_failed": 0, "fidelity": None}},
    }
    seen = []

    def fake_run(spec, out, progress=None, backend=None):
        seen.append(spec)
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / runner.RESULTS).write_text(json.dumps(canned))
        return canned

    monkeypatch.setattr(runner, "run", fake_run)

    class R:
        evaluate, name, tags = {"task": "mgsm", "languages": ["en"], "limit": 4}, "r", ["sweep:x"]

    rows = worker.evaluate_after(R, tmp_path / "model", tmp_path / "train")
    assert seen[-1].model == str(tmp_path / "model") and seen[-1].limit == 4
    assert rows == service.card_rows_for(tmp_path / "train" / "eval") == service.card_rows(canned)
    assert (
        main(
            [
                "eval",
                "--task",
                "mgsm",
                "--languages",
                "en",
                "--model",
                "tiny",
                "--top-p",
                "0.5",
                "--output",
                str(tmp_path / "c"),
                "--json",
            ]
        )
        == 0
    )
    assert seen[-1].top_p == 0.5
    runs = {r.run_dir: r for r in open_store().list(kind="eval")}
    for d in (tmp_path / "train" / "eval", tmp_path / "c"):
        run = runs[str(d)]
        assert run.status == "succeeded" and run.metrics == {"score/en": 0.75, "score": 0.75, "parse_failed": 0}


# --- MGSM extraction: labkit vs lm-eval ---------------------------------------------------------------------------
def test_lm_eval_filters():
    text = "Roger has 5 + 6 = 11 balls. The answer is 11. Check: 1,100 cents."
    assert lm_eval_extract(text, "en", "strict").value == "11."  # lm-eval's [0-9\.\,]+ takes the full stop too
    assert lm_eval_extract(text, "en", "flexible").value == "1,100"  # the last number-like token
    assert lm_eval_extract("答案是 48。", "zh", "strict").value == "48"
    assert lm_eval_extract("答案是48", "zh", "strict").parse_failed  # lm-eval's zh pattern wants the space and 。
    assert lm_eval_extract("答えは18です。", "ja", "strict").value == "18"
    assert lm_eval_extract("no digits", "en", "flexible").parse_failed
    assert lm_eval_match("11.", 11) and lm_eval_match("1,100", 1100.0) and lm_eval_match("-48", 48)  # punctuation-blind
    assert not lm_eval_match("48.5", 48) and not lm_eval_match(None, 3)


def test_cjk_numerals_are_read():
    assert [cjk_number(s) for s in ("九", "一百八十", "两千零五", "3万", "二〇二四", "十二", "三点五")] == [
        9,
        180,
        2005,
        30000,
        2024,
        12,
        3.5,
    ]
    assert extract_number("所以答案是一百八十个。", "zh").value == 180.0
    assert extract_number("答えは九です", "ja").value == 9.0
    assert extract_number("\\boxed{十二}", "zh").value == 12.0
    assert extract_number("我们一步一步来算，共有5个", "zh").value == 5.0  # 一 in running text is not a number


def test_sign_is_wrong_but_noted_and_agreement_is_measured():
    task = get_task("mgsm")
    doc = Doc("0", "en", "q", 48.0)
    neg = task.judge_output(doc, "The answer is -48")
    assert neg["correct"] == 0.0 and neg["note"] == SIGN_NOTE and neg["lm_eval_flexible_correct"] == 1.0
    ok = task.judge_output(doc, "The answer is 48")
    zh = task.judge_output(Doc("1", "zh", "q", 9.0), "答案是九。")  # lm-eval cannot read 九
    assert (
        ok["correct"] == ok["lm_eval_flexible_correct"] == 1.0
        and zh["correct"] == 1.0
        and zh["lm_eval_flexible_correct"] == 0.0
    )
    flex = task.judge_output(doc, "The answer is -48", "lm-eval-flexible")
    assert flex["correct"] == 1.0 and flex["extracted"] == "-48" and flex["extractor"] == "lm-eval-flexible"
    rows = [{**r, "detected_lang": None} for r in (neg, ok, zh, {**ok})]
    s = task.summarize_lang(rows, "en")
    assert (
        s["agreement"] == 0.5
        and s["lm_eval_flexible_accuracy"] == 0.75
        and s["sign_mismatch"] == 1
        and s["accuracy"] == 0.75
    )


def test_sample_data_defaults_to_its_languages():
    assert EvalSpec.from_dict({"task": "polymath", "data": "sample"}).languages == ["en", "zh"]
    assert len(EvalSpec.from_dict({"task": "polymath"}).languages) == 18
    assert get_task("xalpaca").sample_languages() == ["en", "es", "it", "ko", "zh"]


def test_extractor_only_for_numeric_tasks():
    with pytest.raises(LabkitError, match="numeric tasks"):
        EvalSpec(task="mmlu_prox", languages=["en"], extractor="lm-eval-strict").validate()


# --- bad input ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "content,match",
    [
        ("", "is empty"),
        ("42\n", "line 1 is a JSON int"),
        ("[1, 2]\n", "line 1 is a JSON list"),
        ('{"id": "0", "lang": "en", "output": 48}\n', "output is a int"),
        ('{"id": "0", "lang": ["en"], "output": "x"}\n', "lang is a list"),
        ('{"id": "0", "lang": "xx", "output": "The answer is 9", "gold": 9}\n', "no language 'xx'"),
        ('{"id": "0", "lang": "en"}\n{"id": "1", "lang": "en", "output": "x"}\n', "line 1 lacks output"),
    ],
)
def test_bad_predictions_exit_2_with_a_message(tmp_path, capsys, content, match):
    from labkit.store import open_store

    before = len(open_store().list(kind="eval"))
    preds = tmp_path / "p.jsonl"
    preds.write_text(content)
    assert main(["eval", "--task", "mgsm", "--predictions", str(preds), "--output", str(tmp_path / "o"), "--json"]) == 2
    err = json.loads(capsys.readouterr().out)
    assert match in err["error"] and err["hint"]
    assert len(open_store().list(kind="eval")) == before and not (tmp_path / "o").exists()  # no litter


@pytest.mark.parametrize(
    "argv,match",
    [
        (["--batch-size", "0"], "--batch-size must be a whole number ≥ 1"),
        (["--model", "m" * 5000], "--model is 5000 characters long"),
        (["--limit", "-1"], "--limit must be"),
        (["--top-p", "0"], "--top-p must be in"),
        (["--languages", "en,xx"], "--languages has 'xx'"),
        (["--task-option", "level=high"], "no option 'level'"),
    ],
)
def test_bad_flags_exit_2(tmp_path, capsys, argv, match):
    assert main(["eval", "--task", "mgsm", "--output", str(tmp_path / "o"), "--json", *argv]) == 2
    assert match in json.loads(capsys.readouterr().out)["error"]


def test_output_pointing_at_a_file(tmp_path, capsys):
    f = tmp_path / "file.txt"
    f.write_text("x")
    assert main(["eval", "--task", "mgsm", "--languages", "en", "--output", str(f), "--json"]) == 2
    assert "is a file, not a folder" in json.loads(capsys.readouterr().out)["error"]


def test_ui_words_name_the_field():
    with pytest.raises(LabkitError, match="the Batch size field"):
        EvalSpec(task="mgsm", languages=["en"], batch_size=0).validate(words="ui")
