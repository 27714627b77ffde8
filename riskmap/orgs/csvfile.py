"""Enterprises from a CSV file (UTF-8, with or without BOM; GBK accepted): one enterprise a line, headed by
name, credit_code, hazchem_code, division, park, lon, lat, industry, address (or their Chinese headings 企业名称,
统一社会信用代码, 危化品登记编号, 行政区划代码, 园区, 经度, 纬度, 行业, 地址). Every line is checked and every problem
reported with its line number (those the database must decide, such as a park in another division, by
riskmap.store.orgs.import_enterprises, which reports them together); nothing is written unless all lines pass."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from riskmap.errors import InputError, RiskmapError
from riskmap.orgs import model

HEADERS = {
    "name": ("name", "企业名称", "企业", "名称"),
    "credit_code": ("credit_code", "统一社会信用代码", "信用代码"),
    "hazchem_code": ("hazchem_code", "危化品登记编号", "危险化学品登记编号"),
    "division_code": ("division", "division_code", "行政区划代码", "行政区划"),
    "park": ("park", "园区", "化工园区"),
    "lon": ("lon", "经度", "longitude"),
    "lat": ("lat", "纬度", "latitude"),
    "industry": ("industry", "行业"),
    "address": ("address", "地址"),
}
MAX_LINES = 100_000


def _text(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError("CSV 文件既不是 UTF-8 也不是 GBK 编码 / the CSV is neither UTF-8 nor GBK")


def _rows(reader):
    """The reader's rows, its errors (a NUL byte, an unclosed quote at the end) as one InputError."""
    try:
        yield from reader
    except csv.Error as exc:
        raise InputError(f"CSV 第 {reader.line_num} 行无法读取：{str(exc)[:200]} / line {reader.line_num} of the CSV "
                         "cannot be read") from None


def read_enterprises(path: str | Path) -> tuple[list[dict], list[str]]:
    """The good lines of the file as profile fields plus `name` and `line`, and the problems of the bad ones;
    InputError for a file that cannot be read as such at all."""
    return read_enterprise_bytes(Path(path).read_bytes())


def read_enterprise_bytes(raw: bytes) -> tuple[list[dict], list[str]]:
    """`read_enterprises` of a file's bytes (an upload: the command line and the HTTP import read alike)."""
    reader = _rows(csv.reader(io.StringIO(_text(raw))))
    try:
        header = next(reader)
    except StopIteration:
        raise InputError("CSV 文件是空的 / the CSV file is empty") from None
    columns = {}
    for i, title in enumerate(header):
        key = next((k for k, names in HEADERS.items() if title.strip().lower() in names), None)
        if key is not None:
            columns[key] = i
    missing = [k for k in ("name", "division_code") if k not in columns]
    if missing:
        raise InputError(f"CSV 缺少列 {', '.join(HEADERS[k][0] for k in missing)}（可用的列：name, credit_code, "
                         "hazchem_code, division, park, lon, lat, industry, address）/ the CSV lacks the columns "
                         f"{', '.join(HEADERS[k][0] for k in missing)}")
    out, problems = [], []
    for number, cells in enumerate(reader, start=2):
        if number > MAX_LINES:
            raise InputError(f"CSV 超过 {MAX_LINES} 行 / the CSV has more than {MAX_LINES} lines")
        if not any(c.strip() for c in cells):
            continue
        values = {k: (cells[i].strip() if i < len(cells) else "") for k, i in columns.items()}
        try:
            name = model.clean_text(values.pop("name"), "企业名称", "the enterprise's name", required=True)
            lon, lat = values.pop("lon", "") or None, values.pop("lat", "") or None
            profile = model.check_profile(lon=lon, lat=lat, **{k: v or None for k, v in values.items()})
        except RiskmapError as exc:
            problems.append(f"第 {number} 行 / line {number}: {exc.message}")
            continue
        out.append({"line": number, "name": name, **profile.__dict__})
    names = [r["name"] for r in out]
    for r in out:
        if names.count(r["name"]) > 1:
            problems.append(f"第 {r['line']} 行 / line {r['line']}: 企业 “{r['name']}” 在文件中出现多次 / "
                            f"{r['name']!r} appears more than once")
    codes = [r["credit_code"] for r in out if r["credit_code"]]
    for r in out:
        if r["credit_code"] and codes.count(r["credit_code"]) > 1:
            problems.append(f"第 {r['line']} 行 / line {r['line']}: 统一社会信用代码 {r['credit_code']} 重复 / the "
                            "credit code appears more than once")
    return out, problems
