"""DMoE on the tiny model: upcycle equivalence, forced stage-1 routing, and the whole journey through the CLI
and the job path (analyze → upcycle → stage 1 → stage 2 → add-language → routing)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"
GROUPS = [["en", "de", "fr"], ["zh", "ja"], ["ru", "ar"]]


@pytest.fixture(scope="module")
def dense(tiny_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(tiny_path).eval(), AutoTokenizer.from_pretrained(tiny_path)


@pytest.fixture(scope="module")
def upcycled(tiny_path, tmp_path_factory):
    from labkit.dmoe.upcycle import upcycle

    out = tmp_path_factory.mktemp("dmoe") / "up"
    upcycle(str(tiny_path), out, GROUPS, [0, 1])
    return out


def test_upcycled_logits_equal_dense(dense, upcycled):
    import torch
    from transformers import AutoModelForCausalLM

    model, tok = dense
    moe = AutoModelForCausalLM.from_pretrained(upcycled).eval()
    assert (
        type(moe).__name__ == "Qwen2MoeForCausalLM"
        and moe.config.num_experts == 3
        and moe.config.num_experts_per_tok == 2
    )
    assert moe.config.mlp_only_layers == [] and moe.config.shared_expert_intermediate_size == 0
    batch = tok(["The sea is calm tonight.", "你好，世界", "Привет"], return_tensors="pt", padding=True)
    random_ids = torch.randint(0, len(tok), (2, 17), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for inputs in (batch, {"input_ids": random_ids}):
            a, b = model(**inputs).logits, moe(**inputs).logits
            assert a.abs().max() > 1  # real logits, not zeros
            assert torch.allclose(a, b, atol=1e-5), (a - b).abs().max()
    # and the router does pick different experts: the equality is not a degenerate routing
    from labkit.dmoe.routing import Routing

    r = Routing(moe)
    with torch.no_grad():
        moe(**batch)
    assert len({int(e) for c in r.choices for e in c[:, 0]}) > 1


def test_only_layers_listed_become_moe(tiny_path, tmp_path):
    from transformers import AutoModelForCausalLM

    from labkit.dmoe.upcycle import upcycle

    upcycle(str(tiny_path), tmp_path / "m", GROUPS, [1])
    moe = AutoModelForCausalLM.from_pretrained(tmp_path / "m")
    assert moe.config.mlp_only_layers == [0]
    assert (
        type(moe.model.layers[0].mlp).__name__ == "Qwen2MoeMLP"
        and type(moe.model.layers[1].mlp).__name__ == "Qwen2MoeSparseMoeBlock"
    )
    meta = json.loads((tmp_path / "m" / "dmoe.json").read_text())
    assert meta["language_to_expert"]["ja"] == 1 and meta["moe_layers"] == [1]


def test_stage1_routes_every_token_of_a_group_batch_to_its_expert(upcycled, dense):
    """A batch of group-g text: every token's first choice is expert g (weight 1) in every MoE layer, and only
    expert g's weights receive a gradient from the LM loss."""
    import torch
    from transformers import AutoModelForCausalLM

    from labkit.dmoe.routing import Routing, router_ce_loss

    _, tok = dense
    moe = AutoModelForCausalLM.from_pretrained(upcycled)
    routing = Routing(moe)
    batch = tok(["你好，世界，今天天气很好", "日本語の文です"], return_tensors="pt", padding=True)
    for g in range(3):
        moe.zero_grad()
        routing.reset()
        routing.forced = torch.full((2,), g)
        out = moe(**batch, labels=batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100))
        assert len(routing.choices) == 2  # both layers are MoE
        assert all(bool((c[:, 0] == g).all()) for c in routing.choices)
        (out.loss + 1.28 * router_ce_loss(routing.logits, routing.forced, batch["attention_mask"])).backward()
        for layer in moe.model.layers:
            grads = layer.mlp.experts.down_proj.grad.abs().sum(dim=(1, 2))
            assert grads[g] > 0 and all(grads[e] == 0 for e in range(3) if e != g), grads
            assert layer.mlp.gate.weight.grad.abs().sum() > 0  # the router learns from the cross-entropy


