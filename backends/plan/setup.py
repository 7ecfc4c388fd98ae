"""How a model is to be trained, as far as memory, traffic and time depend on it.

:class:`TrainSetup` holds the strategy, the process layout (world size, TP
degree), the micro-batch, the precision, the optimizer and activation
checkpointing, and checks them against a model in one place
(:meth:`TrainSetup.check`), naming the field and the fix.

Strategies, named as in ``backends.parallel.STRATEGIES``: ``single`` (one
device), ``ddp`` (replicated model, gradients all-reduced), ``fsdp``
(parameters, gradients and optimizer state sharded; FSDP2 ``fully_shard``,
ZeRO-3), ``tp`` (tensor parallel over all ranks) and ``fsdp_tp`` (FSDP over
``world_size / tp`` data-parallel groups, TP inside). The planner also sizes
``fsdp_grad_op`` (parameters kept whole from forward to backward, gradients
and optimizer state sharded: FSDP ``SHARD_GRAD_OP``, ZeRO-2-like), which the
trainer does not offer, for comparison.

Precisions, in bytes per parameter element:

============  ======  =====  =========  ======  ===========  ========================
name          params  grads  opt state  master  activations  meaning
============  ======  =====  =========  ======  ===========  ========================
fp32          4       4      4          0       4            plain fp32
bf16-mixed    4       4      4          0       2 (autocast) fp32 weights, bf16 compute
fp16-mixed    4       4      4          0       2 (autocast) same, with a loss scaler
bf16-master   2       2      4          4       2            16-bit weights + fp32 master
fp16-master   2       2      4          4       2            (ZeRO / Megatron style)
bf16-true     2       2      2          0       2            everything in bf16
============  ======  =====  =========  ======  ===========  ========================
"""

from __future__ import annotations

import dataclasses
from typing import Any

from backends.fields import field_names, unknown_fields
from backends.plan.errors import PlanError, choice, divisors, positive_int
from backends.plan.shapes import ModelLayout

STRATEGIES = ("single", "ddp", "fsdp", "fsdp_grad_op", "tp", "fsdp_tp")
# Spellings people type for the same strategies.
STRATEGY_ALIASES = {
    "none": "single", "1gpu": "single", "zero3": "fsdp", "full_shard": "fsdp",
    "fsdp2": "fsdp", "zero2": "fsdp_grad_op", "shard_grad_op": "fsdp_grad_op",
    "2d": "fsdp_tp", "tp_fsdp": "fsdp_tp", "fsdpxtp": "fsdp_tp",
}
# The training config's names ("bf16" = autocast over fp32 weights) and common spellings.
PRECISION_ALIASES = {
    "32": "fp32", "float32": "fp32", "32-true": "fp32",
    "bf16": "bf16-mixed", "fp16": "fp16-mixed", "16-mixed": "fp16-mixed",
    "bfloat16": "bf16-true",
}
# (optimizer state tensors per parameter tensor)
OPTIMIZERS = {"adamw": 2, "adam": 2, "sgd": 1, "sgd_nomomentum": 0}


@dataclasses.dataclass(frozen=True)
class Precision:
    """Bytes per element of each kind of tensor under one precision recipe."""

    name: str
    param: int  # stored parameters
    grad: int  # stored gradients
    state: int  # each optimizer state tensor (Adam m, v)
    master: int  # fp32 master copy of the weights (0: none)
    compute: int  # dtype matmuls run in: activations, FSDP's unsharded parameters
    autocast: bool  # torch.autocast casts fp32 weights per forward (and keeps the casts)


PRECISIONS = {
    p.name: p
    for p in (
        Precision("fp32", 4, 4, 4, 0, 4, False),
        Precision("bf16-mixed", 4, 4, 4, 0, 2, True),
        Precision("fp16-mixed", 4, 4, 4, 0, 2, True),
        Precision("bf16-master", 2, 2, 4, 4, 2, False),
        Precision("fp16-master", 2, 2, 4, 4, 2, False),
        Precision("bf16-true", 2, 2, 2, 0, 2, False),
    )
}


def normalize_strategy(name: str) -> str:
    """The canonical strategy name for ``name`` (case, ``-`` and aliases forgiven)."""
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    return STRATEGY_ALIASES.get(key, key)


