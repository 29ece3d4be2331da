"""ICR, LIDR and RaDis building blocks checked against their reference code (ZNLP's ICR and LIDR repositories):
the α search, truncated responses, the reward prefix, round-2 models, LIDR pairs and translation requests, typed
method_args, picklable rewards, RaDis labels. Every stage runs alone here, on files and fake backends."""

import json
import pickle
from types import SimpleNamespace as NS

import numpy as np
import pytest

from labkit.backends.base import Completion, GenParams
from labkit.errors import LabkitError
from labkit.jsonl import read_jsonl, write_jsonl
from labkit.train import recipe as rmod
from labkit.train import selfimprove as si
from labkit.train.methods import icr, lidr
from labkit.train.methods.icr import ICR_REWARD_PREFIX, ICRArgs
from labkit.train.methods.lidr import LIDRArgs
from labkit.train.methods.radis import RaDisArgs

from fakes import script


def reference_alpha(scores, lengths):
    """The reference's optimize_alpha, written out plainly: signed mean length gap, |gap| strictly smaller wins."""
    best_alpha, best_gap = 0.0, float("inf")
    for a in np.arange(0.0, 1.0, 0.001):
        adj = [[s - a * n for s, n in zip(ss, ls)] for ss, ls in zip(scores, lengths)]
        gap = np.mean([ls[int(np.argmax(x))] - ls[int(np.argmin(x))] for x, ls in zip(adj, lengths)])
        if abs(gap) < abs(best_gap):
            best_alpha, best_gap = a, gap
    return best_alpha


def test_alpha_search_is_the_reference_grid_on_character_lengths():
    rng = np.random.default_rng(0)
    lengths = [list(rng.integers(20, 400, size=5)) for _ in range(30)]
    scores = [[0.05 * n + rng.normal(0, 3) for n in ls] for ls in lengths]  # longer responses score higher
    alpha, picks, gap = icr.choose_alpha([list(zip(s, n)) for s, n in zip(scores, lengths)], (0.0, 1.0, 0.001))
    assert alpha == pytest.approx(reference_alpha(scores, lengths)) and alpha > 0
    unbiased = icr.choose_alpha([list(zip(s, n)) for s, n in zip(scores, lengths)], (0.0, 1.0, 1.0))
    assert unbiased[0] == 0.0 and abs(gap) < abs(unbiased[2])  # length control shrinks the length gap


def scored_row(pid, lang, responses, logratios, truncated=None):
    return {
        "id": pid,
        "lang": lang,
        "prompt": f"{pid}-{lang}",
        "responses": responses,
        "truncated": truncated or [False] * len(responses),
        "logratio": logratios,
        "reward": [None if x is None else 0.1 * x for x in logratios],
        "length": [len(r) for r in responses],
    }


def test_icr_pairs_fit_alpha_per_language_on_characters(tmp_path):
    """zh: long answers score high (needs α > 0); sw: scores unrelated to length (α = 0). One shared α, as labkit had
    before, would be wrong for one of them. Chinese lengths are characters, not tokens."""
    rows = []
    for i in range(6):
        rows.append(scored_row(f"z{i}", "zh", ["好" * 10, "好" * 40, "好" * 80], [1.0 + i % 2, 3.0, 6.0]))
        rows.append(scored_row(f"s{i}", "sw", ["a" * 50, "b" * 50, "c" * 50], [0.0, 1.0, 2.0 + i]))
    rows.append(scored_row("t", "sw", ["x", "y"], [1.0, None], truncated=[False, True]))  # one scored response: no pair
    write_jsonl(tmp_path / "scored.jsonl", rows)
    stats = icr.icr_pairs(tmp_path / "pairs.jsonl", tmp_path / "scored.jsonl", ICRArgs(reference="r"))
    assert stats["alpha/zh"] > 0 and stats["alpha/sw"] == 0.0 and stats["prompts_without_pair"] == 1
    pairs = read_jsonl(tmp_path / "pairs.jsonl")
    assert {p["lang"] for p in pairs} == {"zh", "sw"} and len(pairs) == 12
    zh = [p for p in pairs if p["lang"] == "zh"]
    assert all(p["chosen_len"] in (10, 40, 80) for p in zh)  # characters
    assert [p["margin"] for p in pairs] == sorted((p["margin"] for p in pairs), reverse=True)
    off = icr.icr_pairs(tmp_path / "off.jsonl", tmp_path / "scored.jsonl", ICRArgs(reference="r", length_control=False))
    assert off["alpha/zh"] == 0.0 and all(
        p["chosen_len"] == 80 for p in read_jsonl(tmp_path / "off.jsonl") if p["lang"] == "zh"
    )


