"""Remote hosts: launch runs on an SSH host or a Slurm cluster and follow them back here.

- :mod:`~backends.remote.hosts`: what a host is (destination, working folder,
  remote Python, kind ``ssh`` or ``slurm``) and where hosts are saved.
- :mod:`~backends.remote.ssh`: one SSH connection (asyncssh, the optional
  ``ssh`` extra) with commands, SFTP reads from an offset, and errors as one line.
- :mod:`~backends.remote.record`: ``remote.json``, a run folder's note of
  where it really runs (read by the run state, so it needs no SSH).
- :mod:`~backends.remote.launch`: start, resume, stop and kill a run on a
  host through the host's own launch service (``workbench train --detach``,
  ``sbatch``, ``scancel``).
- :mod:`~backends.remote.upload`: send a user's script and its working folder
  to the host (skips hidden folders, ``runs``, ``__pycache__``; a size cap).
- :mod:`~backends.remote.mirror`: copy what the remote run appends into the
  local run folder, from byte offsets, through dropped connections.
- :mod:`~backends.remote.check`: what a host offers (Python, torch, GPUs, disk).
"""
