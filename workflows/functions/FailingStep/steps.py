from FaaSr_py.client.py_client_stubs import faasr_invocation_id, faasr_log, faasr_put_file


def prepare(folder):
    with open("ready.txt", "w") as fh:
        fh.write("ready")
    faasr_put_file(local_file="ready.txt", remote_file="ready.txt",
                   remote_folder=f"{folder}/{faasr_invocation_id()}")
    faasr_log("prepared the input")


def explode(folder):
    faasr_log("about to divide by zero")
    return 1 / 0


def after_explode(folder):
    faasr_log("this must never run: its predecessor failed")
