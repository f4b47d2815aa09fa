from FaaSr_py.client.py_client_stubs import faasr_invocation_id


def run_folder(folder):
    """Outputs are namespaced by InvocationID so parallel runs never collide."""
    return f"{folder}/{faasr_invocation_id()}"
