"""How many stride-2 steps take a square image down to a small base grid.

DCGAN and the VAE both build their conv stacks from this plan, so one
image size (28 for Fashion-MNIST, 8 for scikit-learn digits, 32, 64, ...)
sizes both the same way.
"""

from __future__ import annotations

from backends.models._config import ConfigError


def conv_plan(image_size: int, owner: str) -> tuple[int, int]:
    """``(base, doublings)``: ``image_size == base * 2**doublings`` with ``base >= 4``.

    Takes as many halvings as keep the side an integer of at least 4, so
    28 -> (7, 2), 8 -> (4, 1), 32 -> (4, 3), 12 -> (6, 1).
    """
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 8:
        raise ConfigError(
            f"{owner}.image_size must be an even integer of at least 8 "
            f"(28 for Fashion-MNIST, 8 for digits), got {image_size!r}"
        )
    base, doublings = image_size, 0
    while base % 2 == 0 and base // 2 >= 4:
        base //= 2
        doublings += 1
    if doublings == 0:
        raise ConfigError(
            f"{owner}.image_size must be an even integer of at least 8 "
            f"(28 for Fashion-MNIST, 8 for digits), got {image_size}"
        )
    return base, doublings
