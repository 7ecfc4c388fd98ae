"""Predictions to evaluate: reading them from a CSV and checking them.

Predictions are one row per test example: a true label, the model's predicted
label or score, one or more group columns (several make intersectional groups such
as "African-American, Male") and optionally a second model's predicted label or
score on the same rows. :func:`build_predictions` checks them and returns
:class:`Predictions`; reading them from a CSV is :mod:`backends.evaluate.prediction_csv`.
Every problem is reported as a :class:`PredictionInputError` naming the column and
what to do about it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

# Spellings accepted as the positive / negative class when a column is not 0/1.
_TRUE_WORDS = {"1", "1.0", "true", "yes", "y", "t", "positive", "pos"}
_FALSE_WORDS = {"0", "0.0", "false", "no", "n", "f", "negative", "neg"}
_MISSING = {"", "nan", "na", "n/a", "null", "none"}
# Group labels joined into one intersectional group name.
GROUP_JOIN = ", "


class PredictionInputError(ValueError):
    """Predictions that cannot be evaluated; the message names the column and the fix."""


@dataclass
class Predictions:
    """Checked predictions of one or two binary classifiers on the same rows.

    ``label`` holds 0/1 true labels; ``pred`` one 0/1 array per model (from a column of
    predicted labels, or a score column cut at a threshold: predicted positive when
    ``score >= threshold``); ``scores`` the score per model where scores were given
    (None otherwise); ``group`` an integer code per row indexing ``group_names``.
    """

    label: np.ndarray
    pred: list[np.ndarray]
    group: np.ndarray
    group_names: list[str]
    model_names: list[str]
    scores: list[np.ndarray | None] = field(default_factory=list)
    thresholds: list[float | None] = field(default_factory=list)
    group_columns: list[str] = field(default_factory=list)
    label_column: str = "label"
    # Display names of the two classes and the two predictions; the COMPAS demo
    # calls them "did not reoffend"/"reoffended" and "low risk"/"high risk".
    label_names: tuple[str, str] = ("label 0", "label 1")
    prediction_names: tuple[str, str] = ("predicted 0", "predicted 1")
    source: str = ""

    @property
    def n_rows(self) -> int:
        return int(self.label.shape[0])

    @property
    def n_models(self) -> int:
        return len(self.pred)

    def with_thresholds(self, thresholds: Sequence[float | None]) -> Predictions:
        """A copy whose predictions are the scores cut at new thresholds (one per model).

        A threshold of None keeps that model's predictions and threshold as they are.
        """
        if len(thresholds) != self.n_models:
            raise PredictionInputError(
                f"{len(thresholds)} thresholds were given for {self.n_models} models: give one "
                "per model"
            )
        preds, cuts = list(self.pred), list(self.thresholds)
        for i, t in enumerate(thresholds):
            if t is None:
                continue
            score = self.scores[i] if i < len(self.scores) else None
            if score is None:
                raise PredictionInputError(
                    f"model {self.model_names[i]!r} was given as predicted labels, not scores: "
                    "choose a score column to move its threshold"
                )
            preds[i] = (score >= t).astype(np.int8)
            cuts[i] = float(t)
        return replace(self, pred=preds, thresholds=cuts)



# ------------------------------------------------------------------ checking columns


def _strip(values: np.ndarray) -> np.ndarray:
    return np.array([str(v).strip() for v in values], dtype=object)


def _word_code(value: str) -> int | None:
    """1 or 0 for a value that spells a class (1, true, yes, ...), None otherwise."""
    low = value.lower()
    if low in _TRUE_WORDS:
        return 1
    if low in _FALSE_WORDS:
        return 0
    try:
        number = float(low)
    except ValueError:
        return None
    return int(number) if number in (0.0, 1.0) else None


def _binary_codes(
    values: np.ndarray, column: str, role: str, positive: str | None, *, strict: bool = True
) -> tuple[np.ndarray, str | None]:
    """0/1 codes of a binary column, and the value taken as positive.

    0/1, true/false and yes/no columns need no help; any other pair of values needs
    ``positive`` (which, when ``strict``, must be one of them: labels; predictions
    given as 0/1 against string labels are still read as 0/1).
    """
    raw = _as_numbers_if_possible(np.asarray(values))
    if raw.dtype.kind in "biuf":
        _refuse_nan(raw, column, role)
        if set(np.unique(raw).tolist()) <= {0, 1}:
            return raw.astype(np.int8), "1"
        raw = np.array(
            [f"{v:g}" if isinstance(v, float) else str(v) for v in raw.tolist()], dtype=object
        )
    text = _strip(raw)
    distinct = _two_values(text, column, role)
    if positive:
        positive = str(positive).strip()
        if positive in distinct:
            return (text == positive).astype(np.int8), positive
        if strict and len(distinct) == 2:
            raise PredictionInputError(
                f"positive label {positive!r} is not a value of {role} column {column!r} (its "
                f"values are {distinct[0]!r} and {distinct[1]!r}): choose one of them"
            )
    codes = {v: _word_code(v) for v in distinct}
    if None not in codes.values() and len(set(codes.values())) == len(distinct):
        table = np.array([codes[v] for v in text.tolist()], dtype=np.int8)
        return table, next((v for v, c in codes.items() if c == 1), "1")
    if positive and not strict and len(distinct) == 1:
        return np.zeros(len(text), dtype=np.int8), positive
    shown = " and ".join(repr(v) for v in distinct)
    raise PredictionInputError(
        f"{role} column {column!r} has the values {shown}: say which one is the positive class "
        "(give the positive label)"
    )


def _as_numbers_if_possible(raw: np.ndarray) -> np.ndarray:
    """Text read as floats when every value is a number (most label columns are 0/1 text)."""
    if raw.dtype.kind == "O":
        try:
            # One C loop instead of a Python one per row.
            return raw.astype(np.float64)
        except (ValueError, TypeError):
            pass
    return raw


def _refuse_nan(raw: np.ndarray, column: str, role: str) -> None:
    """Refuse a numeric column with NaN or infinite values, naming the first row."""
    if raw.dtype.kind == "f" and np.any(~np.isfinite(raw)):
        bad = ~np.isfinite(raw)
        raise PredictionInputError(
            f"{role} column {column!r} has {int(bad.sum())} missing or NaN values "
            f"(first at row {int(np.flatnonzero(bad)[0]) + 1}): drop or fill those rows"
        )


def _two_values(text: np.ndarray, column: str, role: str) -> list[str]:
    """The sorted distinct values of a text column, refusing missing values and more than two."""
    missing = np.array([v.lower() in _MISSING for v in text], dtype=bool)
    if np.any(missing):
        raise PredictionInputError(
            f"{role} column {column!r} has {int(missing.sum())} empty or missing values "
            f"(first at row {int(np.flatnonzero(missing)[0]) + 1}): drop or fill those rows"
        )
    distinct = sorted(set(text.tolist()))
    if len(distinct) > 2:
        shown = ", ".join(repr(v) for v in distinct[:6]) + (", ..." if len(distinct) > 6 else "")
        raise PredictionInputError(
            f"{role} column {column!r} is not binary: it has {len(distinct)} values ({shown}). "
            "Labels and predictions need two classes: map the column to 0/1, or, if it is a "
            "score, choose it as a score column with a threshold"
        )
    return distinct


def _scores(values: np.ndarray, column: str) -> np.ndarray:
    """A float column; NaN, empty or non-numeric entries are refused with their row."""
    raw = np.asarray(values)
    if raw.dtype.kind in "biuf":
        out = raw.astype(np.float64)
    else:
        try:
            out = raw.astype(np.float64)
        except (ValueError, TypeError):
            out = np.empty(len(raw), dtype=np.float64)
            for i, v in enumerate(raw):
                text = str(v).strip()
                try:
                    out[i] = float(text) if text.lower() not in _MISSING else np.nan
                except ValueError:
                    raise PredictionInputError(
                        f"score column {column!r} has the non-numeric value {text!r} at row {i + 1}: "
                        "scores must be numbers; fix that row or choose another column"
                    ) from None
    bad = ~np.isfinite(out)
    if np.any(bad):
        first = int(np.flatnonzero(bad)[0])
        raise PredictionInputError(
            f"score column {column!r} has {int(bad.sum())} NaN or missing values (first at row "
            f"{first + 1}): drop or fill those rows before evaluating"
        )
    return out


def group_codes(columns: dict[str, np.ndarray]) -> tuple[np.ndarray, list[str]]:
    """Integer group per row from one or more group columns (intersections), and names.

    Groups are sorted by name; a blank value is its own group, "(missing)".
    """
    if not columns:
        raise PredictionInputError("choose at least one group column (e.g. race or sex)")
    codes: np.ndarray | None = None
    parts: list[list[str]] = []
    for values in columns.values():
        # Unique values first: stripping and naming then touch each distinct value once.
        distinct, inverse = np.unique(np.asarray(values).astype(str), return_inverse=True)
        cleaned = [v.strip() or "(missing)" for v in distinct.tolist()]
        names, remap = np.unique(np.array(cleaned, dtype=str), return_inverse=True)
        column_codes = remap[inverse.reshape(-1)]
        parts.append(names.tolist())
        codes = column_codes if codes is None else codes * len(names) + column_codes
    assert codes is not None  # at least one column
    used, codes = np.unique(codes, return_inverse=True)
    labels = []
    for code in used.tolist():
        pieces = []
        for column_names in reversed(parts):
            code, k = divmod(code, len(column_names))
            pieces.append(column_names[k])
        labels.append(GROUP_JOIN.join(reversed(pieces)))
    # Keep groups sorted by their full name.
    order = np.argsort(np.array(labels, dtype=str), kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[codes.reshape(-1)].astype(np.int64), [labels[i] for i in order]


def build_predictions(
    label: np.ndarray,
    *,
    groups: dict[str, np.ndarray],
    preds: Sequence[np.ndarray | None] = (),
    scores: Sequence[np.ndarray | None] = (),
    thresholds: Sequence[float | None] = (),
    model_names: Sequence[str] = ("model A", "model B"),
    label_column: str = "label",
    pred_columns: Sequence[str] = (),
    score_columns: Sequence[str] = (),
    positive_label: str | None = None,
    source: str = "",
) -> Predictions:
    """Check label, predictions or scores and groups, and bundle them.

    For each model (one or two) give either ``preds[i]`` (predicted labels) or
    ``scores[i]`` with ``thresholds[i]`` (predicted positive when score >= threshold).
    All arrays must have the same length, as they describe the same rows.
    """
    n_models = max(len(preds), len(scores))
    if n_models == 0:
        raise PredictionInputError(
            "choose a predicted-label column or a score column with a threshold"
        )
    if n_models > 2:
        raise PredictionInputError(f"{n_models} models were given: compare at most two at a time")
    models = [
        _ModelColumns(
            name=model_names[i] if i < len(model_names) else f"model {'AB'[i]}",
            pred=preds[i] if i < len(preds) else None,
            score=scores[i] if i < len(scores) else None,
            threshold=thresholds[i] if i < len(thresholds) else None,
            pred_column=pred_columns[i] if i < len(pred_columns) else "",
            score_column=score_columns[i] if i < len(score_columns) else "",
        )
        for i in range(n_models)
    ]
    _check_lengths(label, label_column, groups, models)
    y, positive = _binary_codes(label, label_column, "label", positive_label)
    checked = [model.checked(positive) for model in models]
    codes, names = group_codes(groups)
    return Predictions(
        label=y,
        pred=[c[0] for c in checked],
        group=codes,
        group_names=names,
        model_names=list(model_names[:n_models]),
        scores=[c[1] for c in checked],
        thresholds=[c[2] for c in checked],
        group_columns=list(groups),
        label_column=label_column,
        source=source,
    )


@dataclass
class _ModelColumns:
    """One model's columns as given: predicted labels, or scores with a threshold."""

    name: str
    pred: np.ndarray | None
    score: np.ndarray | None
    threshold: float | None
    pred_column: str
    score_column: str

    def lengths(self) -> dict[str, int]:
        """The length of each column given, by a description of the column."""
        out = {}
        if self.pred is not None:
            out[f"prediction column {self.pred_column or self.name!r}"] = len(self.pred)
        if self.score is not None:
            out[f"score column {self.score_column or self.name!r}"] = len(self.score)
        return out

    def checked(self, positive: str | None) -> tuple[np.ndarray, np.ndarray | None, float | None]:
        """0/1 predictions, scores (None for labels) and threshold (None for labels)."""
        if self.score is not None:
            column = self.score_column or self.name
            s = _scores(self.score, column)
            if self.threshold is None or not np.isfinite(float(self.threshold)):
                raise PredictionInputError(
                    f"score column {column!r} needs a threshold (predicted positive when score >= "
                    "threshold)"
                )
            threshold = float(self.threshold)
            return (s >= threshold).astype(np.int8), s, threshold
        if self.pred is not None:
            column = self.pred_column or self.name
            codes, _ = _binary_codes(self.pred, column, "prediction", positive, strict=False)
            return codes, None, None
        raise PredictionInputError(
            f"{self.name} has neither a prediction column nor a score column: choose one"
        )


def _check_lengths(
    label: np.ndarray, label_column: str, groups: dict[str, np.ndarray], models: list[_ModelColumns]
) -> None:
    """Refuse columns of different lengths (they must describe the same rows) and no rows."""
    n = len(label)
    lengths = {f"label column {label_column!r}": n}
    for name, values in groups.items():
        lengths[f"group column {name!r}"] = len(values)
    for model in models:
        lengths.update(model.lengths())
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k} has {v:,} rows" for k, v in lengths.items())
        raise PredictionInputError(
            f"the columns have different lengths ({shown}): every column must describe the same "
            "rows, in the same order"
        )
    if n == 0:
        raise PredictionInputError("there are no rows to evaluate")
