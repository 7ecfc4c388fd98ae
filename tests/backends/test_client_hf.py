"""The Hugging Face Trainer callback on a tiny random Llama (CPU): live logs, Stop with a checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("accelerate")
transformers = pytest.importorskip("transformers")

from backends.runs import JsonlTail, create_run, read_events  # noqa: E402


def _tiny_model():
    import torch

    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64,
                                      num_hidden_layers=1, num_attention_heads=4,
                                      num_key_value_heads=2, max_position_embeddings=32)
    return transformers.LlamaForCausalLM(config)


class _Rows:
    """A map-style dataset of random token rows (labels = inputs: plain causal LM)."""

    def __init__(self, n: int = 64, length: int = 16) -> None:
        import torch

        generator = torch.Generator().manual_seed(1)
        self.rows = torch.randint(0, 64, (n, length), generator=generator)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):
        return {"input_ids": self.rows[i], "labels": self.rows[i]}


def test_trainer_logs_every_step_live_and_stop_saves_a_checkpoint(tmp_path, monkeypatch):
    from backends.client.hf import WorkbenchCallback

    run_dir = create_run(tmp_path / "runs", "hf", {"source": "script"})
    monkeypatch.setenv("WORKBENCH_RUN_DIR", str(run_dir.path))
    seen_live: list[int] = []

    class PressStop(transformers.TrainerCallback):
        """At step 3 read what the Monitor would read, then press Stop (the stop file)."""

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 3:
                records = JsonlTail(run_dir.metrics_path(0)).read_new()
                seen_live.extend(r["step"] for r in records if r["kind"] == "train")
                (run_dir.path / "stop").write_text("")

    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), max_steps=50, per_device_train_batch_size=4,
        logging_steps=1, save_strategy="no", report_to=[], use_cpu=True, learning_rate=1e-3,
        disable_tqdm=True, dataloader_num_workers=0,
    )
    trainer = transformers.Trainer(model=_tiny_model(), args=args, train_dataset=_Rows(),
                                   callbacks=[PressStop(), WorkbenchCallback(memory_interval=0)])
    trainer.train()

    assert seen_live == [1, 2]  # steps 1 and 2 were on disk while step 3 ran
    records = JsonlTail(run_dir.metrics_path(0)).read_new()
    train = [r for r in records if r["kind"] == "train"]
    assert [r["step"] for r in train] == [1, 2, 3]
    assert all(r["loss"] > 0 and "lr" in r and "grad_norm" in r for r in train)
    memory = [r for r in records if r["kind"] == "memory"]
    assert memory and memory[-1]["param_bytes"] > 0 and memory[-1]["rss"] > 0
    events = read_events(run_dir)
    end = events[-1]
    assert end["kind"] == "stopped" and end["step"] == 3 and end["reason"] == "stop file"
    checkpoint = Path(end["checkpoint"])
    assert checkpoint == tmp_path / "out" / "checkpoint-3"
    assert (checkpoint / "model.safetensors").is_file()
    assert any(e["kind"] == "checkpoint" and e["step"] == 3 for e in events)
