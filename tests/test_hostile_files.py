"""Hostile files through the `riskmap` command and the readers below it: each refusal is one line on stderr
("错误 / error: …", Chinese then English), a non-zero exit, no traceback, no warning, and every table as it was.

The files are made here (large ones by hostilekit's generators, never committed): GeoJSON with NaN, infinite or
overflowing coordinates or nested 100,000 deep; a DXF of nested blocks that would explode to a million polygons
(refused early, its peak memory measured in a child process against a plain import's); a DXF with coordinates of
1e300, inf and NaN (imported, the garbage dropped with a count, not a numpy warning in sight); a 1 MB zip that
expands to 1 GB in sixty entries each under the per-entry ratio floor; KML and workbook parts that declare a DTD
after padding or in UTF-16; JSON ledgers with lone surrogates; moments at the ends of the calendar.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import warnings
import zipfile

import pytest
from hostilekit import (
    MIB,
    ROOT,
    bilingual,
    child_env,
    deep_geojson,
    extreme_coordinates_dxf,
    many_entry_zip,
    nested_blocks_dxf,
    square_geojson,
    table_digest,
)

from riskmap.demo import load_demo
from riskmap.errors import LayoutImportError, TooLargeError
from riskmap.settings import Settings

DTD = '<!DOCTYPE kml [<!ENTITY lol "lol">]>'
KML_BODY = ('<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>A</name><Polygon><outerBoundaryIs>'
            '<LinearRing><coordinates>120,32 120.001,32 120.001,32.001 120,32 </coordinates></LinearRing>'
            '</outerBoundaryIs></Polygon></Placemark></Document></kml>')


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    """The demo plant in SQLite, which no refusal below may change."""
    url = f"sqlite:///{tmp_path_factory.mktemp('hostile-cli') / 'demo.db'}"
    load_demo(Settings(db=url))
    return url


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-files")
    padding = "<!--" + "x" * (200 * 1024) + "-->"
    (folder / "padded.kml").write_text(f'<?xml version="1.0" encoding="UTF-8"?>{padding}{DTD}{KML_BODY}',
                                       encoding="utf-8")
    (folder / "utf16.kml").write_bytes(f'<?xml version="1.0" encoding="UTF-16"?>{DTD}{KML_BODY}'.encode("utf-16"))
    (folder / "gbk.kml").write_bytes(f'<?xml version="1.0" encoding="GBK"?>{padding}{DTD}{KML_BODY}'.encode("gbk"))
    return {
        "nan.geojson": square_geojson(folder / "nan.geojson", "[NaN, 0]"),
        "inf.geojson": square_geojson(folder / "inf.geojson", "[Infinity, 0]"),
        "overflow.geojson": square_geojson(folder / "overflow.geojson", "[1e400, 0]"),
        "deep.geojson": deep_geojson(folder / "deep.geojson"),
        "nested.dxf": nested_blocks_dxf(folder / "nested.dxf", levels=6),
        "bomb.zip": many_entry_zip(folder / "bomb.zip"),
        "padded.kml": folder / "padded.kml",
        "utf16.kml": folder / "utf16.kml",
        "gbk.kml": folder / "gbk.kml",
        "padded.xlsx": _workbook_with_dtd(folder / "padded.xlsx", "utf-8"),
        "utf16.xlsx": _workbook_with_dtd(folder / "utf16.xlsx", "utf-16"),
        "surrogates.json": _ledger_with(folder / "surrogates.json", "\ud800"),
    }


def _workbook_with_dtd(path, encoding: str):
    """The demo ledger with a DTD in its package relationships, after 4 KiB of comment (or in UTF-16)."""
    source = ROOT / "data" / "demo" / "ledger.xlsx"
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "_rels/.rels":
                text = data.decode("utf-8")
                root = text[text.index("<Relationships"):]
                declaration = f'<?xml version="1.0" encoding="{encoding.upper()}"?>'
                text = declaration + "<!--" + "x" * 4096 + '--><!DOCTYPE Relationships [<!ENTITY a "b">]>' + root
                data = text.encode(encoding)
            zout.writestr(info, data)
    return path


def _ledger_with(path, bad: str):
    import json

    data = json.loads((ROOT / "data" / "demo" / "ledger.json").read_text(encoding="utf-8"))
    data["units"][1]["name"] = "罐区" + bad
    path.write_text(json.dumps(data), encoding="utf-8")      # \ud800 as an escape, as JSON allows
    return path


def run_cli(monkeypatch, capsys, *args) -> tuple[int, str, str, list]:
    """`riskmap ARGS` in this process (as its entry point runs it): exit status, stdout, stderr, warnings."""
    from riskmap.cli import main

    monkeypatch.setattr(sys, "argv", ["riskmap", *map(str, args)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err, [w for w in caught if issubclass(w.category, (RuntimeWarning, UserWarning))]


def one_line_refusal(code: int, err: str, caught: list, *words: str) -> str:
    assert code == 1, (code, err)
    assert "Traceback" not in err and not caught, (err, [str(w.message) for w in caught])
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("错误 / error: "), err
    message = lines[0].removeprefix("错误 / error: ")
    assert bilingual(message) and all(w in message for w in words), message
    return message


@pytest.mark.parametrize("name, words", [
    ("nan.geojson", ["NaN"]),
    ("inf.geojson", ["Infinity"]),
    ("overflow.geojson", []),
    ("deep.geojson", ["64"]),
    ("nested.dxf", ["RISKMAP_DXF_MAX_EXPLODED_ENTITIES"]),
    ("bomb.zip", ["压缩比", "compression ratio"]),
    ("padded.kml", ["DTD"]),
    ("utf16.kml", ["DTD"]),
    ("gbk.kml", ["DTD"]),
])
def test_import_layout_refuses_hostile_files_in_one_line(demo_db, files, monkeypatch, capsys, name, words):
    before = table_digest(demo_db)
    code, _, err, caught = run_cli(monkeypatch, capsys, "import-layout", files[name], "--db", demo_db)
    one_line_refusal(code, err, caught, *words)
    assert table_digest(demo_db) == before


@pytest.mark.parametrize("name, words", [
    ("padded.xlsx", ["DTD"]),
    ("utf16.xlsx", ["DTD"]),
    ("surrogates.json", ["U+D800", "units[1]"]),
])
def test_import_ledger_refuses_hostile_files_in_one_line(demo_db, files, monkeypatch, capsys, name, words):
    before = table_digest(demo_db)
    code, _, err, caught = run_cli(monkeypatch, capsys, "import-ledger", files[name], "--db", demo_db)
    assert code == 1 and "Traceback" not in err and not caught, err
    last = err.strip().splitlines()[-1]                    # a ledger lists its bad cells, then says it refused
    assert last.startswith("错误 / error: ") and all(w in err for w in words), err
    assert table_digest(demo_db) == before


@pytest.mark.parametrize("args, words", [
    (["history", "--since", "0001-01-01T00:00"], ["1990"]),
    (["history", "--until", "9999-12-31T23:59:59-12:00"], ["未来"]),
    (["history", "--since", "0001-01-01T00:00+14:00"], ["1990"]),
    (["diff", "--from", "0001-01-01", "--to", "2026-01-01"], ["1990"]),
    (["restore", "A1", "--at", "9999-12-31T23:59:59-12:00"], ["未来"]),
    (["accident", "--date", "0001-01-01", "--description", "x"], ["1990"]),
])
def test_moments_at_the_ends_of_the_calendar_in_one_line(demo_db, monkeypatch, capsys, args, words):
    before = table_digest(demo_db)
    code, _, err, caught = run_cli(monkeypatch, capsys, *args, "--db", demo_db)
    one_line_refusal(code, err, caught, *words)
    assert table_digest(demo_db) == before


def test_extreme_dxf_coordinates_import_without_a_warning(tmp_path, monkeypatch, capsys):
    """1e300, inf and NaN in a drawing are dropped with a count; numpy says nothing about them."""
    path = extreme_coordinates_dxf(tmp_path / "extreme.dxf")
    code, out, err, caught = run_cli(monkeypatch, capsys, "import-layout", path, "--db",
                                     f"sqlite:///{tmp_path / 'x.db'}")
    assert code == 0, err
    assert "Warning" not in err and not caught, (err, [str(w.message) for w in caught])
    assert "non-finite coordinates" in out and "1 个要素" in out


def test_an_unexpected_error_is_one_line_too(monkeypatch, capsys):
    """A bug (here: a command that raises something no one expected) is still one line, naming it."""
    def broken(*_args, **_kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("riskmap.criteria.evaluate_inputs", broken)
    code, _, err, _ = run_cli(monkeypatch, capsys, "evaluate", "--profile", "lec", "--L", "3", "--E", "6", "--C",
                              "15")
    assert code == 2 and "Traceback" not in err, err
    assert err.strip().startswith("错误 / error: 内部错误") and "ZeroDivisionError" in err and "RISKMAP_DEBUG" in err


# ------------------------------------------------------------------------------------------------ memory


# Runs `riskmap ARGS` and writes the process's own peak RSS (VmHWM, of its memory after exec) to a file at exit:
# the peak a parent sees through wait4 starts from the parent's own size when the child is forked from it.
_MEASURED = ("import atexit, sys\n"
             "report = sys.argv[1]\n"
             "def peak():\n"
             "    with open(report, 'w') as out:\n"
             "        out.write([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])\n"
             "atexit.register(peak)\n"
             "sys.argv = ['riskmap', *sys.argv[2:]]\n"
             "from riskmap.cli import main\n"
             "main()\n")


def _peak_rss_of(args: list[str], env: dict[str, str], where) -> tuple[int, int, str]:
    """Run `riskmap ARGS` in a child process: (exit status, its peak RSS in KiB, stderr)."""
    report = where / "peak.txt"
    proc = subprocess.run([sys.executable, "-c", _MEASURED, str(report), *args], env=env, capture_output=True,
                          text=True, timeout=300)
    return proc.returncode, int(report.read_text()), proc.stderr


def test_exploding_blocks_are_refused_before_memory_grows(tmp_path):
    """A 3 KB drawing that would explode to a million polygons is refused with the count while memory stays where a
    plain import's is; one that fits the budget (set lower here, to keep the test fast) imports."""
    env = child_env(dxf_max_exploded_entities=25_000, dxf_max_exploded_vertices=500_000)
    plain = square_geojson(tmp_path / "plain.geojson")
    code, plain_peak, err = _peak_rss_of(["import-layout", str(plain), "--db", f"sqlite:///{tmp_path / 'a.db'}"],
                                         env, tmp_path)
    assert code == 1, err                               # refused (lon/lat too wide), after reading and checking
    bomb = nested_blocks_dxf(tmp_path / "bomb.dxf", levels=6)
    assert bomb.stat().st_size < 4096
    code, bomb_peak, err = _peak_rss_of(["import-layout", str(bomb), "--db", f"sqlite:///{tmp_path / 'b.db'}"], env,
                                        tmp_path)
    assert code == 1 and "Traceback" not in err, err
    assert "25,000" in err and "RISKMAP_DXF_MAX_EXPLODED_ENTITIES" in err
    fits = nested_blocks_dxf(tmp_path / "fits.dxf", levels=4, per_block=2)   # 20,000 polygons, 22,220 made
    code, fits_peak, err = _peak_rss_of(["import-layout", str(fits), "--db", f"sqlite:///{tmp_path / 'c.db'}"], env,
                                        tmp_path)
    assert code == 0, err
    with sqlite3.connect(tmp_path / "c.db") as conn:
        assert conn.execute("SELECT count(*) FROM layout_features").fetchone()[0] == 20_000
    print(f"\npeak RSS: plain import {plain_peak / 1024:.0f} MiB, refused bomb {bomb_peak / 1024:.0f} MiB, "
          f"20,000 exploded polygons {fits_peak / 1024:.0f} MiB")
    assert bomb_peak - plain_peak < 64 * 1024, (plain_peak, bomb_peak)


