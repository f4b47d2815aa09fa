import json

from FaaSr_py.client.py_client_stubs import (faasr_get_file, faasr_get_folder_list, faasr_invocation_id,
                                             faasr_log, faasr_put_file, faasr_rank)


def _folder(folder):
    return f"{folder}/{faasr_invocation_id()}"


def split_work(folder, parts):
    with open("inputs.json", "w") as fh:
        json.dump(list(range(1, int(parts) + 1)), fh)
    faasr_put_file(local_file="inputs.json", remote_file="inputs.json", remote_folder=_folder(folder))
    faasr_log(f"split the work into {parts} parts")


def square_part(folder):
    rank = faasr_rank()
    faasr_get_file(local_file="inputs.json", remote_file="inputs.json", remote_folder=_folder(folder))
    with open("inputs.json") as fh:
        value = json.load(fh)[rank["rank"] - 1]
    with open("part.txt", "w") as fh:
        fh.write(str(value * value))
    faasr_put_file(local_file="part.txt", remote_file=f"part-{rank['rank']}.txt",
                   remote_folder=f"{_folder(folder)}/parts")
    faasr_log(f"rank {rank['rank']} of {rank['max_rank']}: {value}^2 = {value * value}")


def gather_results(folder, parts):
    keys = sorted(faasr_get_folder_list(prefix=f"{_folder(folder)}/parts/"))
    if len(keys) != int(parts):
        raise RuntimeError(f"expected {parts} parts, found {len(keys)}: {keys}")
    total = 0
    for key in keys:
        name = key.rsplit("/", 1)[1]
        faasr_get_file(local_file=name, remote_file=name, remote_folder=f"{_folder(folder)}/parts")
        with open(name) as fh:
            total += int(fh.read())
    with open("total.txt", "w") as fh:
        fh.write(str(total))
    faasr_put_file(local_file="total.txt", remote_file="total.txt", remote_folder=_folder(folder))
    faasr_log(f"sum of squares of {parts} parts = {total}")
