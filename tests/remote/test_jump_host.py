"""A host reached through a jump host: two real SSH servers on 127.0.0.1 (jump and target).

The jump server opens the ``direct-tcpip`` channel the client asks for and
records it; the target is reached only through that channel. Both accept the
same key (a jump host uses the host's key and ``known_hosts`` file).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from tests.remote.conftest import SSHTestServer, asyncssh
from workbench.cli import main


@pytest.fixture
def jump_server(ssh_server, tmp_path):
    """A second server on 127.0.0.1 that forwards to the first; one known_hosts file names both."""
    root = tmp_path / "jump"
    root.mkdir()
    key = asyncssh.read_private_key(str(ssh_server.client_key_path))
    jump = SSHTestServer(root, client_key=key)
    jump.forwarding = True
    both = tmp_path / "known_hosts_both"
    both.write_text(ssh_server.known_hosts.read_text() + jump.known_hosts.read_text())
    yield jump, both
    jump.close()


def _add(name: str, target_port: int, jump: str, known_hosts, key, workdir) -> None:
    user = os.environ.get("USER") or "tester"
    assert main(["hosts", "add", name, f"{user}@127.0.0.1:{target_port}", "--workdir", str(workdir),
                 "--python", sys.executable, "--key", str(key), "--known-hosts", str(known_hosts),
                 "--jump", jump]) == 0


def test_a_host_behind_a_jump_host_is_checked_through_it(ssh_server, jump_server, tmp_path, capsys):
    jump, known_hosts = jump_server
    user = os.environ.get("USER") or "tester"
    _add("inside", ssh_server.port, f"{user}@127.0.0.1:{jump.port}", known_hosts,
         ssh_server.client_key_path, tmp_path / "work")
    capsys.readouterr()
    assert main(["hosts", "list"]) == 0
    assert f"jump={user}@127.0.0.1:{jump.port}" in capsys.readouterr().out
    before = len(ssh_server.connections)
    assert main(["hosts", "check", "inside", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["workbench"] and (tmp_path / "work").is_dir()
    # The client asked the jump host for a channel to the target, and the target got that connection.
    assert jump.tunnel_requests == [("127.0.0.1", ssh_server.port)]
    assert len(ssh_server.connections) == before + 1


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True, text=True,
                          timeout=120)


def test_a_jump_host_that_refuses_is_named_in_one_line(ssh_server, jump_server, tmp_path):
    jump, known_hosts = jump_server
    key, work = ssh_server.client_key_path, tmp_path / "work"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    _add("viarefusing", ssh_server.port, f"j@127.0.0.1:{jump.port}", known_hosts, key, work)
    _add("viadown", ssh_server.port, f"j@127.0.0.1:{closed_port}", known_hosts, key, work)
    _add("unforwarded", closed_port, f"j@127.0.0.1:{jump.port}", known_hosts, key, work)
    jump.refusing = True
    done = _cli("hosts", "check", "viarefusing")
    jump.refusing = False
    expected = {
        "viarefusing": f"jump host j@127.0.0.1:{jump.port} (for viarefusing): connection closed",
        "viadown": f"cannot reach jump host j@127.0.0.1:{closed_port} (for viadown)",
        "unforwarded": f"jump host j@127.0.0.1:{jump.port} would not open a connection to unforwarded "
                       f"(127.0.0.1:{closed_port})",
    }
    results = {"viarefusing": done, **{name: _cli("hosts", "check", name) for name in ("viadown", "unforwarded")}}
    for name, result in results.items():
        assert result.returncode != 0, name
        assert expected[name] in result.stderr, (name, result.stderr)
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
