"""docs/TESTER.md lists every public method and property of WorkflowTester."""

import pathlib
import re

from faasr_easypy.tester import WorkflowTester


def test_every_public_member_is_documented():
    text = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "TESTER.md").read_text()
    documented = set(re.findall(r"^### `(\w+)", text, re.M))
    public = {n for n in vars(WorkflowTester) if not n.startswith("_")} | {"WorkflowTester"}
    assert public - documented == set(), f"undocumented in docs/TESTER.md: {sorted(public - documented)}"
    assert documented - public == set(), f"documented but gone: {sorted(documented - public)}"
