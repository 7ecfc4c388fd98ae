"""The models the workbench trains, registered by name.

``MODELS[name]`` is a :class:`ModelSpec` ``(config_class, build)``: the
config dataclass (``from_dict`` validates it) and a function that builds the
model from such a config. The names are what presets, checkpoint ``meta.json``
(``"model"``) and the launcher use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from backends.models._config import ConfigError, ModelConfig

if TYPE_CHECKING:
    from torch import nn

# NOTE: importing this package must not import torch: the training form and the
# command line read configs through it (``backends.models._config``), and a
# GUI start must not wait seconds for torch. Names below load on first use.
_LAZY = {
    "Classifier": "classifier", "ClassifierConfig": "classifier",
    "DCGAN": "dcgan", "DCGANConfig": "dcgan", "Discriminator": "dcgan", "Generator": "dcgan",
    "discriminator_loss": "dcgan", "generator_loss": "dcgan",
    "GPT": "gpt", "GPTConfig": "gpt", "from_hf_gpt2": "hf_gpt2",
    "VAE": "vae", "VAEConfig": "vae",
}


class ModelSpec(NamedTuple):
    config_class: type[ModelConfig]
    build: Callable[[Any], nn.Module]


def _registry() -> dict[str, ModelSpec]:
    from backends.models.classifier import Classifier, ClassifierConfig
    from backends.models.dcgan import DCGAN, DCGANConfig
    from backends.models.gpt import GPT, GPTConfig
    from backends.models.vae import VAE, VAEConfig

    return {
        "gpt": ModelSpec(GPTConfig, GPT),
        "dcgan": ModelSpec(DCGANConfig, DCGAN),  # .generator / .discriminator
        "vae": ModelSpec(VAEConfig, VAE),
        "classifier": ModelSpec(ClassifierConfig, Classifier),
    }


def __getattr__(name: str) -> Any:
    if name == "MODELS":
        value: Any = _registry()
    elif name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later lookups skip __getattr__
    return value


def build_model(name: str, config: ModelConfig | dict[str, Any]) -> nn.Module:
    """Build the model registered as ``name`` from a config object or its dict."""
    models = __getattr__("MODELS") if "MODELS" not in globals() else globals()["MODELS"]
    if name not in models:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(models)}")
    spec = models[name]
    if isinstance(config, spec.config_class):
        model_config = config
    else:
        model_config = spec.config_class.from_dict(cast(dict[str, Any], config))
    model_config.validate()
    return spec.build(model_config)


__all__ = [
    "DCGAN",
    "GPT",
    "MODELS",
    "VAE",
    "Classifier",
    "ClassifierConfig",
    "ConfigError",
    "DCGANConfig",
    "Discriminator",
    "GPTConfig",
    "Generator",
    "ModelConfig",
    "ModelSpec",
    "VAEConfig",
    "build_model",
    "discriminator_loss",
    "from_hf_gpt2",
    "generator_loss",
]
