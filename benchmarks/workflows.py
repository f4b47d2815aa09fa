"""Generated workflows for benchmarks: chains and fan-out/fan-in of trivial functions."""


def _base(name, actions, entry):
    return {
        "WorkflowName": name, "FunctionInvoke": entry, "DefaultDataStore": "S3",
        "LoggingDataStore": "S3", "FaaSrLog": "FaaSrLog",
        "ComputeServers": {"Local": {"FaaSType": "GitHubActions", "UserName": "u",
                                     "ActionRepoName": "r", "Branch": "main"}},
        "DataStores": {"S3": {"Endpoint": "http://127.0.0.1:1", "Bucket": "faasr", "Region": "us-east-1"}},
        "ActionList": actions,
    }


def _action(function, invoke_next=(), type="Python", args=None):
    return {"FunctionName": function, "FaaSServer": "Local", "Type": type, "Arguments": dict(args or {}),
            "InvokeNext": list(invoke_next)}


def chain(length, function="stamp", type="Python"):
    names = [f"a{i}" for i in range(length)]
    actions = {n: _action(function, [names[i + 1]] if i + 1 < length else [], type)
               for i, n in enumerate(names)}
    return _base(f"Chain{length}", actions, names[0])


def fan(width, function="noop", type="Python", work_args=None):
    actions = {"start": _action(function, [f"work({width})"], type),
               "work": _action(function, ["join"], type, work_args), "join": _action(function, (), type)}
    return _base(f"Fan{width}", actions, "start")
