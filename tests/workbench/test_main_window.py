"""The main window: five panels, menus, status bar, persisted layout and theme, clear errors."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QApplication, QDockWidget

from backends.runs import create_run
from panels import PANELS
from workbench.app import build_window
from workbench.settings import AppSettings


@pytest.fixture
def make_window(qtbot, tmp_path):
    def make(**kwargs):
        kwargs.setdefault("runs_dir", tmp_path / "runs")
        window = build_window(**kwargs)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        return window

    return make


def test_all_five_panels_are_reachable(make_window):
    window = make_window()
    titles = [window.docks[p.name].windowTitle() for p in PANELS]
    assert titles == ["Training", "Monitor", "Latent studio", "Text playground", "Evaluation"]
    for spec in PANELS:
        window.show_panel(spec.name)
        QApplication.processEvents()
        assert window.current_panel() == spec.name


def test_status_bar_names_the_compute_found(qtbot, make_window):
    window = make_window()
    qtbot.waitUntil(lambda: "Looking" not in window.compute_label.text(), timeout=10000)
    assert "CPU" in window.compute_label.text() or "×" in window.compute_label.text()
    assert str(window.context.runs_dir) in window.runs_label.text()


def test_menus_hold_the_promised_actions(make_window):
    window = make_window()
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    assert set(menus) == {"File", "View", "Help"}
    texts = {name: [a.text().replace("&", "") for a in m.actions()] for name, m in menus.items()}
    assert {"Open run…", "Open checkpoint…", "Quit"} <= set(texts["File"])
    assert {"Theme", "Reset layout"} <= set(texts["View"])
    assert "About Workbench" in texts["Help"]
    assert any(t.startswith("Version ") for t in texts["Help"])


def test_layout_and_theme_survive_a_restart(qtbot, make_window):
    window = make_window()
    window.set_theme("dark")
    window.resize(QSize(790, 580))
    monitor = window.docks["monitor"]
    monitor.setFloating(True)
    window.close()

    again = make_window()
    assert again.context.settings.theme == "dark"
    assert again.theme_actions["dark"].isChecked()
    assert again.size() == QSize(790, 580)
    assert again.docks["monitor"].isFloating()
    again.reset_layout()
    assert not again.docks["monitor"].isFloating()
    tabbed = again.tabifiedDockWidgets(again.docks["training"])
    assert {d.objectName() for d in tabbed} == {
        f"dock_{p.name}" for p in PANELS if p.name != "training"
    }
    again.set_theme("light")


def test_corrupt_settings_file_is_reported_and_replaced(make_window, _private_settings):
    _private_settings.write_text("[view\ntheme=purple\n")
    window = make_window()
    assert "unreadable and was reset" in window.message_bar.text
    assert window.context.settings.theme == "light"
    kept = list(_private_settings.parent.glob("workbench.ini.corrupt-*"))
    assert len(kept) == 1 and "purple" in kept[0].read_text()


def test_unusable_setting_value_falls_back_to_default(_private_settings, qapp):
    _private_settings.write_text("[view]\ntheme=purple\n")
    settings = AppSettings()
    assert settings.theme == "light"
    assert "purple" in settings.problems[0]


def test_opening_a_run_without_config_shows_a_message_not_a_crash(make_window, tmp_path):
    window = make_window()
    run = create_run(tmp_path / "runs", "lost-config", {"model": "gpt"})
    run.config_path.unlink()
    assert not window.open_run_path(run.path)
    assert "no config.toml" in window.message_bar.text
    opened = []
    window.context.events.sig_run_opened.connect(opened.append)
    good = create_run(tmp_path / "runs", "fine", {"model": "gpt"})
    assert window.open_run_path(good.path)
    assert opened == [good.path]


def test_unwritable_runs_folder_is_reported_in_the_window(make_window, tmp_path):
    blocker = tmp_path / "runs-file"
    blocker.write_text("not a folder")
    window = make_window(runs_dir=blocker)
    assert "--runs-dir" in window.message_bar.text


def test_panels_are_docks_with_stable_names(make_window):
    window = make_window()
    names = {d.objectName() for d in window.findChildren(QDockWidget)}
    assert names == {f"dock_{p.name}" for p in PANELS}


def test_an_error_shown_at_quit_does_not_come_back_as_an_empty_bar(make_window):
    window = make_window()
    window.show_error("could not read the run folder: permission denied")
    assert window.message_bar.isVisibleTo(window)
    window.resize(QSize(1000, 700))
    window.close()
    again = make_window()
    assert not again.message_bar.isVisibleTo(again) and again.message_bar.text == ""
    again.show_error("a new message")
    # The message spans the window rather than a narrow column.
    assert again.message_bar.label.width() > again.width() // 2


def test_a_panels_status_message_clears_when_another_panel_is_shown(qtbot, make_window):
    window = make_window()
    window.show_panel("evaluation")
    window.show_status("Report written to /tmp/report.html")
    assert window.statusBar().currentMessage().startswith("Report written")
    window.show_panel("monitor")
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == "", timeout=3000)