def scripts(monkeypatch, samples=None):
    """What get_backend("scripted", ...) answers in these tests: "policy" samples `samples` for every prompt and
    scores Σlog p = 2·(characters + 100 for EOS), "ref" scores half that. Each Script records its calls."""

    def score(weight):
        return lambda prompt, y, append_eos: weight * (len(y) + (100.0 if append_eos else 0.0))

    policy = script(monkeypatch, "policy", reply=lambda text: list(samples or ["x"]), logprob=score(2.0))
    return policy, script(monkeypatch, "ref", logprob=score(1.0))


def test_icr_marks_truncated_responses_and_never_scores_them_with_eos(tmp_path, monkeypatch):
    samples = [Completion("done.", False), Completion("cut off mid", True), Completion("fine", False)]
    policy, ref = scripts(monkeypatch, samples)
    prompts = {"p1": {"en": "Name a fruit.", "zh": "说出一种水果。"}}
    args = ICRArgs(reference="ref", languages=["zh"], samples=3, backend="scripted")
    stats = icr.icr_sample(tmp_path / "samples.jsonl", prompts, args, "policy", seed=42)
    assert stats == {"prompts": 2, "responses": 6, "truncated": 2}
    gen = next(c for c in policy.calls if c[0] == "generate")[2]
    assert (gen.n, gen.temperature, gen.top_p, gen.max_new_tokens) == (3, 0.9, 1.0, 2400)  # the paper's defaults
    assert read_jsonl(tmp_path / "samples.jsonl")[0]["truncated"] == [False, True, False]

    policy.calls.clear()
    icr.icr_score(tmp_path / "scored.jsonl", tmp_path / "samples.jsonl", prompts, args, "policy", "ref", "policy")
    rows = read_jsonl(tmp_path / "scored.jsonl")
    assert [x["logratio"] for x in rows] == [[105.0, None, 104.0]] * 2  # EOS on the finished ones; the cut one unscored
    scored = [c for c in policy.calls + ref.calls if c[0] == "logprob"]
    assert all(eos is True for _, pairs, eos in scored if pairs)
    assert {m[0]["content"] for _, pairs, _ in scored for m, _ in pairs} == {
        "Name a fruit.",
        ICR_REWARD_PREFIX.format(language="Chinese (Simplified)") + "Name a fruit.",
    }

    policy.calls.clear()
    ref.calls.clear()
    with_cut = ICRArgs(
        reference="ref",
        languages=["zh"],
        samples=3,
        include_truncated=True,
        reward_prefix="Only {language}: ",
        backend="scripted",
    )
    icr.icr_score(tmp_path / "scored2.jsonl", tmp_path / "samples.jsonl", prompts, with_cut, "policy", "ref", "policy")
    assert read_jsonl(tmp_path / "scored2.jsonl")[0]["logratio"] == [105.0, 11.0, 104.0]  # cut one: no EOS term
    scored = [c for c in policy.calls + ref.calls if c[0] == "logprob"]
    assert any(eos is False and {y for _, y in pairs} == {"cut off mid"} for _, pairs, eos in scored)
    assert any(m[0]["content"].startswith("Only Chinese") for _, pairs, _ in scored for m, _ in pairs)


