"""Before a run: is every action's function there, and would it import?

A workflow can be valid JSON and still fail in its first second: the functions
folder is missing, a file has a syntax error, the FunctionName is defined
nowhere, or a file imports a package the actions' interpreter does not have (and
that FaaSr would only install if ``PyPIPackageDownloads`` named it). All of that
is found here statically, for every action, without importing user code:

* every ``.py`` file of the folder compiles (file:line of a syntax error);
* a Python action's FunctionName is defined at the top level of some file
  (``def``, ``class``, an assignment or an import of that name), or of its
  ``FunctionLocalFile``; an R action's (``Type: R``) is assigned a function
  (``name <- function`` or ``name = function``) in some ``.R`` file;
* top-level imports resolve: relative ones to files of the folder, absolute
  ones with ``importlib.util.find_spec`` in the actions' interpreter. FaaSr
  imports the folder as a namespace package, so a sibling file is found only
  by a relative import (``from .utils import x``).

``faasr-easypy validate --functions`` runs it explicitly; ``run``, the pyATS
jobs and the pytest fixture run it before they trigger anything. Problems are
raised as one ValidationError (exit code 2).
"""

import ast
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

from .errors import Problem, ValidationError, did_you_mean

# Provided by the runtime on every FaaSr platform (and by the local backend's shim).
RUNTIME_MODULES = {"FaaSr_py"}
# Import names whose PyPI package has another name.
PYPI_NAMES = {
    "yaml": "PyYAML", "sklearn": "scikit-learn", "cv2": "opencv-python", "PIL": "Pillow",
    "bs4": "beautifulsoup4", "dateutil": "python-dateutil", "skimage": "scikit-image",
    "Crypto": "pycryptodome", "attr": "attrs", "google.cloud": "google-cloud",
    "dotenv": "python-dotenv", "jwt": "PyJWT", "magic": "python-magic", "serial": "pyserial",
    "docx": "python-docx", "pptx": "python-pptx", "psycopg2": "psycopg2-binary",
}
R_DEFINITION = r"^[ \t]*`?{name}`?[ \t]*(<<-|<-|=)[ \t]*function\b"


SKIP_DIRS = {"__pycache__", ".git", ".venv", "venv", "node_modules", ".tox"}


def python_files(folder):
    """The .py files of a functions folder that FaaSr imports (relative paths, sorted; the
    local backend's loader imports the same ones)."""
    folder = Path(folder)
    out = []
    for path in sorted(folder.rglob("*.py")):
        rel = path.relative_to(folder)
        if any(part in SKIP_DIRS or part.startswith(".") for part in rel.parts[:-1]):
            continue
        out.append(rel)
    return out


class ParsedFile:
    """One .py file: its top-level names and imports, or the syntax error that stops it."""

    def __init__(self, folder, rel):
        self.rel = rel
        self.path = Path(folder) / rel
        self.error: Optional[Problem] = None
        self.names = set()
        self.imports = []  # (line, module, level, imported names)
        try:
            source = self.path.read_bytes()
            tree = ast.parse(source, filename=str(self.path))
            compile(tree, str(self.path), "exec", dont_inherit=True)  # what ast alone lets pass
        except SyntaxError as exc:
            line = exc.lineno or 0
            self.error = Problem(f"{self.path}:{line}", "", f"has a syntax error: {exc.msg}",
                                 f"correct line {line} (FaaSr imports every .py file of the folder, "
                                 "so the run would fail there)")
            return
        except (ValueError, UnicodeDecodeError, OSError, RecursionError, MemoryError) as exc:
            self.error = Problem(str(self.path), "", f"cannot be compiled ({exc})",
                                 "save it as UTF-8 Python source without NUL bytes")
            return
        _collect_names(tree.body, self.names)
        self.imports = list(_required_imports(tree.body))


