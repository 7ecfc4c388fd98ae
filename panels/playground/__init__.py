"""The pieces of the text playground: columns, token views, the worker side and the tabs.

:class:`panels.playground.panel.PlaygroundPanel` assembles them and owns the
task slots; the pieces hold widgets and the state that belongs to them alone.
"""
