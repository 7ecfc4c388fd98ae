"""Models: GPT (KV cache, tying, TP-sliced heads, GPT-2 loader), DCGAN, VAE, classifier."""

from __future__ import annotations

import json
import math
import pickle

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from backends.models import (
    MODELS,
    ConfigError,
    DCGANConfig,
    GPTConfig,
    VAEConfig,
    build_model,
    discriminator_loss,
    from_hf_gpt2,
    generator_loss,
)
from backends.models.classifier import Classifier, ClassifierConfig
from backends.models.dcgan import DCGAN
from backends.models.gpt import GPT
from backends.models.vae import VAE


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy 2-core machine the
    threads' barriers dominate; one thread keeps these training loops fast and steady."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_gpt(**overrides) -> GPT:
    torch.manual_seed(0)
    cfg = dict(vocab_size=13, block_size=16, n_layer=2, n_head=2, n_embd=8)
    cfg.update(overrides)
    return GPT(GPTConfig(**cfg)).eval()


# ---- GPT ----------------------------------------------------------------------------------


def test_gpt_kv_cache_logits_match_full_forward():
    model = tiny_gpt()
    idx = torch.randint(0, 13, (3, 12), generator=torch.Generator().manual_seed(1))
    full, _ = model(idx)
    cache = model.new_kv_cache()
    # Prefill 5, then a chunk of 3 (masked attention over the cache), then single tokens.
    pieces = [model(idx[:, :5], kv_cache=cache)[0], model(idx[:, 5:8], kv_cache=cache)[0]]
    pieces += [model(idx[:, t : t + 1], kv_cache=cache)[0] for t in range(8, 12)]
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=1e-5)
    assert cache.length == 12
    cache.reset()
    torch.testing.assert_close(model(idx[:, :4], kv_cache=cache)[0], full[:, :4])


