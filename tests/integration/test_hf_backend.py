"""The hf backend on the tiny model: batching, streaming, sampling, scoring."""

import json

import pytest
import torch

from labkit.backends.base import GenParams
from labkit.errors import LabkitError
from labkit.models.tiny import SPECIAL_TOKENS, build_tiny, corpus_languages, is_built

PROMPTS = [
    "Hello",
    "小明有18支铅笔，他送给同学7支。",
    "สมชายมีส้ม 10 ผล",
    "রহিমের কাছে ২০টি কলম আছে।",
    "Amina ana machungwa 25.",
    "రాము దగ్గర 30 మామిడి పండ్లు",
    "Janet has 16 eggs. She eats 3 for breakfast and bakes muffins with 4. How many are left?",
    "У Ивана было 15 яблок.",
    "けんじさんはりんごを14個",
    "Pierre achète 4 cahiers",
    "Anna hat 20 Bonbons",
]


def chat(text):
    return [{"role": "user", "content": text}]


def test_tiny_model_builds_offline_and_is_cached(tiny_path, tmp_path):
    assert is_built(tiny_path)
    meta = json.loads((tiny_path / "labkit_tiny.json").read_text())
    assert (
        {"zh", "th", "bn", "sw", "te", "en", "es", "fr", "de", "ru", "ja"}
        <= set(meta["languages"])
        == set(corpus_languages())
    )
    out = build_tiny(tmp_path / "t")
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model_type"] == "qwen2" and cfg["num_hidden_layers"] == 2 and cfg["tie_word_embeddings"] is True
    tok = json.loads((out / "tokenizer.json").read_text())
    assert [t["content"] for t in tok["added_tokens"]] == SPECIAL_TOKENS


def test_tiny_params_and_chat_template(tiny_backend):
    n = sum(p.numel() for p in tiny_backend.lm.parameters())
    assert 100_000 < n < 200_000
    text = tiny_backend.render([{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}])
    assert text == "<|im_start|>system\ns<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert tiny_backend.render("raw") == "raw"
    # the assistant mask TRL's assistant_only_loss relies on
    enc = tiny_backend.tok.apply_chat_template(
        chat("q") + [{"role": "assistant", "content": "answer"}], return_dict=True, return_assistant_tokens_mask=True
    )
    assert 0 < sum(enc["assistant_masks"]) < len(enc["input_ids"])


def test_batched_greedy_equals_one_at_a_time(tiny_backend):
    prompts = [chat(p) for p in PROMPTS] + PROMPTS[:3]  # chat and raw mixed, different lengths
    p = GenParams(max_new_tokens=24)
    batched = tiny_backend.generate(prompts, p)
    sequential = [tiny_backend.generate([x], p)[0] for x in prompts]
    assert batched == sequential
    assert all(len(o) == 1 and isinstance(o[0], str) for o in batched)
    assert len({o[0] for o in batched}) > 1  # not one constant answer


def test_stream_joins_to_the_generated_text(tiny_backend):
    p = GenParams(max_new_tokens=30)
    for text in PROMPTS[:4]:
        deltas = list(tiny_backend.stream(chat(text), p))
        assert "".join(deltas) == tiny_backend.generate([chat(text)], p)[0][0]
        assert len(deltas) >= 1


def test_sampling_n_and_seed(tiny_backend):
    p = GenParams(max_new_tokens=12, temperature=1.0, n=4, seed=7)
    a = tiny_backend.generate([chat("Hello"), chat("Bonjour")], p)
    b = tiny_backend.generate([chat("Hello"), chat("Bonjour")], p)
    assert a == b and all(len(x) == 4 for x in a)
    assert len(set(a[0])) > 1  # samples differ


def test_stop_strings_cut_the_output(tiny_backend):
    full = tiny_backend.generate([chat("Hello")], GenParams(max_new_tokens=30))[0][0]
    stop = full[3:5]
    assert stop and stop in full
    cut = tiny_backend.generate([chat("Hello")], GenParams(max_new_tokens=30, stop=(stop,)))[0][0]
    assert cut == full[: full.index(stop)]


def test_logprob_matches_manual_forward(tiny_backend):
    tok, lm = tiny_backend.tok, tiny_backend.lm
    pairs = [
        (chat("Hello"), "Bonjour tout le monde"),
        ("Janet has 16 eggs.", " The answer is 9."),
        (chat("小明"), "答案是11。"),
    ]
    for append_eos in (False, True):
        got = tiny_backend.logprob(pairs, append_eos=append_eos)
        for (prompt, completion), score in zip(pairs, got):
            p_ids = tok(tiny_backend.render(prompt), add_special_tokens=False)["input_ids"]
            c_ids = tok(completion, add_special_tokens=False)["input_ids"] + ([tok.eos_token_id] if append_eos else [])
            ids = torch.tensor([p_ids + c_ids])
            with torch.no_grad():
                logp = torch.log_softmax(lm(ids).logits[0].float(), -1)
            manual = sum(float(logp[len(p_ids) + i - 1, t]) for i, t in enumerate(c_ids))
            assert score == pytest.approx(manual, abs=1e-4)
    assert got[0] < 0


def test_bad_inputs_are_clear(tiny_backend):
    with pytest.raises(LabkitError):
        tiny_backend.generate([[{"content": "no role"}]], GenParams())
    with pytest.raises(LabkitError):
        list(tiny_backend.stream(chat("x"), GenParams(temperature=1, n=2)))


def test_unloaded_backend_is_collected_and_get_backend_unloads_the_previous(tiny_path):
    import gc
    import weakref

    from labkit.backends import get_backend, unload_all
    from labkit.backends.base import GenParams
    from labkit.errors import LabkitError

    first = get_backend("hf", str(tiny_path), device="cpu")
    assert first.generate(["Hello"], GenParams(max_new_tokens=2))[0][0] is not None
    model_ref, backend_ref = weakref.ref(first.lm), weakref.ref(first)
    second = get_backend("hf", str(tiny_path), device="cpu", batch_size=3)  # another key: the first is unloaded
    assert second is not first and first.lm is None
    with pytest.raises(LabkitError, match="unloaded"):
        first.generate(["Hello"], GenParams(max_new_tokens=2))
    del first
    gc.collect()
    assert backend_ref() is None and model_ref() is None  # nothing (no lru_cache) keeps the old model alive
    unload_all()
    assert second.lm is None


def test_a_stream_whose_reader_leaves_stops_generating(tiny_backend, monkeypatch):
    """Stop pressed (or the page gone) closes the stream: the generation must end there, not run on to
    max_new_tokens holding the model while every other request waits."""
    from labkit.backends import hf

    p = GenParams(max_new_tokens=300)  # greedy: the same tokens each time
    full = tiny_backend.generate([chat(PROMPTS[6])], p)[0][0]
    n = len(tiny_backend.tok(full, add_special_tokens=False)["input_ids"])
    assert n >= 100, f"the tiny model stops after {n} tokens here: pick a prompt that runs long"
    puts = []
    put = hf._DeltaStreamer.put
    monkeypatch.setattr(hf._DeltaStreamer, "put", lambda self, value: (puts.append(1), put(self, value))[1])
    stream = tiny_backend.stream(chat(PROMPTS[6]), p)
    next(stream)
    stream.close()
    assert tiny_backend._lock.acquire(timeout=120)  # the generation has ended
    tiny_backend._lock.release()
    assert len(puts) < n / 2, (len(puts), n)
