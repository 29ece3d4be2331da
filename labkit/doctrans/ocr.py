"""Pages in, text lines out: images (PNG/JPEG/WebP) and PDFs (rendered with pypdfium2; born-digital text
read directly when a page has it, OCR otherwise), with limits on pages and pixels; OCR with rapidocr,
whose PP-OCR models ship inside the wheel (offline)."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from labkit.errors import LabkitError

IMAGE_TYPES = {".png", ".jpg", ".jpeg", ".webp"}
MAX_PAGES = 50
MAX_PIXELS = 40_000_000  # about A3 at 300 dpi
MIN_DPI, MAX_DPI = 36, 600  # below 36 dpi no text survives; above 600 OCR gains nothing and memory explodes
_PDF_PASSWORD_ERROR = 4  # PDFium's FPDF_ERR_PASSWORD


@dataclass
class Line:
    text: str
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in page pixels
    confidence: float

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


@dataclass
class Page:
    image: object  # PIL.Image
    lines: list[Line] | None = None  # born-digital text, when the PDF page has it
    number: int = 1


def _open_image(path: Path):
    """The page image, once its header's declared size is within MAX_PIXELS: a small file declaring a huge image
    is refused before a single pixel is decoded (PIL's own bomb check raises past OSError, so it is caught too)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as probe:
            width, height = probe.size  # from the header: nothing decoded yet
            if width * height > MAX_PIXELS:
                raise LabkitError(
                    f"{path.name} is {width}×{height} pixels, above the {MAX_PIXELS // 1_000_000} MP limit.",
                    hint="Downscale it first.",
                )
            probe.verify()  # catches truncated/corrupt files before any work
        img = Image.open(path)
        img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise LabkitError(
            f"{path.name} declares more pixels than the {MAX_PIXELS // 1_000_000} MP limit.", hint="Downscale it first."
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise LabkitError(
            f"{path.name} is not a readable image: {type(e).__name__}",
            hint="Upload a PNG, JPEG or WebP file, or a PDF.",
        ) from None
    return img.convert("RGB")


def parse_range(spec: str | None, n: int) -> list[int]:
    """'1-3,5' → [0, 1, 2, 4] (0-based, within n pages). Each part is checked against the page count before any
    list is built, so a range of a billion pages costs nothing, and a refusal names the range, not its pages."""
    if not spec:
        return list(range(n))
    if len(spec) > 1000:
        raise LabkitError(f"The page range is {len(spec)} characters long.", hint="Use e.g. 1-3,5")
    pages: list[int] = []
    try:
        for part in spec.replace(" ", "").split(","):
            a, _, b = part.partition("-")
            if len(a) > 12 or len(b) > 12:
                raise ValueError(part)
            first, last = int(a), int(b or a)
            if last < first:
                raise LabkitError(
                    f"The page range {part!r} runs backwards.", hint=f"Write it first page first, e.g. {last}-{first}."
                )
            if first < 1 or last > n:
                raise LabkitError(
                    f"Pages {part[:40]!r} are outside the document ({n} pages).", hint=f"Pages run from 1 to {n}."
                )
            pages += range(first - 1, last)
            if len(pages) > n:
                raise LabkitError(f"The page range {spec[:80]!r} names more pages than the document has ({n}).")
    except ValueError:
        raise LabkitError(f"Cannot read the page range {spec[:80]!r}.", hint="Use e.g. 1-3,5") from None
    return pages


def check_dpi(dpi) -> int:
    if isinstance(dpi, bool) or not isinstance(dpi, int | float) or not MIN_DPI <= dpi <= MAX_DPI:
        raise LabkitError(
            f"dpi must be a number from {MIN_DPI} to {MAX_DPI}, not {dpi!r}.",
            hint="150 suits most pages; 300 for small print.",
        )
    return int(dpi)


def load_pages(path: str | Path, pages: str | None = None, dpi: int = 150) -> list[Page]:
    dpi = check_dpi(dpi)
    path = Path(path)
    if not path.exists():
        raise LabkitError(f"No file {path}.")
    suffix = path.suffix.lower()
    if suffix in IMAGE_TYPES:
        return [Page(_open_image(path))]
    if suffix != ".pdf":
        raise LabkitError(f"Unsupported file type {suffix or '(none)'}.", hint="PNG, JPEG, WebP or PDF.")
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as e:
        if getattr(e, "err_code", None) == _PDF_PASSWORD_ERROR:
            raise LabkitError(
                f"{path.name} is encrypted (password-protected); labkit does not open protected PDFs.",
                hint="Remove the password in a PDF reader (print or export to an unprotected PDF), then try again.",
            ) from e
        raise LabkitError(
            f"{path.name} is not a readable PDF: {e}", hint="Is the file complete? Try re-exporting it."
        ) from e
    chosen = parse_range(pages, len(pdf))
    if len(chosen) > MAX_PAGES:
        raise LabkitError(
            f"{len(chosen)} pages requested; the limit is {MAX_PAGES}.", hint="Choose a page range, e.g. 1-10."
        )
    out = []
    scale = dpi / 72
    for i in chosen:  # sizes first: a tiny file can declare a huge page, and rendering it would take gigabytes
        w, h = (round(v * scale) for v in pdf[i].get_size())
        if w * h > MAX_PIXELS:
            pw, ph = pdf[i].get_size()
            fit = int(72 * (MAX_PIXELS / (pw * ph)) ** 0.5)
            raise LabkitError(
                f"Page {i + 1} would render to {w}×{h} pixels at {dpi} dpi, above the "
                f"{MAX_PIXELS // 1_000_000} MP limit.",
                hint=f"Lower the dpi (at most {fit} dpi for this page)"
                if fit >= MIN_DPI
                else "This page is too large to translate.",
            )
    for i in chosen:
        page = pdf[i]
        image = page.render(scale=scale).to_pil().convert("RGB")
        out.append(Page(image, _pdf_lines(page, scale), number=i + 1))
    return out


def _pdf_lines(page, scale: float) -> list[Line] | None:
    """Text rectangles of a born-digital page (None for a scan: no text layer)."""
    textpage = page.get_textpage()
    if len(textpage.get_text_range().strip()) < 10:
        return None
    height = page.get_height()
    lines = []
    for i in range(textpage.count_rects()):
        x0, y0, x1, y1 = textpage.get_rect(i)  # PDF points, origin bottom-left
        text = textpage.get_text_bounded(x0, y0, x1, y1).strip()
        if text:
            lines.append(Line(text, (x0 * scale, (height - y1) * scale, x1 * scale, (height - y0) * scale), 1.0))
    return lines or None


# rapidocr settings, measured by benchmarks/doctrans.py --configs (docs/performance.md). The recogniser is most of
# the time. The direction classifier is off: it only turns upside-down lines, rare on document pages. The
# detector sees the page with its long side at most 1280 px (rapidocr's default runs it at full size: 1.9x the
# pixels of an A4 page at 150 dpi). "Rec.rec_batch_num" only matters to rapidocr's own recogniser (lines_apart=False,
# the benchmark's "before"); labkit recognises line by line (LineByLine).
OCR_PARAMS = {
    "Global.log_level": "warning",
    "Global.use_cls": False,
    "Det.limit_type": "max",
    "Det.limit_side_len": 1280,
    "Rec.rec_batch_num": 16,
}


# Each line goes to the recogniser at 90% of its width (height 48 px, as rapidocr scales it): the model's cost grows
# with the width, so this is ~10% of the recogniser's time (~7% of an OCR page's). On the benchmark page and the
# bundled example pages the text is the same as at full width; on a wider set of rendered and scanned lines
# (benchmarks/doctrans.py --widths, docs/performance.md §4) ordinary lines read as well, a run of thin glyphs
# (1, l, I, |) that full width also misreads loses a few more characters, and 0.85 or less starts to drop dots and
# letters of ordinary words. 1.0: rapidocr's own widths.
REC_WIDTH = 0.9


def rec_workers() -> int:
    """Lines recognised at once: one per core this process may run on (each run single-threaded, so a busy machine
    costs no spinning threads)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def longest_first(images) -> list[int]:
    """Indices of the line images, widest (relative to height) first: the longest lines start first, so the
    workers finish together rather than one of them running the page's longest line alone at the end."""
    return sorted(range(len(images)), key=lambda i: -images[i].shape[1] / max(images[i].shape[0], 1))


def narrowed(image, width: float, height: int = 48, min_width: int = 320):
    """The line image as the recogniser should see it at `width` times its width: scaled to `height` (rapidocr
    scales it so too, then leaves it be) and narrowed, though not below `min_width` (rapidocr pads a line to that
    width, so narrowing it further saves nothing). The image itself when there is nothing to narrow."""
    h, w = image.shape[:2]
    full = height * w / max(h, 1)
    if width >= 1 or full <= min_width:
        return image
    import cv2

    return cv2.resize(image, (max(min_width, int(full * width)), height))


class LineByLine:
    """Stands in for rapidocr's recogniser (engine.text_rec): the same model, resizing and decoding (rapidocr's own
    TextRecognizer, handed one line at a time, narrowed to REC_WIDTH), with the lines spread over `workers`
    threads, each running the model single-threaded. rapidocr runs 16 lines a batch (padded to the widest) and
    sends 16 × 18,710 character scores per column through memory; one line at a time has no padding and its scores
    stay in cache, and threads over lines scale better than onnxruntime's threads inside one line
    (docs/performance.md §4: 20% less CPU for the same text, both cores busy)."""

    def __init__(self, make_rec, workers: int, width: float = REC_WIDTH):
        self._make_rec, self._rec, self.workers, self.width = make_rec, None, workers, width
        self._lock = threading.Lock()

    @property
    def rec(self):
        with self._lock:
            if self._rec is None:
                self._rec = self._make_rec()
            return self._rec

    def __call__(self, args):
        import time

        from rapidocr.ch_ppocr_rec import TextRecInput, TextRecOutput

        images = [args.img] if not isinstance(args.img, list | tuple) else list(args.img)
        rec = self.rec
        if not images:
            return rec(args)
        start = time.perf_counter()
        _, height, min_width = rec.rec_image_shape[:3]

        def one(i):
            line = narrowed(images[i], self.width, height, min_width)
            return rec(TextRecInput(img=[line], return_word_box=args.return_word_box))

        order = longest_first(images)
        with ThreadPoolExecutor(max_workers=min(self.workers, len(images))) as pool:
            done = dict(zip(order, pool.map(one, order)))
        out = [done[i] for i in range(len(images))]
        return TextRecOutput(
            images,
            tuple(o.txts[0] for o in out),
            tuple(o.scores[0] for o in out),
            tuple(o.word_results[0] for o in out),
            time.perf_counter() - start,
            viser=out[0].viser,
        )


@lru_cache(maxsize=4)
def _engine(params: tuple = tuple(OCR_PARAMS.items()), lines_apart: bool = True, width: float = REC_WIDTH):
    """rapidocr with `params`; its recogniser replaced by LineByLine (lines at `width` times their width) unless
    lines_apart is False."""
    from rapidocr import RapidOCR

    engine = RapidOCR(params=dict(params))
    if lines_apart:
        single = {**dict(params), "EngineConfig.onnxruntime.intra_op_num_threads": 1}
        engine.text_rec = LineByLine(lambda: RapidOCR(params=single)._load_rec_model(), rec_workers(), width)
    return engine


def ocr_image(image, params: dict | None = None) -> list[Line]:
    import numpy as np

    return lines_of(_engine(tuple((params or OCR_PARAMS).items()))(np.asarray(image.convert("RGB"))))


def lines_of(result) -> list[Line]:
    """rapidocr's output as Lines (none when it found no text)."""
    if result.boxes is None:
        return []
    lines = []
    for box, text, score in zip(result.boxes, result.txts, result.scores):
        xs, ys = [p[0] for p in box], [p[1] for p in box]
        lines.append(Line(text, (float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys))), float(score)))
    return lines


def page_lines(page: Page) -> tuple[list[Line], str]:
    """The page's lines and where they came from ("pdf-text" or "ocr")."""
    return (page.lines, "pdf-text") if page.lines else (ocr_image(page.image), "ocr")
