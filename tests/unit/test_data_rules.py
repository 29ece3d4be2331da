"""ChineseWebText 2.0 rules, recipes, language tables and annotator field logic (pure, no datatrove run)."""

import json
from pathlib import Path

import pytest

from labkit.data import annotate as A
from labkit.data import heuristics, langs, recipe as rmod, rules as R
from labkit.errors import LabkitError

from fakes import FakeBackend, replies

FIX = Path(__file__).parents[1] / "fixtures" / "curate"
DOCS = [json.loads(l) for l in (FIX / "rules.jsonl").read_text(encoding="utf-8").splitlines()]


def _settings(words=FIX / "sensitive.txt"):
    s = {n: R.resolve(dict(r.defaults)) for n, r in R.RULES.items()}
    s["sensitive"] = R.resolve({**R.RULES["sensitive"].defaults, "words": str(words) if words else None})
    return s


@pytest.mark.parametrize("doc", DOCS, ids=[d["id"] for d in DOCS])
def test_each_document_breaks_exactly_its_rule(doc):
    s = _settings()
    broken = [n for n in R.ORDER if R.RULES[n].drops(doc["text"], s[n])]
    assert broken == ([doc["breaks"]] if doc["breaks"] else [])
    assert R.first_broken(doc["text"], s) == doc["breaks"]


def test_every_rule_has_a_document_and_good_ones_exist():
    assert {d["breaks"] for d in DOCS} == set(R.ORDER) | {None}


def test_rule_boundaries_follow_the_reference():
    s = _settings()
    assert R.RULES["length"].drops("字" * 200, s["length"]) and not R.RULES["length"].drops("字" * 201, s["length"])
    # mean line length = len(text) / number of lines, newlines included (as the reference computes it)
    assert R.mean_line_length("一二三四五\n六七八九") == 10 / 2
    assert R.chinese_share("中文ab") == 0.5
    # the reference's n-grams stop one short: range(len - n), and a text shorter than n is one gram
    assert R.repeated_ngram_share("a" * 13) == 0.0
    assert R.repeated_ngram_share("ab" * 20) == 1.0
    assert R.repeated_ngram_share("A b\tc\n") == 0.0


def test_sensitive_counts_distinct_words_per_line_and_defaults_to_no_list():
    s = _settings()
    assert R.load_words(FIX / "sensitive.txt") == ("赌博", "六合彩")  # category<TAB>word lines keep the word
    text = "赌博赌博赌博\n一行\n两行"
    assert R.sensitive_per_line(text, ("赌博",)) == pytest.approx(1 / 3)
    assert not R.RULES["sensitive"].drops(DOCS[7]["text"], _settings(words=None)["sensitive"])
    assert R.RULES["sensitive"].drops(DOCS[7]["text"], s["sensitive"])


def test_traditional_detects_convertible_characters():
    assert R.has_traditional("這是繁體字") and not R.has_traditional("这是简体字")


def test_recipe_defaults_overrides_and_errors(tmp_path):
    r = rmod.load(None, ["rules.length.min_chars=100", "language=zh"])
    assert r["rules"]["length"]["min_chars"] == 100 and r["language"] == "cmn"
    assert r["rules"]["repetition"] == {"enabled": True, "n": 13, "max_share": 0.5}
    with pytest.raises(LabkitError, match="rules.length.min_char"):
        rmod.load(None, ["rules.length.min_char=3"])
    with pytest.raises(LabkitError, match="executor.name"):
        rmod.load(None, ["executor.name=spark"])
    with pytest.raises(LabkitError, match="annotators.domain.kind"):
        rmod.load(None, ["annotators.domain.kind=magic"])
    with pytest.raises(LabkitError, match="must be a number"):
        rmod.load(None, ["rules.length.min_chars=many"])
    text = rmod.dumps(r)
    assert rmod.loads(text) == r
    for f in (Path(__file__).parents[2] / "configs" / "curate").glob("*.yaml"):
        assert rmod.load(f)["name"]


def test_iso639_3_and_threshold_tables():
    assert langs.iso639_3("zh") == "cmn" and langs.iso639_3("zh-Hans") == "cmn" and langs.iso639_3("eng") == "eng"
    with pytest.raises(LabkitError):
        langs.iso639_3("??")
    g = langs.filter_settings("gopher", "zh", {"min_doc_words": 10})
    assert g["language"] == "cmn" and g["min_avg_word_length"] == 1 and g["min_doc_words"] == 10
    assert langs.filter_settings("gopher", "en") == {"language": "eng"}


