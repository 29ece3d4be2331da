"""Output in the wrong language is named: a translation that does not read as its target language, and a support
reply not in the user's language, each get a warning (labkit.evaluate.langid under both)."""

from labkit.doctrans.document import language_note
from labkit.support.agent import language_warning


def test_a_translation_into_chinese_that_is_not_chinese_is_named():
    note = language_note("The attention mechanism lets the model look at every word of the sentence.", "zh")
    assert "does not read as Chinese (Simplified) (zh)" in note and "reads as English (en)" in note
    assert language_note("注意力机制让模型在生成每个词时查看句子中的所有词语。", "zh") == ""
    assert language_note("3.14 42", "zh") == ""  # too little text to tell: not judged


def test_a_support_reply_not_in_the_users_language_is_named():
    warning = language_warning("I hear you, and it makes sense that you feel tired after such a week.", "es")
    assert "not in the user's language" in warning and "English" in warning and "Spanish" in warning
    assert language_warning("Te escucho, y tiene sentido que te sientas cansado después de una semana así.", "es") == ""
