"""Per-rank memory of one training step, by part, for each parallel strategy.

The parts (bytes on the busiest rank):

- ``params``, ``grads``: what the rank stores, after TP splits columns/rows
  and FSDP shards dim 0 (padded to equal chunks, as FSDP2 stores them);
- ``optimizer``: the optimizer's state tensors (AdamW: two moments) plus its
  per-tensor step counters;
- ``master``: an fp32 copy of the weights when the weights are 16-bit;
- ``buffers``: DDP's gradient buckets, a flat copy of all gradients unless
  ``gradient_as_bucket_view`` makes the gradients views into them;
- ``activations``: tensors saved for backward by one micro-batch's forward
  (from batch, sequence length, width, heads, layers and vocabulary; with
  activation checkpointing only each block's input), the logits, and under
  autocast the 16-bit weight copies it keeps;
- ``transient``: memory that exists only part of the time: FSDP's unsharded
  units, the block recomputed under activation checkpointing, the loss
  gradients of the output head.

``total = params + grads + optimizer + master + buffers + max(activations +
transient, optimizer step)``: the step's temporaries (a foreach AdamW takes one
state-sized scratch tensor) never coexist with the activations.

FSDP in flight, generalised. Units W_1..W_k (one per block) and a root
(embeddings, final norm) are sharded over N ranks: each rank always holds
sum |W_i| / N. Gathering a unit writes the whole unit into a fresh buffer
(the local shard is not reused in place), so while unit i computes and
``prefetch`` following ones are being gathered a rank also holds
|W_i| + ... + |W_{i+prefetch}| in the compute dtype; the root stays gathered
from forward to backward (FSDP2 does not reshard the root after forward); in
backward the unit's unsharded gradients (|W_i|) and the root's (its tied
embedding receives the head's gradient first and is reduced last) are also
live. For two layers on two ranks without prefetch this gives
|W1|/2 + |W2|/2 + max(|W1|, |W2|) + activations.
"""

from __future__ import annotations

import dataclasses

from backends.plan.setup import OPTIMIZERS, TrainSetup
from backends.plan.shapes import GPTDims, ModelLayout

PARTS = ("params", "grads", "optimizer", "master", "buffers", "activations", "transient")


@dataclasses.dataclass(frozen=True)
class MemoryEstimate:
    """Bytes per rank by part, with the pieces the transient part is made of."""

    strategy: str
    params: int
    grads: int
    optimizer: int
    master: int
    buffers: int
    activations: int
    transient: int
    optimizer_step: int  # scratch of the optimizer step (not concurrent with activations)
    details: dict[str, int]

    @property
    def model_state(self) -> int:
        """Parameters, gradients, optimizer state and master weights: what ZeRO shards."""
        return self.params + self.grads + self.optimizer + self.master

    @property
    def total(self) -> int:
        steady = self.model_state + self.buffers
        return steady + max(self.activations + self.transient, self.optimizer_step)

    def as_dict(self) -> dict[str, int]:
        out = {part: getattr(self, part) for part in PARTS}
        out["total"] = self.total
        return out


