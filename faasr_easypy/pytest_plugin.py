"""pytest plugin: the faasr_workflow fixture (filled in below as the runner lands)."""
