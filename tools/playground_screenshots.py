"""Render the text playground offscreen into ``docs/screenshots/playground-*.png``.

Three columns of the shipped demo model with different samplers, the
alternatives popup of one token, the same column continued from an
alternative, the perplexity tab (optionally against a second model), and the
template builder. Run from the repository root::

    python tools/playground_screenshots.py
    python tools/playground_screenshots.py --second-model runs/my-gpt   # perplexity vs. a run
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"


class Shooter:
    """The offscreen application and the panel: wait for a signal, let paint settle, save."""

    def __init__(self, app: Any, panel: Any, out: Path) -> None:
        self.app, self.panel, self.out = app, panel, out

    def wait(self, signal: Any, seconds: float = 300) -> None:
        from PySide6.QtCore import QEventLoop, QTimer

        loop = QEventLoop()
        signal.connect(loop.quit)
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()

    def settle(self) -> None:
        for _ in range(20):
            self.app.processEvents()
            time.sleep(0.01)

    def save(self, image: Any, name: str) -> None:
        path = self.out / name
        image.save(str(path))
        print(path)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gpt-kjv", help="demo name or model folder")
    parser.add_argument(
        "--second-model", default=None, help="a second model for the perplexity tab"
    )
    parser.add_argument("--out", type=Path, default=OUT)
    return parser.parse_args(argv)


def make_panel(model: str, tmp: Path) -> tuple[Any, Any, Any]:
    """(application, context, panel): three columns of ``model`` with different samplers."""
    from PySide6.QtWidgets import QApplication

    import workbench  # noqa: F401  (pyqtgraph binding)
    from panels.playground.panel import PlaygroundPanel
    from workbench.context import AppContext
    from workbench.settings import AppSettings
    from workbench.theme import apply_theme

    app = QApplication.instance() or QApplication([])
    apply_theme(app, "light")
    context = AppContext(tmp / "runs", AppSettings())
    panel = PlaygroundPanel(context)
    panel.resize(1500, 860)
    key = model if "/" not in model else panel.add_model(model)
    panel.add_column()
    for column in panel.columns:
        column.set_model(key)
    panel.columns[0].set_sampling(greedy=True)
    panel.columns[1].set_sampling(temperature=0.8, top_k=20, top_p=0.9, penalty=1.1)
    panel.columns[2].set_sampling(temperature=1.3)
    panel.new_seed.setChecked(False)
    panel.seed.setValue(42)
    panel.max_tokens.setValue(240)
    panel.prompt.setPlainText("And God said,")
    panel.show()
    return app, context, panel


def shoot_alternatives(shot: Shooter) -> int:
    """The alternatives popup of one token of column 2; returns that token's index.

    The popup is its own window: it is drawn onto the panel's image where it opens.
    """
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QPainter, QTextCursor

    panel = shot.panel
    column = panel.columns[1]
    index = min(len(column.tokens) - 1, 30)
    column._on_hover(index)
    position = len(column.prompt_text) + sum(
        len(t.text.replace("\n", "\u21b5\n")) or 1 for t in column.tokens[:index]
    )
    cursor = QTextCursor(column.view.document())
    cursor.setPosition(position)
    at = column.view.viewport().mapTo(panel, column.view.cursorRect(cursor).bottomLeft())
    column.open_alternatives(index, panel.mapToGlobal(at))
    shot.settle()
    image = panel.grab()
    painter = QPainter(image)
    painter.drawPixmap(at + QPoint(8, 12), column.popup.grab())
    painter.end()
    shot.save(image, "playground-alternatives.png")
    return index


def shoot_continued(shot: Shooter, index: int) -> None:
    """Column 2 continued from the most likely alternative that was not chosen."""
    panel = shot.panel
    column = panel.columns[1]
    token = column.tokens[index]
    other = next(a for a in token.alternatives if a.token_id != token.token_id)
    column.popup.hide()
    panel.continue_from(1, index, other)
    shot.wait(panel.sig_round_finished)
    shot.settle()
    column._on_hover(index)
    shot.save(panel.grab(), "playground-continued.png")


def shoot_templates(shot: Shooter) -> None:
    """A two-shot verse template in the builder."""
    panel = shot.panel
    panel.tabs.setCurrentWidget(panel.templates)
    editor = panel.templates
    editor.name.setText("verse continuation")
    editor.instruction.setPlainText("Continue each verse.")
    editor.input_label.setText("Verse:")
    editor.output_label.setText("Continued:")
    editor.add_example("In the beginning God created", "the heaven and the earth.")
    editor.add_example("And God said, Let there be light:", "and there was light.")
    editor.add_example("And God called the light Day,", "and the darkness he called Night.")
    editor.shots.setValue(2)
    editor.query.setText("And the evening and the morning")
    shot.settle()
    shot.save(panel.grab(), "playground-templates.png")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    tmp = Path(tempfile.mkdtemp())
    os.environ["WORKBENCH_SETTINGS"] = str(tmp / "settings.ini")
    sys.path.insert(0, str(ROOT))
    app, context, panel = make_panel(args.model, tmp)
    args.out.mkdir(parents=True, exist_ok=True)
    shot = Shooter(app, panel, args.out)

    panel.run_all()
    shot.wait(panel.sig_round_finished)
    shot.settle()
    if context.errors:
        raise SystemExit(f"generation failed: {context.errors[-1]}")
    shot.save(panel.grab(), "playground-columns.png")
    shoot_continued(shot, shoot_alternatives(shot))

    panel.tabs.setCurrentWidget(panel.perplexity_tab)
    if args.second_model:
        panel.columns[2].set_model(panel.add_model(args.second_model))
    panel.score_all()
    shot.wait(panel.sig_scored)
    shot.settle()
    shot.save(panel.grab(), "playground-perplexity.png")

    shoot_templates(shot)
    panel.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