def test_gpt_last_only_logits_are_the_last_row_of_the_full_logits():
    model = tiny_gpt()
    idx = torch.randint(0, 13, (2, 9), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        full, _ = model(idx)
        last, _ = model(idx, last_only=True)
        assert last.shape == (2, 1, 13)
        torch.testing.assert_close(last, full[:, -1:])
        # With a cache: the prompt, then one token, each giving its last row only.
        cache = model.new_kv_cache()
        first, _ = model(idx[:, :8], kv_cache=cache, last_only=True)
        step, _ = model(idx[:, 8:], kv_cache=cache, last_only=True)
    torch.testing.assert_close(first, full[:, 7:8], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(step, full[:, 8:], atol=1e-5, rtol=1e-5)
    assert cache.length == 9
    with pytest.raises(ValueError, match="loss needs all"):
        model(idx, targets=idx, last_only=True)


@pytest.mark.parametrize("bias", [True, False])
def test_gpt_decoding_layout_changes_memory_only_and_fuses_qkv(bias):
    plain = tiny_gpt(bias=bias)
    fast = tiny_gpt(bias=bias).use_decoding_layout()
    for (name, a), (_, b) in zip(
        plain.state_dict().items(), fast.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    attn = fast.transformer.h[0].attn
    assert fast.lm_head.weight is fast.transformer.wte.weight
    assert attn.q_proj.weight.shape == (8, 8) and not attn.q_proj.weight.is_contiguous()
    idx = torch.randint(0, 13, (3, 12), generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        assert attn._fused_qkv() is not None  # one product for q, k and v
        assert plain.transformer.h[0].attn._fused_qkv() is None
        torch.testing.assert_close(fast(idx)[0], plain(idx)[0], atol=1e-5, rtol=1e-5)
        cache = fast.new_kv_cache()
        pieces = [fast(idx[:, :5], kv_cache=cache)[0], fast(idx[:, 5:8], kv_cache=cache)[0]]
        pieces += [fast(idx[:, t : t + 1], kv_cache=cache)[0] for t in range(8, 12)]
        torch.testing.assert_close(torch.cat(pieces, 1), plain(idx)[0], atol=1e-5, rtol=1e-5)
    # With autograd the three parameters are used one by one, and train as before.
    with torch.no_grad():  # also: no_grad takes the fused path
        assert attn._fused_qkv() is not None
    assert attn._fused_qkv() is None
    for model in (plain, fast):
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.5)
        _, loss = model(idx[:, :-1], targets=idx[:, 1:])
        loss.backward()
        opt.step()
    for (name, a), (_, b) in zip(plain.named_parameters(), fast.named_parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5, msg=name)
    plain.eval()
    fast.eval()
    with torch.inference_mode():  # the trained weights are what the fused path reads
        assert attn._fused_qkv() is not None
        torch.testing.assert_close(fast(idx)[0], plain(idx)[0], atol=1e-5, rtol=1e-5)


def test_gpt_fused_qkv_follows_loaded_and_replaced_weights():
    fast = tiny_gpt().use_decoding_layout()
    other = tiny_gpt()
    with torch.no_grad():
        for p in other.parameters():
            p.add_(torch.randn_like(p))
    idx = torch.randint(0, 13, (2, 7), generator=torch.Generator().manual_seed(4))
    # Loading copies into the shared block: still fused, and computing with the new weights.
    fast.load_state_dict(other.state_dict())
    attn = fast.transformer.h[1].attn
    with torch.inference_mode():
        assert attn._fused_qkv() is not None
        torch.testing.assert_close(fast(idx)[0], other(idx)[0], atol=1e-5, rtol=1e-5)
    # A replaced projection leaves the block: the separate products take over, correctly.
    attn.k_proj = torch.nn.Linear(8, 8)
    other.transformer.h[1].attn.k_proj = attn.k_proj
    with torch.inference_mode():
        assert attn._fused_qkv() is None
        torch.testing.assert_close(fast(idx)[0], other(idx)[0], atol=1e-5, rtol=1e-5)
    # Converting the model (here to float64) gives new memory: back to separate products.
    with torch.inference_mode():
        before = fast(idx)[0]
    fast.double()
    with torch.inference_mode():
        assert fast.transformer.h[0].attn._fused_qkv() is None
        torch.testing.assert_close(fast(idx)[0].float(), before, atol=1e-5, rtol=1e-5)


def test_gpt_refuses_context_overflow_with_a_clear_message():
    model = tiny_gpt()
    cache = model.new_kv_cache()
    model(torch.zeros(1, 16, dtype=torch.long), kv_cache=cache)
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros(1, 1, dtype=torch.long), kv_cache=cache)
    with pytest.raises(ValueError, match="exceeds the context"):
        model(torch.zeros(1, 17, dtype=torch.long))


def test_gpt_is_causal_and_ties_embeddings():
    model = tiny_gpt()
    idx = torch.randint(0, 13, (1, 10))
    changed = idx.clone()
    changed[0, 7] = (idx[0, 7] + 1) % 13
    a, _ = model(idx)
    b, _ = model(changed)
    torch.testing.assert_close(a[:, :7], b[:, :7])
    assert not torch.allclose(a[:, 7:], b[:, 7:])
    assert model.lm_head.weight is model.transformer.wte.weight
    c = model.config
    per_block = 4 * (c.n_embd * c.n_embd + c.n_embd) + 2 * 2 * c.n_embd
    per_block += 2 * 4 * c.n_embd * c.n_embd + 4 * c.n_embd + c.n_embd
    expected = (c.vocab_size + c.block_size) * c.n_embd + c.n_layer * per_block + 2 * c.n_embd
    assert model.num_parameters() == expected
    assert model.num_parameters(non_embedding=True) == expected - c.block_size * c.n_embd


def test_gpt_attention_runs_on_a_slice_of_heads_like_a_tp_rank():
    # Tensor parallelism gives each rank some heads: column slices of q/k/v and
    # the matching input columns of out_proj. The partial outputs must sum to the full one.
    model = tiny_gpt(n_head=4)
    attn = model.transformer.h[0].attn
    x = torch.randn(2, 6, 8)
    full = attn(x)
    half = 4
    total = 0
    for rank in range(2):
        rows = slice(rank * half, (rank + 1) * half)
        shard = type(attn)(model.config)
        # Local tensors are half as wide; the module derives its head count from them.
        with torch.no_grad():
            for name in ("q_proj", "k_proj", "v_proj"):
                full_lin = getattr(attn, name)
                lin = torch.nn.Linear(8, half)
                lin.weight.copy_(full_lin.weight[rows])
                lin.bias.copy_(full_lin.bias[rows])
                setattr(shard, name, lin)
            shard.out_proj = torch.nn.Linear(half, 8)
            shard.out_proj.weight.copy_(attn.out_proj.weight[:, rows])
            shard.out_proj.bias.zero_()
        shard.eval()
        total = total + shard(x)
    torch.testing.assert_close(total + attn.out_proj.bias, full, atol=1e-6, rtol=1e-5)


def test_gpt_learns_a_repeating_sequence():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=5, block_size=12, n_layer=1, n_head=2, n_embd=16))
    data = torch.tensor([[0, 1, 2, 3, 4] * 3])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    first = None
    for _ in range(40):
        _, loss = model(data[:, :12], data[:, 1:13])
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first > 1.3  # about ln 5 at the start
    assert loss.item() < 0.1