def test_icr_round_two_models_are_a_setting():
    initial = ICRArgs(reference="sft")
    assert icr.icr_models(initial, 1, ["dpo"]) == ("dpo", "sft")
    assert icr.icr_models(initial, 2, ["dpo", "round1"]) == (
        "round1",
        "sft",
    )  # the reference code: current π, initial π_ref
    previous = ICRArgs(reference="sft", later_reference="previous")
    assert icr.icr_models(previous, 2, ["dpo", "round1"]) == ("round1", "dpo")  # its t−1 reference ablation
    assert icr.icr_models(ICRArgs(reference="sft", reward_model="fixed"), 2, ["dpo", "round1"]) == ("fixed", "sft")


@pytest.mark.parametrize(
    "output,expected",
    [
        ("<translated>\nBonjour</translated>", "Bonjour"),
        ("<translated>\n Hola mundo \n</translated>\nDone.", "Hola mundo"),
        ("<translated>\nHola mundo", None),  # ran out of tokens before closing: not a translation
        ("No tags at all", None),
        ("<translated>\n</translated>", None),
    ],
)
def test_a_translation_counts_only_with_its_closing_tag(output, expected):
    assert si.parse_translation(output) == expected


def test_lidr_pairs_as_the_reference_builds_them():
    prompts = {
        "p1": {"en": "Name a fruit.", "zh": "说出一种水果。", "sw": "Taja tunda moja."},
        "p2": {"en": "Translate 'cat' into French.", "zh": "把“猫”翻译成法语。", "sw": "Tafsiri 'paka' kwa Kifaransa."},
        "p3": {"en": "Name a colour.", "zh": "说出一种颜色。", "sw": "Taja rangi moja."},
    }
    answers = {
        ("p1", "en"): "An apple.",
        ("p1", "zh"): "香蕉。",
        ("p1", "sw"): "Ndizi.",
        ("p2", "en"): "Chat.",
        ("p2", "zh"): "猫。",
        ("p2", "sw"): "Paka.",
        ("p3", "en"): "Red.",
        ("p3", "zh"): "蓝色。",
        ("p3", "sw"): "Bluu.",
    }
    to_target = {
        ("p1", "zh"): "一个苹果。",
        ("p1", "sw"): "Tufaha.",
        ("p2", "zh"): "猫",
        ("p2", "sw"): "Chat",
        ("p3", "zh"): "红色。",
        ("p3", "sw"): None,
    }  # p3: en→sw failed
    to_source = {
        ("p1", "zh"): "A banana.",
        ("p1", "sw"): "A banana!",
        ("p2", "zh"): "Cat.",
        ("p2", "sw"): "Cat!",
        ("p3", "zh"): "Blue.",
        ("p3", "sw"): "Blue!",
    }
    pairs, stats = lidr.lidr_pairs(prompts, answers, to_target, to_source, ["zh", "sw"], "en", requests={"p2"})
    by = {(p["id"], p["lang"]): p for p in pairs}
    assert by[("p1", "zh")]["chosen"] == "一个苹果。" and by[("p1", "zh")]["rejected"] == "香蕉。"
    assert (
        by[("p1", "en")]["chosen"] == "An apple." and by[("p1", "en")]["rejected"] == "A banana!"
    )  # via the last language
    assert sum(p["lang"] == "en" for p in pairs if p["id"] == "p1") == 1  # English: one pair per prompt
    assert by[("p2", "zh")]["chosen"] == "Chat." and by[("p2", "sw")]["chosen"] == "Chat."  # untranslated answer kept
    assert ("p3", "sw") not in by and ("p3", "en") not in by and ("p3", "zh") in by  # failed sw: both sw pairs gone
    assert stats == {"failed_translations": 1, "translation_prompts": 1, "pairs": 7}


