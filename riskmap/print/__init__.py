"""Static plans for paper and for regulators: the four-colour poster and atlas (`poster`), the notice board
(公告栏, 表D: `board`), post risk notice cards (岗位风险告知卡, 表E: `cards`) and the regulator's upload image
(`upload_image`).

Everything is drawn once with skia into a recorded picture per page (`output`), then written as vector PDF
(TrueType CJK fonts embedded and subset, never Type 3: `fonts`), SVG, or PNG at 300 dpi; the map symbology is
the tiles' own (`layers/*.yaml`, `levels.yaml`: `mapview`).
"""
