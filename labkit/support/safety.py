"""Crisis safety net for the emotional-support agent.

A message that clearly states a risk of suicide or self-harm must never reach a
model: `check` flags it, and the agent answers with `crisis_message` instead —
a short, caring reply in the user's language with crisis resources.

This is a *safety net*, not a clinical classifier. It is a hand-written list of
regular expressions per language, tuned for high recall on clear, first-person
statements ("I want to die", "想死", "quiero morir") and for few false alarms on
ordinary sadness and common hyperbole ("this exam is killing me", "我累死了",
"死ぬほど疲れた", "me muero de risa"). It will miss indirect, misspelled,
sarcastic or coded statements, and it may fire on text *about* suicide (news,
a question about prevention). Erring on the side of showing help is intended.

Matching is done on NFKC-normalised, lower-cased text (so full-width and
mixed-case input match); Latin-script languages are also matched with accents
folded away ("suicídio" == "suicidio", "müde" == "mude").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["LANGUAGES", "CrisisCheck", "check", "crisis_message", "DISCLAIMER"]

LANGUAGES = (
    "en", "es", "fr", "de", "ru", "zh", "ja", "th", "bn", "sw", "te",
    "ar", "hi", "ko", "pt", "it", "vi",
)

DISCLAIMER = (
    "This agent is a research demo, not a substitute for professional help; "
    "if you are in crisis, contact your local emergency services."
)

HELPLINE_DIRECTORY = "https://findahelpline.com"


@dataclass(frozen=True)
class CrisisCheck:
    crisis: bool
    language: str | None  # the language whose pattern matched
    matched: str  # the matched text ("" when none)


# --- patterns ---------------------------------------------------------------
# Each language: (view, patterns). view "fold" = lower NFKC text with Latin
# accents removed (write patterns without accents); view "norm" = lower NFKC
# text (write patterns in the native script).

_NOT_HERE = r"(?!\s+(?:in|with|at|near|there|here|without|on|by|under)\b)"

_PATTERNS: dict[str, tuple[str, list[str]]] = {
    "en": ("fold", [
        r"\bkill(?:ing)?\s+my\s*self\b(?!\s+laughing)",
        r"\bunalive\s+my\s*self\b",
        r"\bend(?:ing)?\s+(?:my\s+(?:own\s+)?life|it\s+all)\b",
        r"\btak(?:e|ing)\s+my\s+own\s+life\b",
        # "want to die" but not "don't want to die" / "want to die of embarrassment"
        r"(?<!n't\s)(?<!not\s)(?<!dont\s)\b(?:want|wanna|wish|going|gonna|plan(?:ning)?|ready)\s+(?:to\s+)?die\b"
        r"(?!\s+(?:of|from|laughing|for|with|in\s+your)\b)",
        r"\bi\s+wish\s+i\s+(?:was|were|could\s+be)\s+dead\b",
        r"\bwish\s+i\s+(?:had\s+)?never\s+(?:been\s+)?born\b",
        r"\bsuicid(?:e|al|ality)\b(?!\s+squad)",
        r"\bself[\s-]?harm(?:ing)?\b",
        r"\b(?:hurt|harm|cut|hurting|harming|cutting)\s+my\s*self\b"
        r"(?!\s+(?:shaving|playing|while|on|at|during|in\s+the|by\s+accident|accidentally|cooking)\b)",
        r"\b(?:do\s+not|don't|dont)\s+want\s+to\s+(?:live|be\s+alive|exist|be\s+here)(?:\s+anymore)?\b" + _NOT_HERE,
        r"\b(?:do\s+not|don't|dont)\s+want\s+to\s+wake\s+up\s+(?:anymore|ever\s+again|again)\b",
        r"\bno\s+(?:reason|point)\s+(?:in\s+|to\s+)?(?:live|living|go(?:ing)?\s+on)\b",
        r"\bnothing\s+(?:left\s+)?to\s+live\s+for\b",
        r"\b(?:life\s+)?(?:is\s+not|isn't|isnt)\s+worth\s+living\b",
        r"\bbetter\s+off\s+(?:dead|without\s+me)\b",
        r"\b(?:take|taking|took|swallow(?:ing)?)\s+all\s+(?:of\s+)?(?:my|the|these|those)\s+(?:pills|meds|tablets|medication)\b",
    ]),
    "es": ("fold", [
        r"(?<!no\s)(?<!no\sme\s)\b(?:me\s+)?quiero\s+morir(?:me)?\b(?!\s+de\b)",
        r"\b(?:ganas|deseo)s?\s+de\s+morir(?:me)?\b(?!\s+de\b)",
        r"\bsuicid(?:arme|arse|io|a|ar|ado)\b",
        r"\bquitarme\s+la\s+vida\b",
        r"\bacabar\s+con\s+mi\s+vida\b",
        r"\b(?:quiero|voy\s+a|pienso|ganas\s+de|deseo|intente|intento)\s+matarme\b",
        r"\bno\s+quiero\s+(?:seguir\s+)?vivir\b(?!\s+(?:en|con|aqui|alli|ahi|cerca)\b)",
        r"\bno\s+tengo\s+(?:razon(?:es)?|motivos?|ganas)\s+(?:para|de)\s+vivir\b",
        r"\b(?:hacerme|me\s+hago|me\s+hice)\s+dano\b",
        r"\bcortarme\s+las\s+venas\b",
        r"\bautolesi(?:on|onarme|ones)\b",
        r"\b(?:estaria|estarian|estarias)\s+mejor(?:es)?\s+(?:muert[oa]s?|sin\s+mi)\b",
    ]),
    "fr": ("fold", [
        r"\bme\s+suicider\b",
        r"\bsuicidaires?\b",
        r"\b(?:le|au|du)\s+suicide\b",
        r"\b(?:envie|besoin)\s+de\s+mourir\b(?!\s+de\b)",
        r"\bje\s+(?:veux|voudrais|vais)\s+mourir\b(?!\s+de\b)",
        r"\bmettre\s+fin\s+a\s+(?:mes\s+jours|ma\s+vie)\b",
        r"\ben\s+finir\s+avec\s+(?:la|ma)\s+vie\b",
        r"\b(?:veux|vais|voudrais|envie\s+de|pense\s+a)\s+me\s+tuer\b",
        r"\bme\s+(?:faire\s+du\s+mal|scarifier|mutiler)\b",
        r"\bautomutil\w*",
        r"\b(?:ne\s+)?(?:veux|voudrais)\s+plus\s+vivre\b",
        r"\b(?:plus|pas)\s+envie\s+de\s+vivre\b(?!\s+(?:a|en|ici|avec|la)\b)",
        r"\bmieux\s+sans\s+moi\b",
        r"\bserai[st]?\s+mieux\s+morte?s?\b",
    ]),
    "de": ("fold", [
        r"\bselbstmord\w*",
        r"\bsuizid\w*",
        r"\bmich\s+(?:selbst\s+)?(?:umbringen|umzubringen|toten)\b",
        r"\bich\s+bringe?\s+mich\s+um\b",
        r"\b(?:will|mochte|wunsche\s+mir|wunschte\s+mir)\s+(?:(?:nur|noch|einfach|lieber|jetzt|bald)\s+){0,3}sterben\b",
        r"\bnicht\s+mehr\s+leben\b(?!\s+(?:in|mit|bei|hier|dort|ohne)\b)",
        r"\bkeine\s+lust\s+mehr\s+zu\s+leben\b",
        r"\bmir\s+(?:selbst\s+)?(?:das\s+)?leben\s+(?:zu\s+)?nehmen\b",
        r"\bmich\s+(?:selbst\s+)?(?:verletzen|ritzen|schneiden)\b",
        r"\bich\s+ritze\s+mich\b",
        r"\bich\s+bin\s+lebensmude\b",
        r"\b(?:besser\s+dran\s+ohne\s+mich|ware\s+besser\s+tot)\b",
    ]),
    "ru": ("norm", [
        r"поконч(?:ить|у|ила?)\s+с\s+собой",
        r"(?<!не\s)(?:хочу|хочется)\s+умереть",
        r"суицид\w*",
        r"самоубийств\w*",
        r"не\s+(?:хочу|хочется)\s+(?:больше\s+)?жить\b(?!\s+(?:с|в|на|у|вместе|здесь|там)\b)",
        r"убить\s+себя|убью\s+себя",
        r"(?:порезать|резать|режу|порежу)\s+(?:себя|себе\s+вены|вены)",
        r"навредить\s+себе|причинить\s+себе\s+вред",
        r"лучше\s+бы\s+я\s+(?:умер(?:ла)?|не\s+родил(?:ся|ась))",
        r"наложить\s+на\s+себя\s+руки",
    ]),
    "zh": ("norm", [
        r"(?<!不)想死(?![你您他她它我])",
        r"不想活",
        r"自[杀殺](?!式)",
        r"[结結]束(?:我的|自己的)?生命",
        r"[了结結][结結束]自己",
        r"[伤傷]害自己",
        r"割腕",
        r"自[残殘]",
        r"[轻輕]生",
        r"[寻尋]死",
        r"活不下去",
        r"生不如死",
        r"死了算了|不如死了",
        r"活[着著]没(?:有)?(?:意思|意[义義])",
        r"[想要]跳[楼樓]",
    ]),
    "ja": ("norm", [
        r"死にたい",
        r"自殺(?:したい|しよう|する|を考え|未遂)?",
        r"消えたい",
        r"生きて(?:い)?たくない",
        r"生きたくない",
        r"死のう(?:と思|かな)",
        r"自傷",
        r"リスカ|リストカット",
        r"首を吊",
        r"命を絶",
    ]),
    "th": ("norm", [
        r"(?<!ไม่)อยากตาย",
        r"ฆ่าตัวตาย",
        r"ไม่อยาก(?:มี)?ชีวิตอยู่",
        r"ไม่อยากอยู่บนโลก",
        r"ทำร้ายตัวเอง",
        r"กรีดข้อมือ",
        r"จบชีวิต(?:ตัวเอง)?",
    ]),
    "bn": ("norm", [
        r"আত্মহত্যা",
        r"মরে\s*যেতে\s*চাই",
        r"মরতে\s*চাই",
        r"বাঁচতে\s*চাই\s*না",
        r"নিজেকে\s*(?:শেষ\s*করে|মেরে\s*ফেল)",
        r"নিজের\s*ক্ষতি\s*কর",
    ]),
    "sw": ("fold", [
        r"\b(?:ku|ni|nita|na|ta|me|nime|a|ata|u|uta|nili|ali)?jiu[ae]\b",
        r"\b(?:ni)?na(?:taka|tamani)\s+kufa\b",
        r"\b(?:bora|afadhali)\s+nife\b",
        r"\bsitaki\s+(?:tena\s+)?(?:kuendelea\s+)?kuishi\b(?!\s+(?:hapa|na|huko|katika|mjini)\b)",
        r"\bsina\s+sababu\s+ya\s+kuishi\b",
        r"\bkujidhuru\b|\bkujikata\b",
        r"\bkujitoa\s+uhai\b",
    ]),
    "te": ("norm", [
        r"ఆత్మహత్య",
        r"చనిపోవాలని",
        r"చచ్చిపోవాలని",
        r"చావాలని",
        r"బ(?:్ర)?తకాలని\s*(?:అనిపించడం\s*)?లేదు",
        r"నన్ను\s*నేను\s*(?:చంపుకో|గాయపరచుకో)",
    ]),
    "ar": ("norm", [
        r"[اأإ]?نتحار|[اأإ]نتحر",
        r"[اأإ]ريد\s+[اأإ]ن\s+[اأإ]موت",
        r"بدي\s+[اأ]?موت",
        r"لا\s+[اأإ]ريد\s+[اأإ]ن\s+[اأإ]عيش",
        r"[اأإ]قتل\s+نفسي",
        r"[اأإ](?:ؤذي|يذاء)\s+نفسي",
        r"[اأإ]نهي\s+حياتي",
    ]),
    "hi": ("norm", [
        r"आत्महत्या",
        "ख\u093c?ुदकुशी",
        r"(?:मर\s*जाना|मरना)\s*चाहत[ाी]",
        r"जीना\s*नहीं\s*चाहत[ाी]",
        r"(?:खुद|ख\u093cुद|अपने\s*आप)\s*को\s*(?:मार|खत्म|ख\u093cत्म|नुकसान)",
        r"अपनी\s*जान\s*ले",
        r"जीने\s*की\s*(?:कोई\s*)?(?:वजह|इच्छा)\s*नहीं",
        r"\bkhud\s?kushi\b|\baa?tma\s?hatya\b",
    ]),
    "ko": ("norm", [
        r"죽고\s*싶",
        r"자살",
        r"살고\s*싶지\s*않",
        r"자해",
        r"목숨을\s*끊",
        r"죽어\s*버리고\s*싶",
        r"사라지고\s*싶",
    ]),
    "pt": ("fold", [
        r"(?<!nao\s)\bquero\s+morrer\b(?!\s+de\b)",
        r"\bvontade\s+de\s+morrer\b(?!\s+de\b)",
        r"\bme\s+suicidar\b",
        r"\b(?:o|no|em|ao|do)\s+suicidio\b",
        r"\b(?:vou|quero|vontade\s+de|penso\s+em)\s+me\s+matar\b",
        r"\btirar\s+(?:a\s+)?minha\s+(?:propria\s+)?vida\b",
        r"\bacabar\s+com\s+(?:a\s+)?minha\s+vida\b",
        r"\bnao\s+quero\s+(?:mais\s+)?viver\b(?!\s+(?:em|com|aqui|ali|perto|nessa|nesta)\b)",
        r"\bautomutila\w*",
    ]),
    "it": ("fold", [
        r"(?<!non\s)\bvoglio\s+morire\b(?!\s+di\b)",
        r"\bsuicid(?:io|armi|arsi)\b",
        r"\b(?:al|il|del|di)\s+suicidio\b",
        r"\buccidermi\b",
        r"\btogliermi\s+la\s+vita\b",
        r"\bnon\s+voglio\s+(?:piu\s+)?vivere\b(?!\s+(?:in|con|qui|li|vicino)\b)",
        r"\bfarla\s+finita\b",
        r"\bfarmi\s+del\s+male\b",
        r"\bautolesion\w*",
    ]),
    "vi": ("norm", [
        r"(?<!không\s)(?<!cười\s)muốn\s+chết",
        r"tự\s+tử",
        r"tự\s+sát",
        r"không\s+muốn\s+sống",
        r"tự\s+(?:làm\s+)?hại\s+(?:bản\s+thân|mình)",
        r"kết\s+thúc\s+cuộc\s+(?:đời|sống)",
    ]),
}

_COMPILED: dict[str, tuple[str, list[re.Pattern[str]]]] = {
    lang: (view, [re.compile(unicodedata.normalize("NFKC", p)) for p in pats])
    for lang, (view, pats) in _PATTERNS.items()
}
assert set(_COMPILED) == set(LANGUAGES)

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\uff07": "'", "`": "'"})
_KANA = re.compile(r"[\u3040-\u30ff]")


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower().translate(_QUOTES)


def _fold_char(c: str) -> str:
    o = ord(c)
    if o < 0x80 or not (o < 0x250 or 0x1E00 <= o <= 0x1EFF):
        return c
    base = "".join(ch for ch in unicodedata.normalize("NFKD", c) if not unicodedata.combining(ch))
    return base if len(base) == 1 else c


def _fold(text: str) -> str:
    """Remove accents from Latin letters, keeping one char per char (so spans line up)."""
    return "".join(_fold_char(c) for c in text)


def check(text: str) -> CrisisCheck:
    """Does `text` clearly state a risk of suicide or self-harm? Pattern-based safety net."""
    if not text:
        return CrisisCheck(False, None, "")
    norm = _normalise(text)
    views = {"norm": norm, "fold": _fold(norm)}
    has_kana = bool(_KANA.search(norm))
    best: tuple[tuple[int, int, int], str, str] | None = None
    for order, lang in enumerate(LANGUAGES):
        view, patterns = _COMPILED[lang]
        for pat in patterns:
            m = pat.search(views[view])
            if m is None:
                continue
            matched = norm[m.start():m.end()]
            # Prefer the longest match; on a tie, a script hint (kana -> ja,
            # shared Han like 自殺), then the order of LANGUAGES.
            hint = int((lang == "ja") == has_kana) if lang in ("ja", "zh") else 0
            key = (len(matched), hint, -order)
            if best is None or key > best[0]:
                best = (key, lang, matched)
    if best is None:
        return CrisisCheck(False, None, "")
    return CrisisCheck(True, best[1], best[2])


# --- crisis messages ----------------------------------------------------------

_H = HELPLINE_DIRECTORY

_MESSAGES: dict[str, str] = {
    "en": (
        "I'm really sorry you're feeling this much pain, and I'm glad you told me. "
        "You are not alone, and you deserve support right now. Please reach out to someone you trust, "
        "and if you are in immediate danger, call your local emergency number.\n"
        f"• Find a helpline near you: {_H}\n"
        "• US: call or text 988 (Suicide & Crisis Lifeline)\n"
        "• UK & Ireland: Samaritans 116 123\n"
        "• India: Tele-MANAS 14416\n"
        "I'm an AI research demo (labkit), not a substitute for professional help."
    ),
    "es": (
        "Siento mucho que estés sintiendo tanto dolor, y gracias por contármelo. "
        "No estás solo/a y mereces apoyo ahora mismo. Por favor, habla con alguien de confianza y, "
        "si estás en peligro inmediato, llama a los servicios de emergencia locales.\n"
        f"• Líneas de ayuda en tu país: {_H}\n"
        "• España: 024 (Línea de atención a la conducta suicida)\n"
        "• EE. UU.: 988 (también en español)\n"
        "Soy una demo de investigación (labkit), no sustituyo la ayuda profesional."
    ),
    "fr": (
        "Je suis vraiment désolé·e que tu souffres autant, et merci de me l'avoir dit. "
        "Tu n'es pas seul·e, et tu mérites du soutien maintenant. Parle à une personne de confiance et, "
        "si tu es en danger immédiat, appelle les services d'urgence locaux.\n"
        f"• Lignes d'écoute dans ton pays : {_H}\n"
        "• France : 3114 (prévention du suicide, 24h/24)\n"
        "Je suis une démo de recherche (labkit), pas un substitut à une aide professionnelle."
    ),
    "de": (
        "Es tut mir sehr leid, dass du so viel Schmerz spürst, und danke, dass du es mir sagst. "
        "Du bist nicht allein und verdienst jetzt Unterstützung. Bitte wende dich an einen Menschen, "
        "dem du vertraust, und ruf bei akuter Gefahr den Notruf an.\n"
        f"• Hilfetelefone weltweit: {_H}\n"
        "• Deutschland: TelefonSeelsorge 0800 111 0 111 oder 0800 111 0 222\n"
        "• Österreich: 142 · Schweiz: 143\n"
        "Ich bin eine Forschungsdemo (labkit) und kein Ersatz für professionelle Hilfe."
    ),
    "ru": (
        "Мне очень жаль, что тебе сейчас так больно, и спасибо, что ты рассказал(а) об этом. "
        "Ты не один (не одна), и ты заслуживаешь поддержки прямо сейчас. Пожалуйста, обратись к человеку, "
        "которому доверяешь, а если ты в непосредственной опасности — позвони в экстренные службы (112).\n"
        f"• Телефоны доверия в твоей стране: {_H}\n"
        "Я исследовательская демо-версия (labkit) и не заменяю профессиональную помощь."
    ),
    "zh": (
        "听到你这么痛苦，我真的很难过，也谢谢你愿意告诉我。你并不孤单，你值得被支持。"
        "请现在就联系一个你信任的人；如果你有立即的危险，请拨打当地急救电话（中国大陆 120 或 110）。\n"
        f"• 全球求助热线目录：{_H}\n"
        "• 北京心理危机研究与干预中心：010-82951332\n"
        "• 台湾安心专线：1925\n"
        "我只是一个研究演示（labkit），不能替代专业帮助。"
    ),
    "ja": (
        "そんなにつらい気持ちを抱えているんですね。話してくれてありがとう。あなたは一人ではありません。"
        "今すぐ信頼できる人に連絡してください。差し迫った危険があるときは、119 または 110 に電話してください。\n"
        f"• 世界の相談窓口：{_H}\n"
        "• いのちの電話：0570-783-556\n"
        "これは研究用デモ（labkit）であり、専門家の支援の代わりにはなりません。"
    ),
    "th": (
        "เสียใจจริง ๆ ที่คุณต้องเจ็บปวดขนาดนี้ และขอบคุณที่เล่าให้ฟัง คุณไม่ได้อยู่คนเดียว "
        "กรุณาติดต่อคนที่คุณไว้ใจตอนนี้ และหากอยู่ในอันตรายเร่งด่วน โปรดโทร 1669 หรือหน่วยฉุกเฉินในพื้นที่\n"
        f"• สายด่วนช่วยเหลือทั่วโลก: {_H}\n"
        "• สายด่วนสุขภาพจิต: 1323\n"
        "นี่เป็นเดโมเพื่อการวิจัย (labkit) ไม่ใช่สิ่งทดแทนความช่วยเหลือจากผู้เชี่ยวชาญ"
    ),
    "bn": (
        "তুমি এত কষ্ট পাচ্ছ শুনে আমি সত্যিই দুঃখিত, আর আমাকে বলার জন্য ধন্যবাদ। তুমি একা নও। "
        "এখনই তোমার বিশ্বাসের কারো সাথে যোগাযোগ করো, আর তাৎক্ষণিক বিপদে থাকলে স্থানীয় জরুরি সেবায় "
        "(বাংলাদেশ 999, ভারত 112) ফোন করো।\n"
        f"• হেল্পলাইন খুঁজুন: {_H}\n"
        "• ভারত: Tele-MANAS 14416\n"
        "এটি একটি গবেষণা ডেমো (labkit), পেশাদার সাহায্যের বিকল্প নয়।"
    ),
    "sw": (
        "Samahani sana kwamba unapitia maumivu makubwa hivi, na asante kwa kuniambia. Hauko peke yako. "
        "Tafadhali wasiliana sasa na mtu unayemwamini, na ukiwa katika hatari ya haraka, piga simu kwa "
        "huduma za dharura za eneo lako.\n"
        f"• Tafuta nambari ya msaada: {_H}\n"
        "• Kenya: Befrienders Kenya +254 722 178 177\n"
        "Mimi ni onyesho la utafiti (labkit), si mbadala wa msaada wa kitaalamu."
    ),
    "te": (
        "మీరు ఇంత బాధను అనుభవిస్తున్నందుకు నిజంగా చింతిస్తున్నాను, నాతో చెప్పినందుకు ధన్యవాదాలు. మీరు ఒంటరి కాదు. "
        "దయచేసి ఇప్పుడే మీరు నమ్మే వ్యక్తిని సంప్రదించండి; తక్షణ ప్రమాదంలో ఉంటే 112కి కాల్ చేయండి.\n"
        f"• హెల్ప్‌లైన్‌లు: {_H}\n"
        "• భారతదేశం: Tele-MANAS 14416\n"
        "ఇది ఒక పరిశోధన డెమో (labkit), వృత్తిపరమైన సహాయానికి ప్రత్యామ్నాయం కాదు."
    ),
    "ar": (
        "أنا آسف حقًا لأنك تشعر بكل هذا الألم، وشكرًا لأنك أخبرتني. أنت لست وحدك. "
        "من فضلك تواصل الآن مع شخص تثق به، وإذا كنت في خطر مباشر فاتصل بخدمات الطوارئ المحلية.\n"
        f"• خطوط المساعدة في بلدك: {_H}\n"
        "هذا عرض بحثي (labkit) وليس بديلًا عن المساعدة المهنية."
    ),
    "hi": (
        "मुझे सच में दुख है कि आप इतना दर्द महसूस कर रहे हैं, और बताने के लिए धन्यवाद। आप अकेले नहीं हैं। "
        "कृपया अभी किसी भरोसेमंद व्यक्ति से संपर्क करें, और तुरंत खतरा हो तो 112 पर कॉल करें।\n"
        f"• हेल्पलाइन खोजें: {_H}\n"
        "• भारत: Tele-MANAS 14416\n"
        "यह एक शोध डेमो (labkit) है, पेशेवर मदद का विकल्प नहीं।"
    ),
    "ko": (
        "그렇게 큰 고통을 겪고 있다니 정말 마음이 아파요. 말해 줘서 고마워요. 당신은 혼자가 아니에요. "
        "지금 믿을 수 있는 사람에게 연락해 주세요. 당장 위험하다면 119나 112에 전화하세요.\n"
        f"• 전 세계 상담전화: {_H}\n"
        "• 자살예방상담전화: 109\n"
        "이것은 연구용 데모(labkit)이며 전문적인 도움을 대신할 수 없어요."
    ),
    "pt": (
        "Sinto muito que você esteja sentindo tanta dor, e obrigado por me contar. Você não está sozinho(a). "
        "Por favor, fale agora com alguém de confiança e, se estiver em perigo imediato, ligue para os "
        "serviços de emergência locais.\n"
        f"• Linhas de apoio no seu país: {_H}\n"
        "• Brasil: CVV 188 (24h, gratuito)\n"
        "Sou uma demo de pesquisa (labkit), não substituo ajuda profissional."
    ),
    "it": (
        "Mi dispiace davvero che tu stia soffrendo così tanto, e grazie per avermelo detto. Non sei solo/a. "
        "Per favore, contatta subito una persona di fiducia e, se sei in pericolo immediato, chiama il 112.\n"
        f"• Linee di aiuto nel tuo paese: {_H}\n"
        "• Italia: Telefono Amico 02 2327 2327\n"
        "Sono una demo di ricerca (labkit), non un sostituto dell'aiuto professionale."
    ),
    "vi": (
        "Mình rất tiếc khi bạn đang đau khổ nhiều như vậy, và cảm ơn bạn đã chia sẻ. Bạn không hề đơn độc. "
        "Hãy liên hệ ngay với người bạn tin tưởng, và nếu đang gặp nguy hiểm tức thời, hãy gọi dịch vụ "
        "cấp cứu địa phương (115 tại Việt Nam).\n"
        f"• Đường dây hỗ trợ: {_H}\n"
        "Đây là bản demo nghiên cứu (labkit), không thay thế sự trợ giúp chuyên môn."
    ),
}
assert set(_MESSAGES) == set(LANGUAGES)


def crisis_message(language: str | None) -> str:
    """A short, caring reply with crisis resources, in `language` (English if unknown)."""
    key = (language or "en").strip().lower().replace("_", "-").split("-")[0]
    return _MESSAGES.get(key, _MESSAGES["en"])