# ------------------------------------------------------------------------------------------------ the guards below


def test_the_zip_bomb_is_refused_before_anything_is_extracted(files, monkeypatch):
    from riskmap.geo import safety

    extracted = []
    monkeypatch.setattr(safety, "extract_entries", lambda *a, **k: extracted.append(a) or [])
    with zipfile.ZipFile(files["bomb.zip"]) as zf, pytest.raises(TooLargeError) as info:
        safety.inspect_zip(zf, safety.ZipLimits(max_total_bytes=2048 * MIB))   # within the total: the ratio decides
    assert "压缩比" in info.value.message and extracted == []
    assert files["bomb.zip"].stat().st_size < 2 * MIB


def test_extraction_checks_the_room_on_the_disk_first(tmp_path, monkeypatch):
    from collections import namedtuple

    from riskmap.geo import safety

    path = tmp_path / "ok.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.geojson", "{}" * 1000)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(safety.shutil, "disk_usage", lambda _p: usage(10**9, 10**9 - 1000, 1000))
    with zipfile.ZipFile(path) as zf, pytest.raises(TooLargeError) as info:
        safety.extract_entries(zf, safety.inspect_zip(zf), tmp_path / "out")
    assert "空间不足" in info.value.message
    assert not (tmp_path / "out" / "a.geojson").exists()


