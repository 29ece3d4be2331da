"""Train tab through gradio_client: load a recipe, sync form and YAML (comments kept), validate, preview, launch
a run and read its metrics, cancel, export, compare; recipes confined to the allowed folders."""

import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from gradio_client.exceptions import AppError
import yaml

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"
# form fields, in order: name, method, model, data, lr, max_steps, batch, lora_r, processes, strategy, push
STEPS, DATA = 5, 3


def load(client, choice="configs/train/dpo-tiny.yaml"):
    text, _synced, *values = client.predict(choice, api_name="/train_load_recipe")
    return text, values


def typed(client, text, values, synced=None):
    """The editor after the form's values were written in, as a click does before its handler runs (synced None:
    every field that differs from the editor wins)."""
    edited, now_synced = client.predict(text, synced, *values, api_name="/train_form_to_yaml")
    assert now_synced == list(values)
    return edited


def test_recipe_form_yaml_and_checks(client):
    text, values = load(client)
    assert (
        values[:4] == ["dpo-tiny", "dpo", "tiny", "../train-data/dpo-tiny.jsonl"] and values[STEPS] == 6
    )  # max_steps from base:
    assert (
        text.startswith("# Direct preference optimisation") and "base: _base-tiny.yaml" in text
    )  # the file as written
    *form, synced, note = client.predict(
        text.replace("beta: 0.1", "beta: 0.1\n  max_steps: 2"), values, api_name="/train_yaml_to_form"
    )
    assert synced[STEPS] == 2 and form[STEPS] == 2 and note == ""
    text, values = load(client)
    edited = typed(client, text, ["renamed", *values[1:4], 0.01, 3, *values[6:]], synced=values)
    data = yaml.safe_load(edited)
    assert data["name"] == "renamed" and data["trainer"]["learning_rate"] == 0.01 and data["trainer"]["max_steps"] == 3
    assert edited.startswith("# Direct preference optimisation") and "base: _base-tiny.yaml" in edited  # comments kept
    assert "Ready to launch" in client.predict(text, api_name="/train_validate")
    bad = client.predict(text.replace("beta: 0.1", "beta: 0.1\n  betta: 2"), api_name="/train_validate")
    assert "betta" in bad and "did you mean" in bad
    assert "labkit.train.worker" in client.predict(text, api_name="/train_preview")
    with pytest.raises(Exception, match="line 1, column 7"):
        client.predict("name: [broken", api_name="/train_validate")
    assert "#SBATCH --nodes=2" in client.predict(text, 2, 4, api_name="/train_export_slurm")
    hub_data = values[:DATA] + ["me/dpo-data"] + values[DATA + 1 :]  # a Job reads Hub data, not this machine's
    job = client.predict(typed(client, text, hub_data), "t4-small", api_name="/train_export_hf_jobs")
    assert "hf jobs uv run --flavor t4-small" in job and "--secrets HF_TOKEN" in job and "me/dpo-data" in job
    with pytest.raises(AppError, match="a file on this machine, which a Job cannot read"):
        client.predict(text, "t4-small", api_name="/train_export_hf_jobs")


def test_a_typed_field_reaches_validate_through_the_click_sync(client):
    text, values = load(client)
    typed_values = values[:DATA] + ["../train-data/nowhere.jsonl"] + values[DATA + 1 :]  # typed in the Data field
    found = client.predict(typed(client, text, typed_values), api_name="/train_validate")
    assert "No data file configs/train-data/nowhere.jsonl" in found  # and no absolute server path
    assert str(CONFIGS.parent) not in found
    cleared = values[:STEPS] + [None] + values[STEPS + 1 :]
    with pytest.raises(Exception, match="Max steps is empty"):
        typed(client, text, cleared)
    with pytest.raises(Exception, match="Run name"):
        client.predict(typed(client, text, ["two words", *values[1:]]), api_name="/train_launch")


def test_recipes_cannot_read_server_files(client, tmp_path):
    text, values = load(client)
    secret = tmp_path / "secret.yaml"
    secret.write_text("root:x:0:0: top secret line\n")
    for choice in (str(secret), str(tmp_path / "absent.yaml"), "configs/../../../etc/passwd"):
        with pytest.raises(AppError) as err:
            client.predict(choice, api_name="/train_load_recipe")
        assert "is not in a folder recipes may read" in str(err.value) and "top secret" not in str(err.value)
    for line in (f"base: {secret}", "data: {path: /etc/passwd.jsonl}", "output: {dir: /tmp/elsewhere}"):
        with pytest.raises(AppError) as err:
            client.predict(f"{line}\nname: x\nmethod: sft\n", api_name="/train_validate")
        assert "is not in a folder recipes may read" in str(err.value) and "top secret" not in str(err.value)
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefg", "bcdefgh")
    )
    with pytest.raises(Exception, match="aliases are expanded"):
        client.predict(bomb + "name: x\nmethod: sft\n", api_name="/train_validate")


