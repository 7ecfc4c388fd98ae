"""What each kind of source (a demo, a CSV, a checkpoint) reads on the worker, and its name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from backends.evaluate.prediction_csv import CsvSelection, predictions_from_csv, read_csv_header
from backends.evaluate.predictions import Predictions
from backends.evaluate.sources import load_demo, predictions_from_checkpoint

Reader = Callable[..., Predictions]
"""Called on the worker as ``reader(progress)``; returns the predictions to evaluate."""


def demo_title(name: str) -> str:
    """How a demo is named on screen: COMPAS, Adult."""
    return name.upper() if name == "compas" else name.capitalize()


def source_reader(
    kind: str, value: Any, selection: CsvSelection, groups: list[str]
) -> tuple[Reader, str]:
    """The reader of a source and the name shown while it is evaluated.

    ``kind`` is ``demo`` (``value`` its name), ``csv`` or ``checkpoint`` (``value`` a
    path). A CSV selection is checked against the file's header first, so a wrong
    column is refused at once: :class:`PredictionInputError` names it and the fix.
    """
    if kind == "csv":
        selection.check(read_csv_header(value))

        def reader(progress=None, _path=value, _sel=selection):
            return predictions_from_csv(_path, _sel, progress=progress)

        return reader, Path(value).name
    if kind == "demo":

        def reader(progress=None, _name=value, _groups=groups or None):
            return load_demo(_name, _groups, progress=progress)

        return reader, f"{demo_title(value)} demo"

    def reader(progress=None, _path=value, _groups=groups or None):
        return predictions_from_checkpoint(_path, group=_groups, progress=progress)

    return reader, Path(value).name
