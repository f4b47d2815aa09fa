"""Testbeds and placement, without pyATS: where a workflow's data stores and actions go.

`testbed_file.py` reads and checks a testbed YAML file, `fields.py` checks its FaaSr
settings field by field, `model.py` holds what they describe (StoreSpec, ComputeSpec,
FaasrTestbed, Resolved), `place.py` turns a resolved testbed into data stores and a
backend. Nothing here imports pyATS or faasr_easypy.easypy (tests/test_import_rule.py).
"""

from .model import ComputeSpec, FaasrTestbed, Resolved, StoreSpec
from .testbed_file import load_file

__all__ = ["ComputeSpec", "FaasrTestbed", "Resolved", "StoreSpec", "load_file"]
