"""Support chat through gradio_client: a multi-turn conversation on the tiny model, an override, a crisis
message, the export, and role-play generation."""

import json
from pathlib import Path

import pytest
from labkit.evaluate import langid


def test_multi_turn_conversation(client):
    client.predict(api_name="/support_reset")
    chat, stage, badge, state, dist, box = client.predict(
        "I moved to a new city and I feel lonely.", "(counselor decides)", api_name="/support_send"
    )
    assert (
        chat[0]["role"] == "user"
        and chat[1]["metadata"]["title"].startswith("Strategy: ")
        and chat[2]["role"] == "assistant"
    )
    assert "Stage:" in stage and box == ""
    reply = chat[2]["content"]
    reply = reply if isinstance(reply, str) else " ".join(part.get("text", "") for part in reply)
    if langid.wrong_language(reply, "en", min_letters=12):  # the tiny model's reply, named
        assert "not in the user's language" in badge
    chat, stage, badge, state, dist, _ = client.predict(
        "Nobody here knows me.", "Information", api_name="/support_send"
    )
    assert len(chat) == 6 and chat[4]["metadata"]["title"] == "Strategy: Information" and "**[action]**" in stage
    chat, *_ = client.predict("I want to end my life.", "(counselor decides)", api_name="/support_send")
    content = chat[8]["content"]
    text = content if isinstance(content, str) else " ".join(c.get("text", "") for c in content)
    assert "bypassed" in chat[7]["metadata"]["title"] and "findahelpline.com" in text
    exported = json.loads(Path(client.predict(api_name="/support_export")).read_text())
    assert len(exported["turns"]) == 3 and exported["crisis_flags"] == 1


def test_roleplay_from_the_tab(client):
    path, note, preview = client.predict(
        1, 1, ["en"], "en: I lost my job.", "en: a nurse", api_name="/support_roleplay"
    )
    rec = json.loads(Path(path).read_text().splitlines()[0])
    assert rec["scenario"] == "I lost my job." and rec["persona"] == "a nurse" and "1 dialogues" in note
    assert (
        rec["dialogue_id"] in preview and "I lost my job." in preview and "*Seeker*" in preview
    )  # a preview, not only a file
    # nothing runs now: Cancel says so, and leaves no flag that would stop the next generation
    assert "Nothing to cancel" in client.predict(api_name="/support_roleplay_cancel")
    form = (1, 1, ["en"], "en: I lost my job.", "en: a nurse")
    _path, note, _preview = client.predict(*form, api_name="/support_roleplay")
    assert "Cancelled" not in note and note.startswith("1 dialogues"), note


def test_whitespace_message_is_refused(client):
    with pytest.raises(Exception, match="empty"):
        client.predict("   ", "(counselor decides)", api_name="/support_send")
