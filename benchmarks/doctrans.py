"""One A4 page at 150 dpi (1240×1754): OCR + layout + render, translation excluded (an identity backend),
with the share of time per stage. The page is drawn here: a title, two columns of body text.

Three paths, each timed `--repeats` times (min–median–max; wall and CPU seconds of this process, since the
machine may be shared):
  image          the page as an image: OCR (detector, direction classifier, recogniser) + layout + render
  scanned_pdf    the page inside a PDF without a text layer: PDF rendering at 150 dpi, then as `image`
  text_pdf       the same text as a born-digital PDF: rendering and the text layer, no OCR
Keys kept from earlier turns (medians of the image path): page, lines, blocks, total_s, ocr_s, layout_s,
render_s, share. `--configs` also times rapidocr settings (with rapidocr's own recogniser) against labkit's engine,
in this process, with wall and CPU seconds, the text's CER against labkit's, and the load average.

`before_after`: the OCR paths (image, scanned_pdf) timed in turns, rounds rotating which goes first, in one run:
  after                  labkit's recogniser (ocr.LineByLine: one line per model run, narrowed to ocr.REC_WIDTH,
                         the lines spread over one single-threaded run per core), this tree's layout and rendering
  full width             the same with the lines at full width (REC_WIDTH 1.0)
  rapidocr's own         the same with rapidocr's recogniser (batches of 16, full width, onnxruntime's threads)
  before (--before-tree) an earlier commit, whole: its labkit in a process of its own (see Tree), e.g.
                         `git worktree add --detach /tmp/old 783599f`
each with its per-page seconds (min, median; wall and CPU), the CER against the text drawn on the page (whitespace
ignored) of the benchmark page and of the two bundled example pages (`labkit.doctrans.examples`), whether its text
is the first variant's, and the 1-minute load average at each round.

`--widths` (alone): the CER of labkit's recogniser with the lines at 1.0 … 0.75 of their width, and of rapidocr's own,
on pages beyond the bundled ones (6 fonts × 3 sizes, and scans; see width_pages) and on the bundled pages.

    .venv/bin/python benchmarks/doctrans.py [--repeats 5] [--configs] [--before-tree /tmp/old]
    .venv/bin/python benchmarks/doctrans.py --widths
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


def one_page(source, lines_apart: bool | None = True, width: float | None = None) -> dict:
    """Seconds per stage (wall and CPU) for one page: an image, or a PDF path (loaded at 150 dpi). lines_apart=False:
    rapidocr's own recogniser; None: labkit's engine as its ocr._engine() makes it (an earlier labkit, --serve).
    width: the lines' width for labkit's recogniser (ocr.REC_WIDTH when None)."""
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
        params = tuple(ocr.OCR_PARAMS.items())
        if lines_apart is None:
            engine = ocr._engine(params)
        elif width is None:
            engine = ocr._engine(params, lines_apart)
        else:
            engine = ocr._engine(params, lines_apart, width)
        res = engine(np.asarray(image))  # as ocr_image, plus rapidocr's timings
        lines = ocr.lines_of(res)
        ocr_parts = dict(zip(("det", "cls", "rec"), (x or 0.0 for x in res.elapse_list)))
        mark("ocr")
    blocks = layout.group(lines, image.width)
    mark("layout")
    render.render_page(image, blocks, [b.text for b in blocks])
    mark("render")
    return {
        "wall": stages,
        "cpu": cpu,
        "ocr_parts": ocr_parts,
        "lines": len(lines),
        "blocks": len(blocks),
        "text": [(l.text, list(l.box)) for l in lines],
    }


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


def cer(lines, reference: list[str], width: float) -> float:
    """Character error rate of OCR'd lines against the text drawn on the page, whitespace ignored, lines read
    left column then right column, each top to bottom (the benchmark page's two columns; one column elsewhere)."""
    from rapidfuzz.distance import Levenshtein

    def bare(text):
        return "".join(text.split())

    got = "".join(bare(t) for t, box in sorted(lines, key=lambda l: (l[1][0] > width / 2, l[1][1])))
    ref = bare("".join(reference))
    return Levenshtein.distance(got, ref) / max(len(ref), 1)


def sample_pages() -> dict:
    """The OCR pages timed and checked: the benchmark page as an image and as a scanned PDF, and the bundled
    example page (clean) and its scan (`labkit.doctrans.examples`), each with the text drawn on it."""
    from labkit.doctrans import examples

    example = examples._page_image()
    ref = [TITLE] + [t for _, _, t in body_lines()]
    example_ref = [examples.TITLE, *examples.BODY]
    return {
        "image": (a4_page(), ref),
        "scanned_pdf": (a4_pdfs(Path(tempfile.mkdtemp()))["scanned_pdf"], ref),
        "example_page": (example, example_ref),
        "example_scan": (examples._scan(example), example_ref),
    }


AFTER = "after: labkit's recogniser (LineByLine, lines at REC_WIDTH)"
FULL_WIDTH = "labkit's recogniser, lines at full width"
RAPIDOCR_REC = "rapidocr's own recogniser (batches of 16)"


class Tree:
    """labkit as committed in another checkout (`git worktree add /tmp/old <commit>`), in a process of its own
    (PYTHONPATH puts that labkit first) that loads the models once, then times one page per request with this
    file's one_page: labkit before, whole (OCR, layout and rendering as they were)."""

    def __init__(self, tree: str):
        import subprocess
        import sys

        env = {**os.environ, "PYTHONPATH": str(Path(tree).resolve())}
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        self.labkit = self.ask("where")["labkit"]
        if not self.labkit.startswith(str(Path(tree).resolve())):
            raise SystemExit(f"--before-tree: labkit came from {self.labkit}, not {tree}")

    def ask(self, name: str) -> dict:
        self.proc.stdin.write(name + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def serve():
    """--serve: answer `one_page` for the sample page named on each line of stdin (see Tree)."""
    import sys

    import labkit
    from labkit.doctrans import ocr

    pages = sample_pages()
    ocr.ocr_image(pages["image"][0].crop((0, 0, 300, 300)))  # the models load before the first timing
    for name in sys.stdin:
        name = name.strip()
        out = {"labkit": labkit.__file__} if name == "where" else one_page(pages[name][0], lines_apart=None)
        print(json.dumps(out), flush=True)


def main(repeats: int, before_tree: str | None = None):
    import numpy as np

    from labkit.doctrans import ocr

    pages = sample_pages()
    img, pdfs = pages["image"][0], {"scanned_pdf": pages["scanned_pdf"][0], **a4_pdfs(Path(tempfile.mkdtemp()))}
    variants = {
        AFTER: lambda name: one_page(pages[name][0]),
        FULL_WIDTH: lambda name: one_page(pages[name][0], True, 1.0),
        RAPIDOCR_REC: lambda name: one_page(pages[name][0], False),
    }
    for lines_apart, width in ((True, None), (True, 1.0), (False, None)):  # the models load outside the timing
        params = tuple(ocr.OCR_PARAMS.items())
        engine = ocr._engine(params, lines_apart) if width is None else ocr._engine(params, lines_apart, width)
        engine(np.asarray(img.crop((0, 0, 300, 300))))
    if before_tree:
        tree = Tree(before_tree)
        variants = {f"before: {before_tree} (labkit {tree.labkit})": tree.ask, **variants}
    runs = {"image": [], "scanned_pdf": [], "text_pdf": []}
    rounds = {v: {"image": [], "scanned_pdf": []} for v in variants}
    load = []
    for k in range(repeats):  # interleaved: a burst of load elsewhere hits every path alike; variants take turns
        load.append(os.getloadavg()[0])
        names = list(variants)
        for v in names[k % len(names) :] + names[: k % len(names)]:
            for path in ("image", "scanned_pdf"):
                rounds[v][path].append(variants[v](path))
        runs["image"] += rounds[AFTER]["image"][-1:]
        runs["scanned_pdf"] += rounds[AFTER]["scanned_pdf"][-1:]
        runs["text_pdf"].append(one_page(pdfs["text_pdf"]))
    load.append(os.getloadavg()[0])
    before_after = {}
    for v, by_path in rounds.items():
        row = {}
        for path in ("image", "scanned_pdf"):
            total = [sum(r["wall"].values()) for r in by_path[path]]
            row[path] = {
                "page_s_min": round(min(total), 2),
                "page_s_median": round(statistics.median(total), 2),
                "cpu_s_median": round(statistics.median(sum(r["cpu"].values()) for r in by_path[path]), 2),
                "ocr_s_median": round(statistics.median(r["wall"]["ocr"] for r in by_path[path]), 2),
                "render_s_median": round(statistics.median(r["wall"]["render"] for r in by_path[path]), 3),
                "cer": round(cer(by_path[path][0]["text"], pages[path][1], img.width), 4),
            }
        for name in ("example_page", "example_scan"):  # CER of the bundled example pages
            page, ref = pages[name]
            row[f"{name}_cer"] = round(cer(variants[v](name)["text"], ref, page.width), 4)
        row["text"] = [t for t, _ in by_path["image"][0]["text"]]
        before_after[v] = row
    first = before_after[next(iter(variants))].pop("text")
    for v in variants:
        before_after[v]["same_text_as_first"] = before_after[v].pop("text", first) == first
    before_after["load_avg_1min_per_round"] = [round(x, 1) for x in load]
    if before_tree:
        tree.close()
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
                "before_after": before_after,
                "load_avg_1min": round(os.getloadavg()[0], 1),
                "cpus": os.cpu_count(),
            },
            indent=2,
            ensure_ascii=False,
        ),
        flush=True,
    )


