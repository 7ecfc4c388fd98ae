"""The one error the planner raises for bad input, and the checks that raise it.

Every message names the field that is wrong and says how to fix it, so the
launcher form, the ``workbench plan`` command and the trainer can show it as
it is.
"""

from __future__ import annotations

from typing import Any


class PlanError(ValueError):
    """A planner input is wrong; the message names the field and the fix."""


def positive_int(name: str, value: Any) -> int:
    """``value`` as an int >= 1, or a :class:`PlanError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PlanError(f"{name} must be a positive whole number, got {value!r}")
    return value


def positive_number(name: str, value: Any) -> float:
    """``value`` as a float > 0, or a :class:`PlanError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise PlanError(f"{name} must be a number above 0, got {value!r}")
    return float(value)


def choice(name: str, value: Any, choices: tuple[str, ...] | list[str]) -> str:
    """``value`` if it is one of ``choices``, or a :class:`PlanError` listing them."""
    if value not in choices:
        raise PlanError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def divisors(n: int) -> list[int]:
    """The divisors of ``n`` in increasing order (for 'choose one of' hints)."""
    return [d for d in range(1, n + 1) if n % d == 0]
