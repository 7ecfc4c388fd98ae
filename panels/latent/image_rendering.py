"""The edited image: render requests (latest wins), brush strokes, and what the views show.

A part of :class:`~panels.latent.panel.LatentPanel` (mixed into it): every
change asks for a render; bursts within the debounce become one request with
a new id, rendered on the render worker. A result is a
:class:`~backends.latent.render.RenderResult`, or a
:class:`~backends.latent.render.CompareRender` when a compare model is open;
one older than the image on screen is dropped.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from panels.latent.state import LatentState

if TYPE_CHECKING:
    from backends.latent.render import CompareRender, RenderResult


class ImageRendering:
    """Render the latent on screen with its strokes; paint, undo and redo strokes."""

    state: LatentState

    # ------------------------------------------------------------ brushes

    def _on_painting(self, mask: np.ndarray) -> None:
        self.state.live_mask = mask
        self.schedule_render()

    def add_stroke(self, mask: np.ndarray) -> None:
        """Push a painted mask (H, W) as a stroke with the current brush settings and re-render."""
        from backends.latent.strokes import BrushError

        self.state.live_mask = None
        if self.state.model is None:
            return
        try:
            stroke = self.brush_controls.make_stroke(np.asarray(mask, bool))
        except BrushError as exc:
            self.context.show_error(str(exc))
            self.schedule_render()
            return
        self.brush_controls.push(stroke)

    def undo(self) -> None:
        self.brush_controls.undo()

    def redo(self) -> None:
        self.brush_controls.redo()

    def delete_stroke(self, index: int) -> None:
        self.brush_controls.delete(index)

    def reset_strokes(self) -> None:
        self.brush_controls.reset()

    def pooled_overlay(self) -> np.ndarray | None:
        """The current brush layer's composite mask, as pooled to its grid, at image size."""
        return self.brush_controls.pooled_overlay()

    def brush_units(self) -> tuple[int, ...]:
        """The units the next stroke edits: the concept's top units, or those typed by hand."""
        return self.brush_controls.brush_units()

    # ------------------------------------------------------------ render requests

    def schedule_render(self) -> None:
        """Ask for the image to be redrawn; bursts within the debounce become one request."""
        if self.state.model is None:
            return
        self._renders.ask()

    def render_pending(self) -> bool:
        """Whether a render is waiting (debounced) or on its way to the screen."""
        return self._renders.pending()

    def render_now(self) -> None:
        """Submit the render immediately (tests and benchmarks)."""
        self._renders.stop()
        self._submit_render()

    def _submit_render(self) -> None:
        from backends.latent.render import render, render_compare

        model, other = self.state.model, self.state.compare_model
        if model is None:
            return
        z = self.current_latent()
        if z is None:
            return
        strokes = list(self.strokes.strokes)
        live = self.state.live_mask
        if live is not None and live.any():
            try:
                strokes.append(self.brush_controls.make_stroke(live))
            except ValueError:
                pass  # bad unit text: reported when the stroke is finished
        request_id = self._renders.new_id()
        if other is None:
            self._render_runner.submit(render, model, z, strokes, self.state.levels(), request_id,
                                       on_done=self._on_rendered, on_error=self._on_render_error)
        else:
            self._render_runner.submit(render_compare, model, other, z, strokes, self.state.levels(),
                                       self.state.compare_levels, request_id,
                                       on_done=self._on_rendered, on_error=self._on_render_error)

    def _on_rendered(self, result: RenderResult | CompareRender) -> None:
        from backends.latent.render import CompareRender

        if not self._renders.accept(result.request_id):
            return
        if isinstance(result, CompareRender):
            self._show_render(result.main)
            self._show_compare(result.compare, result.skipped)
        else:
            self._show_render(result)
            self.state.last_compare = None
        self._update_views_visibility()
        self.brush_controls.show_masks(self.state.last_result.masks)
        self._renders.shown(result.request_id)
        self._describe_view()
        self.sig_image_shown.emit(result.request_id)

    def _show_render(self, result: RenderResult) -> None:
        self.state.last_result = result
        self.state.shown_image = result.images[0]
        self.edit_view.set_image(self.state.shown_image)

    def _show_compare(self, compare: RenderResult, skipped: list[str]) -> None:
        self.state.last_compare = compare
        self.compare_view.set_image(compare.images[0])
        name = self.state.compare_model.name if self.state.compare_model is not None else "Compare"
        self.compare_view.caption = name + (f" ({len(skipped)} strokes not applicable)" if skipped else "")

    def _on_render_error(self, error: BaseException, _details: str) -> None:
        """The failed request will never be shown: stop waiting for it, and say why."""
        from workbench.tasks import error_message

        self._renders.failed()
        self.context.show_error(error_message(error))

    # ------------------------------------------------------------ views

    def _describe_view(self) -> None:
        state = self.state
        if state.last_result is None or state.model is None:
            return
        z = state.last_result.latents[0]
        seed = state.cell_seed()
        where = {
            "cell": f"seed {seed}" if seed is not None else "",
            "path": self.path_controls.describe("path"),
            "plane": self.path_controls.describe("plane"),
            "encoded": f"encoded {state.encoded.label}" if state.encoded else "",
        }[state.source]
        self.view_info.setText(
            f"{where} · |z| = {float(z.norm()):.2f} (typical {math.sqrt(state.model.latent_dim):.2f}) · "
            f"{self.direction_controls.moved()} direction(s), {len(self.strokes)} stroke(s) · "
            f"{state.last_result.seconds * 1000:.1f} ms"
        )

    def _update_views_visibility(self) -> None:
        state = self.state
        self.original_view.setVisible(state.encoded is not None and state.source == "encoded")
        self.compare_view.setVisible(state.compare_model is not None)
        if state.source == "encoded":
            self.edit_view.caption = "Reconstruction" + (" (edited)" if self._edited() else "")
        elif state.model is not None:
            self.edit_view.caption = state.model.name

    def _edited(self) -> bool:
        return len(self.strokes) > 0 or self.direction_controls.moved() > 0

    def _on_tab_changed(self, index: int) -> None:
        if self.tabs.widget(index) is self._tab_pages["Brush"] and self.state.model is not None:
            self.brush_check.setChecked(True)
        self.brush_controls.update_overlay()
