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


# Hand-written pages (reference, prediction). The expected numbers come from running M4Doc's codes/evaluate.py
# (github.com/liangyupu/M4Doc) on these files, with the prediction jieba-segmented like the reference, in a
# scratch folder outside this repository (jieba 0.42.1, sacrebleu 2.x, zss 1.2.0).
M4DOC_PAGES = [
    (
        "# 引言\n\n深度学习在机器翻译中取得了显著进展。\n\n"
        "我们提出一种新的**文档图像**翻译方法，损失为 \\(L = x_1 + y\\) 。\n\n"
        "## 方法\n\n模型由编码器和解码器组成。\n\n\\[ E = m c^2 \\]\n\n"
        "\\begin{table}\n\\begin{tabular}{cc}\nA & B \\\\\n1 & 2\n"
        "\\end{tabular}\n\\end{table}\n\n实验表明该方法有效。\n",
        "# 引言\n\n深度学习在机器翻译领域取得了很大进展。\n\n"
        "我们提出一种新的文档图像翻译方法，损失为 \\(L = x_1 + z\\) 。\n\n"
        "## 方法\n\n模型包括编码器和解码器。\n\n\\[ E = m c^2 \\]\n\n"
        "\\begin{table}\n\\begin{tabular}{cc}\nA & C \\\\\n3 & 4\n"
        "\\end{tabular}\n\\end{table}\n\n实验证明这种方法有效。\n",
    ),
    (
        "摘要：本文研究多语言大模型。\n\n第二段没有标题。\n\n# 结论\n\n我们的结论如下。\n\n未来工作包括更多语言。\n",
        "摘要：本文研究多语言大型模型。\n\n# 结论\n\n我们的结论如下。\n\n"
        "- 未来的工作包括更多语言。\n\n# 致谢\n\n感谢审稿人。\n",
    ),
    (
        "## 相关工作\n\n文档翻译 (DIMT) 是一个新任务。\n\n## 相关工作\n\n重复的标题。\n",
        "## 相关工作\n\n文档图像翻译（DIMT）是一项新任务。\n",
    ),
]
M4DOC_CORPUS = {"bleu": 64.4215, "bleu_pt": 52.4221, "steds": 76.3889}
M4DOC_PAGE = [
    {"bleu": 73.7583, "bleu_pt": 62.3114, "steds": 100.0},
    {"bleu": 56.0848, "bleu_pt": 56.0848, "steds": 62.5},
    {"bleu": 14.5683, "bleu_pt": 14.5683, "steds": 66.6667},
]


def test_reproduces_m4doc_reference_numbers():
    out = m.evaluate_pairs([(pred, ref) for ref, pred in M4DOC_PAGES], "zh")
    assert out["protocol"] == "m4doc"
    for key, value in M4DOC_CORPUS.items():
        assert out["corpus"][key] == pytest.approx(value, abs=1e-3), key
    for (ref, pred), expected in zip(M4DOC_PAGES, M4DOC_PAGE):  # one-page corpora
        one = m.evaluate_pairs([(pred, ref)], "zh")["corpus"]
        assert {k: round(one[k], 4) for k in expected} == pytest.approx(expected, abs=1e-3)


def test_m4doc_tree_follows_the_reference_quirks():
    # lines before the first heading go under TITLE; a repeated heading text collects the lines of both
    tree = m.m4doc_tree(M4DOC_PAGES[2][0])
    shape = lambda n: (n.label, [shape(c) for c in n.children])
    assert shape(tree) == (
        "ROOT",
        [
            ("TITLE", []),
            (" 相关工作", [("文档翻译 (DIMT) 是一个新任务。", []), ("重复的标题。", [])]),
            (" 相关工作", []),
        ],
    )
    assert m.steds(M4DOC_PAGES[0][1], M4DOC_PAGES[0][0]) == 1.0  # same structure, other words: labels do not count


def test_m4doc_cleaning_and_pure_text():
    # as the reference: one space removed after "{", "*" and "_" become spaces
    assert m.pre_clean("a <eos>b ##c \\ ( x \\ ) {  y } * * z_w\n") == "a bc \\( x \\) { y}  z w "
    segmented = m.segment("我喜欢苹果\n\n\n好", "zh")
    assert segmented == "我 喜欢 苹果 \n\n 好 \n\n"
    assert m.segment("Hello world\n", "de") == "Hello world \n\n"
    cleaned = m.bleu_text("# 标题\n\n公式 \\(x\\) 和 \\[ y \\] 。\n\\begin{tabular}{c}1\\end{tabular}", "zh")
    assert "#" not in cleaned and "\\( x \\)" in cleaned
    assert m.strip_latex_tables_and_math(cleaned).split() == ["标题", "公式", "和", "。"]


def test_identical_pages_score_100_and_variants_stay_apart():
    out = m.evaluate_pairs([(DOC, DOC)], "en")
    for key in ("bleu", "chrf", "bleu_pt", "bleu_pt_md", "steds", "steds_blocks"):
        assert out["corpus"][key] == pytest.approx(100.0), key
        assert out["pages"][0][key] == pytest.approx(100.0), key


