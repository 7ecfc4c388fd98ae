"""What the playground renders its controls from: the round under way and the seed to repeat.

A *round* is one press of Run all (or one continuation, or one scoring): every
column in turn, on the panel's task slot. Which round's messages are still
wanted is the task runner's business (it drops them once a round is stopped).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RoundKind = Literal["idle", "generating", "scoring"]


@dataclass
class PlaygroundState:
    """The round under way (``"idle"`` when none) and the seed of the last generating round."""

    round: RoundKind = "idle"
    last_seed: int | None = None

    @property
    def idle(self) -> bool:
        return self.round == "idle"

    def end_round(self) -> RoundKind:
        """Back to idle; returns what the round was."""
        was, self.round = self.round, "idle"
        return was
