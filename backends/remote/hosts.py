"""Remote hosts: an SSH destination, a working folder there and the Python that runs the workbench.

A host is saved by name in ``hosts.json`` beside the application's settings
file (``$WORKBENCH_SETTINGS``'s folder, else ``~/.config/workbench``). Only
what is needed to reach it is kept: the destination, an optional *path* to a
private key (never the key itself, never a password: without a key path the
SSH agent and the default keys are used), an optional jump host (reached
with the same key and ``known_hosts`` file) and an optional ``known_hosts`` file. Kinds:

- ``ssh``: the run starts on that host with torchrun (``workbench train
  --detach`` there), one or several nodes reachable from it;
- ``slurm``: the host is a cluster's login node; the run is submitted with
  ``sbatch`` and ended with ``scancel``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

KINDS = ("ssh", "slurm")
HOSTS_FILE = "hosts.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# user@host[:port]; the host may be a name, an IPv4 address or [an IPv6 address].
_DESTINATION = re.compile(r"^(?:(?P<user>[A-Za-z0-9._-]+)@)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)"
                          r"(?::(?P<port>\d{1,5}))?$")


class HostError(ValueError):
    """A host that cannot be saved or used; the message is one line naming the fix."""


@dataclass(kw_only=True)
class Host:
    """One remote host, as saved."""

    name: str
    destination: str  # user@host[:port]
    workdir: str  # the remote working folder; runs live in <workdir>/runs
    python: str = "python3"  # the remote Python that has the workbench installed
    kind: str = "ssh"
    key: str | None = None  # path to a private key file on this machine (else agent/default keys)
    jump: str | None = None  # a jump host, user@host[:port]
    known_hosts: str | None = None  # a known_hosts file (else ~/.ssh/known_hosts)
    partition: str | None = None  # Slurm partition (kind slurm)

    @property
    def user(self) -> str | None:
        return parse_destination(self.destination)[0]

    @property
    def address(self) -> str:
        return parse_destination(self.destination)[1]

    @property
    def port(self) -> int:
        return parse_destination(self.destination)[2]

    @property
    def runs_dir(self) -> str:
        return f"{self.workdir.rstrip('/')}/runs"

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Host:
        known = {f.name for f in fields(cls)}
        return validate(cls(**{k: v for k, v in data.items() if k in known}))


def parse_destination(text: str) -> tuple[str | None, str, int]:
    """``user@host:port`` as (user or None, host, port); port 22 when not given."""
    match = _DESTINATION.match(text.strip())
    if not match:
        raise HostError(f"{text!r} is not an SSH destination: write user@host or user@host:port")
    port = int(match.group("port") or 22)
    if not 0 < port < 65536:
        raise HostError(f"{text!r}: port {port} is out of range")
    return match.group("user"), match.group("host").strip("[]"), port


def validate(host: Host) -> Host:
    """``host`` if every field is usable; else :class:`HostError` naming the field."""
    if not _NAME.match(host.name or ""):
        raise HostError(f"host name {host.name!r}: use letters, digits, '.', '_' or '-'")
    if host.kind not in KINDS:
        raise HostError(f"host kind {host.kind!r}: choose {' or '.join(KINDS)}")
    parse_destination(host.destination)
    if host.jump:
        parse_destination(host.jump)
    if not host.workdir or not host.workdir.strip():
        raise HostError(f"host {host.name}: give the remote working folder (--workdir)")
    if not host.python.strip():
        raise HostError(f"host {host.name}: give the remote python (--python)")
    for label, path in (("key", host.key), ("known_hosts", host.known_hosts)):
        if path is not None and not Path(path).expanduser().is_file():
            raise HostError(f"host {host.name}: {label} file {path} does not exist")
    return host


def hosts_file() -> Path:
    """Where hosts are saved: beside the settings file."""
    settings = os.environ.get("WORKBENCH_SETTINGS")
    if settings:
        return Path(settings).with_name(HOSTS_FILE)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "workbench" / HOSTS_FILE


def load_hosts(path: Path | None = None) -> dict[str, Host]:
    """The saved hosts by name; an unreadable file or entry is reported, never fatal."""
    path = path or hosts_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise HostError(f"hosts file {path} cannot be read ({exc}): fix or remove it") from exc
    hosts = {}
    for entry in data.get("hosts", []) if isinstance(data, dict) else []:
        try:
            host = Host.from_dict(entry)
        except (TypeError, HostError):
            continue  # one bad entry must not hide the others
        hosts[host.name] = host
    return hosts


def save_hosts(hosts: dict[str, Host], path: Path | None = None) -> None:
    path = path or hosts_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"hosts": [h.to_dict() for h in hosts.values()]}, indent=1),
                   encoding="utf-8")
    os.replace(tmp, path)


def add_host(host: Host, *, replace: bool = False, path: Path | None = None) -> Host:
    hosts = load_hosts(path)
    validate(host)
    if host.name in hosts and not replace:
        raise HostError(f"a host named {host.name} exists: remove it first or choose another name")
    hosts[host.name] = host
    save_hosts(hosts, path)
    return host


def remove_host(name: str, path: Path | None = None) -> None:
    hosts = load_hosts(path)
    if name not in hosts:
        raise HostError(unknown_host_message(name, hosts))
    del hosts[name]
    save_hosts(hosts, path)


def get_host(name: str, path: Path | None = None) -> Host:
    hosts = load_hosts(path)
    if name not in hosts:
        raise HostError(unknown_host_message(name, hosts))
    return hosts[name]


def unknown_host_message(name: str, hosts: dict[str, Host]) -> str:
    known = ", ".join(sorted(hosts)) or "none saved yet"
    return f"no host named {name!r} (known: {known}): add it with workbench hosts add"
