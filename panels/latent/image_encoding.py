"""Encoding real images with a VAE: a file or a dataset image becomes the latent on screen.

A part of :class:`~panels.latent.panel.LatentPanel` (mixed into it): the
encoded image is kept in the state as an :class:`~panels.latent.state.EncodedImage`
and shown beside its reconstruction; it can be made an anchor.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from panels.latent.path_controls import Anchor
from panels.latent.state import EncodedImage, LatentState

if TYPE_CHECKING:
    import torch

    from backends.latent.analysis import LabelledImages


class ImageEncoding:
    """Encode an image file or a dataset image and show it beside its reconstruction."""

    state: LatentState

    def encode_image_file(self, path: str | Path) -> None:
        """Read an image file, encode it with the VAE, show original and reconstruction."""
        from backends.latent.export import ExportError
        from backends.latent.photos import load_photo
        from backends.latent.render import to_uint8

        model = self.state.model
        if not self._can_encode() or model is None:
            return
        try:
            x = load_photo(path, model.image_size, model.channels)
        except ExportError as exc:
            self.context.show_error(str(exc))
            return
        if self.encode_controls.invert_check.isChecked():
            x = 1.0 - x
        self._set_encoded(Path(path).name, x, to_uint8(x)[0])

    def encode_dataset_image(self, index: int) -> None:
        """Encode image ``index`` of the model's dataset (loaded on a worker the first time)."""
        from backends.latent import analysis

        if not self._can_encode():
            return
        if self.state.dataset is not None:
            self._encode_from_dataset(index)
            return
        model = self.state.model
        self._analysis_runner.submit(lambda: analysis.dataset_for(model, limit=3000),
                                     on_done=lambda data: self._dataset_ready(data, index))

    def _can_encode(self) -> bool:
        if self.state.model is None or not self.state.model.can_encode:
            self.context.show_error("encoding needs a VAE: open a vae checkpoint first")
            return False
        return True

    def _dataset_ready(self, data: LabelledImages, index: int) -> None:
        self.state.dataset = data
        self.encode_controls.set_dataset_size(len(data.images))
        self._encode_from_dataset(index)

    def _encode_from_dataset(self, index: int) -> None:
        from backends.latent.render import to_uint8

        data = self.state.dataset
        if data is None:
            return
        index = min(max(0, index), len(data.images) - 1)
        x = data.images[index : index + 1]
        name = data.class_names[int(data.labels[index])] if data.class_names else ""
        self._set_encoded(f"{data.name} #{index} {name}".strip(), x, to_uint8(x)[0])

    def _set_encoded(self, label: str, x: torch.Tensor, original: np.ndarray) -> None:
        model = self.state.model
        if model is None:
            return
        z = model.encode(x)[0]  # a few ms for the small VAEs the studio is for
        self.state.encoded = EncodedImage(label, z, original)
        self.state.source = "encoded"
        self.original_view.caption = f"Original: {label}"
        self.original_view.set_image(original)
        self._sync_grid_marks()
        self._update_views_visibility()
        self.schedule_render()

    def _anchor_encoded(self) -> None:
        encoded = self.state.encoded
        if encoded is not None:
            self.path_controls.add_anchors([Anchor(f"image {encoded.label}", encoded.z.clone())])
