"""One-click examples for the Document translation tab, made on first use (no binary files in the repository):
a clean page image, the same page as a skewed, noisy grey scan, and a two-page born-digital PDF with a text layer."""

from __future__ import annotations

from pathlib import Path
from labkit.doctrans.render import font

TITLE = "Attention Is All You Need"
BODY = [
    "Abstract",
    "The dominant sequence transduction models are based on recurrent networks.",
    "We propose a new simple network architecture, the Transformer,",
    "based solely on attention mechanisms.",
    "Experiments on two machine translation tasks show these models",
    "to be superior in quality while being more parallelizable.",
]
SECOND_PAGE = [  # the PDF's second page, so the before/after viewer has pages to step through
    "1 Introduction",
    "Recurrent neural networks have been established as state of the art",
    "in sequence modeling and transduction problems.",
    "Attention mechanisms allow modeling of dependencies",
    "without regard to their distance in the input or output sequences.",
]
GLOSSARY = "attention = 注意力\nTransformer = Transformer"


def _page_image():
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (1240, 900), "white")
    draw = ImageDraw.Draw(img)
    draw.text((90, 70), TITLE, fill="black", font=font(48))
    for k, line in enumerate(BODY):
        draw.text((90, 190 + 70 * k), line, fill="black", font=font(40 if k == 0 else 30))
    return img


def _scan(img):
    """Grey, slightly rotated, speckled: what a phone or office scanner makes of the page."""
    import numpy as np
    from PIL import Image, ImageFilter

    grey = img.convert("L").rotate(1.2, expand=True, fillcolor=235).filter(ImageFilter.GaussianBlur(0.8))
    rng = np.random.default_rng(0)
    pixels = np.asarray(grey, dtype=np.int16) + rng.normal(0, 12, (grey.height, grey.width)).astype(np.int16)
    return Image.fromarray(np.clip(pixels - 15, 0, 255).astype(np.uint8)).convert("RGB")


def _pdf_bytes() -> bytes:
    """A two-page A4 PDF whose text is real text (Helvetica), so its pages need no OCR."""
    first = [(72, 760, 22, TITLE)] + [(72, 710 - 26 * k, 14 if k == 0 else 11, t) for k, t in enumerate(BODY)]
    second = [(72, 760 - 26 * k, 14 if k == 0 else 11, t) for k, t in enumerate(SECOND_PAGE)]
    return pdf_with_text(first, second)


def pdf_with_text(*pages: list[tuple[float, float, float, str]]) -> bytes:
    """An A4 PDF with one page per list of (x, y, size, text) lines, in points from the bottom left, in Helvetica
    (Latin-1 text)."""
    streams = [
        "".join(f"BT /F1 {size} Tf {x} {y} Td ({text}) Tj ET\n" for x, y, size, text in lines).encode("latin-1")
        for lines in pages
    ]
    # objects: 1 catalog, 2 pages, 3 font, then per page its page object and its content stream
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(streams)))
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(streams)} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, stream in enumerate(streams):
        objs.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]"
            b" /Resources << /Font << /F1 3 0 R >> >> /Contents " + f"{5 + 2 * i} 0 R >>".encode()
        )
        objs.append(b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"endstream")
    out, offsets = b"%PDF-1.4\n", []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode() + b"".join(
        f"{o:010d} 00000 n \n".encode() for o in offsets
    )
    return out + f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()


def example_files(folder: str | Path) -> dict[str, str]:
    """{"page": png, "scan": png, "pdf": pdf} in `folder`, written once."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "page": folder / "example-page.png",
        "scan": folder / "example-scan.png",
        "pdf": folder / "example-paper-2pages.pdf",
    }
    if not paths["page"].exists() or not paths["scan"].exists():
        img = _page_image()
        img.save(paths["page"])
        _scan(img).save(paths["scan"])
    if not paths["pdf"].exists():
        paths["pdf"].write_bytes(_pdf_bytes())
    return {k: str(v) for k, v in paths.items()}
