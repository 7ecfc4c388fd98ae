"""A user's own training script as a run: its config, validation and command.

``workbench train --script FILE.py`` (or ``--module pkg.mod``) with arguments
after ``--`` becomes a :class:`ScriptConfig`, saved as the run's
``config.toml`` (``source = "script"``) with the script's path, arguments,
working folder and a SHA-256 of the file, so a run says exactly what ran.
The process layout uses the same keys as the built-in trainer (``strategy``
gives processes per node unless ``nproc`` is set; ``nnodes``,
``rdzv_endpoint``, ``device``) plus ``env`` for variables such as
``OMP_NUM_THREADS``. Every rank gets ``WORKBENCH_RUN_DIR``, which the client
(``backends.client``) opens; a script that writes only TensorBoard logs runs
the same way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from backends.fields import field_names, unknown_fields
from backends.launch.errors import LaunchError

RUN_DIR_ENV = "WORKBENCH_RUN_DIR"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
DEVICES = ("auto", "cpu", "cuda")


@dataclasses.dataclass(kw_only=True)
class ScriptConfig:
    """How to run a user's script under torchrun; see the module docstring."""

    source: str = "script"
    name: str = ""  # run folder name; empty: the script's (or module's) name
    script: str = ""  # a .py file (absolute once prepared)
    module: str = ""  # or a module run with python -m
    args: list[str] = dataclasses.field(default_factory=list)
    cwd: str = ""  # the working folder the ranks start in; empty: the caller's
    script_sha256: str = ""
    strategy: str = "single"
    nproc: int = 0  # processes per node; 0: 1 for single, 2 for the others
    nnodes: int = 1
    node_rank: int = 0
    rdzv_endpoint: str = ""
    device: str = "auto"
    steps: int = 0  # how many steps the script will log, when known (progress and ETA)
    env: dict[str, str] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        unknown = unknown_fields(cls, data)
        if unknown:
            names = field_names(cls) - {"source", "script_sha256"}
            raise LaunchError(f"unknown key {unknown[0]!r} for a script run: use one of "
                              f"{', '.join(sorted(names))}")
        config = cls(**dict(data))
        config._check_types()
        return config

    def with_overrides(self, assignments: list[str]) -> Self:
        from backends.train.config import TrainConfigError, parse_assignment

        values = self.to_dict()
        for text in assignments:
            try:
                key, value = parse_assignment(text)
            except TrainConfigError as exc:
                raise LaunchError(str(exc)) from exc
            if key.startswith("env."):
                values["env"] = {**values["env"], key[4:]: str(value)}
            else:
                values[key] = value
        return type(self).from_dict(values)

    def _check_types(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            kind = f.type if isinstance(f.type, str) else ""
            if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
                raise LaunchError(f"{f.name} must be an integer, got {value!r}")
            if kind == "str" and not isinstance(value, str):
                raise LaunchError(f"{f.name} must be text, got {value!r}")
        if not isinstance(self.args, list) or not all(isinstance(a, str) for a in self.args):
            raise LaunchError("args must be a list of strings (the words after --)")
        if not isinstance(self.env, dict):
            raise LaunchError("env must be a table of NAME = \"value\" (or --set env.NAME=value)")

    @property
    def world_size(self) -> int:
        return self.nproc * self.nnodes

    @property
    def label(self) -> str:
        """What the runs list shows as the model: the script's file or module name."""
        return Path(self.script).name if self.script else self.module


def is_script_config(data: Mapping[str, Any]) -> bool:
    return data.get("source") == "script"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def validate_script(config: ScriptConfig) -> ScriptConfig:
    """Check every value and fill in what follows (absolute paths, hash, nproc); returns it."""
    from backends.parallel import STRATEGIES
    from backends.runs import valid_run_name

    if bool(config.script) == bool(config.module):
        raise LaunchError("give the script as --script FILE.py or --module pkg.mod (one of them)")
    cwd = Path(config.cwd or ".").expanduser().absolute()
    if not cwd.is_dir():
        raise LaunchError(f"cwd {cwd} is not a folder: give the folder the script runs in")
    config.cwd = str(cwd)
    if config.script:
        path = Path(config.script).expanduser()
        path = path if path.is_absolute() else cwd / path
        if not path.is_file():
            raise LaunchError(f"script {path} does not exist: give the path of a .py file")
        config.script = str(path)
        config.script_sha256 = file_sha256(path)
    elif not _MODULE.match(config.module):
        raise LaunchError(f"module {config.module!r} is not a module name: write it as pkg.mod")
    if config.strategy not in STRATEGIES:
        raise LaunchError(f"strategy {config.strategy!r} is unknown: choose one of "
                          f"{', '.join(STRATEGIES)}")
    if config.nproc == 0:
        config.nproc = 1 if config.strategy == "single" else 2
    if config.nproc < 1 or config.nnodes < 1:
        raise LaunchError("nproc and nnodes must be at least 1")
    if config.strategy == "single" and config.world_size != 1:
        raise LaunchError(f"strategy single runs one process, not {config.world_size}: set "
                          "strategy=ddp (or fsdp, tp) for several")
    if config.nnodes > 1 and ":" not in config.rdzv_endpoint:
        raise LaunchError(f"a run on {config.nnodes} nodes needs rdzv_endpoint=host:port, the "
                          "address of node 0 that every node can reach")
    if config.device not in DEVICES:
        raise LaunchError(f"device {config.device!r} is unknown: choose {', '.join(DEVICES)}")
    for key, value in config.env.items():
        if not _ENV_NAME.match(str(key)):
            raise LaunchError(f"env name {key!r} is not a variable name: use letters, digits, _")
        config.env[key] = str(value)
    if not config.name:
        config.name = re.sub(r"[^A-Za-z0-9._-]", "-", Path(config.label).stem or "script")
    if not valid_run_name(config.name):
        raise LaunchError(f"name {config.name!r} is not a valid run name: use letters, digits, "
                          "'.', '_' or '-', starting with a letter or digit")
    if config.steps < 0:
        raise LaunchError("steps must be >= 0 (0: unknown)")
    return config


def script_entry(config: ScriptConfig) -> list[str]:
    """What torchrun starts on each rank: the file, or ``-m module``, then its arguments."""
    if config.module:
        return ["-m", config.module, *config.args]
    return [config.script, *config.args]
