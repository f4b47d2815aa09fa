"""One run of a workflow: the workflow plus the InvocationID, timestamp and
overrides the tester fixes before triggering, so the S3 folder is known in advance."""

import copy
import uuid
from datetime import datetime, timezone

from .layout import TIMESTAMP_FORMAT, InvocationLayout


class Invocation:
    def __init__(self, workflow, invocation_id=None, timestamp=None, argument_overrides=None):
        self.workflow = workflow
        self.invocation_id = invocation_id or str(uuid.uuid4())
        self.timestamp = timestamp or datetime.now(timezone.utc).strftime(TIMESTAMP_FORMAT)
        # {action: {argument: value}} replacing the JSON's Arguments for this run only.
        self.argument_overrides = copy.deepcopy(argument_overrides or {})
        self.layout = InvocationLayout.for_invocation(self)

    @property
    def folder(self):
        return self.layout.folder

    def arguments(self, action):
        args = dict(self.workflow.actions[action].arguments)
        args.update(self.argument_overrides.get(action, {}))
        return args

    def payload(self):
        """The workflow JSON as the runtime should see it for this invocation."""
        data = self.workflow.copy_data()
        data["InvocationID"] = self.invocation_id
        data["InvocationTimestamp"] = self.timestamp
        for action, args in self.argument_overrides.items():
            data["ActionList"][action].setdefault("Arguments", {}).update(args)
        return data

    def overwritten(self, action=None):
        """The keys a remote trigger overrides (FaaSr's OVERWRITTEN input).

        faasr-py replaces top-level keys with these rather than merging them,
        so argument overrides travel as the whole ActionList, never a part of it.
        """
        out = {"InvocationID": self.invocation_id, "InvocationTimestamp": self.timestamp,
               "FunctionInvoke": action or self.workflow.entry}
        if self.argument_overrides:
            out["ActionList"] = self.payload()["ActionList"]
        return out

    def __repr__(self):
        return f"Invocation({self.workflow.name!r}, {self.invocation_id!r})"
