"""Cancel inside a page, glossary misses named, the vlm engine's one-sentence refusal of text-only models,
and the bundled examples."""

import threading

import pytest

from labkit.doctrans import document, translate
from labkit.doctrans.translate import Cancelled, Memory, translate_texts
from labkit.errors import LabkitError

from fakes import FakeBackend


def test_cancel_stops_inside_a_page_and_keeps_what_was_done(tmp_path):
    flag = threading.Event()
    backend = FakeBackend(lambda text: flag.set() or f"译文 {text}")  # the user's Cancel comes during the first call
    texts = [f"Block number {k} of one long page." for k in range(3 * translate.CHUNK)]
    memory = Memory(tmp_path / "tm.sqlite")
    with pytest.raises(Cancelled) as err:
        translate_texts(texts, backend, "m", "zh", memory=memory, cancel=flag)
    assert len(backend.batches) == 1  # the page had three chunks; two were never sent
    assert isinstance(err.value, LabkitError) and "cancelled" in err.value.message.lower()
    keys = [Memory.key(t, None, "zh", "m", {"glossary": {}, "domain": ""}) for t in texts]
    assert len(memory.get(keys)) == translate.CHUNK  # the finished chunk is in the translation memory


def test_glossary_note_names_the_block_and_the_term():
    stats = {
        "glossary_missing_blocks": [
            {
                "page": 1,
                "block": 3,
                "text": "Attention is what the model uses everywhere in it.",
                "terms": ["attention"],
            }
        ]
    }
    note = document.glossary_note(stats, {"attention": "注意力"})
    assert note == (
        "1 block missing a glossary term: page 1, block 3 («Attention is what the model uses everywh…») "
        "lacks attention → 注意力"
    )
    assert document.glossary_note({"glossary_missing_blocks": []}) == ""
