"""Where a workflow's function files are on this machine, from the workflow's own settings.

The real runtime downloads `FunctionGitRepo` (`owner/repo/path/to/folder`, keyed by
FunctionName) from GitHub. Tests usually run inside a clone of that very repository, so
when the workflow file lies in a git checkout whose remote is `owner/repo`, that folder of
the checkout is used; otherwise functions/<WorkflowName>/ beside the workflow file, as
before. `explain()` says what was tried, for the message when neither exists.
"""

import re
import subprocess
from pathlib import Path

from .workflow import default_functions_dir

_GITHUB_REMOTE = re.compile(r"github\.com[:/]+(?P<owner>[^/]+)/(?P<repo>[^/]+?)(?:\.git)?/?$", re.I)


def git_repo_folders(workflow):
    """{(owner, repo, path)} of the workflow's FunctionGitRepo folders (not URLs, not single files)."""
    found = set()
    for location in (workflow.data.get("FunctionGitRepo") or {}).values():
        for entry in [location] if isinstance(location, str) else list(location or ()):
            parts = [p for p in str(entry).split("/") if p]
            if "://" in str(entry) or len(parts) < 2 or parts[-1].lower().endswith((".py", ".r")):
                continue
            found.add((parts[0].lower(), parts[1].lower(), "/".join(parts[2:])))
    return found


def checkout_of(path):
    """(root folder, {(owner, repo)} of its GitHub remotes) of the git checkout holding `path`, or None."""
    folder = Path(path).resolve()
    folder = folder if folder.is_dir() else folder.parent
    try:
        root = subprocess.run(["git", "-C", str(folder), "rev-parse", "--show-toplevel"], capture_output=True,
                              text=True, timeout=10)
        if root.returncode != 0:
            return None
        urls = subprocess.run(["git", "-C", str(folder), "config", "--get-regexp", r"^remote\..*\.url$"],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    remotes = set()
    for line in urls.stdout.splitlines():
        m = _GITHUB_REMOTE.search(line.split(None, 1)[-1].strip())
        if m:
            remotes.add((m["owner"].lower(), m["repo"].lower()))
    return Path(root.stdout.strip()), remotes


def functions_dir(workflow, workflow_path):
    """The FunctionGitRepo folder inside this checkout when the workflow names exactly one and
    the checkout is a clone of its repository; else functions/<WorkflowName>/ beside the file."""
    folders = git_repo_folders(workflow)
    if len(folders) == 1:
        checkout = checkout_of(workflow_path)
        owner, repo, path = next(iter(folders))
        if checkout and (owner, repo) in checkout[1] and (checkout[0] / path).is_dir():
            return checkout[0] / path
    return default_functions_dir(workflow_path, workflow.name)


def explain(workflow, workflow_path):
    """What functions_dir() tried, in one short sentence (the folder itself is named by the caller)."""
    default = f"so functions/{workflow.name}/ beside the workflow file"
    folders = git_repo_folders(workflow)
    if not folders:
        return f"the workflow has no FunctionGitRepo folder, {default}"
    if len(folders) > 1:
        return f"FunctionGitRepo names {len(folders)} different folders, {default}"
    owner, repo, path = next(iter(folders))
    checkout = checkout_of(workflow_path)
    if checkout is None:
        return f"FunctionGitRepo names {owner}/{repo}/{path}, but the workflow is in no git checkout, {default}"
    if (owner, repo) not in checkout[1]:
        remotes = ", ".join("/".join(r) for r in sorted(checkout[1])) or "none"
        return (f"FunctionGitRepo names {owner}/{repo}/{path}, but this checkout is not a clone of "
                f"{owner}/{repo} (GitHub remotes: {remotes}), {default}")
    return f"FunctionGitRepo names {owner}/{repo}/{path}, which this checkout lacks, {default}"
