"""A real SSH server on 127.0.0.1 for the remote-host tests (asyncssh, key authentication).

The server runs each command with ``/bin/bash -c`` on this machine, in a
session of its own; the "remote" working folder is a temporary folder. It
listens on loopback only, on a port the kernel picks. ``drop_all`` aborts
every open connection and ``refuse`` turns new ones away, to play a network
that goes down and comes back.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from pathlib import Path

import pytest

asyncssh = pytest.importorskip("asyncssh")


class _Server(asyncssh.SSHServer):
    def __init__(self, owner: SSHTestServer) -> None:
        self.owner = owner

    def connection_made(self, conn) -> None:
        self.owner.connections.append(conn)

    def begin_auth(self, username: str) -> bool:
        if self.owner.refusing:
            raise asyncssh.DisconnectError(asyncssh.DISC_SERVICE_NOT_AVAILABLE, "refusing for a test")
        return True

    def connection_requested(self, dest_host: str, dest_port: int, orig_host: str, orig_port: int) -> bool:
        self.owner.tunnel_requests.append((dest_host, dest_port))
        return self.owner.forwarding and dest_host == "127.0.0.1"


class SSHTestServer:
    def __init__(self, root: Path, path_prefix: Path | None = None, client_key=None) -> None:
        self.root = root
        self.connections: list = []
        self.refusing = False
        self.forwarding = False
        self.tunnel_requests: list[tuple[str, int]] = []
        self.env = {k: v for k, v in os.environ.items() if k != "WORKBENCH_RUNS_DIR"}
        if path_prefix is not None:
            self.env["PATH"] = f"{path_prefix}{os.pathsep}{self.env.get('PATH', '')}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="ssh-test-server", daemon=True)
        self.thread.start()
        host_key = asyncssh.generate_private_key("ssh-ed25519")
        client_key = client_key or asyncssh.generate_private_key("ssh-ed25519")
        self.client_key_path = root / "id_test"
        client_key.write_private_key(str(self.client_key_path))
        os.chmod(self.client_key_path, 0o600)
        authorized = root / "authorized_keys"
        client_key.write_public_key(str(authorized))

        async def _start():
            return await asyncssh.create_server(
                lambda: _Server(self), "127.0.0.1", 0, server_host_keys=[host_key],
                authorized_client_keys=str(authorized), process_factory=self._handle,
                sftp_factory=True, encoding=None)

        self.server = asyncio.run_coroutine_threadsafe(_start(), self.loop).result(30)
        self.port = self.server.sockets[0].getsockname()[1]
        self.known_hosts = root / "known_hosts"
        self.known_hosts.write_text(
            f"[127.0.0.1]:{self.port} {host_key.export_public_key().decode().strip()}\n")

    async def _handle(self, process) -> None:
        child = await asyncio.create_subprocess_exec(
            "/bin/bash", "-c", process.command or "", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=self.env,
            cwd=str(self.root), start_new_session=True)

        async def feed() -> None:
            try:
                while data := await process.stdin.read(65536):
                    child.stdin.write(data)
            except Exception:  # noqa: BLE001 - the channel closed under us
                pass
            child.stdin.close()

        async def pump(source, sink) -> None:
            while data := await source.read(65536):
                sink.write(data)

        feeder = asyncio.ensure_future(feed())
        try:
            await asyncio.gather(pump(child.stdout, process.stdout), pump(child.stderr, process.stderr))
            rc = await child.wait()
            process.exit(rc if rc >= 0 else 128 - rc)
        except Exception:  # noqa: BLE001 - the channel closed: end what the command started
            if child.returncode is None:
                try:
                    os.killpg(child.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        finally:
            feeder.cancel()

    def drop_all(self) -> None:
        """Abort every open connection (the network went away)."""
        def _abort() -> None:
            for conn in self.connections:
                conn.abort()
            self.connections.clear()
        self.loop.call_soon_threadsafe(_abort)

    def close(self) -> None:
        async def _close() -> None:
            self.server.close()
            for conn in self.connections:
                conn.abort()
        asyncio.run_coroutine_threadsafe(_close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


SLURM_STANDINS = {
    "sbatch": r'''#!/bin/bash
# Stand-in for Slurm's sbatch (tests only): runs the job script on this machine, detached.
if [ "$1" = "--version" ]; then echo "slurm stand-in 0.0"; exit 0; fi
script="$1"; jobs="$STANDIN_JOBS"; mkdir -p "$jobs"
id=$(( $(ls "$jobs" | wc -l) + 4001 ))
out=$(sed -n 's/^#SBATCH --output=//p' "$script" | sed "s/%j/$id/g")
SLURM_JOB_ID=$id SLURM_JOB_NODELIST=localhost setsid nohup bash "$script" > "${out:-/dev/null}" 2>&1 < /dev/null &
echo $! > "$jobs/$id"
echo "Submitted batch job $id"
''',
    "squeue": r'''#!/bin/bash
# Stand-in for squeue -h -j ID -o %T (tests only).
while [ $# -gt 0 ]; do case "$1" in -j) id="$2"; shift;; esac; shift; done
pid=$(cat "$STANDIN_JOBS/$id" 2>/dev/null) || exit 0
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo RUNNING; fi
''',
    "scancel": r'''#!/bin/bash
# Stand-in for scancel ID (tests only): SIGTERM to the job's process group, as Slurm sends first.
pid=$(cat "$STANDIN_JOBS/$1" 2>/dev/null) || { echo "scancel: error: Invalid job id $1" >&2; exit 1; }
kill -TERM -- "-$pid" 2>/dev/null
exit 0
''',
    "scontrol": "#!/bin/bash\n# Stand-in for scontrol show hostnames (tests only).\necho 127.0.0.1\n",
    "srun": '#!/bin/bash\n# Stand-in for srun (tests only): drop its options, run the step here.\n'
            'while [ "${1#--}" != "$1" ]; do shift; done\nexec "$@"\n',
}


@pytest.fixture
def ssh_server(tmp_path):
    """A real SSH server on 127.0.0.1 whose PATH starts with Slurm stand-ins."""
    bin_dir = tmp_path / "standin-bin"
    bin_dir.mkdir()
    for name, text in SLURM_STANDINS.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    server = SSHTestServer(tmp_path, path_prefix=bin_dir)
    server.env["STANDIN_JOBS"] = str(tmp_path / "standin-jobs")
    yield server
    server.close()


@pytest.fixture
def remote_host(ssh_server, tmp_path):
    """Host factory: saves a host named NAME pointing at the test server."""
    from backends.remote.hosts import Host, add_host

    def make(name: str = "lab", kind: str = "ssh") -> Host:
        workdir = tmp_path / f"remote-{name}"
        return add_host(Host(name=name, destination=f"{os.environ.get('USER') or 'tester'}@127.0.0.1:{ssh_server.port}",
                             workdir=str(workdir), python=sys.executable, kind=kind,
                             key=str(ssh_server.client_key_path), known_hosts=str(ssh_server.known_hosts)))

    return make
