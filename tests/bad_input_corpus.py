"""The bad-input corpus of issues 14 and 20 (item 8): one row per mistake a user makes,
with what the error must name. tests/test_bad_input_corpus.py runs every row in-process
and a sample through the real `faasr-easypy` and `pyats run job`.

Kinds of row:
  workflow   the workflow file (`mutate` edits a copy of workflows/fan_out_fan_in.json,
             or `raw` is the file's bytes)
  functions  that workflow (optionally mutated) with a functions folder of `files`
  jobargs    regression_job.py's own arguments (`argv`)
  faasr      what pyATS leaves in sys.argv, checked for unknown --faasr-* (`argv`)
  faasr-arg  one --faasr-arg value (`argv[0]`)
  cli        a `faasr-easypy` command line (`argv`)

`expect` are substrings the one-paragraph error must contain: the field (JSON path or
file:line) and the fix.
"""

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

PROJECT = Path(__file__).resolve().parent.parent
BASE_FILE = PROJECT / "workflows" / "fan_out_fan_in.json"
BASE = json.loads(BASE_FILE.read_text())
BASE_FUNCTIONS = {"fan.py": (PROJECT / "workflows" / "functions" / "FanOutFanIn" / "fan.py").read_text()}


@dataclass
class Case:
    id: str
    kind: str
    expect: tuple
    mutate: Optional[Callable] = None
    raw: Optional[bytes] = None
    files: dict = field(default_factory=dict)
    argv: list = field(default_factory=list)

    def workflow_bytes(self):
        if self.raw is not None:
            return self.raw
        data = copy.deepcopy(BASE)
        if self.mutate:
            self.mutate(data)
        return json.dumps(data, indent=2).encode()


CASES = []


def case(id, kind, *expect, **kw):
    CASES.append(Case(id, kind, tuple(expect), **kw))


def rename(container_path, old, new):
    """A mutation renaming key `old` to `new` in the object at `container_path` (keys)."""
    def apply(data):
        node = data
        for key in container_path:
            node = node[key]
        node[new] = node.pop(old)
    return apply


def setting(container_path, key, value):
    def apply(data):
        node = data
        for k in container_path:
            node = node[k]
        node[key] = value
    return apply


def text_edit(old, new):
    """The base file as text, with one edit (for what json.dumps cannot write)."""
    text = json.dumps(BASE, indent=2)
    assert old in text, old
    return text.replace(old, new, 1).encode()


A = ("ActionList",)
GH = ("ComputeServers", "My_GitHub_Account")
S3 = ("DataStores", "My_S3_Bucket")

# -- misspelled keys, at every level ---------------------------------------------------------
for old, new in [("WorkflowName", "WorkflowNme"), ("FunctionInvoke", "FunctionInvok"),
                 ("DefaultDataStore", "DefaultDatastore"), ("ActionList", "Actionlist"),
                 ("ComputeServers", "ComputeServer"), ("DataStores", "DataStore"),
                 ("LoggingDataStore", "LogingDataStore"), ("FaaSrLog", "FaasrLog")]:
    case(f"top-key-{new}", "workflow", f"$.{old}: is missing, but $.{new} is there",
         f"rename '{new}' to \"{old}\"", mutate=rename((), old, new))
for old, new in [("FunctionGitRepo", "FunctionGitRep"), ("FunctionGitRepo", "FunctionGitrepo")]:
    case(f"top-key-{new}", "workflow", f"$.{new}: is not a key FaaSr knows", f"did you mean '{old}'?",
         mutate=rename((), old, new))
for new, meant in [("PyPIPackageDownload", "PyPIPackageDownloads"), ("ActionContainer", "ActionContainers"),
                   ("FunctionLocalFiles", "FunctionLocalFile"), ("InvocationIDFromDat", "InvocationIDFromDate")]:
    case(f"top-key-{new}", "workflow", f"$.{new}: is not a key FaaSr knows", f"did you mean '{meant}'?",
         mutate=setting((), new, {"split_work": ["x"]} if "Package" in new or "Container" in new
                        or "File" in new else "%Y%m%d"))
