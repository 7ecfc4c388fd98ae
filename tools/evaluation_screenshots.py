"""Render the evaluation view offscreen on the COMPAS demo and save its screenshots.

Writes to ``docs/screenshots/``: ``evaluation-native-american.png`` (TPR per race
with intervals: the 11-row Native American group's is a Wilson score interval),
``evaluation-intersections.png`` (race x sex, labels wrapped one part per line)
and ``evaluation-thresholds-solved.png`` (the Thresholds tab after Solve)::

    python tools/evaluation_screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from panels.evaluation.panel import EvaluationPanel

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)

    from PySide6.QtWidgets import QApplication

    from panels.evaluation.panel import EvaluationPanel
    from workbench.context import AppContext
    from workbench.settings import AppSettings

    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp())
    context = AppContext(tmp / "runs", AppSettings(tmp / "settings.ini"))
    panel = EvaluationPanel(context)
    panel.resize(1500, 950)
    panel.show()
    done: list[object] = []
    panel.sig_analysis_ready.connect(done.append)
    panel.sig_solution_ready.connect(done.append)

    def wait_for(count: int, timeout: float = 300.0) -> None:
        """Process events until ``count`` results arrived, then a little longer to paint."""
        end = time.monotonic() + timeout
        while len(done) < count:
            app.processEvents()
            if time.monotonic() > end:
                raise SystemExit(f"the evaluation did not finish in time: {context.errors}")
            time.sleep(0.02)
        for _ in range(30):
            app.processEvents()
            time.sleep(0.01)

    args.out.mkdir(parents=True, exist_ok=True)
    _take_screenshots(panel, wait_for, args.out)
    panel.shutdown()
    panel.close()
    for name in ("native-american", "intersections", "thresholds-solved", "calibration-model-b"):
        print(args.out / f"evaluation-{name}.png")
    return 0


def _take_screenshots(panel: EvaluationPanel, wait_for: Callable[[int], None], out: Path) -> None:
    """Drive the panel as a person would, saving a screenshot after each step."""
    panel.bootstrap_box.resamples_spin.setValue(2000)
    panel.load_demo("compas")
    wait_for(1)
    panel.groups_view.metric_combo.setCurrentText("tpr")
    wait_for(1)
    panel.grab().save(str(out / "evaluation-native-american.png"))

    panel.columns_box.fill_groups(["race", "sex", "age_cat"], ["race", "sex"])
    panel.evaluate()
    wait_for(2)
    panel.groups_view.metric_combo.setCurrentText("fpr")
    wait_for(2)
    panel.grab().save(str(out / "evaluation-intersections.png"))

    panel.columns_box.fill_groups(["race", "sex", "age_cat"], ["race"])
    panel.evaluate()
    wait_for(3)
    panel.tabs.setCurrentWidget(panel.thresholds_view)
    panel.solve("fpr")
    wait_for(4)
    panel.grab().save(str(out / "evaluation-thresholds-solved.png"))
    panel.tabs.setCurrentWidget(panel.calibration_view)
    panel.calibration_view.select_model(1)
    wait_for(4)
    panel.grab().save(str(out / "evaluation-calibration-model-b.png"))


if __name__ == "__main__":
    sys.exit(main())
