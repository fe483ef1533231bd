"""web.highlight: rectangles for a quote on a real CUAD PDF page, checked
against the word boxes PyMuPDF reports (no browser)."""

from __future__ import annotations

import pymupdf

from tests.web.conftest import HOSTING_PDF
from web.highlight import find_highlights, normalise


def _covered_text(page: pymupdf.Page, rects: list) -> str:
    w, h = page.rect.width, page.rect.height
    words = []
    for x0, y0, x1, y1, text, *_ in page.get_text("words", sort=True):
        cx, cy = (x0 + x1) / 2 / w, (y0 + y1) / 2 / h
        if any(r.x0 <= cx <= r.x1 and r.y0 <= cy <= r.y1 for r in rects):
            words.append(text)
    return normalise(" ".join(words))


def test_a_quote_over_several_lines_is_covered_exactly() -> None:
    with pymupdf.open(HOSTING_PDF) as pdf:
        text = " ".join(pdf[0].get_text().split())
        quote = text[text.index("Management of SMTP") :][:220]
        rects = find_highlights(HOSTING_PDF, 1, quote)
        assert len({round(r.y0, 3) for r in rects}) >= 2  # one rectangle per line
        covered = _covered_text(pdf[0], rects)
    assert normalise(quote)[:-10] in covered
    assert len(covered) <= len(normalise(quote)) + 20


def test_a_quote_over_the_page_break_is_highlighted_on_both_pages() -> None:
    with pymupdf.open(HOSTING_PDF) as pdf:
        tail = " ".join(pdf[0].get_text().split()[-14:])
        head = " ".join(pdf[1].get_text().split()[:12])
        rects = find_highlights(HOSTING_PDF, 1, f"{tail}\n{head}")
        assert {r.page for r in rects} == {1, 2}
        assert normalise(tail)[-20:] in _covered_text(pdf[0], [r for r in rects if r.page == 1])
        assert normalise(head)[:20] in _covered_text(pdf[1], [r for r in rects if r.page == 2])


def test_words_not_on_the_page_give_no_rectangles() -> None:
    assert find_highlights(HOSTING_PDF, 1, "termination for convenience by the licensor") == []
    assert find_highlights(HOSTING_PDF, 9, "Premium Managed Hosting Agreement") == []


def test_page_images_stay_under_the_pixel_budget(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pymupdf

    from web.views.reader import PNG_MAX_PIXELS, _render_png

    path = tmp_path / "sizes.pdf"
    with pymupdf.open() as pdf:
        pdf.new_page(width=612, height=792)
        pdf.new_page(width=3000, height=3000)
        pdf.new_page(width=14400, height=14400)
        pdf.save(path)
    letter = pymupdf.Pixmap(_render_png(path, 1))
    assert letter.width == round(612 / 72 * 110)
    big = pymupdf.Pixmap(_render_png(path, 2))
    assert big.width * big.height <= PNG_MAX_PIXELS
    assert _render_png(path, 3) == b""  # not rendered at all