@pytest.mark.parametrize(
    "prompt",
    [
        "Translate the following phrase into French.\nI miss you",
        'Translate "Where is the store?" into German.',
        "Could you please translate this sentence to Spanish: I am tired.",
        'translate the sentence "Hola" to English',
        "You are given the following sentence. Translate it into Spanish.\nI would like a cup of tea.",
        "How do you say 'thank you' in Japanese?",
        'What does "carpe diem" mean in English?',
        'Give me the English translation of "la croissance verte".',
    ],
)
def test_translation_requests_are_found(prompt):
    assert lidr.is_translation_request(prompt)


@pytest.mark.parametrize(
    "prompt",
    [
        "What is the translation industry worth?",
        "Who translated the Bible into German?",
        "Explain how machine translation works.",
        "Summarize the history of translation studies in two sentences.",
        "What is the capital of France?",
        "Write a poem about translating your feelings into words.",
    ],
)
def test_mentions_of_translation_are_not_requests(prompt):
    assert not lidr.is_translation_request(prompt)


def test_translation_requests_from_a_curated_file(tmp_path):
    prompts = {
        "a": {"en": "Translate 'cat' into French."},
        "b": {"en": "What is the translation industry worth?"},
        "c": {"en": "Hi."},
    }
    assert lidr.translation_request_ids("auto", prompts, "en") == {"a"}
    assert lidr.translation_request_ids("none", prompts, "en") == set()
    (tmp_path / "ids.txt").write_text("# curated by hand\nb\n\nc\n")
    assert lidr.translation_request_ids("ids.txt", prompts, "en", base=tmp_path) == {"b", "c"}
    (tmp_path / "ids.jsonl").write_text(json.dumps({"prompt": "…", "id": "a"}) + "\n")  # the reference's file format
    assert lidr.translation_request_ids(str(tmp_path / "ids.jsonl"), prompts, "en") == {"a"}
    with pytest.raises(LabkitError, match="translation_requests"):
        lidr.translation_request_ids("missing.txt", prompts, "en", base=tmp_path)


def test_paper_defaults():
    icr, lidr = ICRArgs(reference="r"), LIDRArgs()
    assert (icr.samples, icr.temperature, icr.top_p, icr.max_new_tokens, icr.alpha_range) == (
        10,
        0.9,
        1.0,
        2400,
        [0.0, 1.0, 0.001],
    )
    assert not icr.include_truncated and icr.later_reference == "initial" and icr.reward_prefix == ICR_REWARD_PREFIX
    assert (lidr.temperature, lidr.repetition_penalty, lidr.max_new_tokens, lidr.translation_max_new_tokens) == (
        0.0,
        1.1,
        2400,
        4096,
    )
    assert not lidr.accept_unclosed_translations and RaDisArgs().rationale_loss


@pytest.mark.parametrize(
    "method,override,message",
    [
        ("icr", "samles: 3", "Did you mean 'samples'"),
        ("icr", "scoring: eng", "scoring must be one of english, target, translated"),
        ("icr", "rounds: two", "rounds must be an integer"),
        ("icr", "reward_prefix: Answer in French.", "must contain {language}"),
        ("lidr", "repetition_penalty: high", "repetition_penalty must be a number"),
        ("lidr", "translaton_requests: auto", "Did you mean 'translation_requests'"),
        ("radis", "rationale_los: false", "Did you mean 'rationale_loss'"),
    ],
)
def test_method_args_are_checked_when_the_recipe_loads(method, override, message):
    reference = "reference: r, " if method == "icr" else ""
    with pytest.raises(LabkitError) as e:
        rmod.loads(f"name: x\nmethod: {method}\nmethod_args: {{{reference}{override}}}\n")
    assert message in f"{e.value.message} {e.value.hint}"
    with pytest.raises(LabkitError, match="icr needs method_args.reference"):
        rmod.loads("name: x\nmethod: icr\nmethod_args: {languages: [zh]}\n")
    assert rmod.loads("name: x\nmethod: dpo\nmethod_args: {rewards: [x]}\n").method_args == {
        "rewards": ["x"]
    }  # validate.py reports it


