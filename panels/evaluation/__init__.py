"""The pieces of the evaluation panel: its inputs, the four result tabs, and their shared look."""