for action in ("split", "square", "gather"):
    for old, new in [("Arguments", "Argument"), ("InvokeNext", "InvokeNxt"), ("Arguments", "arguments")]:
        case(f"action-key-{action}-{new}", "workflow", f"$.ActionList.{action}.{new}",
             f"did you mean '{old}'?", mutate=rename(A + (action,), old, new))
for old, new in [("FunctionName", "FunctionNam"), ("FaaSServer", "FaasServer"), ("Type", "type"),
                 ("FunctionName", "functionName")]:
    case(f"action-key-{new}", "workflow", f"$.ActionList.split.{old}: is missing",
         mutate=rename(A + ("split",), old, new))
case("action-key-extra", "workflow", "$.ActionList.gather.MaxMemry", "did you mean 'MaxMemory'?",
     mutate=setting(A + ("gather",), "MaxMemry", 512))
for old, new in [("FaaSType", "FaasType"), ("UserName", "Username"), ("ActionRepoName", "ActionRepo"),
                 ("Branch", "branch")]:
    # Either wording names both keys: "FaasType is not a key ... did you mean 'FaaSType'?" or
    # "FaaSType is missing, but ...FaasType is there (did you mean "FaaSType"?)".
    case(f"server-key-{new}", "workflow", f"$.ComputeServers.My_GitHub_Account.{new}",
         "did you mean ", old, mutate=rename(GH, old, new))
case("server-key-secret-store", "workflow", "$.ComputeServers.My_GitHub_Account.UseSecretStor",
     "did you mean 'UseSecretStore'?", mutate=setting(GH, "UseSecretStor", True))
for old, new in [("Bucket", "bucket"), ("Endpoint", "EndPoint"), ("Region", "Regoin"), ("Writable", "Writeable")]:
    case(f"store-key-{new}", "workflow", f"$.DataStores.My_S3_Bucket.{new}", "did you mean ", old,
         mutate=rename(S3, old, new))
case("store-key-anonymous", "workflow", "$.DataStores.My_S3_Bucket.Anonymus", "did you mean 'Anonymous'?",
     mutate=setting(S3, "Anonymus", "FALSE"))
case("branch-key-true", "workflow", "$.ActionList.split.InvokeNext[1].true", "did you mean 'True'?",
     mutate=setting(A + ("split",), "InvokeNext", ["square(5)", {"true": ["gather"]}]))

# -- misspelled values: action, server and store names, types --------------------------------
case("invoke-next-typo", "workflow", "$.ActionList.square.InvokeNext", "names action 'gahter'",
     "did you mean 'gather'?", mutate=setting(A + ("square",), "InvokeNext", ["gahter"]))
case("invoke-next-ranked-typo", "workflow", "names action 'sqaure'", "did you mean 'square'?",
     mutate=setting(A + ("split",), "InvokeNext", ["sqaure(5)"]))
case("function-invoke-typo", "workflow", "$.FunctionInvoke", "did you mean 'split'?",
     mutate=setting((), "FunctionInvoke", "splt"))
case("faas-server-typo", "workflow", "$.ActionList.gather.FaaSServer", "did you mean 'My_GitHub_Account'?",
     mutate=setting(A + ("gather",), "FaaSServer", "My_Github_Account"))
case("default-store-typo", "workflow", "$.DefaultDataStore", "did you mean 'My_S3_Bucket'?",
     mutate=setting((), "DefaultDataStore", "My_S3_Buckett"))
case("logging-store-typo", "workflow", "$.LoggingDataStore", "did you mean 'My_S3_Bucket'?",
     mutate=setting((), "LoggingDataStore", "my_s3_bucket"))
case("type-typo", "workflow", "$.ActionList.split.Type", "did you mean 'Python'?",
     mutate=setting(A + ("split",), "Type", "Pyhton"))
case("faas-type-typo", "workflow", "$.ComputeServers.My_GitHub_Account.FaaSType", "did you mean 'GitHubActions'?",
     mutate=setting(GH, "FaaSType", "GithubActions"))
case("faas-type-local", "workflow", "$.ComputeServers.My_GitHub_Account.FaaSType", "FaaSType: Local",
     "testbed", mutate=setting(GH, "FaaSType", "Local"))
