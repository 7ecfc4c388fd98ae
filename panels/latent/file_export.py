"""Files out of and into the studio: the image, the grid, the strip as GIF / MP4, latents.

A part of :class:`~panels.latent.panel.LatentPanel` (mixed into it). Every
writer returns whether (or how many frames) it wrote; a failure is a message
in the message bar, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from panels.latent.path_controls import Anchor
from panels.latent.state import LatentState


class FileExport:
    """Save the shown image, the grid, the interpolation strip and latents; load latents."""

    state: LatentState

    def _guard(self, action: Callable[[], Any]) -> bool:
        from backends.latent.export import ExportError

        try:
            action()
        except (ExportError, ValueError, OSError) as exc:
            self.context.show_error(str(exc))
            return False
        return True

    def export_image_png(self, path: str | Path) -> bool:
        from backends.latent import export

        image = self.state.shown_image
        if image is None:
            self.context.show_error("nothing to save yet: open a model first")
            return False
        ok = self._guard(lambda: export.save_png(path, image))
        if ok:
            self.context.show_status(f"Saved {path}")
        return ok

    def export_grid_png(self, path: str | Path) -> bool:
        from backends.latent import export

        if self.grid.images is None:
            self.context.show_error("nothing to save yet: open a model first")
            return False
        return self._guard(lambda: export.save_png(path, export.grid(self.grid.images, scale=4)))

    def _export_strip(self, path: str | Path, save: Callable[..., int]) -> int:
        """Render the interpolation strip and write it with ``save``; returns the frames written."""
        if len(self.anchors) < 2:
            self.context.show_error("export needs two or more anchors: shift-click grid cells to add them")
            return 0
        from backends.latent.render import render

        # Rendered here, not on a worker: an export is a deliberate, short action
        # and the file must match the strip the user set up.
        frames = render(self.state.model, self.path_latents(self.steps_spin.value()), self.strokes.strokes,
                        self.state.levels()).images
        written = 0

        def write() -> None:
            nonlocal written
            written = save(path, list(frames), fps=self.export_controls.gif_fps.value(), scale=4)

        self._guard(write)
        return written

    def export_gif(self, path: str | Path) -> int:
        """Write the interpolation strip as a GIF; returns the frames written (0 on failure)."""
        from backends.latent import export

        written = self._export_strip(path, export.save_gif)
        if written:
            self.context.show_status(f"Saved {path} ({written} frames)")
        return written

    def export_mp4(self, path: str | Path) -> int:
        """Write the interpolation strip as an MP4; returns the frames written (0 on failure)."""
        from backends.latent import export

        return self._export_strip(path, export.save_mp4)

    def save_latents(self, path: str | Path) -> bool:
        """Save the anchors (or the grid when there are none) and the shown latent with seeds."""
        import torch

        from backends.latent import export

        model = self.state.model
        if model is None:
            return False
        rows, seeds = [], []
        for anchor in self.anchors:
            rows.append(anchor.z)
            seeds.append(anchor.seed)
        if not rows and self.state.grid_latents is not None:
            rows, seeds = list(self.state.grid_latents), list(self.state.grid_seeds)
        z = self.current_latent()
        if z is not None:
            rows.append(z)
            seeds.append(None)
        return self._guard(lambda: export.save_latents(
            path, torch.stack(rows), seeds, {"checkpoint": model.source, "kind": model.kind}))

    def load_latents(self, path: str | Path) -> bool:
        """Add the latents of a ``.npz`` file as anchors; refuses a file of the wrong size."""
        from backends.latent import export

        if self.state.model is None:
            return False
        try:
            z, seeds = export.load_latents(path, self.state.model.latent_dim)
        except export.ExportError as exc:
            self.context.show_error(str(exc))
            return False
        self.path_controls.add_anchors(
            Anchor(f"{Path(path).name}[{i}]" + (f" seed {seed}" if seed is not None else ""), row.clone(), seed)
            for i, (row, seed) in enumerate(zip(z, seeds, strict=True))
        )
        return True
