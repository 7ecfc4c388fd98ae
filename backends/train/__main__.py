"""Entry point of one training rank: ``python -m backends.train --run-dir RUN``.

torchrun starts one of these per rank (see ``backends.launch``); run by hand
without torchrun it trains in one process (strategy ``single``). The config is
read from the run folder's ``config.toml``, so the command line never grows.
Under torchrun a guard thread ends the rank if the agent that started it dies
(``backends.launch.guard``). ``@record`` makes an uncaught exception land in torchrun's per-rank error file
with its traceback, where the launcher finds it.
"""

from __future__ import annotations

import argparse
import os
import sys

from torch.distributed.elastic.multiprocessing.errors import record


@record
def main(argv: list[str] | None = None) -> int:
    from backends.runs import open_run, read_config
    from backends.train.config import TrainConfig
    from backends.train.loop import run_training

    parser = argparse.ArgumentParser(prog="python -m backends.train", description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", required=True, help="the run folder (holds config.toml)")
    args = parser.parse_args(argv)
    run = open_run(args.run_dir)
    if "TORCHELASTIC_RUN_ID" in os.environ:
        from backends.launch.guard import watch_parent

        # Started by torchrun's agent: when the agent dies outright, this rank ends too.
        watch_parent(run)
    config = TrainConfig.from_dict(read_config(run))
    run_training(run, config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