case("google-cloud-fields", "workflow", "$.ComputeServers.My_GitHub_Account.ClientEmail",
     "FaaSr's schema requires it", mutate=lambda d: d["ComputeServers"].__setitem__(
         "My_GitHub_Account", {"FaaSType": "GoogleCloud", "Namespace": "n", "TokenUri": "t", "Region": "r"}))
case("writable-bool", "workflow", "$.DataStores.My_S3_Bucket.Writable", "FaaSr's schema wants a string",
     mutate=setting(S3, "Writable", True))

# -- issue 20 item 8: limits, fullmatch, buckets, duplicate keys, numbers, depth -------------
for count in ("1001", "100000000", "9" * 20000):
    case(f"rank-count-{len(count)}", "workflow", "$.ActionList.split.InvokeNext[0]", "from 1 to 1000",
         mutate=setting(A + ("split",), "InvokeNext", [f"square({count})"]))
case("rank-count-unicode-digits", "workflow", "$.ActionList.split.InvokeNext[0]", "whole number",
     mutate=setting(A + ("split",), "InvokeNext", ["square(\u0665)"]))
case("action-name-newline", "workflow", "$.ActionList.gather\\n", "no '_', '.', '/', spaces or newline",
     mutate=lambda d: d["ActionList"].__setitem__("gather\n", d["ActionList"].pop("gather")))
case("invoke-next-newline", "workflow", "$.ActionList.square.InvokeNext[0]", "no spaces or newline",
     mutate=setting(A + ("square",), "InvokeNext", ["gather\n"]))
case("workflow-name-newline", "workflow", "$.WorkflowName", "is not a valid workflow name",
     mutate=setting((), "WorkflowName", "FanOutFanIn\n"))
case("function-name-newline", "workflow", "$.ActionList.gather.FunctionName", "is not a valid function name",
     mutate=setting(A + ("gather",), "FunctionName", "gather_results\n"))
for what, mutate, path in [
        ("action", lambda d: d["ActionList"].__setitem__("g" * 65, d["ActionList"].pop("gather")),
         "$.ActionList.ggggg"),
        ("workflow", setting((), "WorkflowName", "W" * 65), "$.WorkflowName"),
        ("function", setting(A + ("gather",), "FunctionName", "f" * 5000), "$.ActionList.gather.FunctionName"),
        ("server", lambda d: d["ComputeServers"].__setitem__("S" * 65, {"FaaSType": "Lambda", "Region": "r"}),
         "$.ComputeServers.SSSS"),
        ("store", lambda d: d["DataStores"].__setitem__("D" * 65, {"Bucket": "faasr", "Region": "r"}),
         "$.DataStores.DDDD")]:
    case(f"name-too-long-{what}", "workflow", path, "at most 64 characters", mutate=mutate)
for bucket in ("../x", "a/b", "UPPER", "ab", "b" * 64, "a..b", "-ab", "ab-", "buck et", "faasr\n"):
    case(f"bucket-{bucket.encode().hex()[:12]}", "workflow", "$.DataStores.My_S3_Bucket.Bucket",
         "is not an S3 bucket name", "3 to 63 lower-case", mutate=setting(S3, "Bucket", bucket))
for log_root in ("../../etc", "/abs", "a/../b", "FaaSrLog\n"):
    case(f"faasr-log-{log_root.encode().hex()[:10]}", "workflow", "$.FaaSrLog", "usable S3 folder name",
         mutate=setting((), "FaaSrLog", log_root))
case("duplicate-top-key", "workflow", "$.FaaSrLog: appears more than once", "keep exactly one",
     raw=text_edit('"FaaSrLog": "FaaSrLog",', '"FaaSrLog": "FaaSrLog", "FaaSrLog": "../../etc",'))
case("duplicate-action", "workflow", "$.ActionList.gather: appears more than once",
     raw=text_edit('"ActionList": {', '"ActionList": {"gather": {}, '))
case("duplicate-action-key", "workflow", "$.ActionList.split.FunctionName: appears more than once",
     raw=text_edit('"FunctionName": "split_work",', '"FunctionName": "split_work", "FunctionName": "x",'))
