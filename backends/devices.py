"""What compute this machine has, described for a person ("2 × NVIDIA H100", "CPU, 2 cores").

Asks ``nvidia-smi`` rather than torch: the GUI process must never create a
CUDA context (it would hold memory on GPU 0 for as long as the window is
open), and importing torch only to count devices would slow the start.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter


def cpu_cores() -> int:
    """Cores this process may run on (respects affinity and container limits)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def gpu_names(timeout: float = 5.0) -> list[str]:
    """Names of the NVIDIA GPUs visible here, one per device; empty when there are none."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run(
            [smi, "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=timeout, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    names = [line.strip() for line in out.splitlines() if line.strip()]
    if visible is not None:
        indices = [int(i) for i in visible.split(",") if i.strip().isdigit()]
        names = [names[i] for i in indices if i < len(names)]
    return names


def describe_compute(names: list[str] | None = None) -> str:
    """One line: GPUs grouped by model ("2 × NVIDIA H100"), else the CPU core count."""
    names = gpu_names() if names is None else names
    if not names:
        cores = cpu_cores()
        return f"CPU, {cores} core{'s' if cores != 1 else ''}"
    return ", ".join(f"{count} × {name}" for name, count in Counter(names).items())
