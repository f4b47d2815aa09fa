import csv

from FaaSr_py.client.py_client_stubs import faasr_invocation_id, faasr_log, faasr_put_file

from .utils.paths import run_folder


def create_input(folder, output, count):
    """Write `count` numbers to a CSV and upload it under this invocation's folder."""
    with open(output, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["n"])
        for n in range(1, int(count) + 1):
            writer.writerow([n])
    faasr_put_file(local_file=output, remote_file=output, remote_folder=run_folder(folder))
    faasr_log(f"uploaded {count} numbers for invocation {faasr_invocation_id()}")
