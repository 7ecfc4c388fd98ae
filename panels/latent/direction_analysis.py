"""Finding latent directions for the studio's sliders: principal, class and folder directions.

A part of :class:`~panels.latent.panel.LatentPanel` (mixed into it): each
search runs on the analysis worker with its button disabled; the result is a
typed value (a list of directions, or a :class:`FoundClassDirection`) that
becomes sliders in the direction controls. A failed search re-enables the
buttons and reports to the message bar.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog

from panels.latent.state import LatentState

if TYPE_CHECKING:
    from backends.latent.analysis import FoundClassDirection
    from backends.latent.directions import Direction


class DirectionAnalysis:
    """Principal directions of a layer, class directions, directions from folders of images."""

    state: LatentState

    def compute_principal_directions(self) -> None:
        from backends.latent import analysis

        choice = self.direction_controls.pca_choice()
        if self.state.model is None or choice is None:
            return
        layer, count = choice
        self.direction_controls.pca_button.setEnabled(False)
        self._analysis_runner.submit(
            analysis.principal_directions_for, self.state.model, layer, 1000, count,
            on_done=self._on_pca_done, on_error=self._on_analysis_error,
        )

    def _on_pca_done(self, found: list[Direction]) -> None:
        self.direction_controls.pca_button.setEnabled(True)
        self.direction_controls.set_principal(found)
        self.sig_analysis_done.emit("pca")

    def compute_class_direction(self) -> None:
        from backends.latent import analysis

        choice = self.direction_controls.class_choice()
        if self.state.model is None or choice is None:
            return
        source, target, method = choice
        if source == target:
            self.context.show_error("pick two different classes for a class direction")
            return
        self.direction_controls.class_button.setEnabled(False)
        self._analysis_runner.submit(
            analysis.class_direction_with_data, self.state.model, source, target, method,
            self.state.classifier, self.state.dataset,
            on_done=self._on_class_done, on_error=self._on_analysis_error,
        )

    def _on_class_done(self, found: FoundClassDirection) -> None:
        self.direction_controls.class_button.setEnabled(True)
        if found.data is not None:
            self.state.dataset = found.data
        self.direction_controls.add(found.direction)
        self.sig_analysis_done.emit("class")

    def _ask_folder_direction(self) -> None:
        first = QFileDialog.getExistingDirectory(self, "Images the direction starts from")
        second = first and QFileDialog.getExistingDirectory(self, "Images the direction goes to")
        if first and second:
            self.add_folder_direction(first, second)

    def _ask_folder_principal(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Images whose encodings to analyse")
        if folder:
            self.add_folder_principal_directions(folder)

    def add_folder_direction(self, source: str | Path, target: str | Path) -> None:
        """A direction from the mean encoding of ``source`` images to that of ``target`` images."""
        from backends.latent import photos

        if not self._can_encode():
            return
        self.direction_controls.folders_button.setEnabled(False)
        self._analysis_runner.submit(
            photos.folder_direction, self.state.model, source, target,
            on_done=self._on_folder_direction, on_error=self._on_analysis_error,
        )

    def _on_folder_direction(self, found: Direction) -> None:
        self.direction_controls.folders_button.setEnabled(True)
        self.direction_controls.add(found)
        self.sig_analysis_done.emit("folders")

    def add_folder_principal_directions(self, folder: str | Path) -> None:
        """Principal directions of a folder of encoded images (replacing the PCA sliders)."""
        from backends.latent import photos

        if not self._can_encode():
            return
        model, count = self.state.model, self.direction_controls.pca_count.value()

        def work(progress=None) -> list[Direction]:
            return photos.principal_directions(
                photos.encode_folder(model, folder, progress=progress), count
            )

        self.direction_controls.folder_pca_button.setEnabled(False)
        self._analysis_runner.submit(work, on_done=self._on_folder_pca, on_error=self._on_analysis_error)

    def _on_folder_pca(self, found: list[Direction]) -> None:
        self.direction_controls.folder_pca_button.setEnabled(True)
        self.direction_controls.set_principal(found)
        self.sig_analysis_done.emit("folder-pca")

    def _on_analysis_error(self, error: BaseException, _details: str) -> None:
        """A search failed: its button works again, and the message bar says why."""
        from workbench.tasks import error_message

        self.direction_controls.enable_buttons()
        self.context.show_error(error_message(error))

    def reset_directions(self) -> None:
        self.direction_controls.reset()

    def clear_directions(self) -> None:
        self.direction_controls.clear()
