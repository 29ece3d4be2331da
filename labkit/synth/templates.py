"""The synthetic world's words: per language, two problem templates per operation, the names, the items and
the worked-answer sentence. Each language's sentences were written in that language for this world (not
run through a translator); the same template slot means the same situation in every language, so one
problem renders as a parallel set.

Placeholders: {a} {b} numbers; {P} {Q} names, {Pg}/{Qg} genitive and {Po}/{Qo} object/dative forms where the
language inflects names; {n} the item noun (as a plural or bare noun), {c} its counter word (zh, ja, th), {q} the
"how many" word that agrees with it (es, sw), {ng} the genitive plural (ru). `{a:N}` is the number followed by
the item noun in the form the number governs (ru), and `{a:x|y|z}` the same with an explicit one|few|many list.
The worked answer uses {eq} (e.g. "5 + 3 = 8") and {c} for the result.
"""

from __future__ import annotations

OPS = ("add", "sub", "mul")
SLOTS = 2  # templates per operation

# lang: {op: [template per slot]}
TEMPLATES: dict[str, dict[str, list[str]]] = {
    "en": {
        "add": [
            "{P} has {a} {n}. {Q} gives {P} {b} more {n}. How many {n} does {P} have now?",
            "There are {a} {n} on the table and {b} {n} in the box. How many {n} are there altogether?",
        ],
        "sub": [
            "{P} has {a} {n} and gives {b} of them to {Q}. How many {n} does {P} have left?",
            "A shop had {a} {n}. It sold {b} {n} today. How many {n} are left in the shop?",
        ],
        "mul": [
            "{P} buys {a} bags of {n}. Each bag holds {b} {n}. How many {n} does {P} buy?",
            "A room has {a} shelves, and each shelf holds {b} {n}. How many {n} are on the shelves?",
        ],
    },
    "zh": {
        "add": [
            "{P}有{a}{c}{n}。{Q}又给了{P}{b}{c}{n}。{P}现在有多少{c}{n}？",
            "桌子上有{a}{c}{n}，盒子里有{b}{c}{n}。一共有多少{c}{n}？",
        ],
        "sub": [
            "{P}有{a}{c}{n}，给了{Q}{b}{c}。{P}还剩多少{c}{n}？",
            "商店里原来有{a}{c}{n}，今天卖出了{b}{c}。商店里还剩多少{c}{n}？",
        ],
        "mul": [
            "{P}买了{a}袋{n}，每袋有{b}{c}。{P}一共买了多少{c}{n}？",
            "房间里有{a}个架子，每个架子上放着{b}{c}{n}。架子上一共有多少{c}{n}？",
        ],
    },
    "ja": {
        "add": [
            "{P}は{n}を{a}{c}持っています。{Q}が{P}に{n}をさらに{b}{c}あげました。{P}は今{n}を何{c}持っていますか？",
            "テーブルの上に{n}が{a}{c}、箱の中に{b}{c}あります。{n}は全部で何{c}ありますか？",
        ],
        "sub": [
            "{P}は{n}を{a}{c}持っていて、{Q}に{b}{c}あげました。{P}の{n}は何{c}残っていますか？",
            "お店に{n}が{a}{c}ありました。今日{b}{c}売れました。お店に{n}は何{c}残っていますか？",
        ],
        "mul": [
            "{P}は{n}を{a}袋買いました。どの袋にも{b}{c}入っています。{P}は{n}を全部で何{c}買いましたか？",
            "部屋に棚が{a}台あり、どの棚にも{n}が{b}{c}のっています。棚の上の{n}は全部で何{c}ですか？",
        ],
    },
    "th": {
        "add": [
            "{P}มี{n} {a} {c} {Q}ให้{n}{P}เพิ่มอีก {b} {c} ตอนนี้{P}มี{n}กี่{c}",
            "บนโต๊ะมี{n} {a} {c} และในกล่องมี{n} {b} {c} รวมทั้งหมดมี{n}กี่{c}",
        ],
        "sub": [
            "{P}มี{n} {a} {c} แล้วแบ่งให้{Q} {b} {c} {P}เหลือ{n}กี่{c}",
            "ร้านค้ามี{n} {a} {c} วันนี้ขายไป {b} {c} ร้านค้าเหลือ{n}กี่{c}",
        ],
        "mul": [
            "{P}ซื้อ{n}มา {a} ถุง แต่ละถุงมี{n} {b} {c} {P}ซื้อ{n}ทั้งหมดกี่{c}",
            "ในห้องมีชั้นวาง {a} ชั้น แต่ละชั้นมี{n} {b} {c} บนชั้นวางมี{n}ทั้งหมดกี่{c}",
        ],
    },
    "sw": {
        "add": [
            "{P} ana {n} {a}. {Q} anampa {n} {b} zaidi. Sasa {P} ana {n} {q}?",
            "Kuna {n} {a} mezani na {n} {b} ndani ya sanduku. Kuna {n} {q} kwa jumla?",
        ],
        "sub": [
            "{P} ana {n} {a}, na anampa {Q} {n} {b}. {P} amebaki na {n} {q}?",
            "Duka lilikuwa na {n} {a}. Leo limeuza {n} {b}. Duka limebaki na {n} {q}?",
        ],
        "mul": [
            "{P} ananunua mifuko {a} ya {n}. Kila mfuko una {n} {b}. {P} ananunua {n} {q} kwa jumla?",
            "Chumba kina rafu {a}, na kila rafu ina {n} {b}. Kuna {n} {q} kwenye rafu zote?",
        ],
    },
    "bn": {
        "add": [
            "{Pg} কাছে {a}টি {n} আছে। {Q} {Po} আরও {b}টি {n} দিল। এখন {Pg} কাছে কয়টি {n} আছে?",
            "টেবিলের উপর {a}টি {n} এবং বাক্সের ভিতরে {b}টি {n} আছে। মোট কয়টি {n} আছে?",
        ],
        "sub": [
            "{Pg} কাছে {a}টি {n} ছিল। সে {Qo} {b}টি {n} দিল। {Pg} কাছে আর কয়টি {n} বাকি আছে?",
            "একটি দোকানে {a}টি {n} ছিল। আজ {b}টি {n} বিক্রি হয়েছে। দোকানে আর কয়টি {n} বাকি আছে?",
        ],
        "mul": [
            "{P} {a}টি ব্যাগ {n} কিনল। প্রতিটি ব্যাগে {b}টি {n} আছে। {P} মোট কয়টি {n} কিনল?",
            "একটি ঘরে {a}টি তাক আছে, আর প্রতিটি তাকে {b}টি {n} রাখা আছে। তাকগুলোতে মোট কয়টি {n} আছে?",
        ],
    },
    "te": {
        "add": [
            "{P} దగ్గర {a} {n} ఉన్నాయి. {Q} {Po} మరో {b} {n} ఇచ్చారు. ఇప్పుడు {P} దగ్గర ఎన్ని {n} ఉన్నాయి?",
            "బల్ల మీద {a} {n}, పెట్టెలో {b} {n} ఉన్నాయి. మొత్తం ఎన్ని {n} ఉన్నాయి?",
        ],
        "sub": [
            "{P} దగ్గర {a} {n} ఉన్నాయి. {P} {Qo} {b} {n} ఇచ్చారు. {P} దగ్గర ఇంకా ఎన్ని {n} మిగిలాయి?",
            "ఒక దుకాణంలో {a} {n} ఉండేవి. ఈ రోజు {b} {n} అమ్ముడయ్యాయి. దుకాణంలో ఇంకా ఎన్ని {n} మిగిలాయి?",
        ],
        "mul": [
            "{P} {a} సంచుల {n} కొన్నారు. ప్రతి సంచిలో {b} {n} ఉన్నాయి. {P} మొత్తం ఎన్ని {n} కొన్నారు?",
            "ఒక గదిలో {a} అల్మారాలు ఉన్నాయి, ప్రతి అల్మారాలో {b} {n} ఉన్నాయి. మొత్తం ఎన్ని {n} ఉన్నాయి?",
        ],
    },
    "de": {
        "add": [
            "{P} hat {a} {n}. {Q} gibt {P} noch {b} {n}. Wie viele {n} hat {P} jetzt?",
            "Auf dem Tisch liegen {a} {n} und in der Kiste {b} {n}. Wie viele {n} sind es insgesamt?",
        ],
        "sub": [
            "{P} hat {a} {n} und gibt {Q} {b} davon ab. Wie viele {n} hat {P} noch?",
            "Ein Laden hatte {a} {n}. Heute wurden {b} {n} verkauft. Wie viele {n} hat der Laden noch?",
        ],
        "mul": [
            "{P} kauft {a} Tüten {n}. In jeder Tüte sind {b} {n}. Wie viele {n} kauft {P} insgesamt?",
            "In einem Zimmer stehen {a} Regale, und auf jedem Regal liegen {b} {n}. "
            "Wie viele {n} liegen auf den Regalen?",
        ],
    },
    "fr": {
        "add": [
            "{P} a {a} {n}. {Q} lui donne encore {b} {n}. Combien de {n} a {P} maintenant ?",
            "Il y a {a} {n} sur la table et {b} {n} dans la boîte. Combien de {n} y a-t-il en tout ?",
        ],
        "sub": [
            "{P} a {a} {n} et en donne {b} à {Q}. Combien de {n} reste-t-il à {P} ?",
            "Une boutique avait {a} {n}. Elle en a vendu {b} aujourd'hui. Combien de {n} reste-t-il dans la boutique ?",
        ],
        "mul": [
            "{P} achète {a} sacs de {n}. Chaque sac contient {b} {n}. Combien de {n} achète {P} en tout ?",
            "Une pièce compte {a} étagères, et chaque étagère porte {b} {n}. "
            "Combien de {n} y a-t-il sur les étagères ?",
        ],
    },
    "es": {
        "add": [
            "{P} tiene {a} {n}. {Q} le da {b} {n} más. ¿{q} {n} tiene {P} ahora?",
            "Hay {a} {n} en la mesa y {b} {n} en la caja. ¿{q} {n} hay en total?",
        ],
        "sub": [
            "{P} tiene {a} {n} y le da {b} a {Q}. ¿{q} {n} le quedan a {P}?",
            "Una tienda tenía {a} {n}. Hoy vendió {b} {n}. ¿{q} {n} le quedan a la tienda?",
        ],
        "mul": [
            "{P} compra {a} bolsas de {n}. Cada bolsa tiene {b} {n}. ¿{q} {n} compra {P} en total?",
            "Una habitación tiene {a} estantes y en cada estante hay {b} {n}. ¿{q} {n} hay en los estantes?",
        ],
    },
    "ru": {
        "add": [
            "У {Pg} есть {a:N}. {Q} даёт {Po} ещё {b:N}. Сколько {ng} теперь у {Pg}?",
            "На столе {a:N}, а в коробке ещё {b:N}. Сколько всего {ng}?",
        ],
        "sub": [
            "У {Pg} есть {a:N}. {P} отдаёт {Qo} {b:N}. Сколько {ng} осталось у {Pg}?",
            "В магазине было {a:N}. Сегодня продали {b:N}. Сколько {ng} осталось в магазине?",
        ],
        "mul": [
            "{P} покупает {a:пакет|пакета|пакетов}, и в каждом пакете {b:N}. Сколько всего {ng} покупает {P}?",
            "В комнате {a:полка|полки|полок}, и на каждой полке лежит {b:N}. Сколько всего {ng} на полках?",
        ],
    },
}

