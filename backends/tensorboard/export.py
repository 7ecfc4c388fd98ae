"""A workbench run written as TensorBoard event files, with tensorboard's own writer.

Every numeric field of every rank's records becomes the tag
``rank<r>/<field>``, and rank 0's also ``<field>``, so TensorBoard shows the
run as the trainer's rank-0 view with each rank beside it. Fields of records
other than ``train`` and ``memory`` carry their kind (``val/loss``). Values
are written as double-precision tensors of the ``scalars`` plugin: what was
logged reads back exactly (a ``simple_value`` would round to float32). Image
samples become images (tag ``samples``) and text samples text (``samples/text``)
at the step in their file name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from backends.runs import JsonlTail, RunDir
from backends.runs.schema import RECORD_KEYS, is_number
from backends.tensorboard.events import TensorBoardMissing

_STEP = re.compile(r"^step_(\d+)")


def tag_for(kind: str, name: str) -> str:
    return name if kind in ("train", "memory") else f"{kind}/{name}"



def scalar_values(records: Iterable[Mapping[str, Any]]) -> Iterable[tuple[str, int, float, float]]:
    """``(field tag, step, wall time, value)`` for every numeric field of ``records``."""
    for record in records:
        step, t = record.get("step"), record.get("t")
        if not is_number(step) or not is_number(t):
            continue
        kind = str(record.get("kind", "train"))
        for name, value in record.items():
            if name not in RECORD_KEYS and is_number(value):
                yield tag_for(kind, name), int(step), float(t), float(value)


def export_tensorboard(
    run: RunDir, out_dir: str | os.PathLike[str], progress: Callable[[float], None] | None = None
) -> dict[str, int]:
    """Write ``run`` as an event file under ``out_dir``; returns counts of scalars and samples."""
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError as exc:
        raise TensorBoardMissing(
            "TensorBoard export needs the tensorboard extra: pip install 'workbench[tensorboard]'"
        ) from exc

    def scalar_value(tag: str, value: float) -> Any:
        out = summary_pb2.Summary.Value(
            tag=tag, tensor=tensor_pb2.TensorProto(dtype=2, double_val=[value]))
        out.metadata.plugin_data.plugin_name = "scalars"
        return out

    Path(out_dir).mkdir(parents=True, exist_ok=True)
    writer = EventFileWriter(str(out_dir), max_queue_size=1024, filename_suffix=".workbench")
    counts = {"scalars": 0, "images": 0, "texts": 0}
    try:
        files = run.metrics_files()
        for i, (rank, path) in enumerate(files.items()):
            for tag, step, t, value in scalar_values(JsonlTail(path).read_new()):
                values = [scalar_value(f"rank{rank}/{tag}", value)]
                if rank == 0:
                    values.append(scalar_value(tag, value))
                writer.add_event(event_pb2.Event(
                    wall_time=t, step=step, summary=summary_pb2.Summary(value=values)))
                counts["scalars"] += len(values)
            if progress is not None:
                progress((i + 1) / (len(files) + 1))
        for path in sorted(run.samples_dir.glob("step_*")):
            match = _STEP.match(path.name)
            if not match:
                continue
            step, t = int(match.group(1)), path.stat().st_mtime
            suffix = path.suffix.lower()
            if suffix in (".png", ".jpg", ".jpeg"):
                value = summary_pb2.Summary.Value(tag="samples", image=_image(path, summary_pb2))
                counts["images"] += 1
            elif suffix == ".txt":
                value = summary_pb2.Summary.Value(
                    tag="samples/text",
                    tensor=tensor_pb2.TensorProto(
                        dtype=7, string_val=[path.read_text(encoding="utf-8").encode()]))
                value.metadata.plugin_data.plugin_name = "text"
                counts["texts"] += 1
            else:
                continue
            writer.add_event(event_pb2.Event(
                wall_time=t, step=step, summary=summary_pb2.Summary(value=[value])))
    finally:
        writer.close()
    if progress is not None:
        progress(1.0)
    return counts


def _image(path: Path, summary_pb2: Any) -> Any:
    from PIL import Image

    with Image.open(path) as image:
        width, height = image.size
        channels = len(image.getbands())
    return summary_pb2.Summary.Image(height=height, width=width, colorspace=channels,
                                     encoded_image_string=path.read_bytes())
