"""Reading a superbill PDF back in tests: its text (pypdf) and its first page as
pixels (pypdfium2), to check it is a ruled form and not a blank page."""
import io

import numpy
import pypdfium2
from pypdf import PdfReader

DARK = 128    # grey level under which a pixel is ink
SCALE = 2     # 144 dpi


def pdf_lines(content):
    """Every text line of every page, stripped (a table cell extracts as its own line)."""
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    return [line.strip() for line in text.splitlines() if line.strip()]


def has_row(lines, cells):
    """The cells of one table row, in order, as consecutive lines."""
    cells = list(cells)
    return any(lines[i:i + len(cells)] == cells for i in range(len(lines)))


def _runs(flags):
    """Lengths of the runs of True in a 1-d boolean array."""
    padded = numpy.concatenate(([False], flags, [False])).astype(numpy.int8)
    edges = numpy.flatnonzero(numpy.diff(padded))
    return edges[1::2] - edges[::2]


def _lines(positions):
    """Adjacent pixel rows (or columns) merged into one drawn line each."""
    return sum(1 for i, p in enumerate(positions) if i == 0 or p != positions[i - 1] + 1)


def page_structure(content):
    """(ink fraction, horizontal rules, vertical rules) of the first page: a rule is
    a dark run at least a quarter of the page wide, or 3/4 inch tall; text strokes
    are far shorter."""
    page = pypdfium2.PdfDocument(content)[0]
    ink = numpy.asarray(page.render(scale=SCALE).to_pil().convert("L")) < DARK
    height, width = ink.shape
    rows = [y for y in range(height) if (_runs(ink[y]).max(initial=0)) >= width / 4]
    columns = [x for x in range(width)
               if _runs(ink[:, x]).max(initial=0) >= 0.75 * 72 * SCALE]
    return float(ink.mean()), _lines(rows), _lines(columns)
