"""Render the playground and the latent studio on Hugging Face / diffusers folders, offscreen.

Writes into ``docs/screenshots/``:

- ``playground-hf-columns.png``: a chat model and a base model continuing one
  long prompt side by side (the truncation note shows how much did not fit);
- ``playground-hf-chat.png``: chat mode, one conversation answered by two
  chat models, each through its own chat template;
- ``latent-sd-vae.png``: the latent studio on an ``AutoencoderKL`` folder,
  two photos encoded (original beside reconstruction) and the strip between them.

By default the models are tiny ones made here (as the tests make them, trained
for a minute on a few sentences and on crops of scikit-learn's two sample
photos), so the pictures need no download; give folders of your own instead::

    python tools/own_models_screenshots.py
    python tools/own_models_screenshots.py --chat-model ~/models/qwen2.5-0.5b-instruct \\
        --base-model ~/models/qwen2.5-0.5b --vae ~/models/sd-vae-ft-mse
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def train_tiny_vae(folder: Path, photos: list[Path], steps: int) -> Path:
    """The tests' tiny AutoencoderKL, fitted for ``steps`` steps to 64 x 64 crops of ``photos``."""
    import torch
    from diffusers import AutoencoderKL
    from PIL import Image

    from tests.backends.sd_folders import make_vae_folder

    make_vae_folder(folder)
    vae = AutoencoderKL.from_pretrained(folder, low_cpu_mem_usage=False)
    pictures = []
    for path in photos:
        with Image.open(path) as image:
            array = torch.tensor(
                __import__("numpy").asarray(image.convert("RGB")), dtype=torch.float32
            )
        pictures.append(array.permute(2, 0, 1) / 127.5 - 1.0)
    g = torch.Generator().manual_seed(0)
    optimizer = torch.optim.Adam(vae.parameters(), lr=3e-3)
    for _ in range(steps):
        batch = []
        for _ in range(4):
            picture = pictures[int(torch.randint(len(pictures), (1,), generator=g))]
            _, h, w = picture.shape
            side = int(torch.randint(64, min(h, w) + 1, (1,), generator=g))
            top = int(torch.randint(h - side + 1, (1,), generator=g))
            left = int(torch.randint(w - side + 1, (1,), generator=g))
            crop = picture[None, :, top : top + side, left : left + side]
            batch.append(torch.nn.functional.interpolate(crop, size=(64, 64), mode="area")[0])
        x = torch.stack(batch)
        posterior = vae.encode(x).latent_dist
        loss = (vae.decode(posterior.sample(generator=g)).sample - x).pow(2).mean()
        loss = loss + 1e-6 * posterior.kl().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    vae.save_pretrained(folder)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--chat-model", type=Path, default=None)
    parser.add_argument("--base-model", type=Path, default=None)
    parser.add_argument("--second-chat-model", type=Path, default=None)
    parser.add_argument("--vae", type=Path, default=None)
    parser.add_argument("--vae-steps", type=int, default=80, help="training steps of the tiny VAE")
    parser.add_argument("--only", choices=("playground", "latent"), default=None)
    args = parser.parse_args(argv)

    from PySide6.QtWidgets import QApplication

    import workbench  # noqa: F401  (pyqtgraph binding)
    from panels.latent.panel import LatentPanel
    from panels.playground.panel import PlaygroundPanel
    from tests.backends.hf_folders import make_folder
    from workbench.context import AppContext
    from workbench.settings import AppSettings
    from workbench.theme import apply_theme

    app = QApplication.instance() or QApplication([])
    apply_theme(app, "light")
    tmp = Path(tempfile.mkdtemp(prefix="workbench-own-"))
    context = AppContext(tmp / "runs", AppSettings(tmp / "settings.ini"))
    args.out.mkdir(parents=True, exist_ok=True)

    def settle(predicate=lambda: True, timeout: float = 600.0) -> None:
        end = time.perf_counter() + timeout
        while not predicate():
            app.processEvents()
            if time.perf_counter() > end:
                raise SystemExit("timed out waiting for the panel")
            time.sleep(0.01)
        for _ in range(30):
            app.processEvents()
            time.sleep(0.01)

    def save(widget, name: str) -> None:
        widget.grab().save(str(args.out / name))
        print(args.out / name)

    if args.only != "latent":
        playground_shots(args, context, tmp, settle, save, make_folder, PlaygroundPanel)
    if args.only != "playground":
        latent_shots(args, context, tmp, settle, save, LatentPanel)
    return 0


