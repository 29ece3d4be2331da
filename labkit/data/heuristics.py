"""The offline default annotators: HEURISTICS, not models. They exist so that a fresh install curates end to
end without downloads; every record they annotate says `annotator: heuristic`. Bring a fastText model, a Hub
classifier or an LLM judge (annotate.py), or train one with `labkit data train-classifier`, for real labels.

- quality: a weighted mean of four text statistics in [0, 1] (terminal punctuation per line, 1 − repeated
  13-gram share, share of letters/CJK among visible characters, mean line length up to 40 characters).
- domain: keyword hits per label, the way CWT 2.0 seeded its classifier (rule-based labels from curated
  keywords; no keyword → `general`); p(label) = its share of the hits.
- toxicity: distinct words of a small zh/en lexicon per line, squashed: score = 1 − exp(−3 · hits/line).
"""

from __future__ import annotations

import math
import re

from labkit.data.rules import n_lines, repeated_ngram_share

DOMAINS = (
    "encyclopedia",
    "book",
    "dialogue",
    "education",
    "finance",
    "law",
    "math",
    "news",
    "medicine",
    "technology",
    "general",
)

DOMAIN_KEYWORDS: dict[str, tuple[str, ...]] = {
    "encyclopedia": ("百科", "词条", "又称", "简称", "位于", "是指", "定义", "encyclopedia", "is a", "refers to"),
    "book": ("小说", "章节", "第一章", "作者", "出版", "读者", "故事", "chapter", "novel", "author"),
    "dialogue": ("问：", "答：", "你好", "请问", "谢谢", "他说", "她说", "user:", "assistant:", "q:"),
    "education": ("学生", "老师", "课程", "学校", "考试", "教学", "教育", "学习", "student", "teacher", "course"),
    "finance": ("股票", "基金", "投资", "银行", "利率", "经济", "金融", "市场", "stock", "bank", "investment"),
    "law": ("法律", "法院", "条例", "判决", "律师", "合同", "规定", "诉讼", "court", "law", "contract"),
    "math": ("方程", "函数", "定理", "证明", "求解", "计算", "数学", "equation", "theorem", "proof"),
    "news": ("记者", "报道", "近日", "发布", "新闻", "消息", "日电", "获悉", "reported", "announced"),
    "medicine": ("患者", "医生", "治疗", "医院", "症状", "药物", "疾病", "健康", "patient", "treatment", "disease"),
    "technology": (
        "技术",
        "软件",
        "数据",
        "算法",
        "芯片",
        "互联网",
        "人工智能",
        "电脑",
        "software",
        "algorithm",
        "computer",
    ),
}

TOXIC_WORDS: tuple[str, ...] = (
    "傻逼",
    "操你",
    "他妈的",
    "去死",
    "贱人",
    "混蛋",
    "滚蛋",
    "废物",
    "杀了你",
    "婊子",
    "王八蛋",
    "狗娘养",
    "fuck",
    "shit",
    "bitch",
    "bastard",
    "kill you",
    "idiot",
    "asshole",
    "slut",
)

_TERMINAL = tuple("。！？!?.…；;」”\"')）")
_VISIBLE = re.compile(r"\S")
_WORDY = re.compile(r"[\w\u4e00-\u9fff]")


def quality(text: str) -> float:
    lines = [l.strip() for l in text.split("\n") if l.strip()]
    if not lines:
        return 0.0
    punct = sum(l.endswith(_TERMINAL) for l in lines) / len(lines)
    unique = 1.0 - repeated_ngram_share(text)
    visible = len(_VISIBLE.findall(text)) or 1
    wordy = len(_WORDY.findall(text)) / visible
    line_len = min(1.0, sum(map(len, lines)) / len(lines) / 40)
    return round(0.3 * punct + 0.3 * unique + 0.2 * wordy + 0.2 * line_len, 4)


def domain_probs(text: str) -> dict[str, float]:
    low = text.lower()
    hits = {label: sum(1 for k in words if k in low) for label, words in DOMAIN_KEYWORDS.items()}
    total = sum(hits.values())
    if not total:
        return {"general": 1.0}
    return {label: h / total for label, h in sorted(hits.items(), key=lambda kv: -kv[1]) if h}


def toxicity_score(text: str) -> float:
    low = text.lower()
    hits = sum(1 for w in TOXIC_WORDS if w in low)
    return round(1.0 - math.exp(-3.0 * hits / n_lines(text)), 6)
