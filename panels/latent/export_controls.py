"""The export tab: buttons that pick a file for the image, grid, strip (GIF, MP4) or latents."""

from __future__ import annotations

from PySide6.QtCore import Signal, SignalInstance
from PySide6.QtWidgets import QFileDialog, QFormLayout, QPushButton, QVBoxLayout, QWidget

from workbench.widgets.form import add_button, spin_box


class ExportControls(QWidget):
    """Each button asks for a path and passes it on; the panel writes (or reads) the file.

    Signals
    -------
    sig_save_image(str)     save the shown image as PNG here
    sig_save_grid(str)      save the seed grid as PNG here
    sig_save_gif(str)       save the interpolation strip as GIF here
    sig_save_mp4(str)       save the interpolation strip as MP4 here
    sig_save_latents(str)   save the anchors and the shown latent here
    sig_load_latents(str)   add the latents of this file as anchors
    """

    sig_save_image = Signal(str)
    sig_save_grid = Signal(str)
    sig_save_gif = Signal(str)
    sig_save_mp4 = Signal(str)
    sig_save_latents = Signal(str)
    sig_load_latents = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        # (button, dialog title, file pattern, signal, whether the dialog saves or opens)
        buttons = (
            ("Save image as PNG…", "Save image", "PNG (*.png)", self.sig_save_image, True),
            ("Save grid as PNG…", "Save grid", "PNG (*.png)", self.sig_save_grid, True),
            ("Save strip as GIF…", "Save GIF", "GIF (*.gif)", self.sig_save_gif, True),
            ("Save strip as MP4…", "Save MP4", "MP4 (*.mp4)", self.sig_save_mp4, True),
            ("Save latents (.npz)…", "Save latents", "Latents (*.npz)", self.sig_save_latents, True),
            ("Load latents as anchors…", "Load latents", "Latents (*.npz)", self.sig_load_latents, False),
        )
        self.export_buttons: dict[str, QPushButton] = {}
        for text, title, pattern, signal, save in buttons:
            self.export_buttons[text] = add_button(
                layout, text, lambda _c=False, t=title, p=pattern, s=signal, w=save: self._ask(t, p, s, w))
        from backends.latent.export import mp4_available

        if not mp4_available():
            mp4 = self.export_buttons["Save strip as MP4…"]
            mp4.setEnabled(False)
            mp4.setToolTip("MP4 needs imageio and imageio-ffmpeg: pip install imageio imageio-ffmpeg")
        self.gif_fps = spin_box(1, 60, 12)
        form = QFormLayout()
        form.addRow("Frames per second", self.gif_fps)
        layout.addLayout(form)
        layout.addStretch(1)

    def _ask(self, title: str, pattern: str, signal: SignalInstance, save: bool) -> None:
        ask = QFileDialog.getSaveFileName if save else QFileDialog.getOpenFileName
        path, _ = ask(self, title, "", pattern)
        if path:
            signal.emit(path)
