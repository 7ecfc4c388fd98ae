"""One SSH connection to a host, for plain (blocking) callers: commands, SFTP reads and writes.

Built on asyncssh (the optional ``ssh`` extra: ``pip install 'workbench[ssh]'``).
A :class:`Session` runs the connection's event loop on a thread of its own,
so the command line, the mirror thread and the GUI's workers call plain
methods. Authentication is by key: the host's key file when it names one,
else the SSH agent and the default keys; the server's host key must be in
``known_hosts`` (the host's file, else ``~/.ssh/known_hosts``). A host with a
jump host is reached through an SSH connection to the jump host first (a
``direct-tcpip`` channel, asyncssh's ``tunnel``), authenticated with the same
key and checked against the same ``known_hosts``. Every failure is an
:class:`SSHError` whose message is one line: which host (or which jump host),
what went wrong, what to do.

Every value placed in a remote shell line must be quoted with :func:`quote`.
"""

from __future__ import annotations

import asyncio
import shlex
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backends.remote.hosts import Host, parse_destination

CONNECT_TIMEOUT_S = 15.0
EXTRA_HINT = "remote hosts need the ssh extra: pip install 'workbench[ssh]' (asyncssh)"


class SSHError(RuntimeError):
    """The host cannot be reached, refused us, or the connection dropped (one line)."""


