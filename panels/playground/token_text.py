"""How a token and its numbers read in labels: visible whitespace, percentages, rates, escaping."""

from __future__ import annotations

import math


def shown(text: str) -> str:
    """A token's text as it reads in a list: whitespace made visible, nothing left blank."""
    if not text:
        return "\u2205"  # a token whose character is completed by the next one
    return text.replace(" ", "\u2423").replace("\n", "\u21b5").replace("\t", "\u21e5")


def percent(p: float) -> str:
    """A probability as a percentage, with the tiny ones still told apart from zero."""
    if p <= 0:
        return "0 %"
    if p < 0.001:
        return "<0.1 %"
    return f"{100 * p:.1f} %"


def rate(tokens_per_s: float) -> str:
    """A generation speed, or a dash when there is none to tell."""
    return f"{tokens_per_s:.1f} tokens/s" if math.isfinite(tokens_per_s) else "- tokens/s"


def html(text: str) -> str:
    """``text`` safe to put into a rich-text label."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def error_html(message: str) -> str:
    """An error message for a rich-text label, in red."""
    return f"<span style='color:#b00020'>{html(message)}</span>"
