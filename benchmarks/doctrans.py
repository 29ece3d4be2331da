"""One A4 page at 150 dpi (1240×1754): OCR + layout + render, translation excluded (an identity backend),
with the share of time per stage. The page is drawn here: a title, two columns of body text, a list.
`--configs` also times rapidocr settings against the defaults on the same page, in this process, with wall
and CPU seconds, the text's CER against the defaults, and the load average (the machine may be shared).

    .venv/bin/python benchmarks/doctrans.py [--configs]
"""

import json
import os
import sys
import tempfile
import time

os.environ.setdefault("LABKIT_HOME", tempfile.mkdtemp(prefix="labkit-bench-"))


def a4_page():
    from PIL import Image, ImageDraw

    from labkit.doctrans import render

    img = Image.new("RGB", (1240, 1754), "white")
    d = ImageDraw.Draw(img)
    d.text((120, 100), "Attention Is All You Need", fill="black", font=render.font(48))
    body = render.font(22)
    text = "The dominant sequence transduction models are based on complex recurrent or convolutional networks."
    for _col, x in enumerate((100, 660)):
        for i in range(40):
            d.text((x, 220 + i * 34), text[(i * 7) % 40 :][:42], fill="black", font=body)
    return img


class Identity:
    def generate(self, prompts, params):
        return [[p[-1]["content"].split("<text>\n")[-1].split("\n</text>")[0]] for p in prompts]


def main():
    from labkit.doctrans import layout, ocr, render

    img = a4_page()
    ocr.ocr_image(img.crop((0, 0, 200, 200)))  # load the models outside the timing
    t0 = time.perf_counter()
    lines = ocr.ocr_image(img)
    t1 = time.perf_counter()
    blocks = layout.group(lines, img.width)
    t2 = time.perf_counter()
    render.render_page(img, blocks, [b.text for b in blocks])
    t3 = time.perf_counter()
    total = t3 - t0
    print(
        json.dumps(
            {
                "page": "A4 @150 dpi (1240x1754)",
                "lines": len(lines),
                "blocks": len(blocks),
                "total_s": round(total, 2),
                "ocr_s": round(t1 - t0, 2),
                "layout_s": round(t2 - t1, 3),
                "render_s": round(t3 - t2, 2),
                "share": {
                    "ocr": round((t1 - t0) / total, 3),
                    "layout": round((t2 - t1) / total, 3),
                    "render": round((t3 - t2) / total, 3),
                },
            },
            indent=2,
        )
    )


CONFIGS = {
    "default": {},
    "no direction classifier": {"Global.use_cls": False},
    "no classifier, recognition batch 16": {"Global.use_cls": False, "Rec.rec_batch_num": 16},
    "no classifier, batch 16, detector max side 960": {
        "Global.use_cls": False,
        "Rec.rec_batch_num": 16,
        "Det.limit_type": "max",
        "Det.limit_side_len": 960,
    },
    "no classifier, batch 16, 2 onnxruntime threads": {
        "Global.use_cls": False,
        "Rec.rec_batch_num": 16,
        "EngineConfig.onnxruntime.intra_op_num_threads": 2,
    },
}


def compare_configs(repeats: int = 2):
    from rapidfuzz.distance import Levenshtein

    from labkit.doctrans import ocr

    img, reference = a4_page(), None
    for name, extra in CONFIGS.items():
        params = {**ocr.OCR_PARAMS, **extra}
        ocr.ocr_image(img.crop((0, 0, 300, 300)), params)  # model loading outside the timing
        wall, cpu = [], []
        for _ in range(repeats):
            t, c = time.perf_counter(), time.process_time()
            lines = ocr.ocr_image(img, params)
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        text = "\n".join(line.text for line in lines)
        reference = reference if reference is not None else text
        print(
            json.dumps(
                {
                    "config": name,
                    "lines": len(lines),
                    "ocr_wall_s": [round(x, 2) for x in wall],
                    "ocr_cpu_s": [round(x, 2) for x in cpu],
                    "cer_vs_default": round(Levenshtein.distance(text, reference) / max(len(reference), 1), 4),
                    "load_avg_1min": round(os.getloadavg()[0], 1),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
    if "--configs" in sys.argv:
        compare_configs()
