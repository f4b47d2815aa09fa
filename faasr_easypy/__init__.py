"""faasr-easypy: a pyATS/Easypy-style test harness for FaaSr workflows."""

__version__ = "0.1.0"
