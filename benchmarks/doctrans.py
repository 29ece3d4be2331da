"""One A4 page at 150 dpi (1240×1754): OCR + layout + render, translation excluded (an identity backend),
with the share of time per stage. The page is drawn here: a title, two columns of body text.

Three paths, each timed `--repeats` times (min–median–max; wall and CPU seconds of this process, since the
machine may be shared):
  image          the page as an image: OCR (detector, direction classifier, recogniser) + layout + render
  scanned_pdf    the page inside a PDF without a text layer: PDF rendering at 150 dpi, then as `image`
  text_pdf       the same text as a born-digital PDF: rendering and the text layer, no OCR
Keys kept from earlier turns (medians of the image path): page, lines, blocks, total_s, ocr_s, layout_s,
render_s, share. `--configs` also times rapidocr settings against labkit's, in this process, with wall and CPU
seconds, the text's CER against labkit's settings, and the load average.

    .venv/bin/python benchmarks/doctrans.py [--repeats 5] [--configs]
"""

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from stats import spread

os.environ.setdefault("LABKIT_HOME", tempfile.mkdtemp(prefix="labkit-bench-"))
TITLE = "Attention Is All You Need"
TEXT = "The dominant sequence transduction models are based on complex recurrent or convolutional networks."
COLUMNS = (100, 660)  # x of the two columns, in pixels at 150 dpi


def body_lines():
    """(x, y, text) of the body in pixels at 150 dpi: two columns of 40 lines."""
    return [(x, 220 + i * 34, TEXT[(i * 7) % 40 :][:42]) for x in COLUMNS for i in range(40)]


def a4_page():
    from PIL import Image, ImageDraw

    from labkit.doctrans import render

    img = Image.new("RGB", (1240, 1754), "white")
    d = ImageDraw.Draw(img)
    d.text((120, 100), TITLE, fill="black", font=render.font(48))
    body = render.font(22)
    for x, y, text in body_lines():
        d.text((x, y), text, fill="black", font=body)
    return img


def a4_pdfs(folder: Path) -> dict[str, Path]:
    """The page as a born-digital PDF (the same text, in points) and as a PDF holding only its image."""
    from labkit.doctrans.examples import pdf_with_text

    pt = 72 / 150  # pixels at 150 dpi → points; PDF y runs up from the bottom of the 842 pt page
    lines = [(120 * pt, 842 - 148 * pt, 48 * pt, TITLE)] + [
        (x * pt, 842 - (y + 22) * pt, 22 * pt, t) for x, y, t in body_lines()
    ]
    paths = {"text_pdf": folder / "text.pdf", "scanned_pdf": folder / "scan.pdf"}
    paths["text_pdf"].write_bytes(pdf_with_text(lines))
    a4_page().save(paths["scanned_pdf"], resolution=150)
    return paths



def one_page(source) -> dict:
    """Seconds per stage (wall and CPU) for one page: an image, or a PDF path (loaded at 150 dpi)."""
    import numpy as np

    from labkit.doctrans import layout, ocr, render

    stages, cpu, t, c = {}, {}, time.perf_counter(), time.process_time()

    def mark(name):
        nonlocal t, c
        stages[name], cpu[name] = time.perf_counter() - t, time.process_time() - c
        t, c = time.perf_counter(), time.process_time()

    if isinstance(source, Path):
        page = ocr.load_pages(source, dpi=150)[0]
        mark("load")
        image, lines = page.image, page.lines
    else:
        image, lines = source, None
    ocr_parts = None
    if lines is None:
        res = ocr._engine(tuple(ocr.OCR_PARAMS.items()))(np.asarray(image))  # as ocr_image, plus rapidocr's timings
        lines = ocr.lines_of(res)
        ocr_parts = dict(zip(("det", "cls", "rec"), (x or 0.0 for x in res.elapse_list)))
        mark("ocr")
    blocks = layout.group(lines, image.width)
    mark("layout")
    render.render_page(image, blocks, [b.text for b in blocks])
    mark("render")
    return {"wall": stages, "cpu": cpu, "ocr_parts": ocr_parts, "lines": len(lines), "blocks": len(blocks)}


