"""Bounded work on documents and clean errors for translate/chat input: huge pages are refused
before rendering, dpi is capped, encrypted PDFs get their own message, backwards page ranges and empty chat
messages exit 2 with a hint."""

import json

import pytest

from labkit.cli import main
from labkit.doctrans import ocr
from labkit.errors import LabkitError


def make_pdf(size=(612, 792), encrypted=False) -> bytes:
    """A minimal one-page PDF; `encrypted` adds a Standard security handler whose password is not empty."""
    objs = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {size[0]} {size[1]}] >>",
    ]
    if encrypted:
        objs.append("<< /Filter /Standard /V 1 /R 2 /O <" + "11" * 32 + "> /U <" + "22" * 32 + "> /P -4 >>")
    out, offsets = b"%PDF-1.4\n", []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{obj}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode() + b"".join(
        f"{o:010d} 00000 n \n".encode() for o in offsets
    )
    extra = " /Encrypt 4 0 R /ID [<" + "ab" * 16 + "> <" + "ab" * 16 + ">]" if encrypted else ""
    return out + f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R{extra} >>\nstartxref\n{xref}\n%%EOF\n".encode()


def test_a_huge_page_is_refused_before_rendering(tmp_path, monkeypatch):
    import pypdfium2 as pdfium

    def no_render(*a, **k):
        raise AssertionError("the page was rendered before its size was checked")

    monkeypatch.setattr(pdfium.PdfPage, "render", no_render)
    path = tmp_path / "huge.pdf"
    path.write_bytes(make_pdf((14400, 14400)))
    assert path.stat().st_size < 700
    with pytest.raises(LabkitError, match="30000×30000 pixels at 150 dpi") as err:
        ocr.load_pages(path)
    assert "at most 31 dpi" not in err.value.hint and "too large" in err.value.hint  # no dpi rescues a 200-inch page
    wide = tmp_path / "wide.pdf"
    wide.write_bytes(make_pdf((3000, 2000)))
    with pytest.raises(LabkitError) as err:
        ocr.load_pages(wide, dpi=300)
    assert "at most 185 dpi" in err.value.hint  # 3000×2000 pt at 185 dpi ≈ 40 MP


@pytest.mark.parametrize("dpi", [0, -5, 35, 601, 10_000, True, "150"])
def test_dpi_outside_the_range_is_refused(tmp_path, dpi):
    path = tmp_path / "page.pdf"
    path.write_bytes(make_pdf())
    with pytest.raises(LabkitError, match="dpi must be a number from 36 to 600"):
        ocr.load_pages(path, dpi=dpi)


def test_encrypted_pdf_says_so(tmp_path):
    path = tmp_path / "locked.pdf"
    path.write_bytes(make_pdf(encrypted=True))
    with pytest.raises(LabkitError, match="encrypted") as err:
        ocr.load_pages(path)
    assert "password" in err.value.hint and "re-export" not in err.value.hint.lower()


def test_backwards_page_range():
    with pytest.raises(LabkitError, match="runs backwards") as err:
        ocr.parse_range("3-1", 5)
    assert "1-3" in err.value.hint


def _exit2(capsys, *argv) -> dict:
    assert main([*argv, "--json"]) == 2
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["hint"] and "hint:" in captured.err
    return data


def test_translate_cli_bad_dpi_and_pages(tmp_path, capsys):
    path = tmp_path / "page.pdf"
    path.write_bytes(make_pdf())
    assert "dpi" in _exit2(capsys, "translate", "ocr", str(path), "--dpi", "0")["error"]
    assert "3-1" in _exit2(capsys, "translate", "ocr", str(path), "--pages", "3-1")["error"]
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(make_pdf(encrypted=True))
    assert "encrypted" in _exit2(capsys, "translate", "ocr", str(locked))["error"]


def test_chat_cli_empty_message_and_unknown_strategy(capsys):
    # both are refused before any model loads (the default model is not needed to see the error)
    assert "empty" in _exit2(capsys, "chat", "--once", "   \n\t")["error"]
    err = _exit2(capsys, "chat", "--once", "I failed my exam", "--strategy", "Questoin")
    assert "Unknown strategy 'Questoin'" in err["error"] and "did you mean 'Question'" in err["error"]
    assert "Reflection of Feelings" in err["hint"]
