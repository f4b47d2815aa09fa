import csv

from FaaSr_py.client.py_client_stubs import (faasr_get_file, faasr_get_folder_list, faasr_log,
                                             faasr_put_file, faasr_rank)

from .utils.paths import run_folder


def compute_sum(folder, input, output):
    """Read the CSV back, sum it, and upload the total."""
    remote = run_folder(folder)
    listing = faasr_get_folder_list(prefix=remote)
    faasr_log(f"found {len(listing)} object(s) under {remote}: {', '.join(listing)}")
    faasr_get_file(local_file=input, remote_file=input, remote_folder=remote)
    with open(input) as fh:
        total = sum(int(row["n"]) for row in csv.DictReader(fh))
    with open(output, "w") as fh:
        fh.write(str(total))
    faasr_put_file(local_file=output, remote_file=output, remote_folder=remote)
    faasr_log(f"sum is {total} (rank {faasr_rank()['rank']} of {faasr_rank()['max_rank']})")
