"""The `hf` annotator kind on a transformers classifier built here (no download): label scores from its id2label,
turned into CWT 2.0 fields; and the fastText kind on a model trained from the labelled fixtures."""

from pathlib import Path

import pytest

from labkit.data.annotate import Annotator, AnnotatorSpec

FIX = Path(__file__).parents[1] / "fixtures" / "curate"


@pytest.fixture(scope="module")
def hf_classifier(tiny_path, tmp_path_factory):
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForSequenceClassification

    tok = AutoTokenizer.from_pretrained(tiny_path)
    cfg = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        num_labels=2,
        id2label={0: "clean", 1: "toxic"},
        label2id={"clean": 0, "toxic": 1},
        pad_token_id=tok.pad_token_id,
    )
    path = tmp_path_factory.mktemp("clf")
    Qwen2ForSequenceClassification(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


@pytest.mark.slow
def test_hf_classifier_kind(hf_classifier):
    ann = Annotator(AnnotatorSpec("toxicity", kind="hf", model=hf_classifier))
    probs = ann.probs(["你好，今天天气很好。", "another text"])
    assert [sorted(p) for p in probs] == [["clean", "toxic"]] * 2
    assert all(abs(sum(p.values()) - 1) < 1e-5 for p in probs)
    fields = ann.annotate(["你好"])[0]["toxicity"]
    assert fields["score"] == pytest.approx(ann.probs(["你好"])[0]["toxic"], abs=1e-6) and fields["label"] == int(
        fields["score"] >= 0.99
    )
    assert ann.scorer.name == "hf"


@pytest.mark.slow  # trains and loads a fastText model
def test_fasttext_kind_classifies_held_out_texts(tmp_path):
    from labkit.data import classifier

    # the reference's 5 epochs are for real corpora; this 28-row fixture needs more
    model = classifier.train(FIX / "domain_train.jsonl", tmp_path / "d.bin", epoch=50)["model"]
    ann = Annotator(AnnotatorSpec("domain", kind="fasttext", model=model))
    out = ann.annotate(["患者在医院接受治疗，医生说病情稳定。", "股票市场今天大涨，投资者信心增强，银行利率不变。"])
    assert [o["domain"]["single_label"] for o in out] == ["medicine", "finance"]
    tox = classifier.train(FIX / "toxicity_train.jsonl", tmp_path / "t.bin", task="toxicity")["model"]
    t = Annotator(AnnotatorSpec("toxicity", kind="fasttext", model=tox))
    bad, good = t.annotate(["你这个傻逼废物去死吧", "今天天气很好我们去公园散步"])
    assert bad["toxicity"]["score"] > 0.5 > good["toxicity"]["score"]


def test_missing_models_are_labkit_errors(tmp_path):
    from labkit.errors import LabkitError

    with pytest.raises(LabkitError, match="No fastText model"):
        Annotator(AnnotatorSpec("domain", kind="fasttext", model=str(tmp_path / "none.bin")))
    with pytest.raises(LabkitError, match="one label"):
        from labkit.data import classifier

        (tmp_path / "one.jsonl").write_text('{"text": "a", "label": "x"}\n{"text": "b", "label": "x"}\n')
        classifier.train(tmp_path / "one.jsonl", tmp_path / "o.bin")
