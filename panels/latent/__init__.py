"""The pieces of the latent studio panel: image views, the seed grid and the control tabs.

:class:`panels.latent.panel.LatentPanel` assembles them and owns the task
slots; the pieces hold widgets and the state that belongs to them alone.
"""
