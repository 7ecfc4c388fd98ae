"""torchrun's rendezvous for single-node runs, with every socket on loopback.

Each stock torchrun rendezvous leaves a TCP store listening on all
interfaces with no password. This handler (``--rdzv-backend
workbench-loopback``) keeps torchrun's agent (worker teardown, error files)
and changes only how the store is made: the agent binds the listening socket
to 127.0.0.1 itself (port from the endpoint, 0: the kernel picks one) and
hands it to ``TCPStore`` as ``master_listen_fd``. The ranks reuse that store
(``use_agent_store``) for their process group, so they open no listener of
their own; gloo/NCCL pair sockets follow ``GLOO_SOCKET_IFNAME=lo`` /
``NCCL_SOCKET_IFNAME=lo`` (see :func:`backends.launch.commands.worker_env`).

torchrun finds the handler through the ``torchrun.handlers`` entry point of
this package; the supervisor also registers it directly with :func:`register`.
"""

from __future__ import annotations

import datetime
import socket
from typing import Any

from backends.launch.commands import LOOPBACK_BACKEND

_TIMEOUT_S = 600


def _loopback_port(params: Any) -> int:
    """The port the rendezvous asks for (0: any), refusing several nodes or a non-loopback host."""
    from torch.distributed.elastic.rendezvous.utils import parse_rendezvous_endpoint

    if params.max_nodes != 1 or params.min_nodes != 1:
        raise ValueError(f"{LOOPBACK_BACKEND} serves one node only; use --rdzv-backend c10d "
                         "with a reachable endpoint for several nodes")
    host, port = parse_rendezvous_endpoint(params.endpoint or "127.0.0.1:0", 0)
    if host not in ("127.0.0.1", "localhost"):
        raise ValueError(f"{LOOPBACK_BACKEND} listens on 127.0.0.1 only, not {host!r}")
    return int(port)


def _loopback_store(port: int, timeout: datetime.timedelta) -> tuple[Any, int]:
    """A TCP store listening on 127.0.0.1 at ``port`` (0: the kernel picks), and its port."""
    from torch.distributed import TCPStore

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(512)
    port = int(listener.getsockname()[1])
    # detach(), not fileno(): the store owns the descriptor from here on.
    store = TCPStore("127.0.0.1", port, 1, True, timeout, multi_tenant=True,
                     master_listen_fd=listener.detach(), use_libuv=False)
    return store, port


def _create_handler(params: Any) -> Any:
    from torch.distributed import PrefixStore
    from torch.distributed.elastic.rendezvous import (
        RendezvousHandler,
        RendezvousInfo,
        RendezvousStoreInfo,
    )

    port = _loopback_port(params)
    timeout = datetime.timedelta(seconds=int(params.config.get("timeout", _TIMEOUT_S)))

    class LoopbackRendezvous(RendezvousHandler):
        """One node, one store on 127.0.0.1; the agent is its only member."""

        def __init__(self) -> None:
            self._store: Any = None
            self._port = port

        def get_backend(self) -> str:
            return LOOPBACK_BACKEND

        @property
        def use_agent_store(self) -> bool:
            return True

        def next_rendezvous(self) -> Any:
            if self._store is None:
                self._store, self._port = _loopback_store(self._port, timeout)
            store = PrefixStore(params.run_id, self._store)
            return RendezvousInfo(store, 0, 1, RendezvousStoreInfo("127.0.0.1", self._port))

        def is_closed(self) -> bool:
            return False

        def set_closed(self) -> None:
            pass

        def num_nodes_waiting(self) -> int:
            return 0

        def get_run_id(self) -> str:
            return str(params.run_id)

        def shutdown(self) -> bool:
            return True

    return LoopbackRendezvous()


def handler_creator() -> Any:
    """The ``torchrun.handlers`` entry point: returns the function that makes the handler."""
    return _create_handler


def register() -> None:
    """Make ``--rdzv-backend workbench-loopback`` known to torchrun in this process."""
    from torch.distributed.elastic.rendezvous import rendezvous_handler_registry

    try:
        rendezvous_handler_registry.register(LOOPBACK_BACKEND, _create_handler)
    except ValueError:  # already registered (by the entry point)
        pass
