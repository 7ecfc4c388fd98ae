"""What the evaluation view shows: where its predictions come from and what was computed from them.

The panel keeps one :class:`EvaluationState` and renders it; the views and the
HTML export read the results from it. A new analysis clears the results derived
from the previous one (the paired test, moved thresholds, a solution).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from backends.evaluate.analysis import Analysis
from backends.evaluate.fairness_report import FairnessReport
from backends.evaluate.paired import PairedTest
from backends.evaluate.thresholds import ThresholdSolution

SourceKind = Literal["demo", "csv", "checkpoint"]


@dataclass(frozen=True)
class EvaluationSource:
    """Where predictions come from: a demo by name, a CSV file, or a classifier checkpoint."""

    kind: SourceKind
    value: str | Path


@dataclass
class EvaluationState:
    """The source chosen and the results shown: the analysis and what was derived from it."""

    source: EvaluationSource | None = None
    analysis: Analysis | None = None
    paired: PairedTest | None = None
    threshold_report: FairnessReport | None = None
    solution: ThresholdSolution | None = None

    def show_analysis(self, analysis: Analysis) -> None:
        """A new analysis; the results derived from the previous one no longer apply."""
        self.analysis = analysis
        self.paired = None
        self.threshold_report = None
        self.solution = None