def test_router_ce_prefers_the_target_expert():
    import torch

    from labkit.dmoe.routing import router_ce_loss

    logits = [torch.tensor([[4.0, 0.0, 0.0]] * 6)]
    assert router_ce_loss(logits, torch.tensor([0, 0])) < 0.1 < router_ce_loss(logits, torch.tensor([1, 1]))
    mask = torch.tensor([[1, 1, 1], [0, 0, 0]])
    assert router_ce_loss(logits, torch.tensor([0, 1]), mask) < 0.1  # padded tokens do not count


def cli(*args, timeout=900):
    p = subprocess.run(
        [sys.executable, "-m", "labkit.cli", "dmoe", *args, "--json"], capture_output=True, text=True, timeout=timeout
    )
    return p.returncode, (json.loads(p.stdout) if p.stdout.strip() else None), p.stderr  # one document, whole


def test_bad_input_exits_2(tiny_path, tmp_path):
    rc, data, _ = cli("analyze", "--model", "tiny", "--languages", "en,xx", "--out", str(tmp_path / "a.json"))
    assert rc == 2 and "xx" in data["error"]
    rc, data, _ = cli(
        "analyze", "--model", "tiny", "--languages", "en,zh", "--groups", "3", "--out", str(tmp_path / "a.json")
    )
    assert rc == 2 and "groups" in data["error"]
    rc, data, _ = cli(
        "upcycle", "--model", "tiny", "--analysis", str(tmp_path / "none.json"), "--out", str(tmp_path / "u")
    )
    assert rc == 2 and "analysis" in data["error"].lower()
    rc, data, _ = cli("add-language", "--model", "tiny", "--language", "sw", "--out", str(tmp_path / "x"))
    assert rc == 2 and "not a DMoE model" in data["error"]