case("duplicate-argument", "workflow", "$.ActionList.split.Arguments.parts: appears more than once",
     raw=text_edit('"parts": 5', '"parts": 5, "parts": 6'))
case("duplicate-in-list", "workflow", "$.ActionList.split.Arguments.list[0].k: appears more than once",
     raw=text_edit('"parts": 5', '"parts": 5, "list": [{"k": 1, "k": 2}]'))
for constant in ("NaN", "Infinity", "-Infinity", "1e999"):
    case(f"constant-{constant}", "workflow", "$.ActionList.split.Arguments.parts", "write a plain number",
         raw=text_edit('"parts": 5', f'"parts": {constant}'))
case("huge-integer", "workflow", "$.ActionList.split.Arguments.parts", "20000 digits",
     raw=text_edit('"parts": 5', '"parts": ' + "7" * 20000))
case("deep-arguments", "workflow", "nests arrays/objects more than 100 levels deep",
     raw=text_edit('"parts": 5', '"parts": ' + "[" * 150 + "]" * 150))
case("deep-file", "workflow", "$: nests arrays/objects more than 100 levels deep",
     raw=b'{"a":' * 200000 + b"1" + b"}" * 200000)

# -- the functions folder -----------------------------------------------------------------
case("functions-missing-folder", "functions", "the functions folder of workflow FanOutFanIn",
     "does not exist", files=None)
case("functions-empty-folder", "functions", "$.ActionList.split.FunctionName", "has no .py file", files={})
case("functions-syntax-error", "functions", "broken.py:3: has a syntax error",
     files=dict(BASE_FUNCTIONS, **{"broken.py": "import os\n\ndef f(:\n    pass\n"}))
case("functions-syntax-error-nested", "functions", "utils/helpers.py:2: has a syntax error",
     files=dict(BASE_FUNCTIONS, **{"utils/helpers.py": "x = 1\nreturn x\n"}))
case("functions-indentation", "functions", "fan.py:3: has a syntax error",
     files={"fan.py": "def split_work(folder, parts):\n    pass\n  oops = 1\n"})
case("functions-nul-bytes", "functions", "nul.py", "null bytes",
     files=dict(BASE_FUNCTIONS, **{"nul.py": "x = 1\0\n"}))
case("functions-name-nowhere", "functions", "$.ActionList.gather.FunctionName",
     "'gather_results' is defined in no .py file", "did you mean 'gather_result'?",
     files={"fan.py": BASE_FUNCTIONS["fan.py"].replace("def gather_results", "def gather_result")})
case("functions-name-only-nested", "functions", "$.ActionList.split.FunctionName", "'split_work' is defined in no",
     files={"fan.py": BASE_FUNCTIONS["fan.py"].replace("def split_work(", "def _split_impl(")
            + "\n\ndef wrapper():\n    def split_work(folder, parts):\n        pass\n    return split_work\n"})
case("functions-missing-package", "functions", "fan.py:1: imports 'no_such_package_xyz'",
     "PyPIPackageDownloads", "[\"no_such_package_xyz\"]",
     files={"fan.py": "import no_such_package_xyz\n" + BASE_FUNCTIONS["fan.py"]})
case("functions-missing-package-pypi-name", "functions", "imports 'sklearn.linear_model'",
     "[\"scikit-learn\"]", "pip install scikit-learn",
     files={"fan.py": "from sklearn.linear_model import LinearRegression\n" + BASE_FUNCTIONS["fan.py"]})
# A package the workflow lists in PyPIPackageDownloads is no mistake: the run installs it
# (tests/test_workflow_settings.py::test_a_top_level_import_of_a_listed_package_...).
case("functions-sibling-absolute", "functions", "imports 'helpers' as a top-level module",
     "from .helpers import", files=dict(BASE_FUNCTIONS, **{
         "helpers.py": "X = 1\n", "fan.py": "import helpers\n" + BASE_FUNCTIONS["fan.py"]}))
case("functions-relative-missing", "functions", "fan.py:1: imports .utils.nothere",
     "is not in the functions folder",
     files={"fan.py": "from .utils.nothere import x\n" + BASE_FUNCTIONS["fan.py"], "utils/a.py": "y = 1\n"})