# The worked answer: the equation, then the answer sentence each language's extractor looks for.
ANSWERS = {
    "en": "{eq}. The answer is {c}.",
    "zh": "{eq}。答案是{c}。",
    "ja": "{eq}。答えは{c}です。",
    "th": "{eq} คำตอบคือ {c}",
    "sw": "{eq}. Jibu ni {c}.",
    "bn": "{eq}। উত্তর হল {c}।",
    "te": "{eq}. సమాధానం {c}.",
    "de": "{eq}. Die Antwort lautet {c}.",
    "fr": "{eq}. La réponse est {c}.",
    "es": "{eq}. La respuesta es {c}.",
    "ru": "{eq}. Ответ: {c}.",
}

# Name pairs (P, Q). A name is a string, or {"": nominative, "g": genitive, "o": object/dative} where the
# language inflects it inside the templates.
NAMES = {
    "en": [("Tom", "Anna"), ("Sam", "Lily"), ("Ben", "Emma")],
    "zh": [("小明", "小红"), ("李华", "王芳"), ("小刚", "小丽")],
    "ja": [("太郎", "花子"), ("健太", "さくら"), ("翔", "結衣")],
    "th": [("สมชาย", "มานี"), ("ปิติ", "ชูใจ"), ("วีระ", "สุดา")],
    "sw": [("Juma", "Amani"), ("Baraka", "Neema"), ("Hamisi", "Zawadi")],
    "bn": [
        ({"": "রহিম", "g": "রহিমের", "o": "রহিমকে"}, {"": "সুমি", "g": "সুমির", "o": "সুমিকে"}),
        ({"": "রাজু", "g": "রাজুর", "o": "রাজুকে"}, {"": "মিতা", "g": "মিতার", "o": "মিতাকে"}),
        ({"": "করিম", "g": "করিমের", "o": "করিমকে"}, {"": "রিনা", "g": "রিনার", "o": "রিনাকে"}),
    ],
    "te": [
        ({"": "రాము", "o": "రాముకు"}, {"": "సీత", "o": "సీతకు"}),
        ({"": "రవి", "o": "రవికి"}, {"": "లక్ష్మి", "o": "లక్ష్మికి"}),
        ({"": "కిరణ్", "o": "కిరణ్‌కు"}, {"": "గీత", "o": "గీతకు"}),
    ],
    "de": [("Lena", "Jonas"), ("Mia", "Paul"), ("Lukas", "Hanna")],
    "fr": [("Léa", "Hugo"), ("Chloé", "Louis"), ("Emma", "Jules")],
    "es": [("Lucía", "Mateo"), ("Sofía", "Diego"), ("Carmen", "Pablo")],
    "ru": [
        ({"": "Маша", "g": "Маши", "o": "Маше"}, {"": "Петя", "g": "Пети", "o": "Пете"}),
        ({"": "Олег", "g": "Олега", "o": "Олегу"}, {"": "Аня", "g": "Ани", "o": "Ане"}),
        ({"": "Саша", "g": "Саши", "o": "Саше"}, {"": "Лена", "g": "Лены", "o": "Лене"}),
    ],
}