def test_gpt_config_errors_name_the_field_and_the_fix():
    with pytest.raises(
        ConfigError, match=r"n_embd \(10\) must be divisible by n_head \(4\); try n_embd=12"
    ):
        GPTConfig.from_dict(dict(vocab_size=5, block_size=8, n_layer=1, n_head=4, n_embd=10))
    with pytest.raises(ConfigError, match="unknown field.*n_heads"):
        GPTConfig.from_dict(dict(vocab_size=5, block_size=8, n_layer=1, n_heads=4, n_embd=8))
    with pytest.raises(ConfigError, match="missing field.*vocab_size"):
        GPTConfig.from_dict(dict(block_size=8, n_layer=1, n_head=4, n_embd=8))
    with pytest.raises(ConfigError, match="dropout"):
        GPTConfig.from_dict(
            dict(vocab_size=5, block_size=8, n_layer=1, n_head=4, n_embd=8, dropout=1.5)
        )
    cfg = GPTConfig(vocab_size=5, block_size=8, n_layer=1, n_head=4, n_embd=8)
    assert GPTConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


# ---- GPT-2 checkpoints in Hugging Face format -------------------------------------------------

HF_DIMS = dict(vocab=11, ctx=10, layers=2, heads=2, embd=8)


def hf_gpt2_tensors(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights under HF GPT-2 names, in its Conv1D (in, out) layout."""
    g = torch.Generator().manual_seed(seed)
    d, v, t = HF_DIMS["embd"], HF_DIMS["vocab"], HF_DIMS["ctx"]

    def r(*shape):
        return torch.randn(*shape, generator=g) * 0.3

    w = {"wte.weight": r(v, d), "wpe.weight": r(t, d), "ln_f.weight": 1 + r(d), "ln_f.bias": r(d)}
    for i in range(HF_DIMS["layers"]):
        p = f"h.{i}."
        w |= {
            p + "ln_1.weight": 1 + r(d), p + "ln_1.bias": r(d),
            p + "ln_2.weight": 1 + r(d), p + "ln_2.bias": r(d),
            p + "attn.c_attn.weight": r(d, 3 * d), p + "attn.c_attn.bias": r(3 * d),
            p + "attn.c_proj.weight": r(d, d), p + "attn.c_proj.bias": r(d),
            p + "mlp.c_fc.weight": r(d, 4 * d), p + "mlp.c_fc.bias": r(4 * d),
            p + "mlp.c_proj.weight": r(4 * d, d), p + "mlp.c_proj.bias": r(d),
        }  # fmt: skip
    return w


def reference_gpt2_logits(w: dict[str, torch.Tensor], idx: torch.Tensor) -> torch.Tensor:
    """GPT-2's forward written straight from the HF tensors (Conv1D: x @ W + b)."""
    d, nh = HF_DIMS["embd"], HF_DIMS["heads"]
    hd = d // nh
    T = idx.size(1)

    def ln(x, p):
        return F.layer_norm(x, (d,), w[p + ".weight"], w[p + ".bias"], eps=1e-5)

    def gelu_new(x):
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))

    x = w["wte.weight"][idx] + w["wpe.weight"][:T]
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for i in range(HF_DIMS["layers"]):
        p = f"h.{i}."
        h = ln(x, p + "ln_1")
        qkv = h @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = (t.view(*t.shape[:2], nh, hd).transpose(1, 2) for t in qkv.split(d, dim=-1))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(*x.shape)
        x = x + y @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        h = ln(x, p + "ln_2")
        h = gelu_new(h @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"])
        x = x + h @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    return ln(x, "ln_f") @ w["wte.weight"].t()


def write_hf_config(folder):
    folder.mkdir(exist_ok=True)
    config = {
        "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"],
        "vocab_size": HF_DIMS["vocab"], "n_positions": HF_DIMS["ctx"], "n_ctx": HF_DIMS["ctx"],
        "n_embd": HF_DIMS["embd"], "n_layer": HF_DIMS["layers"], "n_head": HF_DIMS["heads"],
        "n_inner": None, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5,
        "resid_pdrop": 0.1, "embd_pdrop": 0.1, "attn_pdrop": 0.1,
    }  # fmt: skip
    (folder / "config.json").write_text(json.dumps(config))