case("functions-relative-above", "functions", "imports ..up from above the functions folder",
     files={"fan.py": "from ..up import x\n" + BASE_FUNCTIONS["fan.py"]})
case("functions-local-file-missing", "functions", "$.FunctionLocalFile.split_work", "'other.py'",
     mutate=setting((), "FunctionLocalFile", {"split_work": "other.py"}), files=BASE_FUNCTIONS)
case("functions-local-file-without-function", "functions", "$.ActionList.split.FunctionName",
     "its FunctionLocalFile", mutate=setting((), "FunctionLocalFile", {"split_work": "other.py"}),
     files=dict(BASE_FUNCTIONS, **{"other.py": "def something_else():\n    pass\n"}))
case("functions-r-not-assigned", "functions", "$.ActionList.gather.FunctionName",
     "R function 'gather_results' is assigned in no .R file", "did you mean 'gather_result'?",
     mutate=setting(A + ("gather",), "Type", "R"),
     files=dict(BASE_FUNCTIONS, **{"gather.R": "gather_result <- function(folder, parts) {\n  1\n}\n"}))
case("functions-r-no-files", "functions", "R function 'gather_results'", "(it has none)",
     mutate=setting(A + ("gather",), "Type", "R"), files=BASE_FUNCTIONS)

# -- unknown flags and bad argument values ---------------------------------------------------
for argv, meant in [(["--workflow-dir", "x"], "--workflows-dir"), (["--testscript-dir", "x"], "--testscripts-dir"),
                    (["--patern", "*.json"], "--pattern"), (["--workflows_dir", "x"], "--workflows-dir"),
                    (["--workflows-dir=x", "--Pattern", "*"], "--pattern")]:
    case(f"jobargs-{argv[-2] if len(argv) > 2 else argv[0]}", "jobargs",
         f"unrecognized argument {argv[-2] if len(argv) > 2 else argv[0]}", f"did you mean {meant}?", argv=argv)
case("jobargs-missing-value", "jobargs", "--workflows-dir: expected one argument", argv=["--workflows-dir"])
for argv, meant in [(["--faasr-timout", "5"], "--faasr-timeout"), (["--faasr-paralell", "3"], "--faasr-parallel"),
                    (["--faasr-fucntions", "d"], "--faasr-functions"), (["--faasr-args", "a.b=1"], "--faasr-arg"),
                    (["--faasr-keep_s3"], "--faasr-keep-s3"), (["--faasr-check-intervall=1"], "--faasr-check-interval"),
                    (["--faasr-task-grace-period", "3"], "--faasr-task-grace"),
                    (["-C", "x.yaml", "--faasr-streamlogs"], "--faasr-stream-logs")]:
    flag = next(a for a in argv if a.startswith("--faasr")).split("=")[0]
    case(f"faasr-flag-{flag}", "faasr", f"unrecognized argument {flag}", f"did you mean {meant}?", argv=argv)
for value, expect in [("a.b=NaN", "write a plain number"), ("a.b=" + "[" * 50000 + "]" * 50000, "levels deep"),
                      ('a.b={"k": 1, "k": 2}', "$.k: appears more than once"), ("a.b=" + "9" * 20000, "digits"),
                      ("noequals", "is not ACTION.KEY=VALUE"), (".key=1", "is not ACTION.KEY=VALUE"),
                      ("a.=1", "is not ACTION.KEY=VALUE")]:
    case(f"faasr-arg-{value[:12]}", "faasr-arg", expect, argv=[value])
for argv, meant in [(["run", "wf.json", "--timout", "5"], "--timeout"),
                    (["run", "wf.json", "--functons", "d"], "--functions"),  # "--function" is an abbreviation
                    (["run", "wf.json", "--max-paralel", "2"], "--max-parallel"),
                    (["validate", "wf.json", "--funtions"], "--functions"),
                    (["report", "a.zip", "--ouput", "r.html"], "--output"),
                    (["s3", "serve", "--prot", "9000"], "--port")]:
    flag = next(a for a in argv if a.startswith("--"))
    case(f"cli-{argv[0]}-{flag}", "cli", f"unrecognized argument {flag}", f"did you mean {meant}?", argv=argv)
