"""What many test files need: paths resolved from the repository root, globs that must match."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def glob_files(folder, pattern):
    """sorted(folder.glob(pattern)), asserting it found something: a loop over an empty glob
    would pass without testing anything."""
    found = sorted(Path(folder).glob(pattern))
    assert found, f"no {pattern} in {folder}"
    return found
