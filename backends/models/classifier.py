"""A classifier for tabular features: logistic regression or a small MLP.

With ``hidden = []`` the model is multinomial logistic regression (one
linear layer); each entry of ``hidden`` adds a ReLU layer of that width.
``forward(x, targets=None) -> (logits, loss)`` with mean cross-entropy over
``n_classes`` (2 for a binary task, so predicted probabilities are
``softmax(logits)[:, 1]``, which ``predict_proba`` returns for every class).
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from backends.models._config import ConfigError, ModelConfig


@dataclasses.dataclass(kw_only=True)
class ClassifierConfig(ModelConfig):
    n_features: int
    n_classes: int = 2
    hidden: list[int] = dataclasses.field(default_factory=list)  # [] = logistic regression
    dropout: float = 0.0

    def validate(self) -> None:
        self._positive_int("n_features")
        if (
            isinstance(self.n_classes, bool)
            or not isinstance(self.n_classes, int)
            or self.n_classes < 2
        ):
            raise ConfigError(
                f"ClassifierConfig.n_classes must be an integer >= 2, got {self.n_classes!r}"
            )
        if not isinstance(self.hidden, list | tuple) or not all(
            isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in self.hidden
        ):
            raise ConfigError(
                f"ClassifierConfig.hidden must be a list of positive layer widths "
                f"([] for logistic regression), got {self.hidden!r}"
            )
        self._fraction("dropout")


class Classifier(nn.Module):
    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        layers: list[nn.Module] = []
        width = config.n_features
        for h in config.hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(config.dropout)]
            width = h
        layers.append(nn.Linear(width, config.n_classes))
        self.net = nn.Sequential(*layers)

    def forward(
        self, x: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if x.size(-1) != self.config.n_features:
            raise ValueError(
                f"classifier expects {self.config.n_features} features per row, got {x.size(-1)}"
            )
        logits = self.net(x)
        loss = F.cross_entropy(logits.float(), targets) if targets is not None else None
        return logits, loss

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities (B, n_classes), in eval mode whatever the module's mode."""
        was_training = self.training
        self.eval()
        try:
            return torch.softmax(self.net(x).float(), dim=-1)
        finally:
            self.train(was_training)
