"""The CSV column picker: the true label, each model's predictions or scores, and the groups.

Filled from a CSV's header with guesses (a column named like a label, ``pred*``
or ``*score*``/``*prob*`` columns, a protected attribute), and read back as a
:class:`CsvSelection`. For a demo or a checkpoint only the group list is used.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QWidget,
)

from backends.evaluate.prediction_csv import CsvSelection

NONE = "(none)"
_LABEL_GUESSES = ("label", "y", "y_true", "target", "truth", "two_year_recid", "income", "outcome")
_GROUP_GUESSES = ("group", "race", "sex", "gender", "ethnicity", "age_cat")


class ColumnPicker(QGroupBox):
    """Which CSV column plays which part; groups are ticked (several: intersections)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Columns (CSV)", parent)
        form = QFormLayout(self)
        self.label_combo = QComboBox()
        self.positive_edit = QLineEdit()
        self.positive_edit.setPlaceholderText("only if not 0/1, true/false")
        self.pred_a_combo, self.score_a_combo = QComboBox(), QComboBox()
        self.pred_b_combo, self.score_b_combo = QComboBox(), QComboBox()
        self.threshold_a_spin, self.threshold_b_spin = QDoubleSpinBox(), QDoubleSpinBox()
        for spin in (self.threshold_a_spin, self.threshold_b_spin):
            spin.setRange(-1e9, 1e9)
            spin.setDecimals(4)
            spin.setValue(0.5)
            spin.setToolTip("predicted positive when score >= threshold")
        self.group_list = QListWidget()
        self.group_list.setMaximumHeight(120)
        self.group_list.setToolTip("tick one or more: several make intersectional groups")
        for text, widget in (
            ("True label", self.label_combo),
            ("Positive label", self.positive_edit),
            ("Model A labels", self.pred_a_combo),
            ("or A scores", self.score_a_combo),
            ("A threshold", self.threshold_a_spin),
            ("Model B labels", self.pred_b_combo),
            ("or B scores", self.score_b_combo),
            ("B threshold", self.threshold_b_spin),
            ("Groups", self.group_list),
        ):
            form.addRow(text, widget)
        self._column_combos = (
            self.label_combo,
            self.pred_a_combo,
            self.score_a_combo,
            self.pred_b_combo,
            self.score_b_combo,
        )

    def fill_from_header(self, header: list[str]) -> None:
        """Offer a CSV's columns in every picker, with guesses selected, and enable them."""
        lowered = {h.lower(): h for h in header}
        label = next((lowered[g] for g in _LABEL_GUESSES if g in lowered), header[0])
        for combo in self._column_combos:
            combo.blockSignals(True)
            combo.clear()
            if combo is not self.label_combo:
                combo.addItem(NONE)
            combo.addItems(header)
            combo.blockSignals(False)
        self.label_combo.setCurrentText(label)
        guesses = [h for h in header if h.lower() in _GROUP_GUESSES]
        self.fill_groups(header, guesses[:1])
        scoreish = [h for h in header if "score" in h.lower() or "prob" in h.lower()]
        predish = [h for h in header if h.lower().startswith(("pred", "yhat", "y_pred"))]
        if predish:
            self.pred_a_combo.setCurrentText(predish[0])
            if len(predish) > 1:
                self.pred_b_combo.setCurrentText(predish[1])
        elif scoreish:
            self.score_a_combo.setCurrentText(scoreish[0])
            if len(scoreish) > 1:
                self.score_b_combo.setCurrentText(scoreish[1])
        self.set_columns_enabled(True)

    def clear_columns(self) -> None:
        """Empty the column pickers (a source without CSV columns)."""
        for combo in self._column_combos:
            combo.clear()

    def set_columns_enabled(self, enabled: bool) -> None:
        """Enable or disable every picker but the group list."""
        for w in (
            self.label_combo,
            self.positive_edit,
            self.pred_a_combo,
            self.score_a_combo,
            self.threshold_a_spin,
            self.pred_b_combo,
            self.score_b_combo,
            self.threshold_b_spin,
        ):
            w.setEnabled(enabled)

    def fill_groups(self, names: list[str], checked: list[str]) -> None:
        """Offer ``names`` as group columns, ticking those in ``checked``."""
        self.group_list.clear()
        for name in names:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(_check_state(name in checked))
            self.group_list.addItem(item)

    def checked_groups(self) -> list[str]:
        return [
            self.group_list.item(i).text()
            for i in range(self.group_list.count())
            if self.group_list.item(i).checkState() == Qt.CheckState.Checked
        ]

    def set_columns(self, selection: CsvSelection) -> None:
        """Set the pickers (used by scripts and tests as by a person)."""
        self.label_combo.setCurrentText(selection.label)
        self.positive_edit.setText(selection.positive_label)
        for combo, value in (
            (self.pred_a_combo, selection.pred_a),
            (self.score_a_combo, selection.score_a),
            (self.pred_b_combo, selection.pred_b),
            (self.score_b_combo, selection.score_b),
        ):
            combo.setCurrentText(value or NONE)
        self.threshold_a_spin.setValue(selection.threshold_a)
        self.threshold_b_spin.setValue(selection.threshold_b)
        for i in range(self.group_list.count()):
            item = self.group_list.item(i)
            item.setCheckState(_check_state(item.text() in selection.groups))

    def selection(self) -> CsvSelection:
        """What the pickers say; a score column wins over a label column of the same model."""

        def pick(combo: QComboBox) -> str:
            return "" if combo.currentText() in ("", NONE) else combo.currentText()

        pred_a, score_a, pred_b, score_b = (
            pick(c)
            for c in (self.pred_a_combo, self.score_a_combo, self.pred_b_combo, self.score_b_combo)
        )
        return CsvSelection(
            label=self.label_combo.currentText(),
            groups=self.checked_groups(),
            pred_a="" if score_a else pred_a,
            score_a=score_a,
            threshold_a=self.threshold_a_spin.value(),
            pred_b="" if score_b else pred_b,
            score_b=score_b,
            threshold_b=self.threshold_b_spin.value(),
            positive_label=self.positive_edit.text().strip(),
            model_names=(score_a or pred_a or "model A", score_b or pred_b or "model B"),
        )


def _check_state(checked: bool) -> Qt.CheckState:
    return Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
