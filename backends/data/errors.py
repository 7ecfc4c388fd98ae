"""The one error every data loader raises when a dataset cannot be used."""

from __future__ import annotations


class DataError(ValueError):
    """A dataset is missing, unreadable or malformed; the message says where and how to fix it."""
