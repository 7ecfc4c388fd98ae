"""One SSH connection to a host, for plain (blocking) callers: commands, SFTP reads and writes.

Built on asyncssh (the optional ``ssh`` extra: ``pip install 'workbench[ssh]'``).
A :class:`Session` runs the connection's event loop on a thread of its own,
so the command line, the mirror thread and the GUI's workers call plain
methods. Authentication is by key: the host's key file when it names one,
else the SSH agent and the default keys; the server's host key must be in
``known_hosts`` (the host's file, else ``~/.ssh/known_hosts``). Every failure
is an :class:`SSHError` whose message is one line: which host, what went
wrong, what to do.

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

from backends.remote.hosts import Host

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


def _describe(host: Host, exc: BaseException) -> str:
    asyncssh = _asyncssh()

    where = f"{host.name} ({host.destination})"
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
        self._sftp: Any = None
        try:
            self._conn = self._call(self._connect(), timeout + 5)
        except BaseException:
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

    async def _connect(self) -> Any:
        asyncssh = _asyncssh()

        options: dict[str, Any] = {"port": self.host.port, "connect_timeout": CONNECT_TIMEOUT_S,
                                   "keepalive_interval": 10, "keepalive_count_max": 3}
        if self.host.user:
            options["username"] = self.host.user
        if self.host.key:
            options["client_keys"] = [str(Path(self.host.key).expanduser())]
        if self.host.known_hosts:
            options["known_hosts"] = str(Path(self.host.known_hosts).expanduser())
        if self.host.jump:
            options["tunnel"] = self.host.jump
        return await asyncssh.connect(self.host.address, **options)

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def close(self) -> None:
        """Close the connection (running remote commands end with it) and stop the loop thread."""
        if self._loop.is_closed():
            return
        if self._conn is not None:
            conn = self._conn

            async def _close() -> None:
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