def test_rewards_pickle_and_keep_their_names():
    from labkit.train import rewards

    built = rewards.build(["correctness", "format", "language"], "mgsm", eos_token_id=2)
    again = pickle.loads(pickle.dumps(built))
    assert [f.__name__ for f in again] == ["correctness", "format", "language"]
    assert again[0](["The answer is 42."], ["42"], lang=["en"]) == [1.0]
    assert again[1](["The answer is 42."], lang=["en"], completion_ids=[[5, 2]]) == [1.0]


def test_backends_report_truncation():
    from labkit.backends.openai import parse_response
    from labkit.backends.vllm import parse_outputs

    outs = parse_outputs(
        [NS(outputs=[NS(index=0, text="a", finish_reason="length"), NS(index=1, text="b", finish_reason="stop")])],
        GenParams(temperature=1, n=2),
    )
    assert [x.truncated for x in outs[0]] == [True, False] and outs[0] == ["a", "b"]
    got = parse_response({"choices": [{"index": 0, "text": "x", "finish_reason": "length"}]}, GenParams())
    assert got == ["x"] and got[0].truncated


def test_lidr_answer_prompt_per_language_as_the_reference_asks_for_gsm8k(tmp_path, monkeypatch):
    """answer_template "reasoning" is the reference's PROMPT_PREFIX (its GSM8K run, with_prefix=true), the language
    named as its LANGUAGES names it ("Chinese", not labkit's "Chinese (Simplified)"); answers, translation prompts
    and the DPO pairs all use it. The default asks the prompt as it is (the reference's instruction run)."""
    from labkit.train.methods.lidr import LIDR_REASONING_TEMPLATE

    echo = script(monkeypatch, "policy", reply=lambda text: text + "</translated>")  # reads back what was asked
    prompts = {"g1": {"en": "Tom has 3 apples and buys 4. How many?", "zh": "汤姆有3个苹果，又买了4个。一共几个？"}}
    args = LIDRArgs(
        languages=["zh"], answer_template="reasoning", language_names={"sw": "Kiswahili"}, backend="scripted"
    )
    assert args.answer_template == LIDR_REASONING_TEMPLATE and args.language("sw") == "Kiswahili"
    lidr.lidr_answer(tmp_path / "answers.jsonl", prompts, args, "policy")
    asked = {a["lang"]: a["prompt"] for a in read_jsonl(tmp_path / "answers.jsonl")}
    assert asked["zh"] == (
        "Below is an instruction that describes a task. Write a response that appropriately completes the request "
        "in Chinese. Please answer in Chinese.\n\n### Instruction:\n"
        "汤姆有3个苹果，又买了4个。一共几个？\n\n### Response:\n"
    )
    assert asked["en"].startswith("Below is") and "request in English. Please answer in English." in asked["en"]
    lidr.lidr_translate(tmp_path / "trans.jsonl", tmp_path / "answers.jsonl", prompts, args, "policy")
    sent = [x for c in echo.calls if c[0] == "generate" for x in c[1] if isinstance(x, str)]
    assert any("into Chinese." in x for x in sent) and not any("Simplified" in x for x in sent)
    lidr.lidr_make_pairs(
        tmp_path / "pairs.jsonl", tmp_path / "answers.jsonl", tmp_path / "trans.jsonl", prompts, args, set()
    )
    pairs = {p["lang"]: p for p in read_jsonl(tmp_path / "pairs.jsonl")}
    assert pairs["zh"]["prompt"] == asked["zh"] and pairs["en"]["prompt"] == asked["en"]
    plain = LIDRArgs(languages=["zh"])
    assert plain.answer_prompt("zh", prompts["g1"]["zh"]) == prompts["g1"]["zh"]
    for bad in ("Answer in {language}.", "{question} {lang}"):
        with pytest.raises(LabkitError, match="answer_template"):
            LIDRArgs(answer_template=bad)
    with pytest.raises(LabkitError, match="language_names must be a mapping"):
        rmod.loads("name: x\nmethod: lidr\nmethod_args: {language_names: [zh]}\n")
