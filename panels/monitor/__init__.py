"""The pieces of the live monitor panel (plots, runs list, compare table, banners)."""
