"""Widgets every panel may use: form helpers (buttons, spin boxes, value combos)."""