def summary(runs: list[dict]) -> dict:
    stages = list(runs[0]["wall"])
    total = [sum(r["wall"].values()) for r in runs]
    out = {
        "lines": runs[0]["lines"],
        "blocks": runs[0]["blocks"],
        "total_s_range": spread(total),
        "total_cpu_s_range": spread([sum(r["cpu"].values()) for r in runs]),
        "stage_s": {k: round(statistics.median(r["wall"][k] for r in runs), 3) for k in stages},
        "stage_cpu_s": {k: round(statistics.median(r["cpu"][k] for r in runs), 3) for k in stages},
        "share": {k: round(statistics.median(r["wall"][k] / sum(r["wall"].values()) for r in runs), 3) for k in stages},
    }
    if runs[0]["ocr_parts"]:
        out["ocr_parts_s"] = {
            k: round(statistics.median(r["ocr_parts"][k] for r in runs), 3) for k in ("det", "cls", "rec")
        }
    return out


def main(repeats: int):
    from labkit.doctrans import ocr

    img = a4_page()
    pdfs = a4_pdfs(Path(tempfile.mkdtemp()))
    ocr.ocr_image(img.crop((0, 0, 300, 300)))  # load the models outside the timing
    runs = {"image": [], "scanned_pdf": [], "text_pdf": []}
    for _ in range(repeats):  # interleaved: a burst of load elsewhere hits every path alike
        runs["image"].append(one_page(img))
        runs["scanned_pdf"].append(one_page(pdfs["scanned_pdf"]))
        runs["text_pdf"].append(one_page(pdfs["text_pdf"]))
    paths = {k: summary(v) for k, v in runs.items()}
    image = paths["image"]
    total = statistics.median(sum(r["wall"].values()) for r in runs["image"])
    print(
        json.dumps(
            {
                "page": "A4 @150 dpi (1240x1754)",
                "lines": image["lines"],
                "blocks": image["blocks"],
                "total_s": round(total, 2),
                "ocr_s": image["stage_s"]["ocr"],
                "layout_s": image["stage_s"]["layout"],
                "render_s": image["stage_s"]["render"],
                "share": image["share"],
                "repeats": repeats,
                "ocr_params": ocr.OCR_PARAMS,
                "paths": paths,
                "load_avg_1min": round(os.getloadavg()[0], 1),
                "cpus": os.cpu_count(),
            },
            indent=2,
        ),
        flush=True,
    )


CONFIGS = {
    "rapidocr defaults": {"Global.log_level": "warning"},
    "no direction classifier": {"Global.log_level": "warning", "Global.use_cls": False},
    "no classifier, recognition batch 16": {
        "Global.log_level": "warning",
        "Global.use_cls": False,
        "Rec.rec_batch_num": 16,
    },
    "no classifier, batch 16, detector max side 960": {
        "Global.log_level": "warning",
        "Global.use_cls": False,
        "Rec.rec_batch_num": 16,
        "Det.limit_type": "max",
        "Det.limit_side_len": 960,
    },
    "no classifier, batch 16, detector max side 1280, 1 onnxruntime thread": {
        "Global.log_level": "warning",
        "Global.use_cls": False,
        "Rec.rec_batch_num": 16,
        "Det.limit_type": "max",
        "Det.limit_side_len": 1280,
        "EngineConfig.onnxruntime.intra_op_num_threads": 1,
    },
    "no classifier, batch 16, 2 onnxruntime threads": {
        "Global.log_level": "warning",
        "Global.use_cls": False,
        "Rec.rec_batch_num": 16,
        "EngineConfig.onnxruntime.intra_op_num_threads": 2,
    },
}


def compare_configs(repeats: int):
    import numpy as np
    from rapidfuzz.distance import Levenshtein

    from labkit.doctrans import ocr

    img = a4_page()
    reference = "\n".join(line.text for line in ocr.ocr_image(img))
    for name, params in {"labkit": ocr.OCR_PARAMS, **CONFIGS}.items():
        engine = ocr._engine(tuple(params.items()))
        engine(np.asarray(img.crop((0, 0, 300, 300))))  # model loading outside the timing
        wall, cpu, parts = [], [], []
        for _ in range(repeats):
            t, c = time.perf_counter(), time.process_time()
            res = engine(np.asarray(img))
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            parts.append([x or 0.0 for x in res.elapse_list])
        text = "\n".join(line.text for line in ocr.lines_of(res))
        print(
            json.dumps(
                {
                    "config": name,
                    "lines": len(res.txts or ()),
                    "ocr_wall_s_range": spread(wall),
                    "ocr_cpu_s_range": spread(cpu),
                    "det_cls_rec_s": [round(statistics.median(p[k] for p in parts), 3) for k in range(3)],
                    "cer_vs_labkit": round(Levenshtein.distance(text, reference) / max(len(reference), 1), 4),
                    "load_avg_1min": round(os.getloadavg()[0], 1),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--configs", action="store_true")
    args = ap.parse_args()
    main(args.repeats)
    if args.configs:
        compare_configs(args.repeats)
