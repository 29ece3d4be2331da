"""An uploaded file that cannot be read is named by its file name alone: Gradio's temporary upload folder is a
server path, and no error message may show it."""

import os

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError


@pytest.mark.parametrize(
    "api, args",
    [
        ("/trace_eval", ("heuristic", "union", 10)),  # TROVE JSONL: the parser names the file and the line
        ("/support_pairs", ()),  # dialogues JSONL
    ],
)
def test_a_bad_upload_is_named_without_its_server_path(client, tmp_path, api, args):
    bad = tmp_path / "my-upload.jsonl"
    bad.write_text('{"id": 1}\n{"broken": \n', encoding="utf-8")
    with pytest.raises(AppError) as e:
        client.predict(handle_file(str(bad)), *args, api_name=api)
    message = str(e.value)
    assert "my-upload.jsonl" in message, message
    assert os.environ["GRADIO_TEMP_DIR"] not in message and "/" + "my-upload" not in message, message


def test_hide_upload_dirs_keeps_the_file_name_only(monkeypatch, tmp_path):
    from labkit.ui.common import hide_upload_dirs

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    text = f"Cannot read '{tmp_path}/gradio/0a1b2c/my data.csv': bad; see {tmp_path}/gradio/x/y/z.jsonl, line 2"
    assert hide_upload_dirs(text) == "Cannot read 'my data.csv': bad; see z.jsonl, line 2"
    assert hide_upload_dirs(f"{tmp_path}/gradiox/a.csv") == f"{tmp_path}/gradiox/a.csv"  # another folder: kept
