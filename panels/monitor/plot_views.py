"""Which curves each monitor plot shows: dedicated views by field name, and the generic rest.

A view picks ``(kind, field)`` pairs by name from whatever a run wrote, so a
field no view knows still appears in the "All metrics" view and a new loss
part (``loss_d``, ``kl``...) joins the loss plot by its name alone. Curves
are coloured by field (one run), by rank (per-rank views) or by run when
runs are compared, with dash styles telling fields or ranks apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from backends.monitor_data import RunMetrics, is_loss_field, matching_fields
from panels.monitor.plot_curve import STYLES, CurveSpec
from workbench.theme import series_color

GIB = 1.0 / 2**30
MEMORY_KIND = "memory"
# Memory fields in the order a person looks for them; others follow by name.
MEMORY_ORDER = (
    "allocated", "reserved", "peak_allocated", "peak_reserved", "active_peak", "rss",
    "tensor_bytes", "param_bytes", "grad_bytes", "optim_bytes", "device_free", "device_total",
    "alloc_retries", "ooms",
)
_COUNT_FIELDS = ("alloc_retries", "ooms")


def _not_memory(kind: str) -> bool:
    return kind != MEMORY_KIND


def is_lr_field(name: str) -> bool:
    return name in ("lr", "learning_rate") or name.startswith("lr_")


def is_step_time_field(name: str) -> bool:
    return name in ("step_time", "dt", "step_s", "step_ms", "time_per_step", "iter_time") or (
        name.endswith("_time") and "step" in name
    )


def is_throughput_field(name: str) -> bool:
    return name.endswith(("_per_s", "_per_sec", "_per_second")) or name in (
        "tps", "throughput", "samples_s", "tokens_s",
    )


def is_memory_bytes(name: str) -> bool:
    return name not in _COUNT_FIELDS


@dataclass(frozen=True)
class PlotView:
    """One plot: its title, y label and which fields it takes."""

    name: str
    title: str
    y_label: str
    wanted: Callable[[str, str], bool]  # (kind, field) -> shown here
    per_rank: bool = False  # one curve per rank; otherwise the lowest rank only
    # Narrows the matching fields of one run (e.g. tokens/s over samples/s when both exist).
    pick: Callable[[list[tuple[str, str]]], list[tuple[str, str]]] | None = None


def _prefer_tokens(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    # Tokens/s and samples/s differ by the sequence length: one axis cannot show both well.
    tokens = [p for p in pairs if "token" in p[1]]
    return tokens or pairs


TRAINING_VIEWS = (
    PlotView("loss", "Loss", "loss", lambda k, f: _not_memory(k) and is_loss_field(f)),
    PlotView("lr", "Learning rate", "lr", lambda k, f: _not_memory(k) and is_lr_field(f)),
    PlotView("grad_norm", "Gradient norm", "norm", lambda k, f: _not_memory(k) and "grad_norm" in f),
    PlotView("step_time", "Step time", "seconds",
             lambda k, f: _not_memory(k) and is_step_time_field(f)),
    PlotView("throughput", "Throughput", "per second",
             lambda k, f: _not_memory(k) and is_throughput_field(f), pick=_prefer_tokens),
)


def memory_view(field: str) -> PlotView:
    unit = "count" if not is_memory_bytes(field) else "GiB"
    return PlotView(
        f"memory_{field}", f"Memory: {field}", unit,
        lambda k, f: k == MEMORY_KIND and f == field, per_rank=True,
    )


def field_view(kind: str, field: str) -> PlotView:
    """A plot of any one field, one curve per rank (the generic view)."""
    return PlotView(
        f"field_{kind}_{field}", f"{kind} / {field}", field,
        lambda k, f: k == kind and f == field, per_rank=True,
    )


def memory_fields(metrics_list: Sequence[RunMetrics]) -> list[str]:
    """Memory fields present in any of the runs, in :data:`MEMORY_ORDER` then by name."""
    present = {f for m in metrics_list for f in m.kinds().get(MEMORY_KIND, [])}
    known = [f for f in MEMORY_ORDER if f in present]
    return known + sorted(present - set(known))


BYTE_UNITS = (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10), ("B", 1))


def memory_unit(runs: Sequence[tuple[str, RunMetrics]], field: str) -> tuple[str, float]:
    """The binary unit that suits a memory field's latest values: ``("GiB", 1/2**30)``..."""
    if not is_memory_bytes(field):
        return "count", 1.0
    largest = max(
        (
            abs(m.latest(MEMORY_KIND, field, rank) or 0.0)
            for _, m in runs
            for rank in m.ranks(MEMORY_KIND, field)
        ),
        default=0.0,
    )
    for unit, size in BYTE_UNITS:
        if largest >= size:
            return unit, 1.0 / size
    return "B", 1.0


def build_curves(
    view: PlotView, runs: Sequence[tuple[str, RunMetrics]], memory_scale: float = GIB
) -> list[CurveSpec]:
    """The curves ``view`` shows for these runs (several runs: overlaid, coloured by run).

    Memory bytes are multiplied by ``memory_scale`` (GiB unless told otherwise).
    """
    specs: list[CurveSpec] = []
    several = len(runs) > 1
    for run_index, (run_name, metrics) in enumerate(runs):
        pairs = matching_fields(metrics, view.wanted)
        if view.pick is not None:
            pairs = view.pick(pairs)
        for pair_index, (kind, field) in enumerate(pairs):
            ranks = metrics.ranks(kind, field)
            if not view.per_rank:
                ranks = ranks[:1]
            scale = memory_scale if kind == MEMORY_KIND and is_memory_bytes(field) else 1.0
            for rank in ranks:
                series = metrics.get(kind, field, rank)
                if series is None:
                    continue
                name = f"{kind}/{field}" if len(pairs) > 1 or not view.per_rank else ""
                rank_text = f"rank {rank}" if view.per_rank else ""
                label = " ".join(t for t in (name, rank_text) if t) or field
                second = rank if view.per_rank else pair_index
                if several:
                    label = f"{run_name}: {label}"
                    color, style = series_color(run_index), STYLES[second % len(STYLES)]
                elif view.per_rank:
                    color = series_color(rank)
                    style = STYLES[pair_index % len(STYLES)]
                else:
                    color, style = series_color(pair_index), STYLES[0]
                width = 1.5
                if view.per_rank and len(ranks) > 1:
                    # Ranks often hold equal values (DDP replicas): a lower rank is drawn
                    # wider underneath, so every rank's colour stays visible.
                    width = 1.2 + 1.6 * (len(ranks) - 1 - ranks.index(rank)) / (len(ranks) - 1)
                specs.append(
                    CurveSpec(
                        key=f"{run_name}|{kind}|{field}|{rank}",
                        label=label,
                        series=series,
                        color=color,
                        style=style,
                        scale=scale,
                        time_origin=metrics.start_time or 0.0,
                        width=width,
                    )
                )
    return specs
