"""Start, resume, stop and kill a run on a remote host through the host's own launch service.

The run folder is prepared here first (validated, listed, named), then its
config travels to the host and the host's workbench does the rest, so the
run's ownership, states and loopback-only rendezvous hold there as they do
here:

- kind ``ssh``: ``workbench train CONFIG --detach --json`` in the host's
  working folder; a user's script (``--script``) is sent first with its
  working folder (:mod:`backends.remote.upload`) and CONFIG names the copy;
- kind ``slurm``: ``workbench train CONFIG --print-command slurm --json``
  prepares the remote run folder and gives the exported script
  (:func:`backends.launch.export_commands`), which goes to ``sbatch``; the job
  id is recorded and ``scancel`` kills it.

Stop runs ``workbench runs RUN --stop`` there (the stop file: every rank
saves a checkpoint); Kill runs ``workbench runs RUN --kill`` (``scancel`` for
Slurm). Where the run is goes to ``remote.json`` (:mod:`backends.remote.record`).
Every value placed in a remote shell line is quoted.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from backends.launch.errors import LaunchError
from backends.launch.service import CheckpointInfo
from backends.remote.hosts import Host
from backends.remote.record import read_remote, write_remote
from backends.remote.ssh import Result, Session, SSHError, quote
from backends.remote.upload import ScriptFiles
from backends.runs import RunDir, delete_run, read_config

UPLOADS = ".workbench/configs"
_JOB_ID = re.compile(r"(\d+)")


def host_of(run: RunDir) -> Host:
    """The host a remote run was launched on, as it was saved at launch time."""
    record = read_remote(run)
    if not record or "host_config" not in record:
        raise LaunchError(f"{run.name} is not a remote run (no usable remote.json)")
    return Host.from_dict(record["host_config"])


def workbench_line(host: Host, *args: str) -> str:
    """``cd WORKDIR && PYTHON -m workbench --runs-dir RUNS ARGS...`` with every value quoted."""
    words = " ".join(quote(a) for a in args)
    return (f"mkdir -p {quote(host.runs_dir)} && cd {quote(host.workdir)} && "
            f"{quote(host.python)} -m workbench --runs-dir {quote(host.runs_dir)} {words}")


def explain(host: Host, result: Result) -> str:
    """One line for a remote workbench command that failed."""
    text = f"{result.stdout}\n{result.stderr}"
    if "No module named workbench" in text:
        return (f"{host.name}: {host.python} has no workbench installed: install it there "
                "(pip install workbench) or point --python at the Python that has it")
    if result.rc == 127 or (host.python in text and "No such file" in text):
        return (f"{host.name}: remote python {host.python} not found: set it with "
                "workbench hosts add NAME --python PATH --replace")
    line = result.last_line()
    line = re.sub(r"^workbench \w+: error: ", "", line)
    return f"on {host.name}: {line}"


def run_workbench(session: Session, host: Host, *args: str, timeout: float = 180.0) -> Any:
    """Run a workbench verb on the host with ``--json``; its JSON answer, or :class:`LaunchError`."""
    result = session.run(workbench_line(host, *args), timeout=timeout)
    if result.rc != 0:
        raise LaunchError(explain(host, result))
    for line in reversed(result.stdout.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    try:
        return json.loads(result.stdout)
    except ValueError as exc:
        raise LaunchError(f"on {host.name}: unexpected answer from workbench: "
                          f"{result.last_line()}") from exc


def launch_remote(config: Any, runs_dir: Any, host: Host) -> RunDir:
    """Prepare the run here, start it on ``host``; returns the local run folder (the mirror's home).

    A user's script travels with its working folder (:mod:`backends.remote.upload`).
    """
    from backends.launch.script import is_script_config
    from backends.launch.service import prepare
    from backends.remote.upload import script_files

    run = prepare(config, runs_dir)
    try:
        data = {**read_config(run), "name": run.name}
        # A script's folder is listed (and refused above the cap) before anything connects.
        files = script_files(data, host, Path(runs_dir)) if is_script_config(data) else None
        with Session(host) as session:
            record = _start_on_host(session, host, data, files)
    except (SSHError, LaunchError, KeyError, TypeError) as exc:
        delete_run(run)
        if isinstance(exc, LaunchError):
            raise
        raise LaunchError(str(exc)) from exc
    events_base = run.events_path.stat().st_size if run.events_path.exists() else 0
    write_remote(run, host=host.name, kind=host.kind, destination=host.destination,
                 host_config=host.to_dict(), launched=time.time(), events_base=events_base,
                 state={"status": "running", "reason": "starting", "checked": time.time()},
                 **record)
    return run


def _start_on_host(session: Session, host: Host, data: dict[str, Any],
                   files: ScriptFiles | None) -> dict[str, Any]:
    """Send the config (and a script's folder) and start the run there; what remote.json keeps."""
    import tomli_w

    sent: dict[str, Any] = {}
    if files is not None:
        from backends.remote.upload import send_script

        data, sent["code_dir"] = send_script(session, host, data, files)
    upload = f"{host.workdir.rstrip('/')}/{UPLOADS}/{data['name']}-{int(time.time() * 1000)}.toml"
    session.write_file(upload, tomli_w.dumps(data).encode("utf-8"))
    if host.kind == "slurm":
        return {**_submit_slurm(session, host, upload), **sent}
    answer = run_workbench(session, host, "train", upload, "--detach", "--json")
    return {"remote_run_dir": answer["run_dir"], "remote_pid": answer.get("pid"), **sent}


def _submit_slurm(session: Session, host: Host, upload: str) -> dict[str, Any]:
    answer = run_workbench(session, host, "train", upload, "--print-command", "slurm", "--json")
    remote_dir = answer["run_dir"]
    script = f"{remote_dir}/logs/job.sbatch"
    session.write_file(script, answer["commands"].encode("utf-8"))
    result = session.run(f"cd {quote(host.workdir)} && sbatch {quote(script)}", timeout=120)
    match = _JOB_ID.search(result.stdout)
    if result.rc != 0 or not match:
        raise LaunchError(f"on {host.name}: sbatch refused the job: {result.last_line()}")
    return {"remote_run_dir": remote_dir, "job_id": match.group(1)}


def remote_state(run: RunDir, session: Session | None = None) -> dict[str, Any]:
    """Ask the host what the run is doing (its own run state); recorded in ``remote.json``."""
    host = host_of(run)
    record = read_remote(run) or {}
    own = session is None
    session = session or Session(host)
    try:
        answer = run_workbench(session, host, "runs", record["remote_run_dir"], "--json", timeout=120)
        entry = answer[0] if isinstance(answer, list) and answer else {}
        state = {"status": entry.get("status", "unreadable"), "reason": entry.get("reason") or "",
                 "checked": time.time()}
        job = record.get("job_id")
        if job and state["status"] == "created":
            queued = session.run(f"squeue -h -j {quote(job)} -o %T", timeout=60)
            if queued.rc == 0 and queued.stdout.strip():
                state["reason"] = f"Slurm job {job} is {queued.stdout.strip().splitlines()[0]}"
            else:
                state.update(status="lost", reason=f"Slurm job {job} is no longer queued and never "
                                                    "started: see its output in logs/")
    finally:
        if own:
            session.close()
    write_remote(run, state=state)
    return state


def stop_remote(run: RunDir) -> bool:
    """Stop the run on its host (finish the step, save a checkpoint); returns whether it ended."""
    host = host_of(run)
    record = read_remote(run) or {}
    try:
        with Session(host) as session:
            result = session.run(workbench_line(host, "runs", record["remote_run_dir"], "--stop"),
                                 timeout=180)
            if result.rc != 0:
                raise LaunchError(explain(host, result))
            state = remote_state(run, session)
    except SSHError as exc:
        raise LaunchError(str(exc)) from exc
    return state["status"] != "running"


def kill_remote(run: RunDir) -> list[int]:
    """End every process of the run on its host now (``scancel`` for a Slurm job)."""
    host = host_of(run)
    record = read_remote(run) or {}
    try:
        with Session(host) as session:
            if record.get("job_id"):
                result = session.run(f"scancel {quote(record['job_id'])}", timeout=120)
            else:
                result = session.run(workbench_line(host, "runs", record["remote_run_dir"], "--kill"),
                                     timeout=120)
            if result.rc != 0:
                raise LaunchError(explain(host, result))
            remote_state(run, session)
    except SSHError as exc:
        raise LaunchError(str(exc)) from exc
    return []


def resume_remote(run: RunDir, *, checkpoint: str | int | None = None,
                  overrides: Sequence[str] = ()) -> Any:
    """Resume the run on its host from its latest (or the chosen) checkpoint, detached."""
    from backends.launch.control import LaunchInfo

    host = host_of(run)
    record = read_remote(run) or {}
    if record.get("job_id"):
        raise LaunchError(f"{run.name} ran as Slurm job {record['job_id']}: resume it on the "
                          "cluster (workbench train RUN --resume there), or launch it anew")
    args = ["train", record["remote_run_dir"], "--resume", "--detach", "--json"]
    if checkpoint is not None:
        args += ["--from-checkpoint", str(checkpoint)]
    for item in overrides:
        args += ["--set", item]
    try:
        with Session(host) as session:
            answer = run_workbench(session, host, *args)
    except SSHError as exc:
        raise LaunchError(str(exc)) from exc
    write_remote(run, state={"status": "running", "reason": "resuming", "checked": time.time()})
    return LaunchInfo(run, int(answer.get("pid") or 0), list(answer.get("command") or []), {},
                      run.logs_dir / "launcher.log", None, answer.get("resumed_from"))


def remote_checkpoints(run: RunDir) -> list[dict[str, Any]]:
    """The run's complete checkpoints on its host (step, path there, saved, size_bytes)."""
    host = host_of(run)
    record = read_remote(run) or {}
    try:
        with Session(host) as session:
            found = run_workbench(session, host, "runs", record["remote_run_dir"], "--checkpoints",
                                  "--json", timeout=120)
    except SSHError as exc:
        raise LaunchError(str(exc)) from exc
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def host_checkpoints(run: RunDir) -> list[CheckpointInfo]:
    """A remote run's checkpoints as the launch service lists them: those fetched here with
    their folder here, the others with their folder on the host and the host's name."""
    host = host_of(run).name
    found = []
    for c in remote_checkpoints(run):
        there = Path(str(c.get("path")))
        here = run.checkpoints_dir / there.name
        saved, size = float(c.get("saved") or 0.0), int(c.get("size_bytes") or 0)
        fetched = (here / "meta.json").is_file()
        found.append(CheckpointInfo(int(c["step"]), here if fetched else there, saved, size,
                                    None if fetched else host))
    return sorted(found, key=lambda info: info.step)


def fetch_checkpoint(run: RunDir, step: int | str) -> Any:
    """Copy one checkpoint of a remote run into the local run folder (for the studio and the
    playground); returns its local folder. A copy is written aside and renamed when complete."""
    import os
    import shutil

    found = remote_checkpoints(run)
    chosen = next((c for c in found if str(c.get("step")) == str(step)), None)
    if chosen is None:
        steps = ", ".join(str(c.get("step")) for c in found) or "none yet"
        raise LaunchError(f"{run.name} has no checkpoint of step {step} on its host (there: {steps})")
    name = Path(str(chosen["path"])).name
    target = run.checkpoints_dir / name
    if (target / "meta.json").is_file():
        return target
    partial = run.checkpoints_dir / f".tmp_fetch_{name}"
    shutil.rmtree(partial, ignore_errors=True)
    run.checkpoints_dir.mkdir(parents=True, exist_ok=True)
    try:
        with Session(host_of(run)) as session:
            session.get_tree(str(chosen["path"]), partial)
    except SSHError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise LaunchError(str(exc)) from exc
    os.replace(partial, target)
    return target
