"""Opening models in the latent studio: the main model (with its concepts) and a compare model.

A part of :class:`~panels.latent.panel.LatentPanel` (mixed into it): it opens
checkpoints on the analysis worker and, when they arrive, puts them in the
panel's state and sets the widgets up for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from panels.latent.state import LatentState

if TYPE_CHECKING:
    from backends.latent.analysis import OpenedModel
    from backends.latent.model import LatentModel


class ModelLoading:
    """Open a model, follow File → Open checkpoint, open and drop a compare model."""

    state: LatentState

    def _on_compare_chosen(self, path: str | None) -> None:
        if path:
            self.open_compare(path)
        else:
            self.set_compare_model(None)

    def _on_checkpoint_broadcast(self, path: Path) -> None:
        """File → Open checkpoint: take it when it is a GAN or VAE; other kinds are for other panels."""
        from backends.latent.catalog import LATENT_KINDS, checkpoint_kind

        if checkpoint_kind(path) in LATENT_KINDS:
            self.open_model(str(path))

    def open_model(self, path: str | Path) -> None:
        """Open a checkpoint, run folder or demo name on a worker; errors go to the message bar."""

        def load() -> OpenedModel:
            # Imported here, on the worker: the first import of torch takes seconds.
            from backends.latent import analysis

            return analysis.open_with_concepts(path)

        self.context.show_status(f"Opening {path}…")
        self._analysis_runner.submit(load, on_done=lambda opened: self._on_model_loaded(str(path), opened))

    def _on_model_loaded(self, path: str, opened: OpenedModel) -> None:
        model = opened.model
        state = self.state
        state.model, state.classifier, state.stats = model, opened.classifier, opened.stats
        step = f", step {model.step}" if model.step is not None else ""
        self.model_bar.show_model(path, f"{model.kind.upper()} · z {model.latent_dim} · "
                                        f"{model.image_size}×{model.image_size}{step} · {model.source}",
                                  model.source)
        state.encoded = None
        state.source = "cell"
        state.current_cell = 0
        self.path_controls.clear_anchors()
        if state.compare_model is not None and state.compare_model.latent_dim != model.latent_dim:
            self.set_compare_model(None)
        self.seed_controls.show_kind(model.kind)
        self.set_tab_enabled("Encode", model.can_encode)
        self.direction_controls.folder_box.setEnabled(model.can_encode)
        self.brush_controls.set_model(model, opened.stats)
        classifier = opened.classifier
        names = classifier.class_names if classifier is not None else model.class_names()
        self.direction_controls.set_model(model.brush_layers, names)
        if opened.note:
            self.context.show_status(opened.note)
        self.edit_view.caption = model.name
        self._set_enabled(True)
        self._update_views_visibility()
        self.refresh_grid()
        self.sig_model_loaded.emit(model.name)
        self.context.show_status(f"Opened {model.name}")

    def open_compare(self, path: str | Path) -> None:
        """Open a second checkpoint that renders the same latents and edits side by side."""

        def load() -> OpenedModel:
            from backends.latent import analysis

            return analysis.open_for_compare(path)

        self._analysis_runner.submit(load, on_done=lambda opened: self._on_compare_loaded(str(path), opened))

    def _on_compare_loaded(self, path: str, opened: OpenedModel) -> None:
        model, main = opened.model, self.state.model
        if main is not None and model.latent_dim != main.latent_dim:
            self.context.show_error(
                f"cannot compare: {model.name} takes latents of size {model.latent_dim}, "
                f"{main.name} takes {main.latent_dim}; pick a checkpoint of the same model"
            )
            self.model_bar.clear_compare()
            return
        self.model_bar.show_compare(path)
        self.state.compare_levels = opened.stats.levels()
        self.set_compare_model(model)
        self.sig_analysis_done.emit("compare")

    def set_compare_model(self, model: LatentModel | None) -> None:
        self.state.compare_model = model
        self.compare_view.caption = model.name if model is not None else "Compare"
        self._update_views_visibility()
        self.schedule_render()