def estimate_memory(
    layout: ModelLayout, setup: TrainSetup, activation_bytes: int | None = None
) -> MemoryEstimate:
    """Per-rank bytes of one training step of ``layout`` under ``setup``.

    ``activation_bytes`` (one micro-batch's saved tensors) is required for
    models without a GPT shape; :func:`backends.plan.measure.trace_activation_bytes`
    measures it on the meta device.
    """
    setup.check(layout)
    p = setup.precision_spec
    tp, shard, strategy = setup.tp_degree, setup.shard, setup.strategy
    n_tensors = len(layout.tensors)
    local = layout.local_params(tp, shard)
    details: dict[str, int] = {}

    params = local * p.param
    grads = local * p.grad
    states = OPTIMIZERS[setup.optimizer]
    # Each state is one tensor per parameter tensor; Adam also keeps a 4-byte step per tensor.
    optimizer = states * local * p.state + (4 * n_tensors if states == 2 else 0)
    master = local * p.master
    buffers = 0
    if strategy == "ddp" and not setup.ddp_bucket_view:
        buffers = layout.params * p.grad
        details["ddp_buckets"] = buffers

    if layout.gpt is not None:
        act = gpt_activations(layout, setup)
    elif activation_bytes is not None:
        act = {"saved": int(activation_bytes), "recompute": 0, "loss_grads": 0}
    else:
        raise ValueError(
            f"no activation formula for model {layout.kind!r}; pass activation_bytes "
            "(backends.plan.measure.trace_activation_bytes measures it)"
        )
    activations = act["saved"]
    transient = act["recompute"] + act["loss_grads"]
    details.update({f"act_{k}": v for k, v in act.items() if k != "saved" and v})

    if shard > 1:
        gathered = fsdp_transient_bytes(layout, setup)
        details.update(gathered)
        transient += sum(gathered.values())
    # A foreach Adam(W) step takes a scratch copy of one state (sqrt of the second moment).
    optimizer_step = local * p.state if states == 2 else 0
    details["optimizer_step"] = optimizer_step
    return MemoryEstimate(
        strategy=strategy,
        params=params,
        grads=grads,
        optimizer=optimizer,
        master=master,
        buffers=buffers,
        activations=activations,
        transient=transient,
        optimizer_step=optimizer_step,
        details=details,
    )


def fsdp_transient_bytes(layout: ModelLayout, setup: TrainSetup) -> dict[str, int]:
    """Unsharded FSDP units in flight on a rank (see the module docstring), by piece."""
    p = setup.precision_spec
    units = layout.unit_numels(setup.tp_degree)
    root = units.pop("", 0)
    blocks = list(units.values())
    # Gathered in the compute dtype under a mixed-precision policy, else in the stored one.
    mp = setup.fsdp_mixed_precision
    gathered_bytes = p.compute if mp else p.param
    grad_bytes = p.compute if mp else p.grad
    if setup.strategy == "fsdp_grad_op":
        # Parameters stay gathered from forward to backward: every unit at once.
        params_live = root + sum(blocks)
    else:
        window = 1 + setup.fsdp_prefetch
        in_flight = max(
            (sum(blocks[i : i + window]) for i in range(len(blocks))), default=0
        )
        params_live = root + in_flight
    grads_live = root + max(blocks, default=0)
    return {
        "fsdp_unsharded_params": params_live * gathered_bytes,
        "fsdp_unsharded_grads": grads_live * grad_bytes,
    }


