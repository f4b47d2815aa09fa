"""Small workflow dicts for tests, shaped like real FaaSr JSON."""


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