@pytest.mark.parametrize("document, refused", [
    (f'<?xml version="1.0"?><!--{"x" * 100_000}-->{DTD}<kml/>', True),
    (f'<?xml version="1.0" encoding="UTF-16"?>{DTD}<kml/>'.encode("utf-16"), True),
    (f'<?xml version="1.0" encoding="GBK"?><!--{"x" * 100_000}-->{DTD}<kml/>'.encode("gbk"), True),
    ('<kml><description><![CDATA[<!DOCTYPE html><p>说明</p>]]></description></kml>', False),
    ('<kml><!-- <!DOCTYPE x> --></kml>', False),
])
def test_the_dtd_check_reads_the_whole_decoded_document(document, refused):
    from riskmap.xmlguard import DTDFound, refuse_dtd

    data = document.encode("utf-8") if isinstance(document, str) else document
    chunks = [data[i:i + 4096] for i in range(0, len(data), 4096)]
    if refused:
        with pytest.raises(DTDFound):
            refuse_dtd(chunks)
    else:
        refuse_dtd(chunks)


def test_kml_with_html_in_cdata_still_imports(tmp_path):
    from riskmap.geo.importer import import_layout

    path = tmp_path / "desc.kml"
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>' + KML_BODY.replace(
        "<name>A</name>", "<name>A</name><description><![CDATA[<!DOCTYPE html><p>x</p>]]></description>"),
        encoding="utf-8")
    assert len(import_layout(path).features) == 1


