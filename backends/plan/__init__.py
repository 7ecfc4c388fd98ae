"""The planner: what a training job will cost before it is launched, and scaling laws after.

Parameters from a model's config without building it (``shapes``); memory per
rank by part for single, DDP, FSDP, TP and FSDP x TP (``memory``);
communication per step in bytes and seconds (``comms``); FLOPs, time, MFU and
compute-optimal size (``compute``); scaling-law fits to finished runs
(``scaling``); measurements of what a model really holds, to check the
predictions (``measure``); and the whole plan for one job (``planner``). No
module imports torch at import time, so a form can ask for a plan cheaply.

Typical use::

    from backends.plan import TrainSetup, build_plan, model_layout
    layout = model_layout("gpt", {"vocab_size": 50257, "block_size": 1024,
                                  "n_layer": 12, "n_head": 12, "n_embd": 768})
    plan = build_plan(layout, TrainSetup(strategy="fsdp", world_size=8, batch_size=8,
                                         precision="bf16-mixed"), link="nvlink4")
    plan.memory.total, plan.comms.bytes_per_step, plan.as_dict()
"""

from __future__ import annotations

from backends.plan.comms import LINKS, CommEstimate, estimate_comms, link_bandwidth
from backends.plan.compute import (
    GPUS,
    chinchilla_optimal,
    chinchilla_tokens,
    flops_per_token,
    load_gpu_table,
    match_gpu,
    mfu,
)
from backends.plan.errors import PlanError
from backends.plan.memory import MemoryEstimate, estimate_memory, zero_model_state_bytes
from backends.plan.planner import (
    Plan,
    build_plan,
    layout_from_train_config,
    plan_from_train_config,
    plan_strategies,
    setup_from_train_config,
    strategy_table,
)
from backends.plan.scaling import fit_power_law, fit_runs, fit_two_term, scaling_points
from backends.plan.setup import PRECISIONS, STRATEGIES, TrainSetup
from backends.plan.shapes import GPTShape, ModelLayout, gpt_layout, model_layout, weights_table

__all__ = [
    "GPUS", "LINKS", "PRECISIONS", "STRATEGIES",
    "CommEstimate", "GPTShape", "MemoryEstimate", "ModelLayout", "Plan", "PlanError", "TrainSetup",
    "build_plan", "chinchilla_optimal", "chinchilla_tokens", "estimate_comms", "estimate_memory",
    "fit_power_law", "fit_runs", "fit_two_term", "flops_per_token", "gpt_layout",
    "layout_from_train_config", "link_bandwidth", "load_gpu_table", "match_gpu", "mfu",
    "model_layout", "plan_from_train_config", "plan_strategies", "scaling_points",
    "setup_from_train_config", "strategy_table", "weights_table", "zero_model_state_bytes",
]
