"""Models the workbench trains, one readable file each."""
