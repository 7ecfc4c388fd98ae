"""Tiny Hugging Face models made here: random GPT-2 / Llama / Qwen2 LMs, folders with a tokenizer.

Nothing is downloaded. :func:`random_causal_lm` is the one builder of a
randomly initialised ``transformers`` causal LM of a given shape, for the
tests and for ``bench/generate_speed.py`` alike. :func:`make_folder` saves such
a model, trained for a few steps on a few sentences (so continuations vary),
with a byte-level BPE tokenizer trained here on the same sentences.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# kind -> (config class, model class) in transformers
KINDS = {
    "gpt2": ("GPT2Config", "GPT2LMHeadModel"),
    "llama": ("LlamaConfig", "LlamaForCausalLM"),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM"),
}

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SPECIALS = ["<s>", "</s>", "<|endoftext|>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]
CORPUS = [
    "In the beginning God created the heaven and the earth.",
    "And the earth was without form, and void; and darkness was upon the face of the deep.",
    "The quick brown fox jumps over the lazy dog. Héllo wörld!",
    "User: what is two plus two? Assistant: four. Amen.",
] * 10


def random_causal_lm(kind: str, seed: int | None = None, **shape: Any) -> Any:
    """A randomly initialised ``kind`` (gpt2, llama or qwen2) causal LM with config ``shape``;
    ``seed`` seeds torch just before the weights are drawn."""
    import torch
    import transformers

    if kind not in KINDS:
        raise ValueError(kind)
    config_class, model_class = (getattr(transformers, name) for name in KINDS[kind])
    config = config_class(**shape)
    if seed is not None:
        torch.manual_seed(seed)
    return model_class(config)


def make_tokenizer(chat: bool = True):
    import tokenizers
    from tokenizers import decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token=None
    )
    if chat:
        fast.chat_template = CHAT_TEMPLATE
    return fast


def make_folder(
    folder: Path,
    kind: str = "llama",
    *,
    chat: bool = True,
    context: int = 64,
    seed: int = 0,
    steps: int = 60,
) -> Path:
    """Save a tiny random ``kind`` (llama or qwen2) model and its tokenizer into ``folder``."""
    import torch

    tok = make_tokenizer(chat)
    shape = dict(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=context,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        tie_word_embeddings=False,
    )
    if kind not in ("llama", "qwen2"):
        raise ValueError(kind)
    hf = random_causal_lm(kind, seed=seed, **shape)
    # A few steps on the corpus, so continuations are varied text, not one token repeated.
    batch = tok(CORPUS[:4], padding=False)["input_ids"]
    optimizer = torch.optim.AdamW(hf.parameters(), lr=1e-2)
    for _ in range(steps):
        for ids in batch:
            x = torch.tensor([ids[:context]])
            loss = hf(input_ids=x, labels=x).loss
            loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    hf.eval()
    folder.mkdir(parents=True, exist_ok=True)
    hf.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder
