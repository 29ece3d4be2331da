"""ICR, LIDR and RaDis building blocks: implicit reward (by hand and as TRL logs it), the α search,
LIDR pairs, translation parsing, RaDis targets and loss masks."""
import pytest

from labkit.train.selfimprove import choose_alpha, implicit_rewards, lidr_pairs, parse_translation, radis_example


def test_alpha_search_on_constructed_lengths():
    # score grows with length: without control the longest wins and the shortest loses
    groups = [[(0.1 * l, l) for l in (10, 20, 30, 40)], [(0.1 * l + 0.05, l) for l in (12, 22, 32)], [(1.0, 15), (0.5, 15), (0.9, 25)]]
    alpha0, picks0 = choose_alpha(groups, grid=[0.0])
    assert picks0[0] == (3, 0)  # argmax is the longest, argmin the shortest
    alpha, picks = choose_alpha(groups)
    chosen = sum(g[c][1] for g, (c, _) in zip(groups, picks)) / 3
    rejected = sum(g[j][1] for g, (_, j) in zip(groups, picks)) / 3
    gap0 = abs(sum(g[c][1] for g, (c, _) in zip(groups, picks0)) / 3 - sum(g[j][1] for g, (_, j) in zip(groups, picks0)) / 3)
    assert alpha > 0 and abs(chosen - rejected) < gap0
    flat = [[(1.0, 10), (0.0, 10)]]
    assert choose_alpha(flat)[0] == 0.0  # nothing to correct: the smallest α


def test_lidr_pairs_on_a_constructed_example():
    prompts = {"p1": {"en": "Name a fruit.", "zh": "说出一种水果。", "sw": "Taja tunda moja."},
               "p2": {"en": "Translate 'cat' into French.", "zh": "把“猫”翻译成法语。"}}
    answers = {("p1", "en"): "An apple.", ("p1", "zh"): "香蕉。", ("p1", "sw"): "Ndizi.", ("p2", "en"): "Chat.", ("p2", "zh"): "Chat。"}
    to_target = {("p1", "zh"): "一个苹果。", ("p1", "sw"): None}  # the sw translation failed
    to_source = {("p1", "zh"): "A banana.", ("p1", "sw"): "A banana."}
    pairs, stats = lidr_pairs(prompts, answers, to_target, to_source, ["zh", "sw"])
    by = {(p["lang"], p["via"]): p for p in pairs}
    assert by[("en", "zh")]["chosen"] == "An apple." and by[("en", "zh")]["rejected"] == "A banana."
    assert by[("zh", "en")]["chosen"] == "一个苹果。" and by[("zh", "en")]["rejected"] == "香蕉。"
    assert by[("en", "sw")]["rejected"] == "A banana." and ("sw", "en") not in by  # no sw pair without its translation
    assert stats == {"failed_translations": 1, "translation_prompts_skipped": 1, "pairs": 3}


@pytest.mark.parametrize("output,expected", [
    ("<translation>Bonjour</translation>", "Bonjour"),
    ("<translation> Hola mundo", "Hola mundo"),       # ran out of tokens before closing: still a translation
    ("No tags at all", None),
    ("<translation></translation>", None),
    ("<translation>Hello world</translation>", None),  # copied back untranslated
    ("<translation>x</translation>", None),            # far too short for the source
])
def test_translation_parsing(output, expected):
    assert parse_translation(output, source="Hello world") == expected


def test_radis_targets_and_loss_masks(tiny_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_path)
    with_loss = radis_example(tok, "Translate into Chinese: Thank you.", "谢谢。", "It is the usual way to thank someone.", True)
    masked = radis_example(tok, "Translate into Chinese: Thank you.", "谢谢。", "It is the usual way to thank someone.", False)
    assert with_loss["input_ids"] == masked["input_ids"]
    text = tok.decode(with_loss["input_ids"])
    assert text.index("谢谢。") < text.index("usual way") and with_loss["input_ids"][-1] == tok.eos_token_id
    n_ref = len(tok("谢谢。", add_special_tokens=False)["input_ids"])
    n_rat = len(tok("\n\nIt is the usual way to thank someone.", add_special_tokens=False)["input_ids"])
    assert sum(with_loss["completion_mask"]) == n_ref + n_rat + 1 and sum(masked["completion_mask"]) == n_ref + 1
    assert with_loss["completion_mask"][0] == 0  # never a loss on the prompt


def test_implicit_reward_by_hand_and_as_trl_logs_it(tiny_path, tmp_path):
    """β·(Σlog π − Σlog π_ref) with EOS: our batched scoring equals a hand computation, and TRL's DPO logs the
    same value as rewards/chosen on the first step (before any update)."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import DPOConfig, DPOTrainer

    from labkit.backends.hf import HFBackend
    from labkit.models import resolve_model

    pol, ref = HFBackend("tiny", device="cpu"), HFBackend("tiny-ref", device="cpu")
    prompt = pol.render([{"role": "user", "content": "Give one tip for sleeping well."}])
    chosen, rejected = "Keep a regular bedtime.", "Sleep is overrated."
    beta = 0.1
    ours = implicit_rewards(pol, ref, [(prompt, chosen)], beta)[0]

    def by_hand(backend):
        p_ids = backend.tok(prompt)["input_ids"]
        c_ids = backend.tok(chosen, add_special_tokens=False)["input_ids"] + [backend.tok.eos_token_id]
        with torch.no_grad():
            logp = torch.log_softmax(backend.lm(torch.tensor([p_ids + c_ids])).logits[0].float(), -1)
        return sum(float(logp[len(p_ids) + i - 1, t]) for i, t in enumerate(c_ids))

    assert ours == pytest.approx(beta * (by_hand(pol) - by_hand(ref)), abs=1e-4)
    trainer = DPOTrainer(model=AutoModelForCausalLM.from_pretrained(resolve_model("tiny")),
                         ref_model=AutoModelForCausalLM.from_pretrained(resolve_model("tiny-ref")),
                         args=DPOConfig(output_dir=str(tmp_path), max_steps=1, per_device_train_batch_size=1, logging_steps=1, beta=beta,
                                        learning_rate=1e-9, report_to="none", use_cpu=True, bf16=False, gradient_checkpointing=False,
                                        save_strategy="no", max_length=256),
                         train_dataset=Dataset.from_list([{"prompt": prompt, "chosen": chosen, "rejected": rejected}]), processing_class=pol.tok)
    trainer.train()
    logged = next(h for h in trainer.state.log_history if "rewards/chosen" in h)["rewards/chosen"]
    assert logged == pytest.approx(ours, abs=1e-3)
