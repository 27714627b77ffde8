"""`riskmap evaluate`: single evaluations, CSV batches (UTF-8 BOM, GBK), errors on one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from riskmap.cli import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, ["evaluate", *args])


def test_lec_json():
    result = run("--profile", "lec", "--L", "3", "--E", "6", "--C", "15", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {k: data[k] for k in ("profile", "score", "grade", "level", "level_zh", "colour")} == {
        "profile": "lec", "score": "270", "grade": 2, "level": "significant", "level_zh": "较大风险",
        "colour": "#FF8C00"}


def test_ls_json_direct_and_by_dimensions():
    direct = json.loads(run("--profile", "ls", "--L", "4", "--S", "5", "--json").stdout)
    dims = json.loads(run("--profile", "ls", "--L", "4", "--S-dims", "2,5,3,1,1", "--json").stdout)
    for data in (direct, dims):
        assert (data["profile"], data["score"], data["level"], data["level_zh"], data["colour"]) == \
            ("ls", "20", "major", "重大风险", "#FF0000")
        assert "grade" not in data
    assert dims["inputs"] == {"L": "4", "S1": "2", "S2": "5", "S3": "3", "S4": "1", "S5": "1", "S": "5"}


def test_readable_line():
    result = run("--profile", "lec", "--L", "3", "--E", "6", "--C", "15")
    assert result.exit_code == 0
    assert result.stdout.strip() == "LEC：D = 3 × 6 × 15 = 270，2级 高度危险，需立即整改 → 较大风险（橙）"
    ls = run("--profile", "ls", "--L", "4", "--S-dims", "2,5,3,1,1").stdout.strip()
    assert ls == "LS：S = max(2, 5, 3, 1, 1) = 5，R = 4 × 5 = 20 → 重大风险（红）"


def test_exact_decimal_on_the_command_line():
    data = json.loads(run("--L", "0.1", "--E", "3", "--C", "100", "--json").stdout)
    assert (data["score"], data["grade"], data["level"]) == ("30", 4, "low")


def test_direct_rules_repeatable():
    result = run("--L", "1", "--E", "1", "--C", "1", "--direct", "mandatory-clause",
                 "--direct", "crowded-dangerous-place", "--json")
    data = json.loads(result.stdout)
    assert (data["level"], data["computed_level"]) == ("major", "low")
    assert [o["rule"] for o in data["overrides"]] == ["direct:mandatory-clause", "direct:crowded-dangerous-place"]
    text = run("--L", "1", "--E", "1", "--C", "1", "--direct", "highest-grade").stdout
    assert "直接判定为重大风险" in text and text.strip().endswith("重大风险（红）")


@pytest.mark.parametrize(("args", "needles"), [
    (["--profile", "nope", "--L", "3"], ["未知的评价准则配置", "unknown criteria profile", "lec"]),
    (["--L", "3", "--E", "7", "--C", "15"], ["10、6、3、2、1、0.5", "10, 6, 3, 2, 1, 0.5"]),
    (["--L", "3", "--E", "6"], ["缺少输入 C", "missing input C"]),
    (["--profile", "ls", "--L", "4", "--S-dims", "2,5"], ["--S-dims", "5"]),
    (["--profile", "lec", "--L", "4", "--S-dims", "2,5,3,1,1"], ["--S-dims"]),
    (["--L", "1", "--E", "1", "--C", "1", "--direct", "whatever"], ["未知的直接判定规则", "mandatory-clause"]),
])
def test_bad_options_give_one_line_and_nonzero_exit(args, needles):
    result = run(*args)
    assert result.exit_code != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0]
    assert lines[0].index(" / ") > 0


def write_csv(path: Path, text: str, encoding: str) -> Path:
    path.write_bytes(text.encode(encoding))
    return path


LEC_CSV = "id,name,L,E,C\n1,储罐区,3,6,15\n2,装卸区,3,7,15\n3,锅炉房,0.1,3,100\n\n4,中控室,1,10,7\n"


def test_batch_with_a_bad_row(tmp_path):
    path = write_csv(tmp_path / "lec.csv", LEC_CSV, "utf-8-sig")
    result = run("--profile", "lec", "--batch", str(path), "--json")
    assert result.exit_code != 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["row"] for line in lines] == [1, 2, 3, 4]
    assert [line.get("id") for line in lines] == ["1", "2", "3", "4"]
    assert lines[0]["name"] == "储罐区" and lines[0]["score"] == "270" and lines[0]["level"] == "significant"
    assert set(lines[1]) == {"row", "id", "name", "error"} and "10、6、3、2、1、0.5" in lines[1]["error"]
    assert (lines[2]["score"], lines[2]["level"]) == ("30", "low")
    assert (lines[3]["score"], lines[3]["grade"], lines[3]["level"]) == ("70", 3, "general")
    assert "1" in result.stderr and "4" in result.stderr


def test_batch_all_good_exits_zero_and_other_convention(tmp_path):
    path = write_csv(tmp_path / "ok.csv", "L,E,C\n1,10,7\n10,2,1\n", "utf-8")
    result = run("--profile", "lec-upper-inclusive", "--batch", str(path), "--json")
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(x["score"], x["grade"], x["level"]) for x in lines] == [("70", 4, "low"), ("20", 5, "low")]


def test_batch_gbk_ls_dimensions_and_direct_column(tmp_path):
    text = ("编号,名称,L,S1,S2,S3,S4,S5,直接判定\n"
            "A,氨压缩机房,4,2,5,3,1,1,\n"
            "B,中控室,1,1,1,1,1,1,crowded-dangerous-place\n"
            "C,循环水站,3,1,1,6,1,1,\n")
    path = write_csv(tmp_path / "gbk.csv", text, "gbk")
    result = run("--profile", "ls", "--batch", str(path), "--json")
    assert result.exit_code != 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["名称"] == "氨压缩机房" and lines[0]["score"] == "20" and lines[0]["level"] == "major"
    assert lines[1]["level"] == "major" and lines[1]["computed_level"] == "low"
    assert lines[1]["overrides"][0]["rule"] == "direct:crowded-dangerous-place"
    assert lines[2]["row"] == 3 and "S3" in lines[2]["error"] and lines[2]["名称"] == "循环水站"


def test_batch_checks_a_score_column(tmp_path):
    path = write_csv(tmp_path / "d.csv", "id,L,E,C,D\na,3,6,15,270\nb,3,6,15,200\n", "utf-8")
    result = run("--batch", str(path), "--json")
    assert result.exit_code != 0
    good, bad = (json.loads(line) for line in result.stdout.splitlines())
    assert good["score"] == "270" and "3 × 6 × 15 = 270" in bad["error"]


def test_batch_ls_with_s_column_readable(tmp_path):
    path = write_csv(tmp_path / "ls.csv", "\ufeffL,S,name\n4,5,反应釜\n2,2,办公楼\n", "utf-8")
    result = run("--profile", "ls", "--batch", str(path))
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "第 1 行（反应釜）：LS：R = 4 × 5 = 20 → 重大风险（红）"
    assert lines[1] == "第 2 行（办公楼）：LS：R = 2 × 2 = 4 → 低风险（蓝）"


def test_batch_bad_file_and_header(tmp_path):
    missing = run("--batch", str(tmp_path / "none.csv"), "--json")
    assert missing.exit_code != 0 and "batch file not found" in missing.stderr
    path = write_csv(tmp_path / "h.csv", "foo,bar\n1,2\n", "utf-8")
    no_inputs = run("--batch", str(path), "--json")
    assert no_inputs.exit_code != 0 and "L, E, C" in no_inputs.stderr
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"L,E,C\n\xff\xfe\xfa\x00\x81\n")
    assert run("--batch", str(binary)).exit_code != 0


def test_profiles_dir_and_listing(tmp_path):
    (tmp_path / "mine.yaml").write_text("name: ls-15-9-4\nextends: ls\ntitle: 四档\nbands:\n"
                                        "  - {threshold: 15, level: major}\n  - {threshold: 9, level: significant}\n"
                                        "  - {threshold: 4, level: general}\n  - {level: low}\n", encoding="utf-8")
    data = json.loads(run("--profile", "ls-15-9-4", "--profiles-dir", str(tmp_path), "--L", "3", "--S", "3",
                          "--json").stdout)
    assert (data["profile"], data["level"]) == ("ls-15-9-4", "significant")
    listed = json.loads(run("--list-profiles", "--profiles-dir", str(tmp_path), "--json").stdout)
    assert {"ls-15-9-4", "lec", "lec-upper-inclusive", "ls"} <= {p["name"] for p in listed}


def test_installed_command_one_line_error():
    exe = Path(sys.executable).with_name("riskmap")
    if not exe.exists():
        pytest.skip("riskmap console script not installed in this environment")
    proc = subprocess.run([str(exe), "evaluate", "--L", "3", "--E", "7", "--C", "15"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode != 0 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    ok = subprocess.run([str(exe), "evaluate", "--profile", "lec", "--L", "3", "--E", "6", "--C", "15", "--json"],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and json.loads(ok.stdout)["score"] == "270"
