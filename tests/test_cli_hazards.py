"""`riskmap hazard …` as a user runs it: report, list, show, the loop's transitions, photos; refusals are one line
and a non-zero exit, and change nothing."""

from __future__ import annotations

import json

from clikit import one_line_error, run
from PIL import Image


def test_the_loop_from_the_command_line(demo_copy, tmp_path):
    url = demo_copy
    demo = len(json.loads(run("hazard", "list", "--db", url, "--json").stdout))      # the demo's own hazards
    made = json.loads(run("hazard", "report", "--db", url, "--name", "泵机封泄漏", "--source", "1", "--type", "7",
                          "--department", "生产部", "--by", "赵巡检", "--json").stdout)["hazard"]
    uid = made["id"]
    assert made["state"] == "reported" and made["registrant"] == "赵巡检"
    run("hazard", "confirm", uid, "--db", url, "--by", "张经理", "--if-match", "1")
    one_line_error(run("hazard", "confirm", uid, "--db", url, "--by", "张经理", check=False), "不能确认")
    fixed = json.loads(run("hazard", "correct", uid, "--db", url, "--department", "设备部", "--level", "0",
                           "--by", "张经理", "--reason", "复核", "--json").stdout)["hazard"]
    assert fixed["department"] == "设备部" and fixed["state"] == "confirmed"
    one_line_error(run("hazard", "correct", uid, "--db", url, "--by", "张经理", check=False), "没有要更正")
    one_line_error(run("hazard", "correct", uid, "--db", url, "--lon", "120", "--by", "张经理", check=False), "--lat")
    one_line_error(run("hazard", "assign", uid, "--db", url, "--rectifier", "李工", "--deadline", "2020-01-01",
                       check=False), "已过")
    run("hazard", "assign", uid, "--db", url, "--rectifier", "李工", "--deadline", "2099-12-31", "--by", "张经理")
    run("hazard", "rectify", uid, "--db", url, "--by", "李工")
    picture = tmp_path / "after.png"
    Image.new("RGB", (20, 10), (0, 90, 0)).save(picture)
    shown = run("hazard", "photo", uid, str(picture), "--stage", "after", "--db", url, "--by", "李工").stdout
    assert "image/png" in shown and "20×10" in shown
    (tmp_path / "not.png").write_bytes(b"hello")
    one_line_error(run("hazard", "photo", uid, str(tmp_path / "not.png"), "--db", url, check=False), "PNG")
    run("hazard", "submit", uid, "--db", url, "--by", "李工", "--note", "已更换机封")
    one_line_error(run("hazard", "accept", uid, "--db", url, "--by", "李工", "--note", "ok", check=False),
                   "验收人不能是整改人")
    run("hazard", "accept", uid, "--db", url, "--by", "张经理", "--note", "验收合格")
    one_line_error(run("hazard", "correct", uid, "--db", url, "--department", "x", "--by", "张经理", check=False),
                   "不能更正")
    listed = json.loads(run("hazard", "list", "--db", url, "--state", "accepted", "--json").stdout)
    assert listed[0]["id"] == uid and {h["danger_state"] for h in listed} == {9}
    text = run("hazard", "show", uid, "--db", url).stdout
    assert "report" in text and "accept" in text and "北京时间" in text and "after" in text
    one_line_error(run("hazard", "show", "nope", "--db", url, check=False), "nope")
    one_line_error(run("hazard", "report", "--db", url, "--name", "x", "--source", "42", check=False), "隐患来源")
    assert len(json.loads(run("hazard", "list", "--db", url, "--json").stdout)) == demo + 1
