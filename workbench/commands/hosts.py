"""``workbench hosts``: save, list, check and remove the remote hosts runs can be launched on."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from workbench.commands import CommandError

VERB = "hosts"
HELP = "remote hosts (SSH or Slurm): add NAME USER@HOST[:PORT] --workdir DIR, list, check NAME, remove NAME"
ACTIONS = ("add", "list", "check", "remove")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=ACTIONS, default="list")
    parser.add_argument("name", nargs="?", default=None, help="the host's name here")
    parser.add_argument("destination", nargs="?", default=None, metavar="USER@HOST[:PORT]",
                        help="with add: where to connect")
    parser.add_argument("--workdir", default=None,
                        help="with add: the remote working folder (runs go to WORKDIR/runs)")
    parser.add_argument("--python", default="python3",
                        help="with add: the remote Python that has the workbench installed")
    parser.add_argument("--kind", choices=("ssh", "slurm"), default="ssh",
                        help="with add: ssh (torchrun on the host) or slurm (sbatch through it)")
    parser.add_argument("--key", default=None,
                        help="with add: a private key file (its path is saved, never the key); "
                        "default: the SSH agent and ~/.ssh keys")
    parser.add_argument("--jump", default=None, metavar="USER@HOST[:PORT]",
                        help="with add: a jump host to connect through (same key and known_hosts)")
    parser.add_argument("--known-hosts", default=None,
                        help="with add: a known_hosts file (default ~/.ssh/known_hosts)")
    parser.add_argument("--replace", action="store_true", help="with add: replace a host of that name")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    from backends.remote.hosts import HostError
    from backends.remote.ssh import SSHError

    try:
        if args.action == "add":
            return _add(args)
        if args.action == "check":
            return _check(args)
        if args.action == "remove":
            return _remove(args)
        return _list(args)
    except (HostError, SSHError) as exc:
        raise CommandError(str(exc)) from exc


def _need_name(args: argparse.Namespace) -> str:
    if not args.name:
        raise CommandError(f"hosts {args.action} needs a host NAME: workbench hosts {args.action} NAME")
    return str(args.name)


def _add(args: argparse.Namespace) -> int:
    from backends.remote.hosts import Host, add_host
    from backends.remote.ssh import EXTRA_HINT, available

    name = _need_name(args)
    if not args.destination or not args.workdir:
        raise CommandError("hosts add needs NAME USER@HOST[:PORT] --workdir DIR")
    host = add_host(Host(name=name, destination=args.destination, workdir=args.workdir,
                         python=args.python, kind=args.kind, key=_full_path(args.key), jump=args.jump,
                         known_hosts=_full_path(args.known_hosts)), replace=args.replace)
    if args.json:
        print(json.dumps(host.to_dict()))
    else:
        print(f"saved host {host.name} ({host.kind}, {host.destination}, {host.workdir}); "
              f"check it with workbench hosts check {host.name}")
        if not available():
            print(f"note: {EXTRA_HINT}")
    return 0


def _full_path(path: str | None) -> str | None:
    """A file given relative to here, saved as an absolute path (``~/...`` stays as written)."""
    if path is None or path.startswith("~"):
        return path
    return str(Path(path).absolute())


def _list(args: argparse.Namespace) -> int:
    from backends.remote.hosts import hosts_file, load_hosts

    hosts = load_hosts()
    if args.json:
        print(json.dumps([h.to_dict() for h in hosts.values()], indent=2))
        return 0
    if not hosts:
        print(f"no hosts saved ({hosts_file()}): add one with workbench hosts add NAME USER@HOST --workdir DIR")
    for h in hosts.values():
        extra = "".join(f" {label}={value}" for label, value in
                        (("key", h.key), ("jump", h.jump)) if value)
        print(f"{h.name:16} {h.kind:5} {h.destination:28} {h.workdir}  python={h.python}{extra}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from backends.remote.check import check_host
    from backends.remote.hosts import get_host

    report = check_host(get_host(_need_name(args)))
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(f"{report.host}: {'ready' if report.ok else 'NOT ready'}")
        for line in report.lines():
            print(f"  {line}")
    return 0 if report.ok else 1


def _remove(args: argparse.Namespace) -> int:
    from backends.remote.hosts import remove_host

    name = _need_name(args)
    remove_host(name)
    print(f"removed host {name} (its runs stay in the runs folder)")
    return 0


