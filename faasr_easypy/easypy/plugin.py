"""Easypy plugin (work in progress)."""
plugin = {"plugins": {}}