def _required_imports(body):
    """(line, module, level, names) of the imports that run on import of the module: the
    body and its if/with blocks. Imports inside try are optional by intent: not required."""
    for node in body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, 0, ()
        elif isinstance(node, ast.ImportFrom):
            yield node.lineno, node.module or "", node.level, tuple(a.name for a in node.names)
        elif isinstance(node, (ast.If, ast.With)):
            yield from _required_imports(node.body)
            yield from _required_imports(getattr(node, "orelse", []))


class FolderIndex:
    """What the functions folder holds, parsed once for all actions."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.files: Dict[str, ParsedFile] = {}
        for rel in python_files(self.folder):
            self.files[rel.as_posix()] = ParsedFile(self.folder, rel)
        self._r_files = None

    def defining(self, name, only=None):
        return [f for key, f in sorted(self.files.items())
                if (only is None or key == only) and name in f.names]

    def top_level_names(self):
        return sorted({n for f in self.files.values() for n in f.names})

    def r_files(self):
        if self._r_files is None:
            self._r_files = {}
            for path in sorted(self.folder.rglob("*")):
                if path.suffix in (".R", ".r") and path.is_file():
                    try:
                        self._r_files[path] = path.read_text(encoding="utf-8", errors="replace")
                    except OSError:
                        continue
        return self._r_files


def _collect_names(body, out):
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                out.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, ast.Import):
            out.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            out.update(a.asname or a.name for a in node.names)
        elif isinstance(node, (ast.If, ast.With)):
            _collect_names(node.body, out)
            _collect_names(getattr(node, "orelse", []), out)
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            for block in (node.body, node.orelse, node.finalbody, *[h.body for h in node.handlers]):
                _collect_names(block, out)


def check_functions(workflow, folder, interpreter=None, fix_folder=None) -> List[Problem]:
    """Every problem that would stop `workflow`'s functions in `folder` from being found or
    imported. `interpreter` runs the actions (default: this one); False skips the import
    check (an interpreter that does not exist yet)."""
    folder = Path(folder)
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        return [Problem(str(folder), "", f"the functions folder of workflow {workflow.name} "
                        f"({workflow.source}) {what}",
                        fix_folder or "put the workflow's function files there, or name the right "
                        "folder (--functions DIR)")]
    index = FolderIndex(folder)
    problems = [f.error for f in index.files.values() if f.error is not None]
    local_files = workflow.data.get("FunctionLocalFile") or {}
    checked = set()
    for name, action in workflow.actions.items():
        key = (action.function_name, action.type)
        if key in checked:
            continue
        checked.add(key)
        path = f"$.ActionList.{name}.FunctionName"
        if action.type == "R":
            problems.extend(_check_r(workflow, index, action, path))
        elif action.type == "Python":
            problems.extend(_check_python(workflow, index, action, path, local_files.get(action.function_name)))
    if interpreter is not False:
        problems.extend(_check_imports(workflow, index, interpreter or sys.executable))
    return problems


def require_functions(workflow, folder, interpreter=None, fix_folder=None):
    """Raise ValidationError (exit code 2) naming every problem check_functions finds."""
    problems = check_functions(workflow, folder, interpreter, fix_folder=fix_folder)
    if problems:
        raise ValidationError(f"Functions folder {folder} of {workflow.source}", problems)


def check_before_run(workflow, folder, resolved=None, testbed=None, fix_folder=None):
    """What run, the jobs and the pytest fixture call before triggering: the check, when the
    entry action runs on this machine (a Local compute server of the testbed, or no testbed:
    the embedded default). Remote platforms take their code from FunctionGitRepo instead."""
    if resolved is None and testbed is not None:
        resolved = testbed.resolve(workflow)
    runtime = "local"
    if resolved is not None:
        compute = resolved.computes.get(workflow.actions[workflow.entry].faas_server)
        if compute is None or compute.faas_type != "Local":
            return
        runtime = getattr(compute, "runtime", "local") or "local"
    require_functions(workflow, folder, interpreter=actions_interpreter(runtime), fix_folder=fix_folder)


def actions_interpreter(runtime="local"):
    """The Python that runs the actions of a machine backend; False when it does not exist yet
    (faasr-py's virtualenv is created on first use: its imports are checked from then on)."""
    if runtime == "faasr-py":
        from .backends.faasr_py.venv import FaaSrPyUnavailable, faasr_py_python

        try:
            return faasr_py_python(create=False)
        except FaaSrPyUnavailable:
            return False
    return sys.executable


# -- Python ---------------------------------------------------------------------------------

def _check_python(workflow, index, action, path, local_file):
    fname = action.function_name
    if local_file:
        rel = Path(local_file).as_posix()
        if rel not in index.files:
            return [Problem(workflow.source, f"$.FunctionLocalFile.{fname}",
                            f"names {local_file!r}, which is not a .py file of {index.folder}",
                            f"put {local_file} in {index.folder} or correct the file name")]
        if index.defining(fname, only=rel) or index.files[rel].error:
            return []
        return [Problem(workflow.source, path, f"{fname!r} is not defined at the top level of "
                        f"{index.folder / rel} (its FunctionLocalFile)",
                        _define_fix(fname, index.files[rel].names, f"def {fname}(...) in {rel}"))]
    if index.defining(fname):
        return []
    broken = [f.rel.as_posix() for f in index.files.values() if f.error]
    if not index.files:
        return [Problem(workflow.source, path, f"{fname!r} cannot be found: {index.folder} has no .py file",
                        f"put the file that defines def {fname}(...) in {index.folder}")]
    where = f"no .py file of {index.folder}" + (f" ({len(index.files)} files)" if len(index.files) > 3 else
                                               f" ({', '.join(sorted(index.files))})")
    if broken:
        where += f"; {', '.join(broken)} could not be read (syntax error above)"
    return [Problem(workflow.source, path, f"{fname!r} is defined in {where}",
                    _define_fix(fname, index.top_level_names(), f"def {fname}(...) in one of them"))]


def _define_fix(fname, names, what):
    near = did_you_mean(fname, names)
    if near:
        return f"did you mean {near!r}? If so, correct the FunctionName; otherwise define {what}"
    return f"define {what}, or correct the FunctionName"


def _check_imports(workflow, index, interpreter):
    """Problems for imports that will not resolve; absolute ones asked of `interpreter`."""
    problems = []
    wanted = {}   # top-level module -> [(file, line)]
    siblings = {p.name[:-3] if p.name.endswith(".py") else p.name
                for p in index.folder.iterdir() if (p.suffix == ".py" or p.is_dir())} \
        if index.folder.is_dir() else set()
    for _, parsed in sorted(index.files.items()):
        if parsed.error:
            continue
        for line, module, level, names in parsed.imports:
            where = f"{parsed.path}:{line}"
            if level:
                problem = _relative_problem(index.folder, parsed.rel, module, level, names, where)
                if problem:
                    problems.append(problem)
                continue
            top = module.split(".")[0]
            if top in RUNTIME_MODULES or top in sys.builtin_module_names or top in _stdlib():
                continue
            wanted.setdefault(top, []).append((parsed, where, module))
    missing = _unresolved(sorted(wanted), interpreter)
    packages = workflow.data.get("PyPIPackageDownloads") or {}
    for top in missing:
        for parsed, where, module in wanted[top]:
            if top in siblings:
                problems.append(Problem(where, "", f"imports {module!r} as a top-level module, but "
                                f"{top} is a file of the functions folder",
                                "FaaSr imports the folder as a package, where a sibling is found only "
                                f"by a relative import: write `from .{module} import ...`"))
                continue
            problem = _missing_package(workflow, parsed, where, module, top, interpreter, packages)
            if problem is not None:
                problems.append(problem)
    return problems


def _missing_package(workflow, parsed, where, module, top, interpreter, packages):
    package = PYPI_NAMES.get(module.rsplit(".", 1)[0] if module.startswith("google.cloud") else top, top)
    functions = [a.function_name for a in workflow.actions.values() if a.function_name in parsed.names] or \
        sorted({a.function_name for a in workflow.actions.values() if a.type == "Python"})
    function = functions[0] if functions else "<FunctionName>"
    listed = packages.get(function) if isinstance(packages, dict) else None
    listed = [listed] if isinstance(listed, str) else (listed or [])
    if package in listed or top in listed:
        # FaaSr installs it before the function runs, and so do our backends (the local one into
        # a cached folder only its actions see): a pip failure then stops the run with pip's words.
        return None
    fix = (f"add it to the workflow's PyPIPackageDownloads so FaaSr installs it: "
           f"\"PyPIPackageDownloads\": {{\"{function}\": [\"{package}\"]}} (the run then installs it "
           f"for the actions), or install it for them yourself: {interpreter} -m pip install {package}")
    return Problem(where, "", f"imports {module!r}, which the actions' Python ({interpreter}) does not have", fix)


def _relative_problem(folder, rel, module, level, names, where):
    """A relative import that finds no file of the folder (or climbs out of it)."""
    package_dir = (Path(folder) / rel).parent
    for _ in range(level - 1):
        if package_dir == Path(folder):
            return Problem(where, "", f"imports {'.' * level}{module} from above the functions folder",
                           "keep imports inside the folder: FaaSr downloads only the folder")
        package_dir = package_dir.parent
    base = package_dir.joinpath(*module.split(".")) if module else package_dir
    if module and not (base.with_suffix(".py").is_file() or base.is_dir()):
        return Problem(where, "", f"imports {'.' * level}{module}, but {base.relative_to(folder)}(.py) "
                       "is not in the functions folder", "add that file or correct the import")
    if not module:
        for name in names:
            if not ((base / f"{name}.py").is_file() or (base / name).is_dir()):
                return Problem(where, "", f"imports {name!r} from {'.' * level}, but "
                               f"{(base / name).relative_to(folder)}.py is not in the functions folder",
                               "add that file or correct the import")
    return None


def _stdlib():
    return getattr(sys, "stdlib_module_names", ())


def _unresolved(modules, interpreter):
    """The top-level modules `interpreter` cannot find (find_spec: nothing is imported)."""
    if not modules:
        return []
    if str(interpreter) == sys.executable:
        import importlib.util

        out = []
        for name in modules:
            try:
                if importlib.util.find_spec(name) is None:
                    out.append(name)
            except (ImportError, ValueError):
                out.append(name)
        return out
    probe = ("import importlib.util, json, sys\n"
             "out = []\n"
             "for n in json.loads(sys.argv[1]):\n"
             "    try:\n"
             "        if importlib.util.find_spec(n) is None: out.append(n)\n"
             "    except (ImportError, ValueError): out.append(n)\n"
             "print(json.dumps(out))\n")
    try:
        res = subprocess.run([str(interpreter), "-I", "-c", probe, json.dumps(modules)],
                             capture_output=True, text=True, timeout=60)
        return json.loads(res.stdout)
    except (OSError, ValueError, subprocess.SubprocessError):
        return []  # the interpreter itself is broken: the run says so, with its own reason


# -- R ----------------------------------------------------------------------------------------

def _check_r(workflow, index, action, path):
    fname = action.function_name
    pattern = re.compile(R_DEFINITION.format(name=re.escape(fname)), re.MULTILINE)
    files = index.r_files()
    if any(pattern.search(text) for text in files.values()):
        return []
    defined = set()
    for text in files.values():
        defined.update(re.findall(r"^[ \t]*`?([A-Za-z._][A-Za-z0-9._]*)`?[ \t]*(?:<<-|<-|=)[ \t]*function\b",
                                  text, re.MULTILINE))
    where = f"no .R file of {index.folder}" + (f" ({', '.join(p.name for p in files)})" if files else
                                              " (it has none)")
    return [Problem(workflow.source, path, f"R function {fname!r} is assigned in {where}",
                    _define_fix(fname, defined, f"{fname} <- function(...) in a .R file there"))]
