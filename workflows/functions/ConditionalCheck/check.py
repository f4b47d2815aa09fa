from FaaSr_py.client.py_client_stubs import faasr_invocation_id, faasr_log, faasr_put_file


def check_threshold(folder, value, threshold):
    """Return True when value exceeds threshold: FaaSr takes the True branch."""
    above = float(value) > float(threshold)
    with open("decision.txt", "w") as fh:
        fh.write(f"{value} > {threshold}: {above}\n")
    faasr_put_file(local_file="decision.txt", remote_file="decision.txt",
                   remote_folder=f"{folder}/{faasr_invocation_id()}")
    faasr_log(f"value {value} vs threshold {threshold}: {'above' if above else 'below'}")
    return above


def record_branch(folder, branch):
    with open("branch.txt", "w") as fh:
        fh.write(branch)
    faasr_put_file(local_file="branch.txt", remote_file=f"{branch}.txt",
                   remote_folder=f"{folder}/{faasr_invocation_id()}")
    faasr_log(f"took the {branch} branch")