@dataclasses.dataclass(kw_only=True)
class TrainSetup:
    """Strategy, layout and per-rank batch of one training job."""

    strategy: str = "single"
    world_size: int = 1  # processes (GPUs) in all
    tp: int = 1  # tensor-parallel degree (tp: = world_size; fsdp_tp: divides it)
    batch_size: int = 8  # micro-batch per data-parallel rank (sequences or images)
    seq_len: int | None = None  # tokens per sequence; None: the model's context
    precision: str = "fp32"
    optimizer: str = "adamw"
    activation_checkpointing: bool = False
    # Attention kernels that never store the T x T score matrix (SDPA flash /
    # memory-efficient, used when there is no attention dropout).
    fused_attention: bool = True
    # DDP keeps a flat copy of all gradients for bucketing unless its grads are
    # views into the buckets (backends.parallel.ddp sets gradient_as_bucket_view).
    ddp_bucket_view: bool = True
    # FSDP gathers parameters in the compute dtype (MixedPrecisionPolicy) rather
    # than the stored one (plain fully_shard, autocast on top).
    fsdp_mixed_precision: bool = False
    fsdp_prefetch: int = 1  # FSDP units gathered ahead of the one computing
    grad_accum: int = 1  # micro-batches per optimizer step

    def __post_init__(self) -> None:
        self.strategy = normalize_strategy(self.strategy)
        key = str(self.precision).strip().lower()
        self.precision = PRECISION_ALIASES.get(key, key)

    @property
    def dp(self) -> int:
        """Data-parallel degree: how many ranks see different data."""
        return self.world_size // self.tp_degree

    @property
    def tp_degree(self) -> int:
        if self.strategy == "tp":
            return self.world_size
        return self.tp if self.strategy == "fsdp_tp" else 1

    @property
    def shard(self) -> int:
        """FSDP shard degree (1: parameters not sharded)."""
        return self.dp if self.strategy in ("fsdp", "fsdp_grad_op", "fsdp_tp") else 1

    @property
    def precision_spec(self) -> Precision:
        return PRECISIONS[self.precision]

    def tokens_per_step(self, seq_len: int) -> int:
        """Tokens one optimizer step consumes over all data-parallel ranks."""
        return self.batch_size * seq_len * self.dp * self.grad_accum

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainSetup:
        unknown = unknown_fields(cls, data)
        if unknown:
            raise PlanError(f"unknown setup field(s) {', '.join(unknown)}; "
                            f"valid fields are {', '.join(sorted(field_names(cls)))}")
        return cls(**data)

    def check(self, layout: ModelLayout | None = None) -> None:
        """Refuse a setup that cannot run, naming the field and the fix."""
        self._check_values()
        self._check_process_layout()
        if layout is not None:
            self._check_model(layout)

    def _check_values(self) -> None:
        """Each field on its own: a known name, a positive count."""
        choice("strategy", self.strategy, STRATEGIES)
        positive_int("world_size", self.world_size)
        positive_int("tp", self.tp)
        positive_int("batch_size", self.batch_size)
        positive_int("grad_accum", self.grad_accum)
        if self.seq_len is not None:
            positive_int("seq_len", self.seq_len)
        if isinstance(self.fsdp_prefetch, bool) or not isinstance(self.fsdp_prefetch, int) \
                or self.fsdp_prefetch < 0:
            raise PlanError(f"fsdp_prefetch must be 0 or more, got {self.fsdp_prefetch!r}")
        choice("precision", self.precision, tuple(PRECISIONS))
        choice("optimizer", self.optimizer, tuple(OPTIMIZERS))

    def _check_process_layout(self) -> None:
        """The strategy, world size and TP degree together."""
        if self.strategy == "single" and self.world_size != 1:
            raise PlanError(
                f"strategy 'single' runs on one device, but world_size is {self.world_size}; "
                "set world_size to 1 or pick ddp, fsdp or tp"
            )
        if self.strategy not in ("single", "tp", "fsdp_tp") and self.tp != 1:
            raise PlanError(
                f"tp={self.tp} needs strategy 'tp' or 'fsdp_tp'; strategy {self.strategy!r} "
                "has no tensor parallelism (set tp to 1)"
            )
        if self.strategy == "single" and self.tp != 1:
            raise PlanError("strategy 'single' has no tensor parallelism; set tp to 1")
        if self.strategy == "tp" and self.tp not in (1, self.world_size):
            raise PlanError(
                f"strategy 'tp' splits the model over all {self.world_size} ranks, but tp is "
                f"{self.tp}; set tp to {self.world_size} or use 'fsdp_tp' for FSDP x TP"
            )
        if self.strategy == "fsdp_tp":
            if self.world_size % self.tp:
                raise PlanError(
                    f"world_size ({self.world_size}) must be a multiple of tp ({self.tp}) for "
                    f"fsdp_tp (world = data-parallel x tensor-parallel); "
                    f"use tp in {divisors(self.world_size)}"
                )
            if self.world_size == self.tp or self.tp == 1:
                raise PlanError(
                    f"fsdp_tp needs tp between 1 and world_size exclusive (got tp={self.tp}, "
                    f"world_size={self.world_size}); use 'tp' or 'fsdp' for a single dimension"
                )

    def _check_model(self, layout: ModelLayout) -> None:
        """The setup against the model: heads split by TP, sequence length within the context."""
        tp = self.tp_degree
        if tp > 1:
            if layout.gpt is None:
                raise PlanError(
                    f"tensor parallelism splits attention heads and MLP columns; model "
                    f"{layout.kind!r} has none; use ddp or fsdp"
                )
            heads = layout.gpt.n_head
            if heads % tp:
                raise PlanError(
                    f"tp degree {tp} must divide the number of heads ({heads}) so each rank "
                    f"holds whole heads; use tp in {divisors(heads)}"
                )
        if layout.gpt is not None and self.seq_len is not None \
                and self.seq_len > layout.gpt.block_size:
            raise PlanError(
                f"seq_len ({self.seq_len}) exceeds the model's context (block_size "
                f"{layout.gpt.block_size}); lower seq_len or raise block_size"
            )
