"""Hosts: saved without secrets, checked over a real SSH connection, bad input as one line."""

from __future__ import annotations

import json
import subprocess
import sys

from backends.remote.hosts import HostError, hosts_file, load_hosts, parse_destination
from workbench.cli import main


def test_destination_parsing_and_refusals():
    assert parse_destination("me@gpu1:2222") == ("me", "gpu1", 2222)
    assert parse_destination("gpu1") == (None, "gpu1", 22)
    for bad in ("me@", "me@gpu 1", "me@gpu1:99999", "a;b@c"):
        try:
            parse_destination(bad)
        except HostError:
            continue
        raise AssertionError(f"{bad!r} accepted")


def test_hosts_add_list_check_remove_over_real_ssh(ssh_server, tmp_path, capsys):
    dest = f"tester@127.0.0.1:{ssh_server.port}"
    workdir = tmp_path / "remote work"  # a blank in the path: quoted everywhere
    assert main(["hosts", "add", "lab", dest, "--workdir", str(workdir), "--python", sys.executable,
                 "--key", str(ssh_server.client_key_path),
                 "--known-hosts", str(ssh_server.known_hosts)]) == 0
    saved = hosts_file().read_text()
    assert "PRIVATE KEY" not in saved and str(ssh_server.client_key_path) in saved  # a path, never a key
    assert load_hosts()["lab"].port == ssh_server.port
    capsys.readouterr()
    assert main(["hosts", "check", "lab", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["workbench"]
    import torch

    assert report["torch"] == torch.__version__
    assert report["python"].startswith(sys.executable)
    assert report["gpus"] or report["gpu_note"].startswith("no NVIDIA GPU")
    assert report["free_bytes"] > 0 and workdir.is_dir()
    assert main(["hosts", "list"]) == 0
    assert "lab" in capsys.readouterr().out
    assert main(["hosts", "remove", "lab"]) == 0
    assert "lab" not in load_hosts()


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True, text=True,
                          timeout=120)


def test_bad_hosts_give_one_line_never_a_traceback(ssh_server, tmp_path, remote_host):
    import os

    from backends.remote.hosts import Host, add_host

    remote_host("lab")
    wrong_key = tmp_path / "wrong_key"
    import asyncssh

    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(wrong_key))
    os.chmod(wrong_key, 0o600)
    base = {"workdir": str(tmp_path / "w"), "known_hosts": str(ssh_server.known_hosts)}
    add_host(Host(name="badkey", destination=f"t@127.0.0.1:{ssh_server.port}", key=str(wrong_key),
                  python=sys.executable, **base))
    add_host(Host(name="nowb", destination=f"t@127.0.0.1:{ssh_server.port}", python="/bin/true-python",
                  key=str(ssh_server.client_key_path), **base))
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    add_host(Host(name="down", destination=f"t@127.0.0.1:{closed_port}",
                  key=str(ssh_server.client_key_path), **base))
    cases = {
        ("hosts", "check", "nosuch"): "no host named 'nosuch'",
        ("hosts", "check", "badkey"): "authentication failed",
        ("hosts", "check", "down"): "cannot reach down",
        ("train", "gpt-tiny", "--host", "nosuch"): "no host named 'nosuch'",
        ("train", "gpt-tiny", "--host", "nowb", "--detach"): "remote python /bin/true-python not found",
    }
    for args, expected in cases.items():
        done = _cli(*args, "--runs-dir", str(tmp_path / "runs"))
        assert done.returncode != 0, args
        assert expected in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not list((tmp_path / "runs").glob("gpt-tiny*"))  # a failed remote launch leaves no folder


def test_without_the_ssh_extra_a_host_says_which_extra_it_needs(monkeypatch, tmp_path):
    from backends.remote.hosts import Host
    from backends.remote.ssh import EXTRA_HINT, Session, SSHError

    monkeypatch.setitem(sys.modules, "asyncssh", None)  # as if it were not installed
    host = Host(name="h", destination="me@127.0.0.1", workdir=str(tmp_path))
    try:
        Session(host)
    except SSHError as exc:
        assert str(exc) == EXTRA_HINT and "pip install 'workbench[ssh]'" in str(exc)
    else:
        raise AssertionError("a session started without asyncssh")


def test_a_mirrored_run_is_never_called_lost_for_lack_of_local_processes(tmp_path):
    from backends import launch
    from backends.remote.record import write_remote
    from backends.runs import create_run, record_event

    run = create_run(tmp_path, "far", {"model": "gpt"})
    record_event(run, "started", step=0)
    assert launch.run_state(run).status == "lost"  # a local run with no process and no end
    write_remote(run, host="gpu1", remote_run_dir="/w/runs/far",
                 state={"status": "running", "reason": "", "checked": 0})
    state = launch.run_state(run)
    assert state.status == "running" and state.reason == "on gpu1"
    write_remote(run, link="reconnecting", link_problem="cannot reach gpu1")
    assert "reconnecting: cannot reach gpu1" in launch.run_state(run).reason
    record_event(run, "stopped", step=9)  # the mirrored end wins
    assert launch.run_state(run).status == "stopped"


def test_following_a_run_the_host_no_longer_has_ends_unreadable_in_one_line(remote_host, tmp_path):
    from backends import launch
    from backends.remote.mirror import follow
    from backends.remote.record import write_remote
    from backends.runs import create_run, record_event

    host = remote_host("lab")
    run = create_run(tmp_path / "runs", "gone", {"model": "gpt"})
    record_event(run, "started", step=0)
    write_remote(run, host="lab", kind="ssh", host_config=host.to_dict(), events_base=0,
                 remote_run_dir=str(tmp_path / "remote-lab" / "runs" / "gone"))
    assert follow(run, interval=0.1, state_every=0.1) == "unreadable"
    state = launch.run_state(run)
    assert state.status == "unreadable" and "no run" in state.reason and "\n" not in state.reason
