"""How long `faasr-easypy validate` takes on a 200-action workflow, with and without the
functions check (`--functions`), printed.

    .venv/bin/python benchmarks/bench_validate.py [--quick] [--actions N]

The workflow is generated: a chain of N actions, each calling its own function in a file
of its own (N files, each importing json, pathlib, yaml and the FaaSr stubs, as a real
function file does). Timed three ways, median of the repeats:
  - the command, as a user runs it (interpreter start included);
  - in-process, load_workflow() alone (JSON, FaaSr's schema, the graph checks);
  - in-process, load_workflow() + require_functions() (every file parsed and compiled,
    every FunctionName looked up, every import resolved with find_spec).
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from faasr_easypy.function_check import require_functions  # noqa: E402
from faasr_easypy.workflow import default_functions_dir, load_workflow  # noqa: E402
from workflows import chain  # noqa: E402

FUNCTION_FILE = '''\
import json
from pathlib import Path

import yaml
from FaaSr_py.client.py_client_stubs import faasr_log, faasr_put_file


def {name}(**kwargs):
    """Action {index} of the generated chain."""
    out = Path("out-{index}.json")
    out.write_text(json.dumps({{"index": {index}, "args": kwargs, "yaml": yaml.__name__}}))
    faasr_put_file(local_file=str(out), remote_file=out.name, remote_folder="bench")
    faasr_log("wrote " + out.name)
    return True
'''


def make_project(root, actions):
    data = chain(actions)
    for index, spec in enumerate(data["ActionList"].values()):
        spec["FunctionName"] = f"step_{index}"
    path = root / "bench_validate.json"
    path.write_text(json.dumps(data, indent=2))
    folder = default_functions_dir(path, data["WorkflowName"])
    folder.mkdir(parents=True)
    for index in range(actions):
        (folder / f"{index:03d}_step.py").write_text(FUNCTION_FILE.format(name=f"step_{index}", index=index))
    return path, folder


def timed(fns, repeats):
    """Median seconds of each of `fns`, run in turns (A B C D A B ...) so that a change in
    the machine's load hits every variant alike."""
    times = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            started = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - started)
    return [statistics.median(t) for t in times]


def cli(*args):
    res = subprocess.run([str(Path(sys.executable).parent / "faasr-easypy"), "validate", *map(str, args)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"validate failed: {res.stderr[-2000:]}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--actions", type=int, default=200)
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 11
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
        path, folder = make_project(Path(tmp), args.actions)
        variants = [
            ("faasr-easypy validate WF", lambda: cli(path)),
            ("faasr-easypy validate WF --functions", lambda: cli(path, "--functions")),
            ("load_workflow (in-process)", lambda: load_workflow(path)),
            ("load_workflow + require_functions (in-process)",
             lambda: require_functions(load_workflow(path), folder)),
        ]
        rows = list(zip([label for label, _ in variants], timed([fn for _, fn in variants], repeats), strict=True))
    print(f"{args.actions}-action workflow, {args.actions} function files, median of {repeats}:")
    for label, seconds in rows:
        print(f"  {label:<50} {seconds * 1000:8.1f} ms")
    print(f"  functions check adds {(rows[1][1] - rows[0][1]) * 1000:.1f} ms to the command "
          f"({(rows[3][1] - rows[2][1]) * 1000:.1f} ms in-process)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
