"""Stand-in for faasr-py on the local backend: only the client API user code imports.

faasr-py itself is never installed next to faasr-easypy (its pins conflict);
this folder is put on sys.path only inside the processes that run actions.
"""
