"""The one error text generation raises: bad input, with a message that says the fix.

Kept apart from the torch modules, so that listing and opening models can
refuse without importing torch.
"""

from __future__ import annotations


class GenerationError(ValueError):
    """Bad generation input (a setting, a prompt, a model); the message says the fix."""