# --widths: lines beyond the bundled pages, for what narrowing the lines (ocr.REC_WIDTH) costs in accuracy: numbers,
# a URL, narrow glyphs (the third line is made to be hard: 1, l, I, | side by side), Chinese and Japanese.
WIDTH_EN = [
    "Table 3: BLEU 28.4 vs. 41.0 (EN-DE), p < 0.01.",
    "We trained the base models for 100,000 steps;",
    "illicit fill-in lilt: 1l1I|ii.,;: minimal",
    "The Transformer allows for significantly more",
    "parallelization and can reach a new state of the art",
    "in translation quality after being trained for",
    "as little as twelve hours on eight P100 GPUs.",
    "https://arxiv.org/abs/1706.03762 [cs.CL] 2017",
]
WIDTH_CJK = [
    "我们提出了一种新的简单网络结构，完全基于注意力机制。",
    "在两个机器翻译任务上的实验表明，这些模型质量更优。",
    "同时更具并行性，训练所需时间显著减少（约十二小时）。",
    "日本語のテキストも認識できますか？はい、できます。",
]
WIDTH_FONTS = {
    "sans": "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "condensed": "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed.ttf",
    "serif": "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "mono": "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "cjk": "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "cjk-serif": "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
}


def width_pages() -> dict:
    """One page per font (those installed) and size (16, 22, 30 px), and the 22 px pages scanned as the bundled
    example is (`examples._scan`); the CJK fonts' pages carry Chinese and Japanese lines too."""
    from PIL import Image, ImageDraw, ImageFont

    from labkit.doctrans import examples

    out = {}
    for name, path in WIDTH_FONTS.items():
        if not Path(path).exists():
            continue
        lines = WIDTH_EN[:4] + WIDTH_CJK if name.startswith("cjk") else WIDTH_EN
        for px in (16, 22, 30):
            fnt = ImageFont.truetype(path, px)
            img = Image.new("RGB", (1240, int(120 + len(lines) * px * 2)), "white")
            draw = ImageDraw.Draw(img)
            for k, text in enumerate(lines):
                draw.text((60, 60 + k * px * 2), text, fill="black", font=fnt)
            out[f"{name} {px}px"] = (img, lines)
            if px == 22:
                out[f"{name} {px}px scanned"] = (examples._scan(img), lines)
    return out


