"""The pieces of the latent studio panel: image views, the seed grid, the control tabs, its parts.

:class:`panels.latent.panel.LatentPanel` assembles the widgets, holds the
typed :class:`~panels.latent.state.LatentState` and owns the task slots; what
it does is split by purpose into parts mixed into it (``model_loading``,
``grid_and_paths``, ``direction_analysis``, ``image_encoding``,
``image_rendering``, ``file_export``). The widget pieces hold widgets and the
state that belongs to them alone.
"""
