from FaaSr_py.client.py_client_stubs import (faasr_delete_file, faasr_get_file, faasr_get_s3_creds,
                                             faasr_log, faasr_put_file)

from .utils.paths import run_folder


def publish(folder, input):
    """Copy the total to a report, drop the intermediate CSV, and say where S3 is."""
    remote = run_folder(folder)
    faasr_get_file(local_file=input, remote_file=input, remote_folder=remote)
    with open(input) as fh:
        total = fh.read().strip()
    with open("report.txt", "w") as fh:
        fh.write(f"total={total}\n")
    faasr_put_file(local_file="report.txt", remote_file="report.txt", remote_folder=remote)
    faasr_delete_file(remote_file="numbers.csv", remote_folder=remote)
    creds = faasr_get_s3_creds()
    faasr_log(f"published report to bucket {creds['bucket']}")
