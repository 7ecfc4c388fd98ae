"""Where the studio's latent comes from: the seed grid, anchors, the path and plane, the strip.

A part of :class:`~panels.latent.panel.LatentPanel` (mixed into it): grid
cells are drawn from seeds and rendered on the grid worker; shift-clicked
cells (and encoded images, loaded latents) become anchors; the path and plane
sliders pick a point between them. :meth:`current_latent` is the latent on
screen, whatever its source.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from panels.latent.path_controls import Anchor
from panels.latent.state import LatentState, Source

if TYPE_CHECKING:
    import torch

    from backends.latent.model import LatentModel
    from backends.latent.render import RenderResult


class GridAndPaths:
    """The seed grid, the anchors and the path / plane / strip built on them."""

    state: LatentState

    # ------------------------------------------------------------ grid

    def reroll(self) -> None:
        self.seed_controls.reroll()

    def refresh_grid(self) -> None:
        """Recompute the grid's latents from the seeds and render it (on the grid worker)."""
        model = self.state.model
        if model is None:
            return
        from backends.latent.render import render

        seeds, kind = self.seed_controls.seeds(), model.kind
        try:
            z = model.latents_for_seeds(seeds, self.seed_controls.truncation(kind),
                                        self.seed_controls.temperature(kind))
        except ValueError as exc:
            self.context.show_error(str(exc))
            return
        state = self.state
        state.grid_latents, state.grid_seeds = z, seeds
        if state.current_cell is not None and state.current_cell >= len(seeds):
            state.current_cell = 0
        self._sync_grid_marks()
        self._grid_runner.submit(render, model, z, on_done=lambda r: self._on_grid_rendered(model, r))
        if state.source == "cell":
            self.schedule_render()

    def _on_grid_rendered(self, model: LatentModel, result: RenderResult) -> None:
        if model is not self.state.model:
            return
        self.grid.set_images(result.images, [str(s) for s in self.state.grid_seeds])
        self.sig_grid_shown.emit(len(result.images))

    def _sync_grid_marks(self) -> None:
        self.grid.current = self.state.current_cell if self.state.source == "cell" else None
        self.grid.anchors = {a.cell: i + 1 for i, a in enumerate(self.anchors) if a.cell is not None}
        self.grid.update()

    def _on_cell_clicked(self, index: int, shift: bool) -> None:
        if shift:
            self.add_cell_as_anchor(index)
        else:
            self.select_cell(index)

    def select_cell(self, index: int) -> None:
        """Show grid cell ``index`` (its seed's latent) in the image view."""
        self.state.current_cell = index
        self._show_source("cell")

    def _show_source(self, source: Source) -> None:
        self.state.source = source
        self._sync_grid_marks()
        self.schedule_render()

    # ------------------------------------------------------------ anchors and paths

    def add_cell_as_anchor(self, index: int) -> None:
        latents = self.state.grid_latents
        if latents is None:
            return
        seed = self.state.grid_seeds[index]
        self.path_controls.add_anchors([Anchor(f"seed {seed}", latents[index].clone(), seed, index)])

    def add_current_as_anchor(self) -> None:
        z = self.current_latent()
        if z is None:
            return
        seed = self.state.cell_seed() if self.state.source == "cell" else None
        label = f"seed {seed}" if seed is not None else f"{self.state.source} latent"
        if self.direction_controls.directions and self.direction_controls.moved():
            label += " (edited)"
        self.path_controls.add_anchors([Anchor(label, z.clone(), seed)])

    def clear_anchors(self) -> None:
        if self.state.source in ("path", "plane"):
            self.state.source = "cell"
        self.path_controls.clear_anchors()

    def _anchors_changed(self) -> None:
        self._sync_grid_marks()
        if len(self.anchors) >= 2 and self.state.source in ("path", "plane"):
            self.schedule_render()

    def _on_t_changed(self) -> None:
        if len(self.anchors) >= 2:
            self._show_source("path")

    def _on_plane_moved(self) -> None:
        if len(self.anchors) >= 4:
            self.path_controls.plane_check.setChecked(True)
            self._show_source("plane")

    def _on_path_changed(self) -> None:
        if self.path_controls.uses_plane():
            self.state.source = "plane"
        elif len(self.anchors) >= 2 and self.state.source in ("path", "plane"):
            self.state.source = "path"
        self.schedule_render()

    def base_latent(self) -> torch.Tensor | None:
        """The latent before direction edits: a cell, a point on the path or plane, or an encoding."""
        state = self.state
        if state.model is None:
            return None
        z = self.path_controls.latent(state.source)
        if z is not None:
            return z
        if state.source == "encoded" and state.encoded is not None:
            return state.encoded.z
        if state.grid_latents is None or state.current_cell is None:
            return None
        return state.grid_latents[min(state.current_cell, len(state.grid_latents) - 1)]

    def current_latent(self) -> torch.Tensor | None:
        """The latent on screen: the base latent moved along every direction slider."""
        z = self.base_latent()
        return None if z is None else self.direction_controls.apply(z)

    def path_latents(self, steps: int) -> torch.Tensor:
        """``steps`` latents along the anchors (or the plane's diagonal), with direction edits."""
        import torch

        zs = self.path_controls.strip_latents(steps)
        if self.direction_controls.directions:
            zs = torch.stack([self.direction_controls.apply(z) for z in zs])
        return zs

    # ------------------------------------------------------------ strip

    def render_strip(self) -> None:
        """Render the N-step strip along the anchor path (with edits and strokes) below the image."""
        from backends.latent.render import render

        model = self.state.model
        if model is None:
            return
        if len(self.anchors) < 2:
            self.context.show_error("a strip needs two or more anchors: shift-click grid cells to add them")
            return
        zs = self.path_latents(self.steps_spin.value())
        self._grid_runner.submit(
            render, model, zs, self.strokes.strokes, self.state.levels(),
            on_done=lambda r: self._on_strip_rendered(model, r),
        )

    def _on_strip_rendered(self, model: LatentModel, result: RenderResult) -> None:
        if model is not self.state.model:
            return
        self.state.strip_images = result.images
        self.strip.columns = len(result.images)
        self.strip.set_images(result.images)
        self.strip.show()
        self.sig_strip_shown.emit(len(result.images))

    def _on_strip_clicked(self, index: int) -> None:
        strip = self.state.strip_images
        if strip is None or len(self.anchors) < 2:
            return
        self.path_controls.go_to_frame(index, len(strip))
        self.state.source = "path"
        self.schedule_render()
