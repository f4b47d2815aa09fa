"""Small workflow dicts for tests, shaped like real FaaSr JSON."""

import json
import textwrap


def action(function="f", server="GH", type="Python", args=None, nxt=None):
    spec = {"FunctionName": function, "FaaSServer": server, "Type": type, "Arguments": args or {},
            "InvokeNext": nxt if nxt is not None else []}
    if type is None:
        del spec["Type"]
    return spec


def workflow(actions, entry="start", name="TestFlow", bucket="faasr"):
    return {
        "WorkflowName": name,
        "FunctionInvoke": entry,
        "DefaultDataStore": "S3",
        "LoggingDataStore": "S3",
        "FaaSrLog": "FaaSrLog",
        "ComputeServers": {"GH": {"FaaSType": "GitHubActions", "UserName": "u",
                                  "ActionRepoName": "r", "Branch": "main"}},
        "DataStores": {"S3": {"Endpoint": "https://s3.example.org", "Bucket": bucket,
                              "Region": "us-east-1"}},
        "ActionList": actions,
    }


def slow_on_faasr_py(arguments=None):
    """One action `nap` running function `slow` (with `arguments`), placed so the faasr-py
    backend can fetch it (FunctionGitRepo) and any backend can run it."""
    data = workflow({"nap": action("slow", args=arguments)}, entry="nap", name="Slow")
    data["DataStores"]["S3"].update(Endpoint="", Writable="TRUE")
    data["FunctionGitRepo"] = {"slow": "u/r/functions/Slow"}
    return data


FUNCTIONS = textwrap.dedent("""
    from FaaSr_py.client.py_client_stubs import faasr_log


    def ok():
        faasr_log("fine")


    def boom():
        raise ValueError("boom")
""")

# start naps, next is quick: a job that is running while a test scancels it (SLURM tests)
NAP_FUNCTIONS = textwrap.dedent("""
    import time

    from FaaSr_py.client.py_client_stubs import faasr_log


    def nap(seconds=0):
        faasr_log(f"napping {seconds} s")
        time.sleep(seconds)


    def quick():
        faasr_log("quick")
""")

# A fan-in right below the failure, and one below a skipped action (mid, under boom).
GRAPHS = {
    "failed": {"start": ["good", "bad"], "good": ["join"], "bad": ["join"], "join": []},
    "skipped": {"start": ["good", "bad"], "good": ["join"], "bad": ["mid"], "mid": ["join"], "join": []},
}


def write_workflow(tmp_path, data, functions):
    """Write workflow dict `data` and one functions file (source text) under tmp_path;
    return (Workflow, functions folder)."""
    from faasr_easypy.workflow import load_workflow

    folder = tmp_path / "functions"
    folder.mkdir()
    (folder / "steps.py").write_text(functions)
    path = tmp_path / f"{data['WorkflowName']}.json"
    path.write_text(json.dumps(data))
    return load_workflow(str(path)), str(folder)


def blocked_fan_in(tmp_path, shape):
    """(Workflow, functions folder) of GRAPHS[shape], written under tmp_path."""
    actions = {name: action("boom" if name == "bad" else "ok", nxt=nxt) for name, nxt in GRAPHS[shape].items()}
    data = workflow(actions, name=f"Blocked{shape.title()}")
    data["FunctionGitRepo"] = {"ok": "u/r/functions", "boom": "u/r/functions"}  # where faasr-py looks
    return write_workflow(tmp_path, data, FUNCTIONS)
