"""The five panels of the main window, one folder per panel.

A panel is the folder ``panels/<name>/`` whose ``panel.py`` holds a
``<Name>Panel`` widget (it meets ``workbench.panel_contract.Panel``), beside its
parts. Panel modules hold widgets only; their engines live in ``backends``. Importing this
package first imports ``workbench`` so pyqtgraph binds to PySide6.
"""

from dataclasses import dataclass

import workbench  # noqa: F401  (sets the pyqtgraph binding before any panel imports it)


@dataclass(frozen=True)
class PanelSpec:
    """One panel of the main window: its module name, title and what it is for."""

    name: str
    title: str
    purpose: str

    @property
    def module(self) -> str:
        return f"panels.{self.name}.panel"

    @property
    def class_name(self) -> str:
        return f"{self.name.capitalize()}Panel"


PANELS = (
    PanelSpec("training", "Training", "Configure and launch DDP, FSDP and tensor-parallel training "
              "through torchrun, with the exact command shown."),
    PanelSpec("monitor", "Monitor", "Loss, throughput and per-rank memory of running and "
              "finished runs, live, and runs compared side by side."),
    PanelSpec("latent", "Latent studio", "Sample, interpolate, steer and paint in the latent "
              "space of a GAN or VAE."),
    PanelSpec("playground", "Text playground", "Streaming generation with exact sampling "
              "controls, token probabilities and models side by side."),
    PanelSpec("evaluation", "Evaluation", "Fairness metrics per group with bootstrap intervals, "
              "paired tests between models and threshold post-processing."),
)
