"""Functions of IntegrationTests, shaped like FaaSr-Integration-Tests' IntegrationTestWorkflow:
each writes under integration-tests/<InvocationID>/, and some downstream actions change
their predecessor's output within milliseconds (the race docs/MIGRATION.md is about)."""

from FaaSr_py.client.py_client_stubs import (
    faasr_delete_file,
    faasr_get_file,
    faasr_invocation_id,
    faasr_log,
    faasr_put_file,
    faasr_rank,
)


def _folder(folder):
    return f"{folder}/{faasr_invocation_id()}"


def _put(folder, name, text):
    with open(name.replace("/", "_"), "w") as fh:
        fh.write(text)
    faasr_put_file(local_file=name.replace("/", "_"), remote_file=name, remote_folder=_folder(folder))


def create_input(folder):
    for n in range(1, 5):
        _put(folder, f"input{n}.txt", f"input {n}")
    faasr_log("wrote input1.txt .. input4.txt")


def test_py_api(folder):
    """Deletes input1.txt at once: under a live view, a test of create-input races this."""
    faasr_delete_file(remote_file="input1.txt", remote_folder=_folder(folder))
    faasr_get_file(local_file="input2.txt", remote_file="input2.txt", remote_folder=_folder(folder))
    with open("input2.txt") as fh:
        _put(folder, "output1-py.txt", fh.read().upper())
    _put(folder, "output2-py.txt", "py api")


def check(folder, answer):
    """A conditional: returns `answer`, so FaaSr takes that branch."""
    _put(folder, f"check-{str(answer).lower()}.txt", str(answer))
    return bool(answer)


def record(folder, name):
    _put(folder, f"{name}.txt", name)


def test_rank(folder):
    rank = faasr_rank()
    _put(folder, f"rank_files/rank{rank['rank']}.txt", f"rank {rank['rank']} of {rank['max_rank']}")


def sync(folder, name):
    _put(folder, f"{name}.txt", "synced")
    faasr_log(f"{name}: every predecessor finished")


def overwrite(folder, name, text):
    """Rewrites an output an earlier action wrote: as-of views still see the old content."""
    _put(folder, name, text)


def delete(folder, name):
    faasr_delete_file(remote_file=name, remote_folder=_folder(folder))