def fsdp_peak_bytes(
    unit_bytes: list[int], world: int, prefetch: int = 0, activations: int = 0
) -> int:
    """Peak bytes of parameters for units ``unit_bytes`` (forward order) sharded over ``world``.

    Every rank keeps its shard of every unit; the unit computing and the
    ``prefetch`` after it are gathered whole into fresh buffers. The general
    form of the two-layer example in the module docstring.
    """
    resident = sum(-(-b // world) for b in unit_bytes)
    window = 1 + prefetch
    in_flight = max((sum(unit_bytes[i : i + window]) for i in range(len(unit_bytes))), default=0)
    return resident + in_flight + activations


def gpt_activations(layout: ModelLayout, setup: TrainSetup) -> dict[str, int]:
    """Saved-for-backward bytes of one GPT micro-batch on one rank, and the transients.

    Per layer and token, in units of the width d (``r`` = MLP ratio, T = TP
    degree): the two LayerNorm inputs and the inputs of the projections after
    them are replicated (under autocast each projection casts its input
    itself, so three q/k/v casts); q, k, v, the attention output and the
    MLP's ``r d`` pre- and post-GELU tensors are split by T. Fused attention
    keeps a log-sum-exp per head; unfused attention (or attention dropout)
    keeps the T x T probabilities, the dropout mask and its output. The head
    keeps the final norm's input and output, the fp32 log-softmax of the
    logits, and the logits themselves (returned to the caller). Checked
    against the tensors autograd saves in ``tests/backends/test_plan_memory.py``.
    """
    g = layout.gpt
    assert g is not None
    p = setup.precision_spec
    tokens = setup.batch_size * (setup.seq_len or g.block_size)
    d, act, vocab = g.n_embd, p.compute, g.vocab_size
    resid = p.param  # the residual stream is in the stored weights' dtype
    dropout = g.dropout > 0
    per_token_layer = _layer_bytes_per_token(g, setup)
    logits = vocab * (act if p.autocast or p.compute == 2 else 4)
    head = d * (resid + (act if p.autocast else resid)) + 8 + 4 * vocab + logits
    ids = 16 + (d if dropout else 0)  # token ids and targets (int64), embedding dropout mask
    block_casts, head_cast = _autocast_weight_copies(layout, setup)

    if setup.activation_checkpointing:
        # Only each block's input survives forward; backward recomputes one block at a time.
        saved = g.n_layer * tokens * d * resid + tokens * (head + ids) + head_cast
        recompute = tokens * per_token_layer + block_casts // g.n_layer
    else:
        saved = g.n_layer * tokens * per_token_layer + tokens * (head + ids)
        saved += block_casts + head_cast
        recompute = 0
    return {
        "saved": saved,
        "recompute": recompute,
        # Backward starts with the gradients of the fp32 log-softmax and of its input.
        "loss_grads": tokens * 2 * 4 * vocab,
    }


def _layer_bytes_per_token(g: GPTDims, setup: TrainSetup) -> int:
    """Bytes one transformer block saves for backward per token on one rank (see above)."""
    p = setup.precision_spec
    tp = setup.tp_degree
    s = setup.seq_len or g.block_size
    d, heads, r = g.n_embd, g.n_head // tp, g.mlp_ratio
    act = p.compute
    resid = p.param
    dropout = g.dropout > 0
    replicated = 2 * resid + (4 * act if p.autocast else 2 * resid)
    split = (4 + 2 * r) * act
    per_token_layer = d * replicated + d * split // tp + 16  # + LayerNorm mean/rstd (fp32)
    if setup.fused_attention and not dropout:
        per_token_layer += heads * 4  # log-sum-exp per head
    else:
        # Probabilities (saved by softmax and the value matmul; autocast runs softmax
        # in fp32), and with dropout its mask (bool on CUDA) and the dropped copy.
        probs = 4 if p.autocast else act
        per_token_layer += heads * s * (probs + (1 + act if dropout else 0))
    if dropout:
        per_token_layer += 2 * d  # bool masks after attention and after the MLP
    return per_token_layer


def _autocast_weight_copies(layout: ModelLayout, setup: TrainSetup) -> tuple[int, int]:
    """(block weights, tied head) bytes autocast casts to 16 bits and keeps for backward."""
    p = setup.precision_spec
    g = layout.gpt
    assert g is not None
    if not p.autocast or (setup.shard > 1 and setup.fsdp_mixed_precision):
        return 0, 0
    block_casts = p.compute * sum(
        t.local_numel(setup.tp_degree) for t in layout.tensors if t.name.endswith("_proj.weight")
    )
    return block_casts, g.vocab_size * g.n_embd * p.compute


def zero_model_state_bytes(params: float, ranks: int, stage: int, k: int = 12) -> float:
    """Model-state bytes per GPU from the ZeRO paper (16-bit weights and grads, K bytes/param).

    Stage 0 is plain data parallelism (2 + 2 + K) Psi; stage 1 shards the
    optimizer state, 2 the gradients too, 3 the parameters too.
    """
    if stage == 0:
        return (2 + 2 + k) * params
    if stage == 1:
        return 4 * params + k * params / ranks
    if stage == 2:
        return 2 * params + (2 + k) * params / ranks
    if stage == 3:
        return (2 + 2 + k) * params / ranks
    raise ValueError(f"ZeRO stage must be 0, 1, 2 or 3, got {stage!r}")
