"""Long CLI work shows a step bar on a terminal and stays silent when piped."""

from __future__ import annotations

import io
import sys

from riskmap.cli import layout as layout_cli
from riskmap.paths import demo_dir
from riskmap.settings import Settings
from riskmap.store import open_store


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_layout_import_reports_each_step_on_a_terminal(tmp_path, monkeypatch):
    seen = []
    real = layout_cli.progress

    def recording(what):
        manager = real(what)

        class Wrapped:
            def __enter__(self):
                update = manager.__enter__()

                def spy(done, total, message):
                    seen.append((done, total, message))
                    update(done, total, message)

                return spy

            def __exit__(self, *exc):
                return manager.__exit__(*exc)

        return Wrapped()

    monkeypatch.setattr(sys, "stderr", _Terminal())
    monkeypatch.setattr(layout_cli, "progress", recording)
    settings = Settings(db=f"sqlite:///{tmp_path / 'p.db'}", enterprise="示范")
    layout_cli.load_layout(settings, demo_dir() / "plant.dxf", control_points=demo_dir() / "control_points.csv",
                           store=open_store(settings.db))
    assert [m for _, _, m in seen] == ["读取", "地理配准", "几何清理", "坐标转换", "写入数据库"]
    assert [d for d, _, _ in seen] == [0, 1, 2, 3, 4] and {t for _, t, _ in seen} == {5}


def test_no_bar_when_not_a_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with layout_cli.progress("x") as update:
        assert update is None
