"""One A4 page at 150 dpi (1240×1754): OCR + layout + render, translation excluded (an identity backend),
with the share of time per stage. The page is drawn here: a title, two columns of body text, a list.

    .venv/bin/python benchmarks/doctrans.py
"""
import json
import os
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
    for col, x in enumerate((100, 660)):
        for i in range(40):
            d.text((x, 220 + i * 34), text[(i * 7) % 40:][:42], fill="black", font=body)
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
    print(json.dumps({"page": "A4 @150 dpi (1240x1754)", "lines": len(lines), "blocks": len(blocks), "total_s": round(total, 2),
                      "ocr_s": round(t1 - t0, 2), "layout_s": round(t2 - t1, 3), "render_s": round(t3 - t2, 2),
                      "share": {"ocr": round((t1 - t0) / total, 3), "layout": round((t2 - t1) / total, 3), "render": round((t3 - t2) / total, 3)}}, indent=2))


if __name__ == "__main__":
    main()
