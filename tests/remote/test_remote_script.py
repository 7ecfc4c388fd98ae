"""A user's own script launched on a host with ``--host``: its folder travels, the run comes back.

The host is the in-process SSH server on 127.0.0.1 (this machine, a temporary
working folder). The script uses the workbench client, imports a module of its
own folder and reads a data file by a relative path, so it runs only if its
folder was sent and it starts there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backends.remote.record import read_remote
from backends.runs import RunDir, read_config
from workbench.cli import main

pytestmark = pytest.mark.slow

SCRIPT = '''"""A tiny DDP script watched through the workbench client."""
import argparse, json, os

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from backends import client
from helper import target  # a module of this script's own folder

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=10)
parser.add_argument("--note", default="")
args = parser.parse_args()
dist.init_process_group("gloo")
rank = dist.get_rank()
scale = float(open(os.path.join("data", "scale.txt")).read())  # relative to the working folder
if rank == 0:
    with open("seen.json", "w") as f:
        json.dump({"note": args.note, "world": dist.get_world_size(), "cwd": os.getcwd()}, f)
run = client.init(steps=args.steps, config=vars(args))
torch.manual_seed(0)
model = DDP(nn.Linear(1, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(1, args.steps + 1):
    x = torch.rand(8, 1) * scale
    loss = nn.functional.mse_loss(model(x), target(x))
    opt.zero_grad()
    loss.backward()
    opt.step()
    run.log(step, loss=loss.item())
run.finish()
dist.destroy_process_group()
'''


def _project(root: Path) -> Path:
    project = root / "my project"  # a blank in the path: quoted on the way
    (project / "data").mkdir(parents=True)
    (project / "train.py").write_text(SCRIPT)
    (project / "helper.py").write_text("def target(x):\n    return 2 * x + 1\n")
    (project / "data" / "scale.txt").write_text("3.0\n")
    for skipped in (".git/HEAD", "__pycache__/helper.cpython-311.pyc", "runs/old/config.toml",
                    "data/.cache/blob"):
        (project / skipped).parent.mkdir(parents=True, exist_ok=True)
        (project / skipped).write_text("not sent\n")
    return project


def _steps(path: Path) -> list[int]:
    return [r["step"] for r in map(json.loads, path.read_text().splitlines()) if r.get("kind") == "train"]


def test_script_and_its_folder_run_on_a_host_and_mirror_back(remote_host, tmp_path, capsys, monkeypatch):
    remote_host("lab")
    project = _project(tmp_path)
    monkeypatch.chdir(project)
    runs = tmp_path / "runs"
    capsys.readouterr()
    assert main(["train", "--script", "train.py", "--host", "lab", "--runs-dir", str(runs), "--json",
                 "--set", "strategy=ddp", "--set", "nproc=2", "--set", "env.OMP_NUM_THREADS=1",
                 "--", "--steps", "12", "--note", "two words; $HOME"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["status"] == "finished" and summary["host"] == "lab", summary
    run = RunDir(Path(summary["run_dir"]))
    assert run.path.parent == runs and read_config(run)["source"] == "script"
    record = read_remote(run)
    code = Path(record["code_dir"])
    assert record["host"] == "lab" and code.parent == tmp_path / "remote-lab" / ".workbench" / "code"
    sent = sorted(str(p.relative_to(code)) for p in code.rglob("*") if p.is_file() and p.name != "seen.json")
    assert sent == ["data/scale.txt", "helper.py", "train.py"]  # no .git, __pycache__, runs, .cache
    seen = json.loads((code / "seen.json").read_text())
    assert seen == {"note": "two words; $HOME", "world": 2, "cwd": str(code)}
    remote = Path(record["remote_run_dir"])
    assert remote.parent == tmp_path / "remote-lab" / "runs"
    for rank in (0, 1):
        local_file = run.metrics_path(rank)
        assert local_file.read_bytes() == (remote / "metrics" / f"rank_{rank}.jsonl").read_bytes()
        assert _steps(local_file) == list(range(1, 13))
    assert run.events_path.read_bytes()[record["events_base"]:] == (remote / "events.jsonl").read_bytes()
    assert read_config(RunDir(remote))["script"] == str(code / "train.py")


def test_a_script_folder_over_the_cap_is_refused_naming_the_cap(remote_host, ssh_server, tmp_path,
                                                               capsys, monkeypatch):
    remote_host("lab")
    project = _project(tmp_path)
    (project / "data" / "big.bin").write_bytes(b"\0" * (3 * 2**20))
    monkeypatch.chdir(project)
    monkeypatch.setenv("WORKBENCH_UPLOAD_LIMIT_MB", "2")
    runs = tmp_path / "runs"
    capsys.readouterr()
    assert main(["train", "--script", "train.py", "--host", "lab", "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err.strip()
    assert "2.0 MiB cap (WORKBENCH_UPLOAD_LIMIT_MB)" in err and "data/big.bin (3.0 MiB)" in err, err
    assert len(err.splitlines()) == 1
    assert not list(runs.glob("train*"))  # no local run folder left behind
    assert not (tmp_path / "remote-lab" / ".workbench" / "code").exists()  # nothing sent
    assert not ssh_server.connections  # refused before connecting
    # A script outside the folder that would be sent is refused too, naming both.
    (tmp_path / "elsewhere.py").write_text("print('hi')\n")
    assert main(["train", "--script", str(tmp_path / "elsewhere.py"), "--host", "lab",
                 "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err.strip()
    assert "is not inside its working folder" in err and str(project) in err, err
    assert not list(runs.glob("elsewhere*")) and not ssh_server.connections
