"""The Scaling tab fits only comparable runs and says which it left out."""

from __future__ import annotations

from backends.runs import MetricsWriter, create_run, record_event
from panels.monitor.scaling_view import fit_runs_folder


def _finished(folder, name: str, config: dict, loss: float) -> None:
    run = create_run(folder, name, config)
    with MetricsWriter(run, 0) as writer:
        writer.write(3, loss=loss)
    record_event(run, "finished")


def test_a_gan_run_is_left_out_of_the_gpt_fit_and_named(tmp_path):
    for i, width in enumerate([16, 32, 64, 128]):
        _finished(tmp_path, f"gpt-{width}",
                  {"model": "gpt", "batch_size": 8, "data": {"dataset": "kjv"},
                   "model_config": {"vocab_size": 65, "block_size": 32, "n_layer": 2,
                                    "n_head": 4, "n_embd": width}}, 3.0 * (1 + i) ** -0.3)
    _finished(tmp_path, "gan", {"model": "dcgan", "batch_size": 8,
                                "data": {"dataset": "fashion-mnist-subset"}}, 0.7)
    result = fit_runs_folder(tmp_path, bootstrap=20)
    assert sorted(result.names) == ["gpt-128", "gpt-16", "gpt-32", "gpt-64"]
    assert any(line.startswith("gan: dcgan") for line in result.skipped)
    assert "Left out 1 run(s)" in result.words and result.fit is not None
    assert result.kaplan  # the language-model reference sits beside GPT runs only
