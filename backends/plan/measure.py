"""Measure what a model really holds, to check (and stand in for) the planner's formulas.

- :func:`local_state_bytes`: bytes of parameters, gradients and optimizer
  state one rank holds, read from its local tensors (a DTensor counts its
  local shard, padding included); shared storage is counted once. The trainer
  can log it once per run so the monitor shows measured against predicted.
- :func:`trace_activation_bytes`: bytes autograd saves for backward during a
  forward (plus the tensors the forward returns), through saved-tensor hooks.
  It works on the meta device, where nothing is allocated, which is how the
  planner sizes activations of models it has no formula for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from backends.plan.errors import PlanError


def _local(t: Any) -> Any:
    # DTensor (FSDP2, TP) -> the shard this rank stores.
    to_local = getattr(t, "to_local", None)
    return to_local() if callable(to_local) else t


def _storage_key(t: Any) -> tuple[int, int]:
    st = t.untyped_storage()
    # _cdata identifies the storage itself, also on the meta device (where data_ptr is 0).
    return st._cdata, st.nbytes()


def _bytes(tensors: Iterable[Any], seen: set[int]) -> int:
    total = 0
    for t in tensors:
        if t is None:
            continue
        key, nbytes = _storage_key(_local(t))
        if key in seen:
            continue
        seen.add(key)
        total += nbytes
    return total


def local_state_bytes(model: Any, optimizer: Any = None) -> dict[str, int]:
    """``{"params", "grads", "optimizer", "total"}``: bytes this rank holds in local tensors."""
    seen: set[int] = set()
    params = list(model.parameters())
    out = {
        "params": _bytes(params, seen),
        "grads": _bytes((p.grad for p in params), seen),
        "optimizer": 0,
    }
    if optimizer is not None:
        states = (
            v for state in optimizer.state.values() for v in state.values()
            if hasattr(v, "untyped_storage")
        )
        out["optimizer"] = _bytes(states, seen)
    out["total"] = sum(out.values())
    return out


def trace_activation_bytes(forward: Callable[[], Any], exclude: Iterable[Any] = ()) -> int:
    """Bytes saved for backward by ``forward()`` and still held when it returns, plus its outputs.

    Sizes are read after the forward, so storage freed in between (FSDP
    resizes a gathered unit's storage to zero when it reshards) counts as
    what it then holds. ``exclude`` (usually the model's parameters) is left
    out: a layer saving its weight does not add memory. Storage shared by
    several saved tensors counts once.
    """
    import torch

    seen: set[int] = set()
    _bytes(exclude, seen)
    kept: list[Any] = []

    def pack(t: Any) -> Any:
        kept.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        result = forward()
    flat = result if isinstance(result, tuple | list) else (result,)
    for item in flat:
        if isinstance(item, torch.Tensor):
            kept.append(item)
        elif isinstance(item, dict):
            kept += [v for v in item.values() if isinstance(v, torch.Tensor)]
    return _bytes(kept, seen)


_REAL_FORWARD_PARAMS = 2_000_000


def model_activation_bytes(kind: str, config: Any, batch_size: int) -> int:
    """Activation bytes of one training micro-batch of a built-in model, traced.

    DCGAN: the larger of the generator step (G then D on fakes) and the
    discriminator step (D on reals and fakes). VAE: ``forward(x)``.
    Classifier: ``forward(x, targets)``. Traced in fp32 (autocast has no meta
    backend), so under mixed precision this is an upper bound. Models under
    two million parameters run a real (tiny) CPU forward; larger ones are
    traced on the meta device, which allocates nothing.
    """
    import torch

    from backends.models import MODELS, build_model

    if kind not in MODELS:
        raise PlanError(f"model must be one of {', '.join(MODELS)}, got {kind!r}")
    from backends.plan.shapes import model_layout

    # Small models run a real CPU forward (milliseconds); big ones go to the meta
    # device, whose first use costs seconds of imports but no memory.
    small = model_layout(kind, config).params < _REAL_FORWARD_PARAMS
    device = torch.device("cpu" if small else "meta")
    model: Any  # its config and parts (generator, discriminator) depend on the kind
    try:
        with device:
            model = build_model(kind, config)
    except ValueError as exc:
        raise PlanError(str(exc)) from exc
    model.train()
    cfg = model.config
    params = list(model.parameters())

    def run(fn: Callable[[], Any]) -> int:
        return trace_activation_bytes(fn, params)

    if kind == "dcgan":
        z = torch.zeros(batch_size, cfg.nz, device=device)
        real = torch.zeros(batch_size, cfg.nc, cfg.image_size, cfg.image_size, device=device)

        def g_step() -> Any:
            return model.discriminator(model.generator(z))

        def d_step() -> Any:
            return model.discriminator(real), model.discriminator(real.clone())

        return max(run(g_step), run(d_step))
    if kind == "vae":
        x = torch.zeros(batch_size, cfg.nc, cfg.image_size, cfg.image_size, device=device)
        return run(lambda: model(x))
    if kind == "classifier":
        x = torch.zeros(batch_size, cfg.n_features, device=device)
        y = torch.zeros(batch_size, dtype=torch.long, device=device)
        return run(lambda: model(x, y))
    raise PlanError(f"no activation trace for model {kind!r}; pass activation_bytes")
