"""The config base every model shares: dict round trip and one validation hook.

A model config is a ``@dataclass(kw_only=True)`` that inherits
:class:`ModelConfig`. ``to_dict``/``from_dict`` give plain values for TOML
and checkpoint ``meta.json``; ``from_dict`` refuses unknown keys (a typo in a
preset must not be silently ignored) and then calls ``validate``, the one
place each config checks its fields and names the fix.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Self

from backends.fields import field_names, unknown_fields


class ConfigError(ValueError):
    """A model config value is wrong; the message names the field and the fix."""


@dataclasses.dataclass(kw_only=True)
class ModelConfig:
    """Base of every model config: ``to_dict``, ``from_dict`` and ``validate``."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        unknown = unknown_fields(cls, data)
        if unknown:
            raise ConfigError(
                f"{cls.__name__}: unknown field(s) {', '.join(unknown)}; "
                f"valid fields are {', '.join(sorted(field_names(cls)))}"
            )
        missing = sorted(
            f.name
            for f in dataclasses.fields(cls)
            if f.name not in data
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        )
        if missing:
            raise ConfigError(f"{cls.__name__}: missing field(s) {', '.join(missing)}")
        config = cls(**dict(data))
        config.validate()
        return config

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first bad field; subclasses extend."""

    # Small checks the subclasses share, each naming the field in its message.
    def _positive_int(self, name: str) -> int:
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(
                f"{type(self).__name__}.{name} must be a positive integer, got {value!r}"
            )
        return value

    def _fraction(self, name: str) -> float:
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            raise ConfigError(
                f"{type(self).__name__}.{name} must be a number in [0, 1), got {value!r}"
            )
        return float(value)

    def _choice(self, name: str, choices: tuple[str, ...]) -> str:
        value = getattr(self, name)
        if value not in choices:
            raise ConfigError(
                f"{type(self).__name__}.{name} must be one of {', '.join(choices)}, got {value!r}"
            )
        return value