def test_bleu_scores_raw_chinese_after_jieba():
    ref, pred = "我喜欢吃苹果和西瓜", "我喜欢吃苹果和香蕉"  # raw model text; one word differs
    assert 20.0 < m.bleu([pred], [ref], "zh") < 100.0
    assert m.bleu([pred], [ref], "de") == 0.0  # without a segmenter 13a sees one token per page: no match
    assert [m._tokenizer(x) for x in ("zh-CN", "ja", "ko", "th", "de")] == ["13a", "char", "char", "char", "13a"]


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


def test_bleu_pt_md_also_strips_markdown_tables_and_dollar_math():
    ref = "We measure $x^2$ in the lab.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nThe result is stable over time."
    pred = "We measure $y$ in a lab.\n\n| a | c |\n|---|---|\n| 3 | 4 |\n\nThe result is stable over many days."
    out = m.evaluate_pairs([(pred, ref)], "en")
    expected = m.bleu([m.strip_tables_and_math(pred)], [m.strip_tables_and_math(ref)], "en")
    assert out["corpus"]["bleu_pt_md"] == pytest.approx(expected)
    assert out["corpus"]["bleu_pt"] == pytest.approx(out["corpus"]["bleu"])  # M4Doc's BLEU-PT ignores Markdown tables
    assert out["corpus"]["bleu_pt_md"] != pytest.approx(out["corpus"]["bleu"])


def test_markdown_tree_labels():
    assert labels(m.markdown_tree(DOC)) == ("root", [("h1", ["paragraph", ("h2", ["list", "table", "paragraph"])])])
    md = "Intro.\n\n```python\n# not a heading\n```\n\n$$\nx\n$$\n\n## Deep\n\n# Top\n\n<table>\n<tr></tr>\n</table>"
    assert labels(m.markdown_tree(md)) == ("root", ["paragraph", "code", "math", "h2", ("h1", ["table"])])
    assert m.markdown_tree("") == Node("root")


def test_list_spans_blank_lines_and_lazy_lines():
    md = "1. first\ncontinued\n\n2. second\n\nAfter."
    assert labels(m.markdown_tree(md)) == ("root", ["list", "paragraph"])


def test_setext_headings_nest_like_atx_headings():
    md = "Title\n=====\n\nText.\n\nPart\n----\n\n- a\n- b\n\n---\n\nEnd."
    assert labels(m.markdown_tree(md)) == ("root", [("h1", ["paragraph", ("h2", ["list", "paragraph"])])])
    # the same page with ATX headings has the same tree: a setext page is not penalised against an ATX reference
    atx = "# Title\n\nText.\n\n## Part\n\n- a\n- b\n\nEnd."
    assert m.steds_blocks(md, atx) == 1.0


def test_indented_code_is_one_code_block():
    md = "Intro:\n\n    # not a heading\n    | not | a table |\n\n    still code\n\nAfter."
    assert labels(m.markdown_tree(md)) == ("root", ["paragraph", "code", "paragraph"])
    # inside a list item, indentation is the item's content, not code
    assert labels(m.markdown_tree("- item\n\n    more of the item")) == ("root", ["list"])


def test_tables_found_by_the_block_scanner_are_stripped():
    md = "Before.\n\na | b\n--|--\n1 | 2\n\n| x | y |\n| 3 | 4 |\n\n    | code | kept |\n\nAfter."
    assert m._blocks(md) == ["paragraph", "table", "table", "code", "paragraph"]
    assert m.strip_tables_and_math(md) == "Before.\n\n| code | kept |\n\nAfter."  # blank runs fold to one


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


def test_steds_blocks_one_paragraph_turned_into_list():
    ref = "# T\n\nOne.\n\n## S\n\nTwo.\n\nThree."
    pred = "# T\n\nOne.\n\n## S\n\nTwo.\n\n- Three."
    # tree: root → h1 → (paragraph, h2 → (paragraph, paragraph)): N = 6 nodes; one relabel → TED 1
    assert m.steds_blocks(pred, ref) == pytest.approx(1 - 1 / 6)
    assert m.steds_blocks("", "") == 1.0
    assert m.steds_blocks("", ref) == pytest.approx(1 - 5 / 6)  # insert 5 nodes into the bare root


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
    assert out["pages"][1]["bleu"] == 0.0 and out["pages"][0]["steds"] == 100.0
    assert out["pages"][1]["steds"] == pytest.approx(100 * (1 - 1 / 3))  # ROOT, TITLE vs ROOT, TITLE, one line
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


def test_cli_translate_eval_reports_m4doc_numbers(tmp_path, capsys):
    import json

    from labkit.cli import main

    (tmp_path / "pred").mkdir()
    for k, (ref, pred) in enumerate(M4DOC_PAGES, 1):
        (tmp_path / f"p{k}.zh.mmd").write_text(ref, encoding="utf-8")
        (tmp_path / "pred" / f"p{k}.md").write_text(pred, encoding="utf-8")
    assert main(["translate", "eval", str(tmp_path), "--to", "zh", "--json"]) == 0
    corpus = json.loads(capsys.readouterr().out)["corpus"]
    for key, value in M4DOC_CORPUS.items():
        assert corpus[key] == pytest.approx(value, abs=1e-3), key
    assert {"chrf", "bleu_pt_md", "steds_blocks"} <= set(corpus)
