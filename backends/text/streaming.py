"""Decoded tokens into shown text: whole characters only, stop strings never shown even in part.

:class:`TextStream` takes each decoded token and gives back the tokens that
may be shown now. A byte-level tokenizer may split one character over several
tokens; a tail of the text that could still become a stop string is held back
until it completes (the text is cut there) or diverges (it is released).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from backends.text.results import GeneratedToken


class TextStream:
    """Turns decoded tokens into released tokens: complete characters, no stop-string prefix.

    A byte-level tokenizer can split one character over several tokens; the
    partial text decodes to U+FFFD, so such tokens wait (with empty text) until
    the character completes. Stop strings: the text is cut at the first full
    match; a tail that is the start of a stop string is held back until it
    completes or diverges. Only tokens whose whole text lies before the
    held-back tail are released.
    """

    def __init__(self, tokenizer: Any, stop: Sequence[str]) -> None:
        self._tokenizer = tokenizer
        self._stop = tuple(stop)
        self._pending_ids: list[int] = []
        self.text = ""  # all decoded text so far (may hold a tail not yet released)
        self._waiting: list[tuple[GeneratedToken, int]] = []  # (token, end offset in text)
        self.stop_string: str | None = None
        self.stopped = False

    def add(self, token: GeneratedToken, final: bool = False) -> list[GeneratedToken]:
        """Add one decoded token; return the tokens that may now be shown."""
        self._pending_ids.append(token.token_id)
        piece = self._tokenizer.decode(self._pending_ids)
        if piece.endswith("\ufffd") and not final:
            token.text = ""  # an incomplete character: its text arrives with a later token
        else:
            token.text = piece
            self._pending_ids = []
        search_from = max(0, len(self.text) - max((len(s) for s in self._stop), default=0))
        self.text += token.text
        self._waiting.append((token, len(self.text)))
        cut = self._find_stop(search_from)
        if cut is not None:
            self.text = self.text[:cut]
            self.stopped = True
            return self._release(cut, truncate=True)
        return self._release(len(self.text) - self._held_back())

    def flush(self) -> list[GeneratedToken]:
        """Release everything still held back (the text ended without a stop string)."""
        return self._release(len(self.text))

    def _find_stop(self, start: int) -> int | None:
        best: int | None = None
        for stop in self._stop:
            at = self.text.find(stop, start)
            if at >= 0 and (best is None or at < best):
                best, self.stop_string = at, stop
        return best

    def _held_back(self) -> int:
        """Length of the longest tail of the text that is a proper prefix of a stop string."""
        longest = 0
        for stop in self._stop:
            for n in range(min(len(stop) - 1, len(self.text)), longest, -1):
                if self.text.endswith(stop[:n]):
                    longest = n
                    break
        return longest

    def _release(self, upto: int, truncate: bool = False) -> list[GeneratedToken]:
        released = []
        while self._waiting:
            token, end = self._waiting[0]
            start = end - len(token.text)
            if end <= upto:
                released.append(token)
            elif truncate and start < upto:
                token.text = token.text[: upto - start]
                released.append(token)
            elif not truncate:
                break
            self._waiting.pop(0)
        return released
