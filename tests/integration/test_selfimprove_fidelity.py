"""Self-improvement fidelity on the tiny model: what TRL actually trains on for RaDis, the implicit reward as TRL
logs it, and the backend's truncation flag that ICR relies on."""

from pathlib import Path

import pytest

from labkit.train import recipe as rmod
from labkit.train.methods import icr, radis
from labkit.train.methods.radis import RaDisArgs

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"
ROWS = [
    {"source": "Thank you.", "reference": "谢谢。", "rationale": "It is the usual way to thank someone."},
    {"source": "Where is the station?", "reference": "车站在哪里？", "rationale": "A question about a place."},
]


@pytest.mark.parametrize("rationale_loss", [True, False])
def test_radis_batches_from_trls_collator_learn_only_the_completion(tiny_path, tmp_path, rationale_loss):
    """TRL 1.16 resolves completion_only_loss to False for pre-tokenised data, so a completion_mask alone was ignored
    and the loss covered the prompt. The batch the SFT trainer's own collator builds must have -100 on the prompt
    (and on the rationale when rationale_loss is off), and the token ids everywhere else."""
    from labkit.train.worker import build_trainer

    recipe = rmod.load(CONFIGS / "radis-tiny.yaml", [f"method_args.rationale_loss={str(rationale_loss).lower()}"])
    args = RaDisArgs(rationale_loss=rationale_loss)
    trainer = build_trainer(
        radis.radis_sft_recipe(recipe), tmp_path, tmp_path / "out", dataset=_dataset(tiny_path, args)
    )
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(ROWS))])
    tok = trainer.processing_class
    for b, row in enumerate(ROWS):
        prompt = tok.apply_chat_template(
            [
                {
                    "role": "user",
                    "content": args.translate_prompt.format(src="English", tgt="Chinese (Simplified)", **row),
                }
            ],
            tokenize=False,
            add_generation_prompt=True,
        )
        n_p = len(tok(prompt, add_special_tokens=False)["input_ids"])
        n_ref = len(tok(row["reference"], add_special_tokens=False)["input_ids"])
        n_rat = len(tok("\n\n" + row["rationale"], add_special_tokens=False)["input_ids"])
        ids, labels = batch["input_ids"][b].tolist(), batch["labels"][b].tolist()
        n = n_p + n_ref + n_rat + 1
        assert labels[:n_p] == [-100] * n_p  # the prompt: never learned
        assert labels[n_p : n_p + n_ref] == ids[n_p : n_p + n_ref] and labels[n - 1] == tok.eos_token_id
        rationale = labels[n_p + n_ref : n - 1]
        assert rationale == (ids[n_p + n_ref : n - 1] if rationale_loss else [-100] * n_rat)
        assert labels[n:] == [-100] * (len(labels) - n)  # padding


def _dataset(tiny_path, args):
    from transformers import AutoTokenizer

    return radis.radis_dataset(
        AutoTokenizer.from_pretrained(tiny_path), [{**r, "src_lang": "en", "tgt_lang": "zh"} for r in ROWS], args
    )


def test_radis_example_labels(tiny_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_path)
    rationale = "It is the usual way to thank someone."
    with_loss = radis.radis_example(tok, "Translate into Chinese: Thank you.", "谢谢。", rationale, True)
    masked = radis.radis_example(tok, "Translate into Chinese: Thank you.", "谢谢。", rationale, False)
    assert with_loss["input_ids"] == masked["input_ids"] and "completion_mask" not in with_loss
    text = tok.decode(with_loss["input_ids"])
    assert text.index("谢谢。") < text.index("usual way") and with_loss["input_ids"][-1] == tok.eos_token_id
    n_rat = len(tok("\n\n" + rationale, add_special_tokens=False)["input_ids"])
    learned = sum(x != -100 for x in with_loss["labels"])
    assert learned - sum(x != -100 for x in masked["labels"]) == n_rat


def test_implicit_reward_by_hand_and_as_trl_logs_it(tiny_path, tmp_path):
    """β·(Σlog π − Σlog π_ref) with EOS: our batched scoring equals a hand computation, and TRL's DPO logs the
    same value as rewards/chosen on the first step (before any update)."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import DPOConfig, DPOTrainer

    from labkit.backends.hf import HFBackend
    from labkit.models import resolve_model
    from labkit.train.worker import make_config

    pol, ref = HFBackend("tiny", device="cpu"), HFBackend("tiny-ref", device="cpu")
    prompt = pol.render([{"role": "user", "content": "Give one tip for sleeping well."}])
    chosen, rejected = "Keep a regular bedtime.", "Sleep is overrated."
    beta = 0.1
    ours = icr.implicit_rewards(pol, ref, [(prompt, chosen)], beta)[0]

    def by_hand(backend):
        p_ids = backend.tok(prompt)["input_ids"]
        c_ids = backend.tok(chosen, add_special_tokens=False)["input_ids"] + [backend.tok.eos_token_id]
        with torch.no_grad():
            logp = torch.log_softmax(backend.lm(torch.tensor([p_ids + c_ids])).logits[0].float(), -1)
        return sum(float(logp[len(p_ids) + i - 1, t]) for i, t in enumerate(c_ids))

    assert ours == pytest.approx(beta * (by_hand(pol) - by_hand(ref)), abs=1e-4)
    trainer = DPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(resolve_model("tiny")),
        ref_model=AutoModelForCausalLM.from_pretrained(resolve_model("tiny-ref")),
        args=make_config(  # gradient_checkpointing under the name this transformers knows it by
            DPOConfig,
            dict(
                output_dir=str(tmp_path),
                max_steps=1,
                per_device_train_batch_size=1,
                logging_steps=1,
                beta=beta,
                learning_rate=1e-9,
                report_to="none",
                use_cpu=True,
                bf16=False,
                gradient_checkpointing=False,
                save_strategy="no",
                max_length=256,
            ),
        ),
        train_dataset=Dataset.from_list([{"prompt": prompt, "chosen": chosen, "rejected": rejected}]),
        processing_class=pol.tok,
    )
    trainer.train()
    logged = next(h for h in trainer.state.log_history if "rewards/chosen" in h)["rewards/chosen"]
    assert logged == pytest.approx(ours, abs=1e-3)


def test_hf_backend_marks_replies_cut_at_max_new_tokens(tiny_backend):
    """The same seeded samples with a small budget and with a large one: a reply that ended within the budget is
    the whole reply (not truncated); one that was cut is the start of the whole reply (truncated). A budget of one
    token leaves an ended reply empty (the end-of-turn token alone)."""
    from labkit.backends import GenParams

    prompts = [[{"role": "user", "content": p}] for p in ("Hi.", "给出一个建议。", "Habari?")]
    whole = [
        c
        for o in tiny_backend.generate(prompts, GenParams(max_new_tokens=500, temperature=1.0, n=16, seed=3))
        for c in o
    ]
    kinds = set()
    for budget in (1, 4, 16):
        outs = tiny_backend.generate(prompts, GenParams(max_new_tokens=budget, temperature=1.0, n=16, seed=3))
        for cut, full in zip([c for o in outs for c in o], whole, strict=True):
            kinds.add(cut.truncated)
            if cut.truncated:  # cut mid-character, the text ends in U+FFFD where the whole reply goes on
                assert str(full).startswith(str(cut).rstrip("\ufffd")), (budget, cut, full)
            else:
                assert str(cut) == str(full) and not full.truncated and (budget > 1 or cut == ""), (budget, cut, full)
    assert kinds == {True, False}  # replies of the tiny model run from a few tokens to hundreds