def test_launch_and_follow(client, tiny_path):
    text, values = load(client, "configs/train/sft-tiny.yaml")
    values[STEPS] = 3
    rid, note, _, table = client.predict(typed(client, text, values), api_name="/train_launch")
    assert rid.startswith("train-") and rid in [r[0] for r in table["data"]]  # the runs table shows it at once
    for _ in range(240):
        status, log, _t, picks, plot, table = client.predict(rid, [], False, api_name="/train_attach")
        if "succeeded" in status or "failed" in status:
            break
        time.sleep(0.5)
    assert "succeeded" in status and "step 3/3" in status and "left" not in status, status + log
    assert "loss" in (picks["value"] if isinstance(picks, dict) else picks)
    first_picks = picks
    assert plot is not None and "exit code 0" in log and rid in [r[0] for r in table["data"]]
    table, _ = client.predict(api_name="/train_runs")
    assert rid in [r[0] for r in table["data"]]
    assert client.predict([rid], "loss", api_name="/train_compare") is not None
    # the page's timer (`/train_follow`) sends the log and the charts only when they changed since its last look:
    # a Plot given its own figure again is drawn anew every 2 s; the status line always comes
    status, log, _t, picks, plot, table = client.predict(rid, [], False, api_name="/train_follow")
    assert "succeeded" in status and [log, picks, plot, table] == [{"__type__": "update"}] * 4
    other = next(c[0] if isinstance(c, list) else c for c in first_picks["choices"] if "loss" not in str(c))
    status, log, _t, picks, plot, table = client.predict(rid, [other], False, api_name="/train_follow")
    assert log == {"__type__": "update"} and plot != {"__type__": "update"}  # another curve asked for is drawn
    status, log, _t, picks, plot, table = client.predict(rid, [], False, api_name="/train_attach")  # all, always
    assert "exit code 0" in log and rid in [r[0] for r in table["data"]]


def test_cancel_reads_cancelled_without_an_eta(client, tiny_path):
    text, values = load(client, "configs/train/sft-tiny.yaml")
    values[STEPS] = 100000
    rid = client.predict(typed(client, text, values), api_name="/train_launch")[0]
    for _ in range(240):
        status = client.predict(rid, [], False, api_name="/train_attach")[0]
        if "running" in status and "step 0/" not in status:
            break
        time.sleep(0.5)
    assert "left" in status  # a running run has an ETA
    note = client.predict(rid, api_name="/train_cancel")
    assert "cancelled" in note
    table, _ = client.predict(api_name="/train_runs")
    assert [r[2] for r in table["data"] if r[0] == rid] == ["cancelled"]
    status = client.predict(rid, [], False, api_name="/train_attach")[0]
    assert status.startswith("**cancelled**") and "left" not in status and "Error" not in status


def test_reattach_follows_the_run_asked_for(settings, tiny_path):
    """?run=ID in the page address, else the newest running run."""
    from labkit import jobs
    from labkit.store import open_store
    from labkit.train import launch, recipe as rmod
    import gradio as gr

    from labkit.ui.runpanel import RunPanel
    from labkit.ui.tabs.train import FORM, Train

    store = open_store(settings)
    r = rmod.load(CONFIGS / "sft-tiny.yaml", ["name=asked-for", "trainer.max_steps=1"])
    run = launch.launch(r, settings=settings, validate=False)
    h = Train(SimpleNamespace(settings=settings, store=store))
    newer = launch.launch(
        rmod.load(CONFIGS / "sft-tiny.yaml", ["name=newer", "trainer.max_steps=1000"]),
        settings=settings,
        validate=False,
    )
    with gr.Blocks():
        panel = RunPanel(SimpleNamespace(settings=settings, store=store), "train")
    rid, _timer = panel.reattach(SimpleNamespace(query_params={"run": run.id}))
    out = h.restore(rid)
    assert rid == run.id and "name: asked-for" in out[1] and out[4] == "asked-for" and len(out) == 4 + len(FORM)
    assert panel.reattach(SimpleNamespace(query_params={}))[0] == newer.id
    assert panel.reattach(SimpleNamespace(query_params={"run": "no-such-run"}))[0] == newer.id
    for r in (run, newer):
        jobs.cancel(r.id, settings)


def test_pipeline_stages_and_files(client, tiny_path):
    text, values = load(client, "configs/train/radis-tiny.yaml")
    rid = client.predict(text.replace("max_steps: 3", "max_steps: 1"), api_name="/train_launch")[0]
    for _ in range(240):
        status = client.predict(rid, [], False, api_name="/train_attach")[0]
        if "succeeded" in status or "failed" in status:
            break
        time.sleep(0.5)
    assert "succeeded" in status
    stages, files, fig = client.predict(rid, api_name="/train_stages")
    assert [r[1] for r in stages["data"]] == ["rationales.jsonl", "model"] and all(
        r[2] == "done" for r in stages["data"]
    )
    rows = client.predict(rid, "round1/rationales.jsonl", api_name="/train_stage_file")
    assert len(rows["data"]) == 4 and "rationale" in rows["headers"]
    with pytest.raises(AppError, match="(?i)not in the list of choices"):
        client.predict(rid, "../../recipe.yaml", api_name="/train_stage_file")
