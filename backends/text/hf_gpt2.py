"""A local Hugging Face GPT-2 folder as a workbench GPT with its byte-level BPE tokenizer.

The folder holds ``config.json``, the weights, and ``tokenizer.json`` or
``vocab.json`` + ``merges.txt``. The tokenizer is read with the optional
``tokenizers`` package; the weights become a workbench GPT (the fast decoding
path). torch is imported only when weights are read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from backends.text.errors import GenerationError

HF_EOS = "<|endoftext|>"


class HFTokenizer:
    """A Hugging Face ``tokenizers`` tokenizer with the small interface generation needs."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self.eos_id: int | None = tokenizer.token_to_id(HF_EOS)
        # GPT-2 starts an empty prompt with its end-of-text token, as transformers does.
        self.bos_id = self.eos_id

    @property
    def vocab_size(self) -> int:
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str) -> list[int]:
        return self._tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self._tokenizer.decode(list(ids), skip_special_tokens=False)


def load_hf_tokenizer(folder: Path) -> HFTokenizer:
    """The byte-level BPE tokenizer of a Hugging Face GPT-2 folder."""
    try:
        import tokenizers
    except ImportError as exc:
        raise GenerationError(
            "reading a Hugging Face tokenizer needs the optional 'tokenizers' package; "
            "install it with: pip install 'workbench[hf]'"
        ) from exc
    single = folder / "tokenizer.json"
    vocab, merges = folder / "vocab.json", folder / "merges.txt"
    try:
        if single.is_file():
            return HFTokenizer(tokenizers.Tokenizer.from_file(str(single)))
        if vocab.is_file() and merges.is_file():
            return HFTokenizer(tokenizers.ByteLevelBPETokenizer(str(vocab), str(merges)))
    except Exception as exc:  # the library raises its own exception types
        raise GenerationError(f"{folder}: the tokenizer files could not be read ({exc})") from exc
    raise GenerationError(
        f"{folder} has no tokenizer.json, nor vocab.json + merges.txt; "
        "copy the tokenizer files that came with the model into the folder"
    )


def load_hf_gpt2(folder: Path) -> tuple[Any, HFTokenizer]:
    """(workbench GPT in eval mode, tokenizer) of a Hugging Face GPT-2 folder."""
    from backends.models.hf_gpt2 import from_hf_gpt2

    try:
        model_type = json.loads((folder / "config.json").read_text()).get("model_type")
    except (OSError, json.JSONDecodeError) as exc:
        raise GenerationError(f"{folder / 'config.json'} is not readable JSON ({exc})") from exc
    if model_type not in (None, "gpt2"):
        raise GenerationError(
            f"{folder} holds a {model_type!r} model, not GPT-2; pick a GPT-2 folder "
            "or a workbench checkpoint"
        )
    tokenizer = load_hf_tokenizer(folder)
    try:
        model = from_hf_gpt2(folder)
    except (OSError, ValueError, KeyError) as exc:
        raise GenerationError(f"{folder} is not a usable GPT-2 checkpoint: {exc}") from exc
    if tokenizer.vocab_size > model.config.vocab_size:
        raise GenerationError(
            f"{folder}: the tokenizer has {tokenizer.vocab_size} tokens but the model only "
            f"{model.config.vocab_size}; the tokenizer files belong to another model"
        )
    return model.eval(), tokenizer