def compare_widths(widths=(1.0, 0.95, 0.9, 0.85, 0.8, 0.75)):
    """CER of labkit's recogniser at each width on width_pages(), against rapidocr's own recogniser (batches of
    16, full width), with and without the hard third line, and the bundled pages' CER."""
    import numpy as np
    from rapidfuzz.distance import Levenshtein

    from labkit.doctrans import ocr

    pages, bundled = width_pages(), sample_pages()
    del bundled["scanned_pdf"]
    params = tuple(ocr.OCR_PARAMS.items())
    engines = [("rapidocr's own recogniser (batches of 16)", lambda: ocr._engine(params, False))]
    engines += [(f"labkit's recogniser, width {w}", lambda w=w: ocr._engine(params, True, w)) for w in widths]
    for name, make in engines:
        engine = make()
        errors = chars = easy_errors = easy_chars = 0
        for img, ref in pages.values():
            got = ocr.lines_of(engine(np.asarray(img)))
            e = round(cer([(l.text, l.box) for l in got], ref, img.width) * len("".join("".join(ref).split())))
            errors, chars = errors + e, chars + len("".join("".join(ref).split()))
            easy = [l for l in got if Levenshtein.normalized_distance(l.text, WIDTH_EN[2]) > 0.5]
            easy_ref = [t for t in ref if t != WIDTH_EN[2]]
            n = len("".join("".join(easy_ref).split()))
            easy_errors += round(cer([(l.text, l.box) for l in easy], easy_ref, img.width) * n)
            easy_chars += n
        marks = {
            k: round(cer([(l.text, l.box) for l in ocr.lines_of(engine(np.asarray(img)))], ref, img.width), 4)
            for k, (img, ref) in bundled.items()
        }
        print(
            json.dumps(
                {
                    "recogniser": name,
                    "pages": len(pages),
                    "cer": round(errors / chars, 4),
                    "errors": errors,
                    "chars": chars,
                    "cer_without_the_hard_line": round(easy_errors / easy_chars, 4),
                    "bundled_pages_cer": marks,
                },
                ensure_ascii=False,
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
        # labkit's engine as it is; the settings rows with rapidocr's own recogniser, which their Rec.* and thread
        # settings are about
        engine = ocr._engine(tuple(params.items()), name == "labkit")
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
    ap.add_argument("--before-tree", help="a checkout of an earlier commit, timed in alternation as 'before'")
    ap.add_argument("--widths", action="store_true", help="only the CER of the recogniser at several line widths")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve()
        raise SystemExit
    if args.widths:
        compare_widths()
        raise SystemExit
    main(args.repeats, args.before_tree)
    if args.configs:
        compare_configs(args.repeats)
