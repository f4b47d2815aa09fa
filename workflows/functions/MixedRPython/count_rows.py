"""The Python side of a mixed workflow: reads the CSV an R action wrote."""

import csv

from FaaSr_py.client.py_client_stubs import faasr_get_file, faasr_invocation_id, faasr_log, faasr_put_file


def count_rows(folder, input):
    folder = f"{folder}/{faasr_invocation_id()}"
    faasr_get_file(local_file="input.csv", remote_file=input, remote_folder=folder)
    with open("input.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with open("rows.txt", "w") as fh:
        fh.write(str(len(rows)))
    faasr_put_file(local_file="rows.txt", remote_file="rows.txt", remote_folder=folder)
    faasr_log(f"count_rows: {input} has {len(rows)} rows and columns {', '.join(rows[0])}")
