"""Parameter counts from configs alone equal the built models', tensor by tensor."""

from __future__ import annotations

import pytest
import torch

from backends.models import MODELS, build_model
from backends.plan import PlanError, gpt_layout, model_layout, weights_table
from backends.plan.shapes import GPTShape, gpt_params_approx, layout_from_module

CONFIGS = [
    ("gpt", {"vocab_size": 65, "block_size": 32, "n_layer": 2, "n_head": 4, "n_embd": 32}),
    ("gpt", {"vocab_size": 101, "block_size": 17, "n_layer": 3, "n_head": 3, "n_embd": 48,
             "bias": False, "mlp_ratio": 3}),
    ("dcgan", {"nz": 16, "ngf": 32, "ndf": 32, "image_size": 8}),
    ("dcgan", {"nz": 64, "ngf": 16, "ndf": 8, "nc": 3, "image_size": 32, "batch_norm": False}),
    ("vae", {"image_size": 28}),
    ("vae", {"latent_dim": 4, "nc": 3, "image_size": 64, "hidden": 8}),
    ("classifier", {"n_features": 10, "n_classes": 3, "hidden": []}),
    ("classifier", {"n_features": 7, "n_classes": 2, "hidden": [16, 8]}),
]


@pytest.mark.parametrize(("kind", "config"), CONFIGS)
def test_counts_match_the_built_model(kind, config):
    torch.manual_seed(0)
    model = build_model(kind, config)
    layout = model_layout(kind, config)
    assert layout.params == sum(p.numel() for p in model.parameters())
    built = [(name, tuple(p.shape)) for name, p in model.named_parameters()]
    assert [(t.name, t.shape) for t in layout.tensors] == built


def test_gpt2_small_has_its_published_size():
    layout = gpt_layout({"vocab_size": 50257, "block_size": 1024, "n_layer": 12, "n_head": 12,
                         "n_embd": 768})
    assert layout.params == 124_439_808
    # 12 L d^2 + (V + S) d ignores biases and norms: within 0.1 %.
    approx = gpt_params_approx(12, 768, 50257, 1024)
    assert abs(approx - layout.params) / layout.params < 1e-3


def test_untied_head_adds_one_embedding_matrix():
    shape = dict(n_layer=2, n_embd=64, n_head=4, vocab_size=1000, block_size=128)
    tied = gpt_layout(GPTShape(**shape))
    untied = gpt_layout(GPTShape(**shape, tied=False))
    assert untied.params - tied.params == 1000 * 64


def test_layout_of_an_existing_module_agrees_with_the_written_one():
    config = {"vocab_size": 65, "block_size": 32, "n_layer": 2, "n_head": 4, "n_embd": 32}
    from_module = layout_from_module(build_model("gpt", config), "gpt")
    written = gpt_layout(config)
    assert from_module.params == written.params
    assert from_module.embedding_params == written.embedding_params
    assert set(MODELS) <= {"gpt", "dcgan", "vae", "classifier"}


def test_weights_table_in_gib():
    rows = {r["dtype"]: r for r in weights_table(2**30)}
    assert rows["fp32"]["gib"] == 4.0 and rows["bf16"]["gib"] == 2.0 and rows["fp16"]["gib"] == 2.0


@pytest.mark.parametrize(
    ("shape", "needle"),
    [
        (dict(n_layer=2, n_embd=100, n_head=3, vocab_size=10, block_size=8), "divisible by n_head"),
        (dict(n_layer=0, n_embd=64, n_head=4, vocab_size=10, block_size=8), "n_layer"),
        (dict(n_layer=2, n_embd=-64, n_head=4, vocab_size=10, block_size=8), "n_embd"),
        (dict(n_layer=2, n_embd=64, n_head=4, vocab_size=10, block_size=0), "block_size"),
    ],
)
def test_bad_shapes_name_the_field(shape, needle):
    with pytest.raises(PlanError, match=needle):
        gpt_layout(GPTShape(**shape))


def test_bad_conv_config_is_a_plan_error():
    with pytest.raises(PlanError, match="image_size"):
        model_layout("dcgan", {"image_size": 7})
