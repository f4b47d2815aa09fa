"""Find a FaaSr function in a sources folder the way faasr-py does.

faasr-py downloads the FunctionGitRepo folder and imports every .py file in
it as a module of a namespace package, so digit-led file names and relative
imports between files work, and absolute imports of sibling files do not.
The first callable named FunctionName (in sorted path order) wins.
FunctionLocalFile names one file, imported on its own.
"""

import importlib
import importlib.util
import sys
import types
from pathlib import Path

from ...function_check import python_files  # the same files the pre-run check reads

PACKAGE = "faasr_functions"


class FunctionNotFound(Exception):
    pass


def _namespace_package(folder):
    pkg = sys.modules.get(PACKAGE)
    if pkg is None or list(getattr(pkg, "__path__", [])) != [str(folder)]:
        pkg = types.ModuleType(PACKAGE)
        pkg.__path__ = [str(folder)]
        pkg.__spec__ = importlib.machinery.ModuleSpec(PACKAGE, None, is_package=True)
        pkg.__spec__.submodule_search_locations = pkg.__path__
        sys.modules[PACKAGE] = pkg
    return pkg


def find_function(function_name, folder, local_file=None):
    """Return (callable, module file, [import warnings]) or raise FunctionNotFound."""
    folder = Path(folder).resolve()
    if not folder.is_dir():
        raise FunctionNotFound(f"the functions folder {folder} does not exist")
    warnings = []
    if local_file:
        path = (folder / local_file).resolve()
        if folder not in path.parents or not path.is_file():
            raise FunctionNotFound(f"FunctionLocalFile {local_file!r} is not a file inside {folder}")
        spec = importlib.util.spec_from_file_location(f"faasr_local_{function_name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        func = getattr(module, function_name, None)
        if callable(func):
            return func, path.name, warnings
        raise FunctionNotFound(f"{local_file} defines no function named {function_name}")

    _namespace_package(folder)
    for rel in python_files(folder):
        modname = ".".join((PACKAGE,) + rel.with_suffix("").parts)
        try:
            module = importlib.import_module(modname)
        except Exception as exc:  # a broken neighbour must not hide the right file
            warnings.append(f"importing {rel} failed: {type(exc).__name__}: {exc}")
            continue
        func = getattr(module, function_name, None)
        if callable(func):
            return func, rel.name, warnings
    hint = "; ".join(warnings) if warnings else "no .py file under it defines it"
    raise FunctionNotFound(f"no function named {function_name} in {folder} ({hint})")
