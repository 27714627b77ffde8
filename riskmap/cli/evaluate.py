"""`riskmap evaluate`: one evaluation from options, or a CSV batch, under a criteria profile."""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from pathlib import Path
from typing import Annotated, Any

import typer

from riskmap.errors import InputError, RiskmapError

_SPLIT = re.compile(r"[,，;；\s]+")
_DIRECT_COLUMNS = ("direct", "direct_rules", "直接判定", "直接判定规则")
_MAX_BATCH_BYTES = 200 * 1024 * 1024


def _fail(message: str) -> None:
    from riskmap.cli import fail  # late: riskmap.cli imports this module while it is being built

    fail(message)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def decode_csv_bytes(data: bytes, name: str = "CSV") -> str:
    """Text of a CSV as spreadsheets save it: UTF-8 with or without BOM, UTF-16 with BOM, or GBK/GB18030."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise InputError(f"无法识别 {name} 的编码（支持 UTF-8、UTF-8 BOM、UTF-16、GBK） / cannot decode {name}: "
                         "use UTF-8 (with or without BOM), UTF-16 or GBK") from None


def _delimiter(header_line: str) -> str:
    if "," in header_line:
        return ","
    for candidate in ("\t", ";", "，"):
        if candidate in header_line:
            return candidate
    return ","


def _read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    if not path.is_file():
        raise InputError(f"找不到批量文件：{path} / batch file not found: {path}")
    if path.stat().st_size > _MAX_BATCH_BYTES:
        raise InputError(f"批量文件过大（上限 200 MB）：{path} / batch file too large (limit 200 MB): {path}")
    text = decode_csv_bytes(path.read_bytes(), str(path))
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line))
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(f"批量文件为空，没有表头：{path} / batch file is empty, no header: {path}") from None
    header = [h.strip().lstrip("\ufeff") for h in header]
    rows = []
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        rows.append({h: (cells[i].strip() if i < len(cells) else "") for i, h in enumerate(header) if h})
    return [h for h in header if h], rows


def _s_dims(profile, text: str) -> dict[str, str]:
    specs = [spec for spec in profile.inputs if spec.max_of]
    if not specs:
        raise InputError(f"准则配置 {profile.name} 没有分项评分，不能用 --S-dims / "
                         f"profile {profile.name} has no dimension scores; --S-dims does not apply")
    dims = specs[0].max_of
    values = [v for v in _SPLIT.split(text.strip()) if v]
    if len(values) != len(dims):
        keys = ", ".join(d.key for d in dims)
        raise InputError(f"--S-dims 需要 {len(dims)} 个数（{'、'.join(f'{d.key} {d.zh}' for d in dims)}），"
                         f"实为 {len(values)} 个 / --S-dims needs {len(dims)} values ({keys}), got {len(values)}")
    return {d.key: v for d, v in zip(dims, values, strict=True)}


def _key_value(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--input 应为 KEY=VALUE，实为 “{item}” / --input must be KEY=VALUE, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def _run_batch(profile, path: Path, extra_rules: list[str], as_json: bool) -> int:
    from riskmap.criteria import describe_evaluation, evaluate_inputs, evaluation_to_dict

    header, rows = _read_rows(path)
    lookup = profile.input_lookup()
    score_names = {profile.score_key.lower(), profile.score_zh.lower()}
    input_cols = [h for h in header if h.lower() in lookup or h.lower() in score_names]
    rule_cols = [h for h in header if h.lower() in _DIRECT_COLUMNS]
    extra_cols = [h for h in header if h not in input_cols and h not in rule_cols]
    if not input_cols:
        expected = ", ".join(spec.key for spec in profile.inputs)
        raise InputError(f"批量文件表头中没有准则配置 {profile.name} 的输入列（{expected}） / the batch header has no "
                         f"input column of profile {profile.name} ({expected})")
    bad = 0
    for number, row in enumerate(rows, start=1):
        rules = [*extra_rules, *(r for col in rule_cols for r in _SPLIT.split(row.get(col, "")) if r)]
        extras = {col: row.get(col, "") for col in extra_cols}
        try:
            ev = evaluate_inputs(profile, {col: row.get(col, "") for col in input_cols}, rules)
        except RiskmapError as exc:
            bad += 1
            if as_json:
                typer.echo(_dumps({"row": number, **extras, "error": exc.message}))
            else:
                typer.echo(f"第 {number} 行 / row {number}：错误 / error: {exc.message}")
            continue
        if as_json:
            result = evaluation_to_dict(ev, profile)
            out: dict[str, Any] = {"row": number}
            clashes = {}
            for col, value in extras.items():
                if col in result or col == "row":
                    clashes[col] = value
                else:
                    out[col] = value
            out.update(result)
            if clashes:
                out["columns"] = clashes
            typer.echo(_dumps(out))
        else:
            label = " ".join(v for v in extras.values() if v)
            typer.echo(f"第 {number} 行{('（' + label + '）') if label else ''}：{describe_evaluation(ev, profile)}")
    if bad:
        typer.echo(f"共 {len(rows)} 行，其中 {bad} 行有误 / {bad} of {len(rows)} rows failed", err=True)
    return bad


def evaluate_command(
    profile: Annotated[str, typer.Option(
        "--profile", "-p", help="准则配置名称或 YAML 文件 / criteria profile name or file")] = "lec",
    l_value: Annotated[str | None, typer.Option("--L", "--l", help="可能性 L / likelihood")] = None,
    e_value: Annotated[str | None, typer.Option("--E", "--e", help="暴露频繁程度 E / exposure")] = None,
    c_value: Annotated[str | None, typer.Option("--C", "--c", help="后果 C / consequence")] = None,
    s_value: Annotated[str | None, typer.Option("--S", "--s", help="严重性 S / severity")] = None,
    s_dims: Annotated[str | None, typer.Option(
        "--S-dims", "--s-dims",
        help="S1..S5 逗号分隔（法律法规、人员伤亡、经济损失、停工、形象），S 取最大值 / S = max")] = None,
    inputs: Annotated[list[str] | None, typer.Option(
        "--input", "-i", help="其他输入 KEY=VALUE，可重复 / any input as KEY=VALUE (repeatable)")] = None,
    direct: Annotated[list[str] | None, typer.Option(
        "--direct", help="直接判定规则，可重复 / direct-determination rule (repeatable)")] = None,
    batch: Annotated[Path | None, typer.Option(
        "--batch", help="CSV 批量评价（表头为输入名，其他列原样输出） / evaluate every row of a CSV")] = None,
    profiles_dir: Annotated[list[Path] | None, typer.Option(
        "--profiles-dir", help="用户准则配置目录或文件，可重复 / user profiles (dir or file, repeatable)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")] = False,
    list_profiles_flag: Annotated[bool, typer.Option(
        "--list-profiles", help="列出可用的准则配置 / list the available profiles")] = False,
) -> None:
    """按准则配置评价风险（LEC、LS 等） / evaluate a risk under a criteria profile (LEC, LS, ...)."""
    from riskmap.criteria import describe_evaluation, evaluate_inputs, evaluation_to_dict, list_profiles, load_profile

    search_dirs = list(profiles_dir or [])
    try:
        if list_profiles_flag:
            names = list_profiles(search_dirs)
            if as_json:
                typer.echo(_dumps([{"name": n, "title": load_profile(n, search_dirs).title} for n in names]))
            else:
                for n in names:
                    typer.echo(f"{n}\t{load_profile(n, search_dirs).title}")
            return
        prof = load_profile(profile, search_dirs)
        given = {k: v for k, v in (("L", l_value), ("E", e_value), ("C", c_value), ("S", s_value)) if v is not None}
        if s_dims is not None:
            given.update(_s_dims(prof, s_dims))
        given.update(_key_value(list(inputs or [])))
        rules = list(direct or [])
        if batch is not None:
            if given:
                raise InputError("--batch 不能与 --L/--E/--C/--S/--S-dims/--input 同时使用 / "
                                 "--batch cannot be combined with --L/--E/--C/--S/--S-dims/--input")
            bad = _run_batch(prof, batch, rules, as_json)
            if bad:
                raise typer.Exit(1)
            return
        ev = evaluate_inputs(prof, given, rules)
    except RiskmapError as exc:
        _fail(exc.message)
        return
    if as_json:
        typer.echo(_dumps(evaluation_to_dict(ev, prof)))
    else:
        typer.echo(describe_evaluation(ev, prof))


def register(app: typer.Typer) -> None:
    """Add the evaluate command to the app."""
    app.command("evaluate")(evaluate_command)