# Items, in the same order in every language: apples, pencils, books, eggs (fr: marbles, so that "de"
# never needs elision). Keys: n noun, c counter, q agreeing "how many", N ru one|few|many forms, ng ru gen. pl.
ITEMS = {
    "en": [{"n": "apples"}, {"n": "pencils"}, {"n": "books"}, {"n": "eggs"}],
    "zh": [{"n": "苹果", "c": "个"}, {"n": "铅笔", "c": "支"}, {"n": "书", "c": "本"}, {"n": "鸡蛋", "c": "个"}],
    "ja": [{"n": "りんご", "c": "個"}, {"n": "鉛筆", "c": "本"}, {"n": "本", "c": "冊"}, {"n": "卵", "c": "個"}],
    "th": [{"n": "แอปเปิล", "c": "ผล"}, {"n": "ดินสอ", "c": "แท่ง"}, {"n": "หนังสือ", "c": "เล่ม"}, {"n": "ไข่", "c": "ฟอง"}],
    "sw": [
        {"n": "machungwa", "q": "mangapi"},
        {"n": "penseli", "q": "ngapi"},
        {"n": "vitabu", "q": "vingapi"},
        {"n": "mayai", "q": "mangapi"},
    ],
    "bn": [{"n": "আপেল"}, {"n": "পেন্সিল"}, {"n": "বই"}, {"n": "ডিম"}],
    "te": [{"n": "ఆపిల్ పండ్లు"}, {"n": "పెన్సిళ్లు"}, {"n": "పుస్తకాలు"}, {"n": "గుడ్లు"}],
    "de": [{"n": "Äpfel"}, {"n": "Bleistifte"}, {"n": "Bücher"}, {"n": "Eier"}],
    "fr": [{"n": "pommes"}, {"n": "crayons"}, {"n": "livres"}, {"n": "billes"}],
    "es": [
        {"n": "manzanas", "q": "Cuántas"},
        {"n": "lápices", "q": "Cuántos"},
        {"n": "libros", "q": "Cuántos"},
        {"n": "huevos", "q": "Cuántos"},
    ],
    "ru": [
        {"N": "яблоко|яблока|яблок", "ng": "яблок"},
        {"N": "карандаш|карандаша|карандашей", "ng": "карандашей"},
        {"N": "книга|книги|книг", "ng": "книг"},
        {"N": "яйцо|яйца|яиц", "ng": "яиц"},
    ],
}

LANGUAGES = tuple(TEMPLATES)