def _asyncssh() -> Any:
    """The SSH library, imported without its cryptography deprecation noise on stderr."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*DSA.*")
        import asyncssh
    return asyncssh


def quote(value: Any) -> str:
    return shlex.quote(str(value))


def available() -> bool:
    """Whether the SSH library is installed."""
    try:
        _asyncssh()
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class Result:
    """What a remote command returned."""

    rc: int
    stdout: str
    stderr: str

    def last_line(self) -> str:
        for text in (self.stderr, self.stdout):
            lines = [line for line in text.strip().splitlines() if line.strip()]
            if lines:
                return lines[-1].strip()
        return f"exit status {self.rc}"


def _describe(host: Host, exc: BaseException, *, jump: bool = False) -> str:
    """One line for a failed connection to ``host`` (or, with ``jump``, to its jump host)."""
    asyncssh = _asyncssh()

    where = f"jump host {host.jump} (for {host.name})" if jump else f"{host.name} ({host.destination})"
    if isinstance(exc, asyncssh.ChannelOpenError) and host.jump:
        return (f"jump host {host.jump} would not open a connection to {host.name} "
                f"({host.address}:{host.port}): {exc.reason or exc}")
    if isinstance(exc, asyncssh.PermissionDenied):
        key = host.key or "the SSH agent's and default keys"
        return f"{where}: authentication failed with {key}: add the public key to the host's authorized_keys"
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        known = host.known_hosts or "~/.ssh/known_hosts"
        return (f"{where}: its host key is not trusted (not in {known}): connect once with ssh "
                "from a terminal to check and accept it")
    if isinstance(exc, asyncssh.DisconnectError | asyncssh.ConnectionLost):
        return f"{where}: connection closed ({exc.reason or exc})"
    if isinstance(exc, asyncssh.KeyImportError | asyncssh.KeyEncryptionError):
        return f"{where}: key file {host.key} cannot be used ({exc}); a passphrase-protected key goes through the SSH agent"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return f"{where}: no answer within {CONNECT_TIMEOUT_S:.0f} s: is the host up and reachable?"
    if isinstance(exc, OSError):
        return f"cannot reach {where}: {exc.strerror or exc}"
    return f"{where}: {type(exc).__name__}: {exc}"


class Session:
    """A connection to one host; blocking methods, usable from any thread. Close it when done."""

    def __init__(self, host: Host, *, timeout: float = CONNECT_TIMEOUT_S) -> None:
        try:
            _asyncssh()
        except ImportError as exc:
            raise SSHError(EXTRA_HINT) from exc
        self.host = host
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="workbench-ssh",
                                        daemon=True)
        self._thread.start()
        self._conn: Any = None
        self._jump: Any = None
        self._sftp: Any = None
        try:
            self._conn = self._call(self._connect(), timeout + 5)
        except BaseException:
            if self._jump is not None:  # reached the jump host, not the target: leave it too
                self._loop.call_soon_threadsafe(self._jump.abort)
            self._stop_loop()
            raise

    # ------------------------------------------------------------ plumbing

    def _call(self, coro: Coroutine[Any, Any, Any], timeout: float | None = None) -> Any:
        asyncssh = _asyncssh()

        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except SSHError:
            raise
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            future.cancel()
            raise SSHError(_describe(self.host, exc)) from exc

    def _options(self, port: int, user: str | None) -> dict[str, Any]:
        """Connection options: the host's key and known_hosts (a jump host uses the same)."""
        options: dict[str, Any] = {"port": port, "connect_timeout": CONNECT_TIMEOUT_S,
                                   "keepalive_interval": 10, "keepalive_count_max": 3}
        if user:
            options["username"] = user
        if self.host.key:
            options["client_keys"] = [str(Path(self.host.key).expanduser())]
        if self.host.known_hosts:
            options["known_hosts"] = str(Path(self.host.known_hosts).expanduser())
        return options

    async def _connect(self) -> Any:
        asyncssh = _asyncssh()

        options = self._options(self.host.port, self.host.user)
        if self.host.jump:
            options["tunnel"] = self._jump = await self._connect_jump()
        return await asyncssh.connect(self.host.address, **options)

    async def _connect_jump(self) -> Any:
        """The connection to the jump host; its failures name the jump host, not the target."""
        asyncssh = _asyncssh()

        user, address, port = parse_destination(self.host.jump or "")
        try:
            return await asyncssh.connect(address, **self._options(port, user))
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            raise SSHError(_describe(self.host, exc, jump=True)) from exc

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def close(self) -> None:
        """Close the connection (running remote commands end with it) and stop the loop thread."""
        if self._loop.is_closed():
            return
        conns = [c for c in (self._conn, self._jump) if c is not None]
        if conns:

            async def _close() -> None:
                for conn in conns:  # the target first, then the jump host it goes through
                    conn.close()
                    await conn.wait_closed()

            try:
                asyncio.run_coroutine_threadsafe(_close(), self._loop).result(5)
            except Exception:  # noqa: BLE001 - closing a dropped connection may fail: it is gone
                pass
        self._stop_loop()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ commands

    def run(self, command: str, *, timeout: float = 120.0, stdin: str | None = None) -> Result:
        """Run one shell line on the host (values in it quoted with :func:`quote`)."""

        async def _run() -> Result:
            done = await asyncio.wait_for(
                self._conn.run(command, check=False, input=stdin), timeout)
            rc = done.exit_status if done.exit_status is not None else (
                128 + 9 if done.exit_signal else 255)
            return Result(rc, str(done.stdout or ""), str(done.stderr or ""))

        try:
            return self._call(_run(), timeout + 5)
        except TimeoutError as exc:
            raise SSHError(f"{self.host.name}: {command.split()[0]}... gave no answer within "
                           f"{timeout:.0f} s") from exc

    # ------------------------------------------------------------ files

    async def _sftp_client(self) -> Any:
        if self._sftp is None:
            self._sftp = await self._conn.start_sftp_client()
        return self._sftp

    def sizes(self, folder: str, names: list[str] | None = None) -> dict[str, int]:
        """Sizes of the regular files in a remote folder (``{}`` when it does not exist yet)."""
        asyncssh = _asyncssh()

        async def _sizes() -> dict[str, int]:
            sftp = await self._sftp_client()
            try:
                entries = await sftp.readdir(folder)
            except asyncssh.SFTPNoSuchFile:
                return {}
            found = {}
            for entry in entries:
                attrs = entry.attrs
                if attrs.type == asyncssh.FILEXFER_TYPE_REGULAR and attrs.size is not None:
                    name = entry.filename if isinstance(entry.filename, str) else entry.filename.decode()
                    if names is None or name in names:
                        found[name] = int(attrs.size)
            return found

        return self._call(_sizes(), 60)

    def read_from(self, path: str, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes of a remote file from ``offset`` (only the new bytes travel)."""

        async def _read() -> bytes:
            sftp = await self._sftp_client()
            async with sftp.open(path, "rb") as f:
                await f.seek(offset)
                return await f.read(length)

        return self._call(_read(), 120)

    def read_many(self, requests: list[tuple[str, int, int]]) -> list[bytes]:
        """Several :meth:`read_from` at once (one round trip's worth of waiting for many ranks)."""

        async def _one(sftp: Any, path: str, offset: int, length: int) -> bytes:
            async with sftp.open(path, "rb") as f:
                await f.seek(offset)
                return await f.read(length)

        async def _all() -> list[bytes]:
            sftp = await self._sftp_client()
            return list(await asyncio.gather(*(_one(sftp, *r) for r in requests)))

        return self._call(_all(), 300)

    def write_file(self, path: str, data: bytes) -> None:
        """Write a remote file (its folder is created)."""

        async def _write() -> None:
            sftp = await self._sftp_client()
            parent = path.rsplit("/", 1)[0]
            if parent:
                await sftp.makedirs(parent, exist_ok=True)
            async with sftp.open(path, "wb") as f:
                await f.write(data)

        self._call(_write(), 120)

    def get_tree(self, remote: str, local: Path) -> None:
        """Copy a remote folder here (a checkpoint fetched on demand)."""

        async def _get() -> None:
            sftp = await self._sftp_client()
            await sftp.get(remote, str(local), recurse=True, preserve=True)

        self._call(_get(), 3600)

    def put_files(self, files: list[tuple[Path, str]], *, timeout: float = 3600.0) -> None:
        """Copy local files to remote paths (their folders are created), a few at a time."""

        async def _put() -> None:
            sftp = await self._sftp_client()
            for parent in sorted({remote.rsplit("/", 1)[0] for _local, remote in files}):
                await sftp.makedirs(parent, exist_ok=True)
            gate = asyncio.Semaphore(8)

            async def _one(local: Path, remote: str) -> None:
                async with gate:
                    await sftp.put(str(local), remote, preserve=True, follow_symlinks=True)

            await asyncio.gather(*(_one(local, remote) for local, remote in files))

        self._call(_put(), timeout)