def test_geojson_readers_refuse_non_finite_coordinates_by_feature(tmp_path):
    """A GeoPackage cannot hold NaN in JSON text, but its binary geometry can: refused naming the feature."""
    import geopandas as gpd
    from shapely.geometry import Polygon

    from riskmap.geo.importer import import_layout

    gdf = gpd.GeoDataFrame({"name": ["好", "坏"], "role": ["region", "region"]},
                           geometry=[Polygon([(0, 0), (10, 0), (10, 10)]), Polygon([(0, 0), (float("nan"), 0),
                                                                                    (10, 10)])], crs="EPSG:4549")
    path = tmp_path / "nan.gpkg"
    gdf.to_file(path, driver="GPKG")
    with pytest.raises(LayoutImportError) as info:
        import_layout(path)
    assert "NaN" in info.value.message and bilingual(info.value.message)


def test_the_strict_json_reader():
    from riskmap.strictjson import JSONProblem, loads

    assert loads(b'\xef\xbb\xbf{"a": [1, 2]}') == {"a": [1, 2]}
    for text, kind in (("[NaN]", "constant"), ('{"a": -Infinity}', "constant"), ("[" * 5000 + "]" * 5000, "depth"),
                       ("[" * 65 + "]" * 65, "depth"), (b"\xff", "encoding"), ("{", "syntax")):
        with pytest.raises(JSONProblem) as info:
            loads(text)
        assert info.value.kind == kind
        assert bilingual(info.value.about("请求体", "the body"))


