"""R packages on this machine: which are installed, and which Debian package
provides a missing one (CRAN cannot be reached here; Debian ships about 1,100
R packages as `r-cran-<lowercase name>`, listed in r/debian_r_packages.txt).

Used when an R action fails for a missing package (r_action.py) and by
`faasr-easypy validate`, which warns before a run.
"""

import subprocess
from pathlib import Path

from .r_server import INSTALL_HINT, rscript

PACKAGE_LIST = Path(__file__).with_name("r") / "debian_r_packages.txt"


def debian_package(r_package):
    """Debian's package for an R package (`r-cran-<lowercase name>`), or None when none exists."""
    wanted = f"r-cran-{r_package.lower()}"
    try:
        with open(PACKAGE_LIST, encoding="utf-8") as fh:
            return wanted if any(line.strip() == wanted for line in fh) else None
    except OSError:
        return None


def how_to_install(r_package):
    debian = debian_package(r_package)
    if debian:
        return f"install it with `sudo apt-get install {debian}`"
    return (f"no Debian package provides it (there is no r-cran-{r_package.lower()}) and CRAN cannot "
            "be reached here, so it cannot be installed on this machine")


def package_names(packages):
    """A FunctionCRANPackage entry as a list (the schema allows one name as a string;
    faasr-py would install it letter by letter)."""
    return [packages] if isinstance(packages, str) else list(packages or [])


def installed_packages():
    """Names of the R packages installed here, or None when R is not installed."""
    binary = rscript()
    if binary is None:
        return None
    out = subprocess.run([binary, "--vanilla", "-e", 'cat(rownames(installed.packages()), sep = "\\n")'],
                         capture_output=True, text=True, timeout=120)
    return set(out.stdout.split())


def validate_warnings(wf):
    """What would keep the workflow's R actions from running here, one line each."""
    r_actions = [name for name, spec in wf.actions.items() if spec.type == "R"]
    if not r_actions:
        return []
    installed = installed_packages()
    if installed is None:
        return [f"actions {', '.join(r_actions)} are of Type R, but R is not installed here: {INSTALL_HINT}"]
    warnings = []
    wanted = wf.data.get("FunctionCRANPackage") or {}
    for name in r_actions:
        function = wf.actions[name].function_name
        for package in package_names(wanted.get(function)):
            if package not in installed:
                warnings.append(f"action {name} needs R package {package} (FunctionCRANPackage of {function}), "
                                f"which is not installed here; {how_to_install(package)}")
    return warnings