def playground_shots(args, context, tmp, settle, save, make_folder, PlaygroundPanel) -> None:  # noqa: N803
    chat = args.chat_model or make_folder(tmp / "llama-chat", "llama", steps=300)
    base = args.base_model or make_folder(tmp / "qwen2-base", "qwen2", chat=False, steps=300)
    chat2 = args.second_chat_model or args.chat_model or make_folder(tmp / "qwen2-chat", "qwen2", steps=300, seed=2)
    panel = PlaygroundPanel(context)
    panel.resize(1400, 820)
    panel.show()
    keys = [panel.add_model(chat), panel.add_model(base), panel.add_model(chat2)]
    panel.columns[0].set_model(keys[0])
    panel.columns[1].set_model(keys[1])
    panel.columns[0].set_sampling(greedy=True)
    panel.columns[1].set_sampling(temperature=0.7, top_k=20, top_p=0.9, penalty=1.1)
    panel.new_seed.setChecked(False)
    panel.seed.setValue(7)
    panel.max_tokens.setValue(60)
    panel.generate_tab.set_stop_strings(["Amen", "\n\n"])
    # Longer than the tiny models' context of 64 tokens: the columns say what was dropped.
    panel.prompt.setPlainText(
        "In the beginning God created the heaven and the earth. And the earth was without "
        "form, and void; and darkness was upon the face of the deep. The quick brown fox "
        "jumps over the lazy dog. User: what is two plus two? Assistant: four. Amen. "
        "And the earth was without form, and void. In the beginning"
    )
    panel.run_all()
    settle(lambda: not panel.is_busy() and not panel._runner.is_busy())
    if context.errors:
        raise SystemExit(context.errors[-1])
    save(panel, "playground-hf-columns.png")
    print(panel.columns[0].note.text())

    panel.columns[1].set_model(keys[2])
    panel.generate_tab.chat_mode.setChecked(True)
    panel.generate_tab.set_stop_strings(["<|end|>"])
    panel.chat.system.setText("You answer briefly.")
    panel.chat.add_message("user", "What is two plus two?")
    panel.chat.add_message("assistant", "four. Amen.")
    panel.chat.message.setPlainText("And the earth?")
    panel.run_all()
    settle(lambda: not panel.is_busy() and not panel._runner.is_busy())
    save(panel, "playground-hf-chat.png")
    panel.shutdown()
    panel.close()


def latent_shots(args, context, tmp, settle, save, LatentPanel) -> None:  # noqa: N803
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_sample_images

    photos = []
    for n, image in enumerate(load_sample_images().images):
        path = tmp / f"{('china', 'flower')[n]}.png"
        Image.fromarray(np.asarray(image)).save(path)
        photos.append(path)
    vae = args.vae or train_tiny_vae(tmp / "tiny-sd-vae", photos, args.vae_steps)
    LatentPanel.autoload_demo = False  # this picture is of the VAE, not the shipped demo
    studio = LatentPanel(context)
    studio.resize(1320, 800)
    studio.show()
    studio.open_model(str(vae))
    settle(
        lambda: (
            studio.model is not None
            and studio.grid.images is not None
            and studio.shown_image is not None
            or bool(context.errors)
        )
    )
    if context.errors:
        raise SystemExit(context.errors[-1])
    for path in photos:
        studio.encode_image_file(path)
        settle(lambda: not studio.render_pending())
        if context.errors:
            raise SystemExit(context.errors[-1])
        studio._anchor_encoded()
    studio.show_tab("Path")
    studio.steps_spin.setValue(8)
    studio.render_strip()
    settle(lambda: studio.strip_images is not None or bool(context.errors))
    if context.errors:
        raise SystemExit(context.errors[-1])
    settle(lambda: not studio.render_pending())
    save(studio, "latent-sd-vae.png")
    studio.shutdown()


if __name__ == "__main__":
    sys.exit(main())