def test_journey(tiny_path, tmp_path, wait_run):
    import torch
    from safetensors.torch import load_file

    from labkit import jobs
    from labkit.dmoe.analysis import language_texts
    from labkit.train import launch, recipe as rmod

    # 1. deviation analysis through the training path
    langs = ["en", "de", "zh", "ja", "ru", "ar"]
    rc, a, err = cli(
        "analyze",
        "--model",
        "tiny",
        "--languages",
        ",".join(langs),
        "--steps",
        "2",
        "--groups",
        "3",
        "--out",
        str(tmp_path / "analysis.json"),
    )
    assert rc == 0, err[-3000:]
    assert json.loads((tmp_path / "analysis.json").read_text())["groups"] == a["groups"]
    assert [r["layer"] for r in a["layers"]] == [0, 1]
    assert all(r["ffn_deviation"] > 0 and r["attn_deviation"] > 0 for r in a["layers"])
    assert sorted(r["normalized"] for r in a["layers"]) == [0.0, 1.0] and a["epsilon"] == 0.6
    assert a["moe_layers"] == [r["layer"] for r in a["layers"] if r["normalized"] >= 0.6]
    assert set(a["similarity"]) == set(langs) and all(a["similarity"][l][l] == 1.0 for l in langs)
    assert all(abs(a["similarity"][x][y] - a["similarity"][y][x]) < 1e-6 for x in langs for y in langs)
    assert sorted(l for g in a["groups"] for l in g) == sorted(langs) and len(a["groups"]) == 3
    assert a["group_algorithm"] == "exhaustive"

    # 2. upcycle from the analysis
    rc, up, err = cli(
        "upcycle", "--model", "tiny", "--analysis", str(tmp_path / "analysis.json"), "--out", str(tmp_path / "up")
    )
    assert rc == 0, err[-3000:]
    assert up["num_experts"] == 3 and up["moe_layers"] == a["moe_layers"] and up["output_dir"] == str(tmp_path / "up")

    # 3. stage 1, then stage 2 from its output, as jobs
    data = [{"text": t, "lang": l} for l in langs for t in language_texts(l)]
    (tmp_path / "text.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in data))
    r1 = rmod.load(
        CONFIGS / "dmoe-stage1-tiny.yaml",
        [
            f"model.name={tmp_path / 'up'}",
            f"data.path={tmp_path / 'text.jsonl'}",
            "method_args={}",
            "trainer.max_steps=4",
        ],
    )
    run1 = launch.launch(r1)
    out1 = Path(run1.run_dir) / "output"
    run1 = wait_run(run1.id)
    assert run1.status == "succeeded", jobs.tail_log(run1.run_dir)[-3000:]
    recs, _ = jobs.read_metrics(run1.run_dir)
    assert any("router_ce" in r and "lm_loss" in r for r in recs)
    routing = json.loads((out1 / "routing.json").read_text())
    assert set(routing["languages"]) == set(langs) and routing["num_experts"] == 3
    assert all(abs(sum(v["experts"]) - 1) < 1e-3 for v in routing["languages"].values())
    assert any(r.get("event") == "routing" for r in recs)
    r2 = rmod.load(
        CONFIGS / "dmoe-stage2-tiny.yaml",
        [f"model.name={out1}", f"data.path={tmp_path / 'text.jsonl'}", "method_args={}", "trainer.max_steps=4"],
    )
    run2 = wait_run(launch.launch(r2).id)
    assert run2.status == "succeeded", jobs.tail_log(run2.run_dir)[-3000:]
    recs, _ = jobs.read_metrics(run2.run_dir)
    assert any("load_balancing" in r for r in recs)
    out2 = Path(run2.run_dir) / "output"
    assert json.loads((out2 / "dmoe.json").read_text())["stage"] == 2

    # 4. a new language: expert picked by perplexity, copied, only MoE parameters trained
    rc, add, err = cli(
        "add-language", "--model", str(out2), "--language", "ko", "--steps", "2", "--out", str(tmp_path / "ko")
    )
    assert rc == 0, err[-3000:]
    assert add["status"] == "succeeded" and add["new_expert"] == 3 and add["num_experts"] == 4
    ppl = add["perplexities"]
    assert add["copied_expert"] == min(range(3), key=lambda e: ppl[str(e)])
    assert set(add["routing"]) == set(langs) | {"ko"} and len(add["routing"]["ko"]["experts"]) == 4
    before, after = (
        load_file(str(tmp_path / "ko" / "model" / "model.safetensors")),
        load_file(str(tmp_path / "ko" / "trained" / "model.safetensors")),
    )
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved and all(".mlp.experts." in k or ".mlp.gate." in k for k in moved), moved
    for l in up[
        "moe_layers"
    ]:  # the new expert started as a copy of the chosen one (saved per expert, as Hub Qwen2MoE checkpoints are)
        for w in ("gate_proj", "up_proj", "down_proj"):
            assert torch.equal(
                before[f"model.layers.{l}.mlp.experts.3.{w}.weight"],
                before[f"model.layers.{l}.mlp.experts.{add['copied_expert']}.{w}.weight"],
            )


def test_stage_resumes_from_its_checkpoint(upcycled, tmp_path, capsys):
    """A stage killed after its checkpoint continues from it (same run folder), rather than starting over."""
    from labkit.dmoe.train import run_stage1
    from labkit.jobs import read_metrics
    from labkit.train import recipe as rmod

    over = [f"model.name={upcycled}", "trainer.save_steps=2", "trainer.max_steps=2"]
    r = rmod.load(CONFIGS / "dmoe-stage1-tiny.yaml", over)
    # the upcycled model serves en/de/fr, zh/ja, ru/ar: keep those rows
    rows = [
        l
        for l in (CONFIGS.parent / "train-data" / "dmoe-text-tiny.jsonl").read_text().splitlines()
        if json.loads(l)["lang"] in {x for g in GROUPS for x in g}
    ]
    (tmp_path / "t.jsonl").write_text("\n".join(rows) + "\n")
    r.data["path"] = str(tmp_path / "t.jsonl")
    run_dir, out = tmp_path / "run", tmp_path / "run" / "output"
    run_stage1(r, run_dir, out)
    assert (out / "checkpoint-2" / "trainer_state.json").exists()
    r.trainer["max_steps"] = 4
    final = run_stage1(r, run_dir, out, resume=True)
    assert "resuming from" in capsys.readouterr().out and final["step"] == 4
    steps = [m["step"] for m in read_metrics(run_dir)[0] if "lm_loss" in m]
    assert steps == [1, 2, 3, 4]  # steps 1–2 were not trained again
