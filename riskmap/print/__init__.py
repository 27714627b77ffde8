"""Static plans for paper and for regulators: the four-colour poster (and atlas), the notice board (公告栏,
表D), post risk notice cards (岗位风险告知卡, 表E) and the regulator's upload image.

Everything is drawn once with skia into a recorded picture per page, then written as vector PDF (TrueType
CJK fonts embedded and subset, never Type 3), SVG, or PNG at 300 dpi; the map symbology is the tiles' own
(`layers/*.yaml`, `levels.yaml`).
"""

from __future__ import annotations

__all__ = ["board_pdf", "cards_pdf", "poster", "upload_image"]


def __getattr__(name: str):
    # Lazy: the CLI imports this package for every command.
    if name == "poster":
        from riskmap.print.poster import poster

        return poster
    if name == "board_pdf":
        from riskmap.print.board import board_pdf

        return board_pdf
    if name == "cards_pdf":
        from riskmap.print.cards import cards_pdf

        return cards_pdf
    if name == "upload_image":
        from riskmap.print.upload_image import upload_image

        return upload_image
    raise AttributeError(name)
