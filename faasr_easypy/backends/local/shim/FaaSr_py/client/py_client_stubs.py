"""The FaaSr 2.x user API (same names and signatures as faasr-py 2.1.0),
served in-process by faasr-easypy's local backend instead of over RPC."""

from faasr_easypy.backends.local.function_api import FunctionExit, current


def faasr_put_file(local_file, remote_file, server_name="", local_folder=".", remote_folder="."):
    return current().put_file(local_file, remote_file, server_name, local_folder, remote_folder)


def faasr_get_file(local_file, remote_file, server_name="", local_folder=".", remote_folder="."):
    return current().get_file(local_file, remote_file, server_name, local_folder, remote_folder)


def faasr_delete_file(remote_file, server_name="", remote_folder=""):
    return current().delete_file(remote_file, server_name, remote_folder)


def faasr_get_folder_list(server_name="", prefix=""):
    return current().get_folder_list(server_name, prefix)


def faasr_log(log_message):
    return current().log_message(log_message)


def faasr_rank():
    return current().rank()


def faasr_invocation_id():
    return current().invocation_id()


def faasr_workflow_name():
    return current().workflow_name()


def faasr_get_s3_creds(server_name=""):
    return current().get_s3_creds(server_name)


def faasr_secret(name):
    return current().secret(name)


def faasr_return(return_value=None):
    raise FunctionExit(return_value, error=False)


def faasr_exit(message=None, error=True, traceback=None):
    raise FunctionExit(message, error=error)


def faasr_extend():
    """Asks for more run time on platforms that allow it; nothing to do locally."""
