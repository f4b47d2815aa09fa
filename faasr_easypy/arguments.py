"""argparse types shared by the command lines (faasr-easypy, its `report`, the Easypy plugin's
--faasr-* arguments). A core module: the report package may use it, not faasr_easypy.cli."""

import argparse


def positive_count(text):
    """A whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value
