"""The evaluation view: demo, CSV column picker, bad input in the panel, compare, thresholds, export."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backends.evaluate.prediction_csv import CsvSelection
from panels.evaluation.panel import EvaluationPanel
from workbench.context import AppContext
from workbench.settings import AppSettings

TIMEOUT = 30_000


@pytest.fixture
def panel(qtbot, tmp_path):
    context = AppContext(tmp_path / "runs", AppSettings(tmp_path / "settings.ini"))
    widget = EvaluationPanel(context)
    qtbot.addWidget(widget)
    widget.resize(1200, 800)
    widget.resamples_spin.setValue(400)
    yield widget
    widget.shutdown()


@pytest.fixture
def compas(panel, qtbot):
    with qtbot.waitSignal(panel.sig_analysis_ready, timeout=TIMEOUT) as blocker:
        panel.load_demo("compas")
    return blocker.args[0]


def test_compas_demo_bars_show_each_groups_rate_with_its_interval(panel, compas):
    report = compas.report
    panel.metric_combo.setCurrentText("fpr")
    data = panel.group_bar_data()
    assert data["names"] == report.group_names
    for i, group in enumerate(report.group_names):
        assert data["heights"][i] == pytest.approx(report.value(0, "fpr", group))
        low, high = report.interval(0, "fpr", group)
        assert (data["low"][i], data["high"][i]) == pytest.approx((low, high))
    black = report.group_names.index("African-American")
    white = report.group_names.index("Caucasian")
    assert data["heights"][black] > 1.8 * data["heights"][white]  # ProPublica's finding
    assert panel.metrics_table.rowCount() == len(report.group_names) + 1
    # ProPublica's 2x2 table: rows low/high risk, columns did not / did reoffend.
    panel.confusion_group_combo.setCurrentText("African-American")
    assert panel.confusion_table.verticalHeaderItem(1).text() == "high risk"
    assert panel.confusion_table.horizontalHeaderItem(0).text() == "did not reoffend"
    conf = report.confusion(0, "African-American")
    assert panel.confusion_table.item(1, 0).text() == f"{int(conf[0, 1]):,}"
    assert "80 % rule" in panel.criteria_label.text()


def test_paired_test_histogram_marks_delta_and_twice_delta(panel, compas, qtbot):
    panel.compare_resamples_spin.setValue(2000)
    with qtbot.waitSignal(panel.sig_compare_ready, timeout=TIMEOUT) as blocker:
        panel.run_compare("accuracy")
    result = blocker.args[0]
    centres, counts = panel.compare_histogram()
    assert counts.sum() == 2000
    assert panel.delta_line.value() == pytest.approx(result.delta)
    assert panel.double_line.value() == pytest.approx(2 * result.delta)
    assert "resampled test sets" in panel.compare_label.text()


def test_threshold_slider_and_solver_update_the_threshold_view(panel, compas, qtbot):
    scores = compas.predictions.scores[0]
    with qtbot.waitSignal(panel.sig_thresholds_ready, timeout=TIMEOUT) as blocker:
        panel.set_threshold(8)
    report = blocker.args[0]
    assert report.thresholds[0] == 8
    bars = panel.threshold_bar_data()
    groups = compas.report.group_names
    expected = [np.mean(scores[compas.predictions.group == k] >= 8) for k in range(len(groups))]
    assert bars["selection_rate"] == pytest.approx(expected)
    with qtbot.waitSignal(panel.sig_solution_ready, timeout=TIMEOUT) as blocker:
        panel.solve("fpr")
    solution = blocker.args[0]
    assert np.ptp(panel.threshold_bar_data()["fpr"]) < 1e-9
    assert solution.accuracy <= solution.baseline_accuracy
    x, y = panel.cost_curve.getData()
    assert len(x) == len(solution.grid) and np.nanmax(y) == pytest.approx(solution.accuracy)


def test_calibration_and_roc_are_drawn_per_group(panel, compas):
    assert set(panel.roc_curves) == {*compas.report.group_names, "overall"}
    x, y = panel.calibration_items["Caucasian"].getData()
    cal = compas.calibration
    k = cal.names.index("Caucasian")
    assert y == pytest.approx(cal.observed[k][cal.counts[k] >= 10])


@pytest.fixture
def csv_path(tmp_path):
    rng = np.random.default_rng(3)
    n = 400
    y = rng.integers(0, 2, n)
    group = rng.choice(["p", "q"], n)
    y[group == "q"] = 0  # group q has no positives: its TPR is undefined
    pred = np.where(rng.random(n) < 0.2, 1 - y, y)
    path = tmp_path / "preds.csv"
    rows = "\n".join(
        f"{a},{b},{c},{d}" for a, b, c, d in zip(y, pred, group, y * 2 + pred, strict=True)
    )
    path.write_text("label,pred,group,multi\n" + rows + "\n")
    return path


def test_csv_with_a_group_without_positives_shows_undefined_with_the_reason(panel, csv_path, qtbot):
    assert panel.open_csv(csv_path)
    assert panel.label_combo.currentText() == "label"
    assert panel.pred_a_combo.currentText() == "pred"
    with qtbot.waitSignal(panel.sig_analysis_ready, timeout=TIMEOUT) as blocker:
        panel.evaluate()
    report = blocker.args[0].report
    assert math.isnan(report.value(0, "tpr", "q"))
    panel.metric_combo.setCurrentText("tpr")
    data = panel.group_bar_data()
    assert "q" in data["undefined"][0] and "no positives" in data["undefined"][0]
    row = report.group_names.index("q")
    column = ["count", "base_rate", "selection_rate", "tpr"].index("tpr")
    item = panel.metrics_table.item(row, column)
    assert item.text() == "undefined" and "no positives" in item.toolTip()
    assert not panel.error_label.isVisibleTo(panel)


def test_bad_columns_are_shown_in_the_panel_with_the_fix(panel, csv_path, qtbot):
    panel.open_csv(csv_path)
    panel.set_columns(CsvSelection(label="multi", pred_a="pred", groups=["group"]))
    with qtbot.waitSignal(panel.sig_error, timeout=TIMEOUT) as blocker:
        panel.evaluate()
    assert "'multi' is not binary" in blocker.args[0]
    assert panel.error_label.text() == blocker.args[0]
    assert panel.context.errors[-1] == blocker.args[0]
    panel.label_combo.setEditable(True)
    panel.label_combo.setCurrentText("lable")
    panel.set_columns(CsvSelection(label="lable", pred_a="pred", groups=["group"]))
    with qtbot.waitSignal(panel.sig_error, timeout=TIMEOUT) as blocker:
        panel.evaluate()
    assert "did you mean 'label'" in blocker.args[0]


def test_a_large_csv_loads_with_a_moving_progress_bar(panel, tmp_path, qtbot):
    n = 300_000
    rng = np.random.default_rng(0)
    lines = [
        f"{a},{b:.3f},{c}"
        for a, b, c in zip(
            rng.integers(0, 2, n), rng.random(n), rng.choice(["a", "b"], n), strict=True
        )
    ]
    path = tmp_path / "big.csv"
    path.write_text("label,score,group\n" + "\n".join(lines) + "\n")
    panel.open_csv(path)
    assert panel.score_a_combo.currentText() == "score"
    seen: list[int] = []
    panel.runner.sig_progress.connect(lambda _id, f: seen.append(panel.progress.value()))
    with qtbot.waitSignal(panel.sig_analysis_ready, timeout=60_000) as blocker:
        panel.evaluate()
        assert panel.progress.isVisibleTo(panel)
    assert blocker.args[0].report.cells.n_rows == n
    assert len(seen) >= 3 and seen == sorted(seen) and 0 < seen[0] < 1000
    qtbot.waitUntil(lambda: not panel.progress.isVisibleTo(panel), timeout=TIMEOUT)


def test_export_html_and_csv(panel, compas, tmp_path):
    html = panel.export_html(tmp_path / "report.html")
    text = html.read_text()
    assert "African-American" in text and "data:image/png;base64" in text
    csv = panel.export_csv(tmp_path / "metrics.csv").read_text().splitlines()
    assert csv[0].startswith("model,group,metric,value")
    assert any(line.startswith("COMPAS,Caucasian,fpr,") for line in csv)


def test_the_a_minus_b_view_labels_its_axis_as_a_difference(panel, compas):
    view = panel.groups_view
    assert view.group_plot.getAxis("left").labelText == "rate"
    view.model_combo.setCurrentIndex(view.model_combo.findData("delta"))
    assert view.group_plot.getAxis("left").labelText == "fpr: model A − model B"
    view.view_combo.setCurrentIndex(1)
    view.model_combo.setCurrentIndex(view.model_combo.findData(0))
    assert "reference" in view.group_plot.getAxis("left").labelText


def test_the_calibration_selector_draws_model_bs_curves(panel, compas):
    """COMPAS has two scored models: the decile score (A) and a logistic model (B)."""
    view = panel.calibration_view
    names = compas.report.model_names
    assert [view.model_combo.itemText(i) for i in range(view.model_combo.count())] == names
    assert view.model_row.isVisibleTo(view)
    k_a = compas.calibrations[0].names.index("Caucasian")
    cal_b = compas.calibrations[1]
    k_b = cal_b.names.index("Caucasian")
    x_a, y_a = panel.calibration_view.calibration_items["Caucasian"].getData()
    view.select_model(1)
    assert view.selected_model() == 1
    x, y = panel.calibration_view.calibration_items["Caucasian"].getData()
    kept = cal_b.counts[k_b] >= 10
    assert y == pytest.approx(cal_b.observed[k_b][kept])
    # B's curve is not A's: its scores are probabilities in [0, 1], A's are deciles 1-10.
    assert np.nanmax(x) <= 1.05 < np.nanmax(x_a)
    assert len(y) != len(y_a) or not np.allclose(y, y_a)
    assert "perfect calibration" in [i.name() for i in
                                      panel.calibration_view.calibration_items.values()]
    assert names[1] in panel.calibration_view.calibration_plot.plotItem.titleLabel.text
    # Choosing A again draws A's curve again.
    view.model_combo.setCurrentIndex(0)
    _, y = panel.calibration_view.calibration_items["Caucasian"].getData()
    assert y == pytest.approx(compas.calibrations[0].observed[k_a][
        compas.calibrations[0].counts[k_a] >= 10])


def test_the_rates_legend_sits_clear_of_every_bar_and_whisker(panel, compas, qtbot):
    """At a low threshold TPRs come near 1 (Native American's is 1): no legend over them.

    On a small window the plot is short, so a legend inside the view takes more of it.
    """
    from PySide6.QtCore import QPointF, QRectF

    panel.resize(1000, 600)
    panel.show()
    panel.tabs.setCurrentWidget(panel.thresholds_view)
    with qtbot.waitSignal(panel.sig_thresholds_ready, timeout=TIMEOUT):
        panel.set_threshold(2)
    plot = panel.thresholds_view.threshold_plot
    qtbot.waitUntil(lambda: plot.plotItem.legend.sceneBoundingRect().height() > 10, timeout=5000)
    legend = plot.plotItem.legend.sceneBoundingRect()
    assert sorted(label.text for _sample, label in plot.plotItem.legend.items) == [
        "fpr", "selection_rate", "tpr"]
    assert plot.sceneBoundingRect().contains(legend)  # drawn, inside the plot widget
    assert max(plot.bar_data()["tpr"]) > 0.9
    vb = plot.plotItem.vb
    shapes = []  # (what, rect in view units) for each bar and each whisker
    for metric, bars in plot.bars.items():
        for xi, hi in zip(bars.opts["x"], bars.opts["height"], strict=True):
            shapes.append((f"{metric} bar at {xi:.2f}", (xi - 0.125, 0.0, xi + 0.125, hi)))
        w = plot.whiskers[metric].opts
        if w.get("x") is not None:
            for xi, yi, up in zip(w["x"], w["y"], w["top"], strict=True):
                shapes.append((f"{metric} whisker at {xi:.2f}", (xi - 0.04, yi, xi + 0.04, yi + up)))
    assert shapes
    for what, (x0, y0, x1, y1) in shapes:
        rect = QRectF(vb.mapViewToScene(QPointF(x0, y0)), vb.mapViewToScene(QPointF(x1, y1)))
        assert not rect.normalized().intersects(legend), f"the legend covers the {what}"


def test_without_scores_the_calibration_tab_says_so_and_offers_no_model(panel, csv_path, qtbot):
    assert panel.open_csv(csv_path)
    with qtbot.waitSignal(panel.sig_analysis_ready, timeout=TIMEOUT) as blocker:
        panel.evaluate()
    assert blocker.args[0].calibrations == [None]
    view = panel.calibration_view
    assert view.model_combo.count() == 0 and not view.model_row.isVisibleTo(view)
    assert view.selected_model() is None
    assert not view.calibration_items
    assert "needs scores" in view.calibration_label.text()


def test_plots_say_what_to_do_until_there_is_something_to_draw(panel, qtbot):
    """Before an evaluation the plots say how to get one instead of showing bare axes; once the
    demo is evaluated the groups chart has its axes and no hint."""
    plot = panel.groups_view.group_plot
    assert plot.empty_hint.isVisible() and "load the COMPAS demo" in plot.empty_hint.toPlainText()
    assert not plot.plotItem.getAxis("left").isVisible()
    compare = panel.compare_view.compare_plot
    assert compare.empty_hint.isVisible()
    with qtbot.waitSignal(panel.sig_analysis_ready, timeout=120000):
        panel.load_demo("compas")
    assert not plot.empty_hint.isVisible() and plot.plotItem.getAxis("left").isVisible()
    # Two models, no test run yet: the compare plot says how to run it.
    assert compare.empty_hint.isVisible() and "paired test" in compare.empty_hint.toPlainText()