def test_cwt_schema_fields():
    spec = A.AnnotatorSpec("domain")
    f = A.domain_fields({"news": 0.6, "education": 0.35, "law": 0.1}, spec)
    assert f == {"domain": {"single_label": "news", "multi_label": ["news", "education"]}}
    t = A.AnnotatorSpec("toxicity")
    assert A.toxicity_fields({"1": 0.995, "0": 0.005}, t) == {"toxicity": {"label": 1, "score": 0.995}}
    assert A.toxicity_fields({"1": 0.98, "0": 0.02}, t)["toxicity"]["label"] == 0
    assert A.quality_fields({"high": 0.7, "low": 0.3}, A.AnnotatorSpec("quality")) == {"quality_score": 0.7}
    assert A.quality_fields(None, A.AnnotatorSpec("quality")) == {"quality_score": None}
    with pytest.raises(LabkitError):
        A.AnnotatorSpec("quality", kind="fasttext")  # a model is required


def test_heuristics_are_labelled_and_discriminate():
    good, rep = DOCS[0]["text"], DOCS[8]["text"]
    assert heuristics.quality(good) > heuristics.quality(rep)
    assert (
        heuristics.domain_probs(good)
        and max(heuristics.domain_probs(good), key=heuristics.domain_probs(good).get) == "news"
    )
    assert heuristics.domain_probs("abc") == {"general": 1.0}
    assert heuristics.toxicity_score("你这个傻逼去死") > 0.99 > heuristics.toxicity_score(good)
    a = A.Annotator(A.AnnotatorSpec("toxicity"))
    assert a.scorer.name == "heuristic"


def test_llm_judge_prompts_and_parses_flat_json():
    fake = FakeBackend(replies('<think>hmm</think> {"news": 0.9, "law": 0.4, "cats": 1}', "no json here"))
    scorer = A.LLMScorer("domain", "judge", backend_obj=fake)
    ann = A.Annotator(A.AnnotatorSpec("domain", kind="llm", model="judge"), scorer=scorer)
    out = ann.annotate(["新闻文本", "另一段"])
    assert out[0] == {"domain": {"single_label": "news", "multi_label": ["news", "law"]}}
    assert out[1] == {"domain": None}
    assert "encyclopedia" in fake.prompts[0][0]["content"] and "新闻文本" in fake.prompts[0][0]["content"]


def test_executors_by_name_and_their_errors():
    pytest.importorskip("datatrove")
    from labkit.data import pipeline

    steps = pipeline.build_pipeline(
        rmod.load(None), "jsonl", str(FIX), "rules.jsonl", "/tmp/unused-out", progress=False
    )
    names = [getattr(s, "name", "") for s in steps]
    assert names[1] == "malformed" and names[2:8] == list(R.ORDER) and names[8:11] == ["quality", "domain", "toxicity"]
    local = pipeline.make_executor(
        steps, rmod.load(None, ["executor.tasks=4", "executor.workers=2"]), "/tmp/unused-logs"
    )
    assert type(local).__name__ == "LocalPipelineExecutor" and local.world_size == 4 and local.workers == 2
    with pytest.raises(LabkitError, match="partition"):
        pipeline.make_executor(steps, rmod.load(None, ["executor.name=slurm"]), "/tmp/unused-logs")
    with pytest.raises(LabkitError, match="unknown executor 'moon'"):
        rmod.load(None, ["executor.name=moon"])


@pytest.mark.parametrize(
    "override, named",
    [
        ("executor.name=hf-jobs", "executor.name: hf-jobs"),
        ("executor.flavor=cpu-upgrade", "executor.flavor"),
        ("executor.package=labkit", "executor.package"),
    ],
)
def test_a_recipe_with_an_hf_jobs_executor_is_told_the_one_route(override, named):
    """HF Jobs run a curation as one whole Job (labkit.hfjobs): the old executor and its keys are refused with
    where to go instead, not with an unknown-key did-you-mean."""
    with pytest.raises(LabkitError) as e:
        rmod.load(None, [override])
    assert str(e.value).startswith(named) and "one Job" in str(e.value) and "local executor" in str(e.value)
    assert "Run on Hugging Face Jobs" in e.value.hint and "--target hf-jobs" in e.value.hint
    assert "hub run-job" in e.value.hint and "data curate" in e.value.hint
    with pytest.raises(LabkitError, match="no hf-jobs executor"):
        rmod.loads("executor: {name: hf-jobs, tasks: 4}\n")


def test_preview_names_the_first_rule_each_document_breaks(tmp_path):
    import gzip

    from labkit.data import preview

    recipe = rmod.load(Path(__file__).parents[2] / "configs" / "curate" / "rules-only.yaml")
    recipe["rules"]["sensitive"]["words"] = str(FIX / "sensitive.txt")
    expected = [[d["id"], len(d["text"]), d["breaks"] or preview.KEPT, d["text"][:200]] for d in DOCS]
    assert preview.preview(str(FIX / "rules.jsonl"), recipe, n=len(DOCS)) == expected
    # a folder of gzipped parts reads across files, and n cuts it
    (tmp_path / "parts").mkdir()
    for k, part in enumerate((DOCS[:2], DOCS[2:])):
        with gzip.open(tmp_path / "parts" / f"{k}.jsonl.gz", "wt", encoding="utf-8") as fh:
            fh.write("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in part))
    assert preview.preview(str(tmp_path / "parts"), recipe, n=3) == expected[:3]
