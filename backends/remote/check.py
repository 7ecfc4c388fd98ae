"""What a host offers: its Python, the workbench and torch there, GPUs, free disk; one round trip.

:func:`check_host` runs one small shell script on the host (every value in it
quoted) and reads a ``key=value`` line per fact. A fact that cannot be had
says why ("no NVIDIA GPU", "torch not installed"); a host that cannot be
reached or refuses us raises :class:`backends.remote.ssh.SSHError` (one line).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from backends.remote.hosts import Host
from backends.remote.ssh import Session, quote

_PROBE = r"""
import importlib.util, json, platform, sys
facts = {"python": sys.executable + " " + platform.python_version()}
facts["workbench"] = importlib.util.find_spec("workbench") is not None
try:
    import torch
    facts["torch"] = torch.__version__
except Exception as exc:
    facts["torch"] = None
    facts["torch_problem"] = type(exc).__name__ + ": " + str(exc)
print("PROBE=" + json.dumps(facts))
"""


@dataclass
class HostReport:
    """The answers of :func:`check_host`."""

    host: str
    python: str | None = None
    workbench: bool = False
    torch: str | None = None
    gpus: list[str] = field(default_factory=list)
    gpu_note: str = ""
    workdir: str = ""
    free_bytes: int | None = None
    slurm: str | None = None  # sbatch's version, for a Slurm host
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        free = f"{self.free_bytes / 2**30:.1f} GiB free" if self.free_bytes is not None else "free space unknown"
        out = [f"python     {self.python or 'not found'}",
               f"workbench  {'installed' if self.workbench else 'NOT installed'}",
               f"torch      {self.torch or 'not installed'}",
               f"gpus       {', '.join(self.gpus) if self.gpus else self.gpu_note}",
               f"disk       {free} in {self.workdir}"]
        if self.slurm is not None:
            out.append(f"slurm      {self.slurm}")
        return out + [f"problem    {p}" for p in self.problems]

    def to_dict(self) -> dict[str, object]:
        return {**self.__dict__, "ok": self.ok}


def check_host(host: Host, session: Session | None = None) -> HostReport:
    """Connect (unless given a session) and report what the host offers."""
    import json

    workdir = quote(host.workdir)
    script = "; ".join([
        f"mkdir -p {workdir} 2>/dev/null",
        f"{quote(host.python)} -c {quote(_PROBE)} 2>&1 || echo PROBE_FAILED=$?",
        "if command -v nvidia-smi >/dev/null 2>&1; then "
        "nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>&1 | sed 's/^/GPU=/'; "
        "else echo NOGPU=1; fi",
        f"df -Pk {workdir} 2>/dev/null | tail -n 1 | awk '{{print \"FREE_KB=\" $4}}'",
        "if command -v sbatch >/dev/null 2>&1; then echo SLURM=$(sbatch --version 2>&1 | head -n 1); "
        "else echo SLURM=; fi",
    ])
    own = session is None
    session = session or Session(host)
    try:
        result = session.run(script, timeout=120)
    finally:
        if own:
            session.close()
    report = HostReport(host=host.name, workdir=host.workdir)
    for line in result.stdout.splitlines():
        key, _, value = line.partition("=")
        if key == "PROBE":
            facts = json.loads(value)
            report.python = facts.get("python")
            report.workbench = bool(facts.get("workbench"))
            report.torch = facts.get("torch")
        elif key == "PROBE_FAILED":
            report.problems.append(f"remote python {host.python} did not run (exit status {value}): "
                                   "set the right one with --python")
        elif key == "GPU":
            if "NVIDIA-SMI has failed" in value or "couldn't communicate" in value:
                report.gpu_note = "no NVIDIA GPU (nvidia-smi cannot talk to a driver)"
            else:
                report.gpus.append(value.strip())
        elif key == "NOGPU":
            report.gpu_note = "no NVIDIA GPU (nvidia-smi not found)"
        elif key == "FREE_KB" and value.strip().isdigit():
            report.free_bytes = int(value) * 1024
        elif key == "SLURM" and host.kind == "slurm":
            report.slurm = value.strip() or None
    if report.python is None and not report.problems:
        report.problems.append(f"remote python {host.python} not found: set it with --python")
    elif report.python is not None and not report.workbench:
        report.problems.append(f"{host.python} on {host.name} has no workbench installed: "
                               "install it there or point --python at the Python that has it")
    if host.kind == "slurm" and not report.slurm:
        report.problems.append(f"{host.name} is a Slurm host but sbatch is not on its PATH")
    if not report.gpus and not report.gpu_note:
        report.gpu_note = "no NVIDIA GPU"
    return report
