"""Ruled tables that flow over pages: wrapped cells, the header row repeated on every page, and rows taller
than what is left of a page split between pages (their remaining lines continue on the next)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import skia

from riskmap.print import fonts
from riskmap.print.fonts import colour_int

TEXT = "#1A1A1A"


@dataclass
class Cell:
    """One table cell: text with its fill (a level colour) or hatch (greyscale), alignment and weight; `lines` is
    filled by the table's wrapping."""

    text: str = ""
    fill: str | None = None
    hatch: str | None = None           # a level's hatch name (greyscale prints)
    colour: str = TEXT
    align: str = "left"                # left | centre
    valign: str = "top"                # top | middle
    bold: bool = False
    lines: list[str] = field(default_factory=list)


@dataclass
class Piece:
    """Lines [start, end) of one row, on one page."""

    row: int
    start: int
    end: int
    height: float


class Table:
    """A ruled table of fixed column proportions at one text size: cells wrap to fit their column, never shrink."""

    def __init__(self, titles: Sequence[str], weights: Sequence[float], width: float, size: float,
                 header_fill: str = "#E6E6E6", line_colour: str = "#4D4D4D", leading: float = 1.35,
                 hatch_drawer=None, pad: float = 0.45):
        total = float(sum(weights))
        self.widths = [width * w / total for w in weights]
        self.width, self.size, self.leading = width, size, leading
        self.pad = size * pad                  # cell padding, in text heights
        self.line_h = fonts.line_height(size, leading)
        self.header = [Cell(t, fill=header_fill, align="centre", valign="middle", bold=False) for t in titles]
        self.line_colour = line_colour
        self.hatch_drawer = hatch_drawer
        self._wrap(self.header)
        self.header_h = max(len(c.lines) for c in self.header) * self.line_h + 2 * self.pad

    def _wrap(self, cells: Sequence[Cell]) -> int:
        for cell, w in zip(cells, self.widths, strict=True):
            cell.lines = fonts.wrap(cell.text, self.size, max(w - 2 * self.pad, self.size)) or [""]
        return max(len(c.lines) for c in cells)

    def paginate(self, rows: Sequence[Sequence[Cell]], first_space: float, page_space: float) -> list[list[Piece]]:
        """Pieces of rows per page; `first_space` and `page_space` are the heights left for the table (its header
        included) on the first and on later pages."""
        pages: list[list[Piece]] = [[]]
        space = first_space - self.header_h
        full = page_space - self.header_h
        for r, row in enumerate(rows):
            n = self._wrap(row)
            start = 0
            while start < n:
                need = (n - start) * self.line_h + 2 * self.pad
                if need <= space + 1e-6:
                    pages[-1].append(Piece(r, start, n, need))
                    space -= need
                    break
                fit = int((space - 2 * self.pad + 1e-6) // self.line_h)
                if pages[-1] and ((start == 0 and need <= full + 1e-6) or fit < 2):
                    # the whole row fits on a fresh page, or too little is left here: continue on a new page
                    pages.append([])
                    space = full
                    continue
                fit = max(1, fit)
                end = min(n, start + fit)
                h = (end - start) * self.line_h + 2 * self.pad
                pages[-1].append(Piece(r, start, end, h))
                start = end
                pages.append([])
                space = full
        return pages

    def draw(self, canvas, x: float, y: float, rows: Sequence[Sequence[Cell]], pieces: Sequence[Piece]) -> float:
        """Draw the header and the pieces from (x, y); returns the table's bottom."""
        self._row(canvas, x, y, self.header, 0, len(max((c.lines for c in self.header), key=len)), self.header_h)
        cy = y + self.header_h
        for piece in pieces:
            self._row(canvas, x, cy, rows[piece.row], piece.start, piece.end, piece.height)
            cy += piece.height
        grid = skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style, Color=colour_int(self.line_colour),
                          StrokeWidth=max(0.4, self.size * 0.06))
        canvas.drawRect(skia.Rect(x, y, x + self.width, cy), grid)
        return cy

    def _row(self, canvas, x: float, y: float, cells: Sequence[Cell], start: int, end: int, height: float) -> None:
        grid = skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style, Color=colour_int(self.line_colour),
                          StrokeWidth=max(0.3, self.size * 0.045))
        ascent, descent = fonts.metrics(self.size)
        cx = x
        for cell, w in zip(cells, self.widths, strict=True):
            rect = skia.Rect(cx, y, cx + w, y + height)
            if cell.fill:
                canvas.drawRect(rect, skia.Paint(AntiAlias=True, Color=colour_int(cell.fill)))
            if cell.hatch and self.hatch_drawer is not None:
                path = skia.Path()
                path.addRect(rect)
                self.hatch_drawer(canvas, path, cell.hatch)
            # centred cells (序号, 风险等级) are repeated whole on every piece of a row split between pages
            lines = cell.lines if cell.valign == "middle" else cell.lines[start:end]
            top = y + (height - len(lines) * self.line_h) / 2 if cell.valign == "middle" else y + self.pad
            for k, line in enumerate(lines):
                base = top + k * self.line_h + (self.line_h - (ascent + descent)) / 2 + ascent
                if cell.align == "centre":
                    fonts.draw_text(canvas, line, cx + w / 2, base, self.size, cell.colour, align="centre",
                                    bold=cell.bold)
                else:
                    fonts.draw_text(canvas, line, cx + self.pad, base, self.size, cell.colour, bold=cell.bold)
            canvas.drawRect(rect, grid)
            cx += w