def test_text_made_storable_for_both_backends():
    from riskmap.text import check_text, storable, storable_parameters

    assert storable("a\x00b\ud800") == "a\ufffdb\ufffd"
    params = {"x": "ok", "y": ["a\x00"], "z": 3}
    assert storable_parameters(params) == {"x": "ok", "y": ["a\ufffd"], "z": 3}
    clean = ("a", 1)
    assert storable_parameters(clean) is clean
    assert storable_parameters([("a\x00",), ("b",)], many=True) == [("a\ufffd",), ("b",)]
    with pytest.raises(Exception) as info:
        check_text({"properties": {"name": "x\udfff"}}, "body")
    assert "body.properties.name" in info.value.message and "U+DFFF" in info.value.message


def test_moments_at_the_ends_of_the_calendar():
    from riskmap.errors import InputError
    from riskmap.store.history import parse_moment

    for text, words in (("0001-01-01T00:00", "1990"), ("0001-01-01T00:00+14:00", "1990"),
                        ("9999-12-31T23:59:59-12:00", "未来"), ("9999-12-31", "未来"), ("0001-01-01", "1990")):
        with pytest.raises(InputError) as info:
            parse_moment(text)
        assert words in info.value.message and bilingual(info.value.message)


def test_an_xlsx_part_that_is_not_xml_is_a_clear_error(tmp_path):
    from riskmap.errors import LedgerError
    from riskmap.ledger import read_ledger

    source = ROOT / "data" / "demo" / "ledger.xlsx"
    path = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, b"<Relationships" if info.filename == "_rels/.rels" else zin.read(info))
    with pytest.raises(LedgerError) as info:
        read_ledger(path)
    assert "XML" in info.value.message and bilingual(info.value.message.split("；")[-1])


def test_hostile_files_are_not_committed():
    """The big hostile inputs are made by the tests: nothing over 1 MB sits in tests/."""
    big = [p for p in (ROOT / "tests").rglob("*") if p.is_file() and p.stat().st_size > MIB]
    assert big == []


def test_a_nul_in_a_drawings_text_is_stored_as_a_replacement_on_both_backends(store_url, tmp_path, monkeypatch,
                                                                                capsys):
    """A DXF TEXT holding a NUL names its building: imported on both backends with U+FFFD in its place and a
    warning that says so (PostgreSQL would refuse the NUL itself)."""
    from sqlalchemy import text

    from riskmap.store.engine import create_store_engine

    path = tmp_path / "nul.dxf"
    path.write_bytes("\n".join(["0", "SECTION", "2", "ENTITIES", "0", "LWPOLYLINE", "8", "建筑物", "90", "4", "70", "1",
                                "10", "0", "20", "0", "10", "10", "20", "0", "10", "10", "20", "10", "10", "0", "20",
                                "10", "0", "TEXT", "8", "建筑物", "10", "5", "20", "5", "30", "0", "40", "1", "1",
                                "仓库\x00甲", "0", "ENDSEC", "0", "EOF", ""]).encode("utf-8"))
    code, out, err, caught = run_cli(monkeypatch, capsys, "import-layout", path, "--db", store_url)
    assert code == 0 and not caught, err
    assert "无法保存的字符" in out and "cannot be stored" in out
    engine = create_store_engine(store_url)     # riskmap's engine: its transactions carry the scope (all)
    with engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM layout_features")).scalars().all()
    engine.dispose()
    assert names == ["仓库\ufffd甲"]
