"""Pieces of the training launcher panel."""
