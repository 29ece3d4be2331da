"""Hand-computed checks for labkit.doctrans.metrics (offline, fast)."""

import pytest

from labkit.doctrans import metrics as m
from labkit.doctrans.metrics import Node
from labkit.errors import LabkitError

DOC = """# Title

First paragraph of the page,
continued on a second line.

## Section

- item one
- item two

| a | b |
|---|---|
| 1 | 2 |

Closing paragraph.
"""


def labels(node: Node):
    return (node.label, [labels(c) for c in node.children]) if node.children else node.label


def test_identical_text_scores_perfect():
    text = "The quick brown fox jumps over the lazy dog near the river bank."
    assert m.bleu([text], [text], "en") == pytest.approx(100.0)
    assert m.chrf([text], [text]) == pytest.approx(100.0)
    out = m.evaluate_pairs([(DOC, DOC)], "en")
    for key in ("bleu", "chrf", "bleu_pt"):
        assert out["corpus"][key] == pytest.approx(100.0)
        assert out["pages"][0][key] == pytest.approx(100.0)
    assert out["corpus"]["steds"] == out["pages"][0]["steds"] == 1.0


def test_strip_tables_and_math():
    md = (
        "Energy is $E = mc^2$ and \\(a+b\\) here.\n\n"
        "| x | y |\n| --- | --- |\n| 1 | 2 |\n\n"
        "$$\n\\int_0^1 x\\,dx\n$$\n\n"
        "\\[ y = x \\]\n\n"
        "<table><tr><td>cell</td></tr></table>\n\n"
        "Costs $5 and $10 stay.\nEnd."
    )
    assert m.strip_tables_and_math(md) == "Energy is and here.\n\nCosts $5 and $10 stay.\nEnd."


def test_bleu_pt_is_bleu_of_stripped_texts():
    ref = "We measure $x^2$ in the lab.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nThe result is stable over time."
    pred = "We measure $y$ in a lab.\n\n| a | c |\n|---|---|\n| 3 | 4 |\n\nThe result is stable over many days."
    out = m.evaluate_pairs([(pred, ref)], "en")
    expected = m.bleu([m.strip_tables_and_math(pred)], [m.strip_tables_and_math(ref)], "en")
    assert out["corpus"]["bleu_pt"] == pytest.approx(expected)
    assert out["corpus"]["bleu_pt"] != pytest.approx(out["corpus"]["bleu"])


def test_chinese_uses_zh_tokenizer():
    ref, pred = "我喜欢吃苹果和西瓜", "我喜欢吃苹果和香蕉"  # unsegmented; one word differs
    score = m.bleu([pred], [ref], "zh")
    assert 20.0 < score < 100.0
    assert m.bleu([pred], [ref], "en") == 0.0  # 13a sees one token per sentence: no match
    assert m._tokenizer("zh-CN") == "zh"
    assert [m._tokenizer(x) for x in ("ja", "ko", "th", "de")] == ["char", "char", "char", "13a"]


def test_markdown_tree_labels():
    assert labels(m.markdown_tree(DOC)) == (
        "root", [("h1", ["paragraph", ("h2", ["list", "table", "paragraph"])])]
    )
    md = "Intro.\n\n```python\n# not a heading\n```\n\n$$\nx\n$$\n\n## Deep\n\n# Top\n\n<table>\n<tr></tr>\n</table>"
    assert labels(m.markdown_tree(md)) == ("root", ["paragraph", "code", "math", "h2", ("h1", ["table"])])
    assert m.markdown_tree("") == Node("root")


def test_list_spans_blank_lines_and_lazy_lines():
    md = "1. first\ncontinued\n\n2. second\n\nAfter."
    assert labels(m.markdown_tree(md)) == ("root", ["list", "paragraph"])


def test_tree_edit_distance_small_trees():
    a = Node("root", [Node("p"), Node("h1", [Node("p")])])
    b = Node("root", [Node("p"), Node("h1", [Node("p"), Node("list")])])
    c = Node("root", [Node("p"), Node("h1", [Node("table")])])
    assert m.tree_edit_distance(a, a) == 0
    assert m.tree_edit_distance(a, b) == m.tree_edit_distance(b, a) == 1  # insert one node
    assert m.tree_edit_distance(a, c) == 1  # relabel
    assert m.tree_edit_distance(Node("r"), Node("r", [Node("x"), Node("y")])) == 2
    # deleting an inner node promotes its children: root(h1(p, p)) → root(p, p) is one delete
    assert m.tree_edit_distance(Node("r", [Node("h1", [Node("p"), Node("p")])]), Node("r", [Node("p"), Node("p")])) == 1


def test_steds_one_paragraph_turned_into_list():
    ref = "# T\n\nOne.\n\n## S\n\nTwo.\n\nThree."
    pred = "# T\n\nOne.\n\n## S\n\nTwo.\n\n- Three."
    # tree: root → h1 → (paragraph, h2 → (paragraph, paragraph)): N = 6 nodes; one relabel → TED 1
    assert m.steds(pred, ref) == pytest.approx(1 - 1 / 6)
    assert m.steds("", "") == 1.0
    assert m.steds("", ref) == pytest.approx(1 - 5 / 6)  # insert 5 nodes into the bare root


def test_evaluate_folder_with_missing_prediction(tmp_path):
    (tmp_path / "page1.png").write_bytes(b"")
    (tmp_path / "page2.jpg").write_bytes(b"")
    (tmp_path / "page1.zh.md").write_text("# 标题\n\n我喜欢吃苹果和西瓜。\n", encoding="utf-8")
    (tmp_path / "page2.zh.md").write_text("今天天气很好。\n", encoding="utf-8")
    (tmp_path / "pred").mkdir()
    (tmp_path / "pred" / "page1.md").write_text("# 标题\n\n我喜欢吃苹果和香蕉。\n", encoding="utf-8")
    out = m.evaluate_folder(tmp_path, "zh")
    assert out["missing"] == ["page2"] and out["lang"] == "zh" and out["n_pages"] == 2
    assert [p["page"] for p in out["pages"]] == ["page1", "page2"]
    for key in ("bleu", "chrf", "bleu_pt"):
        assert 0.0 < out["corpus"][key] < 100.0
    assert 0.0 <= out["corpus"]["steds"] <= 1.0
    assert out["pages"][1]["bleu"] == 0.0 and out["pages"][0]["steds"] == 1.0
    other = tmp_path / "elsewhere"
    other.mkdir()
    assert m.evaluate_folder(tmp_path, "zh", predictions=str(other))["missing"] == ["page1", "page2"]


def test_no_references_raises(tmp_path):
    (tmp_path / "page1.png").write_bytes(b"")
    (tmp_path / "page1.de.md").write_text("Hallo.", encoding="utf-8")
    with pytest.raises(LabkitError) as err:
        m.evaluate_folder(tmp_path, "zh")
    assert "zh" in err.value.message and "page1.zh.md" in err.value.hint
    with pytest.raises(LabkitError):
        m.evaluate_folder(tmp_path / "nope", "zh")