def test_from_hf_gpt2_safetensors_matches_reference_forward(tmp_path):
    weights = hf_gpt2_tensors()
    write_hf_config(tmp_path)
    save_file(weights, str(tmp_path / "model.safetensors"))
    model = from_hf_gpt2(tmp_path)
    assert model.config.activation == "gelu_tanh" and model.config.block_size == 10
    with torch.no_grad():  # loaded for decoding: q/k/v in one block, so the check covers it
        assert model.transformer.h[0].attn._fused_qkv() is not None
    idx = torch.randint(0, HF_DIMS["vocab"], (2, 9), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        logits, _ = model(idx)
    torch.testing.assert_close(logits, reference_gpt2_logits(weights, idx), atol=1e-5, rtol=1e-5)


def test_from_hf_gpt2_pytorch_bin_with_prefix_and_buffers(tmp_path):
    weights = hf_gpt2_tensors(seed=1)
    write_hf_config(tmp_path)
    # GPT2LMHeadModel's state dict: "transformer." prefix, the tied lm_head, old mask buffers.
    state = {"transformer." + k: v for k, v in weights.items()}
    state["lm_head.weight"] = weights["wte.weight"]
    state["transformer.h.0.attn.bias"] = torch.tril(torch.ones(1, 1, 10, 10))
    torch.save(state, tmp_path / "pytorch_model.bin")
    model = from_hf_gpt2(tmp_path)
    idx = torch.randint(0, HF_DIMS["vocab"], (1, 10))
    with torch.no_grad():
        logits, _ = model(idx)
    torch.testing.assert_close(logits, reference_gpt2_logits(weights, idx), atol=1e-5, rtol=1e-5)


class _Payload:
    """Pickles into a call that creates a file: proof of code execution if it appears."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_from_hf_gpt2_refuses_a_malicious_pickle_without_running_it(tmp_path):
    write_hf_config(tmp_path)
    marker = tmp_path / "pwned"
    with open(tmp_path / "pytorch_model.bin", "wb") as f:
        pickle.dump({"wte.weight": _Payload(marker)}, f, protocol=2)
    with pytest.raises(ValueError, match="refused to unpickle"):
        from_hf_gpt2(tmp_path)
    assert not marker.exists()


def test_from_hf_gpt2_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        from_hf_gpt2(tmp_path)
    write_hf_config(tmp_path)
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        from_hf_gpt2(tmp_path)
    weights = hf_gpt2_tensors()
    del weights["h.1.mlp.c_fc.bias"]
    save_file(weights, str(tmp_path / "model.safetensors"))
    with pytest.raises(ValueError, match=r"h\.1\.mlp\.c_fc\.bias.*missing"):
        from_hf_gpt2(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps(config | {"model_type": "llama"}))
    with pytest.raises(ValueError, match="only GPT-2"):
        from_hf_gpt2(tmp_path)


# ---- DCGAN ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "layers"),
    [(28, ["layer1", "layer2"]), (8, ["layer1"]), (32, ["layer1", "layer2", "layer3"])],
)
def test_dcgan_sizes_itself_from_the_image_size(size, layers):
    torch.manual_seed(0)
    gan = build_model("dcgan", dict(nz=6, ngf=8, ndf=8, nc=1, image_size=size))
    z = gan.generator.sample_latent(4)
    images = gan.generator(z)
    assert images.shape == (4, 1, size, size)
    assert images.min() >= -1 and images.max() <= 1
    assert gan.discriminator(images).shape == (4,)
    assert gan.generator.layer_names() == layers
    # Feature maps grow from the latent side: layer1 is the smallest grid.
    sides = []
    hooks = [
        getattr(gan.generator, n).register_forward_hook(lambda m, i, o: sides.append(o.shape[-1]))
        for n in layers
    ]
    gan.generator(z)
    for h in hooks:
        h.remove()
    assert sides == sorted(sides) and sides[-1] == size // 2


def test_dcgan_forward_hook_on_a_named_layer_edits_the_image():
    torch.manual_seed(0)
    gen = DCGAN(DCGANConfig(nz=6, ngf=8, ndf=8, image_size=28)).generator.eval()
    z = gen.sample_latent(2)
    before = gen(z)
    hook = gen.layer2.register_forward_hook(lambda m, i, out: out * 0)
    after = gen(z)
    hook.remove()
    assert not torch.allclose(before, after)
    torch.testing.assert_close(gen(z), before)


def test_dcgan_without_batch_norm_is_per_sample():
    gan = DCGAN(DCGANConfig(nz=4, ngf=4, ndf=4, image_size=8, batch_norm=False)).train()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in gan.modules())
    z = torch.randn(4, 4)
    torch.testing.assert_close(gan.generator(z)[:2], gan.generator(z[:2]))


def test_generator_losses_differ_where_the_discriminator_wins():
    zero = torch.zeros(3)
    assert generator_loss(zero, "non_saturating").item() == pytest.approx(math.log(2))
    assert generator_loss(zero, "minimax").item() == pytest.approx(-math.log(2))
    # D confidently rejects the fakes (logit -10): minimax's gradient has vanished.
    rejected = torch.full((3,), -10.0, requires_grad=True)
    (g_mm,) = torch.autograd.grad(generator_loss(rejected, "minimax"), rejected)
    (g_ns,) = torch.autograd.grad(generator_loss(rejected, "non_saturating"), rejected)
    assert g_mm.abs().max() < 1e-4 < 0.3 < g_ns.abs().min()
    assert discriminator_loss(torch.full((3,), 10.0), torch.full((3,), -10.0)) < 1e-3
    assert discriminator_loss(zero, zero).item() == pytest.approx(2 * math.log(2))
    with pytest.raises(ValueError, match="non_saturating, minimax"):
        generator_loss(zero, "wasserstein")


def test_dcgan_image_size_errors():
    with pytest.raises(ConfigError, match="image_size must be an even integer of at least 8"):
        DCGANConfig.from_dict(dict(image_size=7))
    with pytest.raises(ConfigError, match="image_size"):
        DCGANConfig.from_dict(dict(image_size=9))


# ---- VAE --------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [28, 8])
def test_vae_loss_is_recon_plus_beta_kl(size):
    torch.manual_seed(0)
    vae = VAE(VAEConfig(latent_dim=3, image_size=size, hidden=4, beta=2.5))
    x = torch.rand(5, 1, size, size)
    recon, parts = vae(x)
    assert recon.shape == x.shape and 0 <= recon.min() and recon.max() <= 1
    assert set(parts) == {"loss", "recon", "kl"}
    torch.testing.assert_close(parts["loss"], parts["recon"] + 2.5 * parts["kl"])
    assert parts["kl"] >= 0
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (5, 3)
    assert vae.decode(vae.sample_latent(2)).shape == (2, 1, size, size)


def test_vae_kl_is_zero_at_the_prior_and_eval_is_deterministic():
    vae = VAE(VAEConfig(latent_dim=2, image_size=8, hidden=4))
    with torch.no_grad():
        for lin in (vae.to_mu, vae.to_logvar):
            lin.weight.zero_()
            lin.bias.zero_()
    _, parts = vae(torch.rand(3, 1, 8, 8))
    assert parts["kl"].abs() < 1e-6
    vae.eval()
    x = torch.rand(2, 1, 8, 8)
    torch.testing.assert_close(vae(x)[0], vae(x)[0])


def test_vae_learns_to_reconstruct():
    torch.manual_seed(0)
    vae = VAE(VAEConfig(latent_dim=4, image_size=8, hidden=8, beta=0.1))
    x = (torch.rand(16, 1, 8, 8) > 0.5).float()
    opt = torch.optim.Adam(vae.parameters(), lr=3e-3)
    losses = []
    for _ in range(80):
        _, parts = vae(x)
        losses.append(parts["recon"].item())
        opt.zero_grad()
        parts["loss"].backward()
        opt.step()
    assert losses[-1] < 0.8 * losses[0]


# ---- Classifier and registry ---------------------------------------------------------------


def test_classifier_logistic_and_mlp_fit_separable_data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 3, generator=g)
    y = (x[:, 0] - 2 * x[:, 2] > 0).long()
    for hidden in ([], [16]):
        torch.manual_seed(0)
        model = Classifier(ClassifierConfig(n_features=3, hidden=hidden))
        linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        assert len(linears) == len(hidden) + 1
        opt = torch.optim.Adam(model.parameters(), lr=0.05)
        for _ in range(100):
            _, loss = model(x, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        proba = model.predict_proba(x)
        assert proba.shape == (200, 2)
        torch.testing.assert_close(proba.sum(1), torch.ones(200))
        assert (proba.argmax(1) == y).float().mean() > 0.95
    with pytest.raises(ValueError, match="expects 3 features"):
        model(torch.randn(2, 4))
    with pytest.raises(ConfigError, match="hidden must be a list"):
        ClassifierConfig.from_dict(dict(n_features=3, hidden=[0]))


def test_registry_builds_every_model_from_a_dict():
    configs = {
        "gpt": dict(vocab_size=7, block_size=8, n_layer=1, n_head=2, n_embd=8),
        "dcgan": dict(nz=4, ngf=4, ndf=4, image_size=8),
        "vae": dict(latent_dim=2, hidden=4, image_size=8),
        "classifier": dict(n_features=4, hidden=[5]),
    }
    assert set(MODELS) == set(configs)
    for name, cfg in configs.items():
        spec = MODELS[name]
        model = build_model(name, cfg)
        assert model.config == spec.config_class.from_dict(cfg)
        assert spec.config_class.from_dict(model.config.to_dict()) == model.config
    gan = build_model("dcgan", configs["dcgan"])
    assert {k.split(".")[0] for k in gan.state_dict()} == {"generator", "discriminator"}
    with pytest.raises(ConfigError, match="unknown model 'gan'"):
        build_model("gan", {})
