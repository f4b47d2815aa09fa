"""Developer workflows (`invoke --list`). The README's two commands need none of this."""

from invoke import task

PY = ".venv/bin/python"


@task
def test_fast(c):
    """Unit and backend tests without the slow end-to-end runs."""
    c.run(f"{PY} -m pytest -m 'not slow'", pty=True)


@task
def test_slow(c):
    """Only the slow end-to-end tests (pyATS jobs, browser)."""
    c.run(f"{PY} -m pytest -m slow", pty=True)


@task
def test(c):
    """Everything, as CI runs it."""
    c.run(f"{PY} -m pytest", pty=True)


@task
def lint(c):
    c.run(f"{PY} -m ruff check faasr_easypy tests benchmarks jobs testscripts", pty=True)


@task
def coverage(c):
    c.run(f"{PY} -m coverage run --source=faasr_easypy -m pytest -m 'not slow'", pty=True)
    c.run(f"{PY} -m coverage report --skip-empty", pty=True)


@task
def bench(c):
    """Print every benchmark's figures."""
    c.run(f"{PY} benchmarks/run_all.py", pty=True)
