"""``remote.json``: a local run folder's note that the run really runs on a remote host.

Written when a run is launched on a host (:mod:`backends.remote.launch`) and
updated by the mirror (:mod:`backends.remote.mirror`). It holds where the run
is (host name, kind, destination, the remote run folder, the Slurm job id),
what the host last said of its state, the link to it (``connected``,
``reconnecting``) and, for ``events.jsonl``, how many bytes of the local file
were there before the first mirrored byte. No key and no password, ever.

Only the standard library and :mod:`backends.runs`: the run state reads it
without SSH installed.
"""

from __future__ import annotations

import json
import os
from typing import Any

from backends.runs import RunDir

REMOTE_FILE = "remote.json"


def read_remote(run: RunDir) -> dict[str, Any] | None:
    """The run's remote record, or ``None`` for a run of this machine."""
    try:
        data = json.loads((run.path / REMOTE_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"host": "?", "problem": f"{REMOTE_FILE} cannot be read"}
    return data if isinstance(data, dict) else {"host": "?", "problem": f"{REMOTE_FILE} is not an object"}


def is_remote(run: RunDir) -> bool:
    return (run.path / REMOTE_FILE).is_file()


def write_remote(run: RunDir, **fields: Any) -> dict[str, Any]:
    """Update the record with ``fields`` (atomically: a reader never sees half of it)."""
    data = read_remote(run) or {}
    data.update(fields)
    tmp = run.path / f".{REMOTE_FILE}.tmp"
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, run.path / REMOTE_FILE)
    return data
