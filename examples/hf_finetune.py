"""Fine-tune a tiny, randomly initialised Llama with the Hugging Face Trainer, watched live.

One line makes the Trainer a workbench run: ``callbacks=[WorkbenchCallback()]``.
Its logs become curves, every rank's memory is sampled, and Stop in the
workbench saves a checkpoint and ends training. Runs on a laptop CPU in seconds;
nothing is downloaded (the model is random, the text is made here).

    python examples/hf_finetune.py --steps 60
    torchrun --nproc-per-node 2 examples/hf_finetune.py --steps 60
    workbench train --script examples/hf_finetune.py -- --steps 60
"""

import argparse

import torch
from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainingArguments

from backends.client.hf import WorkbenchCallback

TEXT = "the quick brown fox jumps over the lazy dog. " * 40


class CharChunks(torch.utils.data.Dataset):
    """Fixed-length windows of a text, one byte per token (labels = inputs: causal LM)."""

    def __init__(self, text: str, length: int = 32) -> None:
        data = torch.tensor(list(text.encode()), dtype=torch.long)
        self.rows = data[: len(data) // length * length].view(-1, length)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):
        return {"input_ids": self.rows[i], "labels": self.rows[i]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--output-dir", default="hf-finetune-out")
    args = parser.parse_args()

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
    ))
    training = TrainingArguments(
        output_dir=args.output_dir, max_steps=args.steps, per_device_train_batch_size=8,
        learning_rate=3e-3, logging_steps=1, save_strategy="no", report_to=[], use_cpu=True,
        disable_tqdm=True,
    )
    trainer = Trainer(model=model, args=training, train_dataset=CharChunks(TEXT),
                      callbacks=[WorkbenchCallback(name="hf-llama-tiny")])
    trainer.train()


if __name__ == "__main__":
    main()
