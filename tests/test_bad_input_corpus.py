"""Every row of the bad-input corpus (tests/bad_input_corpus.py) gives a clear error: the
file and the field, the fix, exit code 2 and no traceback. All rows run in-process; a
sample goes through the real `faasr-easypy` (and, marked slow, `pyats run job`)."""

import importlib.util
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from faasr_easypy.easypy.arguments import ArgumentError, parse_args_strictly, refuse_unknown_faasr
from faasr_easypy.easypy.jobs_api import parse_faasr_arg
from faasr_easypy.easypy.plugin import faasr_options
from faasr_easypy.errors import UserError, ValidationError
from faasr_easypy.function_check import require_functions
from faasr_easypy.workflow import default_functions_dir, load_workflow

from .bad_input_corpus import CASES, PROJECT

BIN = Path(sys.executable).parent
pytestmark = [pytest.mark.timeout(300), pytest.mark.reliability]


def test_the_corpus_has_at_least_100_cases():
    assert len(CASES) >= 100 and len({c.id for c in CASES}) == len(CASES)


def materialize(case, root):
    """The case's files under `root`: (workflow path, functions folder or None)."""
    folder = root / case.id
    folder.mkdir(parents=True)
    path = folder / "workflow.json"
    path.write_bytes(case.workflow_bytes())
    functions = None
    if case.kind == "functions":
        functions = folder / "functions" / "FanOutFanIn"
        if case.files is not None:
            functions.mkdir(parents=True)
            for rel, text in case.files.items():
                (functions / rel).parent.mkdir(parents=True, exist_ok=True)
                (functions / rel).write_text(text)
    return path, functions


def regression_parser():
    spec = importlib.util.spec_from_file_location("regression_job", PROJECT / "jobs" / "regression_job.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_parser()


def error_of(case, tmp_path, caplog):
    """The UserError the case raises, in-process, as each entry point raises it."""
    if case.kind == "workflow":
        path, _ = materialize(case, tmp_path)
        with pytest.raises(ValidationError) as info:
            load_workflow(path)
        return info.value, [str(path)]
    if case.kind == "functions":
        path, functions = materialize(case, tmp_path)
        workflow = load_workflow(path)  # the workflow itself is right: only its functions are not
        assert default_functions_dir(path, workflow.name) == functions
        with pytest.raises(ValidationError) as info:
            require_functions(workflow, functions)
        return info.value, [str(path), str(functions)]
    if case.kind == "jobargs":
        with pytest.raises(ArgumentError) as info:
            parse_args_strictly(regression_parser(), case.argv)
        return info.value, ["regression_job"]
    if case.kind == "faasr":
        caplog.set_level(logging.ERROR)
        with pytest.raises(SystemExit) as info:
            refuse_unknown_faasr(faasr_options(), case.argv)
        lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert info.value.code == 2 and len(lines) == 1 and "\n" not in lines[0], lines
        return UserError(lines[0]), ["pyats run job"]
    if case.kind == "cli":
        from faasr_easypy.cli import build_parser

        with pytest.raises(UserError) as info:
            build_parser().parse_args(case.argv)
        return info.value, ["faasr-easypy"]
    if case.kind == "faasr-arg":
        with pytest.raises(UserError) as info:
            parse_faasr_arg(case.argv[0])
        return info.value, ["--faasr-arg"]
    raise AssertionError(case.kind)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_case_gives_a_clear_error(case, tmp_path, caplog):
    exc, names = error_of(case, tmp_path, caplog)
    text = str(exc)
    assert exc.exit_code == 2
    assert any(name in text for name in names), text[:300]  # the file (or the command) is named
    for expected in case.expect:
        assert expected in text, f"{expected!r} not in:\n{text[:2000]}"
    if isinstance(exc, ValidationError):
        for problem in exc.problems:
            line = str(problem)
            assert ". Fix: " in line and "\n" not in line and len(line) < 700, line[:400]
    assert "Traceback" not in text


def _cli(*args, timeout=120):
    return subprocess.run([str(BIN / "faasr-easypy"), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=PROJECT)


def _assert_clear(res, expected):
    assert res.returncode == 2, (res.returncode, res.stdout[-1000:], res.stderr[-2000:])
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout
    for text in expected:
        assert text in res.stderr, f"{text!r} not in:\n{res.stderr[-3000:]}"


def test_validate_refuses_every_workflow_case_through_the_command_line(tmp_path):
    cases = [c for c in CASES if c.kind == "workflow"]
    paths = [materialize(c, tmp_path)[0] for c in cases]
    res = _cli("validate", *paths)
    _assert_clear(res, [f"{p} has " for p in paths])
    assert "OK -" not in res.stdout
    for case in cases:
        for expected in case.expect:
            assert expected in res.stderr, (case.id, expected)


def test_validate_functions_refuses_every_functions_case_through_the_command_line(tmp_path):
    cases = [c for c in CASES if c.kind == "functions"]
    paths = [materialize(c, tmp_path)[0] for c in cases]
    res = _cli("validate", *paths, "--functions")
    _assert_clear(res, [e for c in cases for e in c.expect])
    assert "OK -" not in res.stdout
    # Without --functions the same files are valid workflows.
    plain = _cli("validate", *paths)
    assert plain.returncode == 0, plain.stderr[-2000:]


SAMPLE = ["action-key-split-Argument", "top-key-FunctionInvok", "rank-count-9", "faas-type-local",
          "duplicate-top-key", "functions-syntax-error", "functions-name-nowhere", "functions-missing-package"]


@pytest.mark.parametrize("case_id", SAMPLE)
def test_run_refuses_a_sample_before_starting_anything(case_id, tmp_path):
    """`run` gives the exit code validate gives (2), and the same words, before S3 starts."""
    case = next(c for c in CASES if c.id == case_id)
    path, _ = materialize(case, tmp_path)
    res = _cli("run", path)
    _assert_clear(res, case.expect)
    assert "S3:" not in res.stdout and "Invocation folder" not in res.stdout


@pytest.mark.parametrize("case", [c for c in CASES if c.kind == "cli"], ids=lambda c: c.id)
def test_the_command_line_refuses_a_misspelled_flag_with_did_you_mean(case):
    res = _cli(*case.argv)
    _assert_clear(res, case.expect)
    assert len(res.stderr.strip().splitlines()) == 1  # one line, not argparse's usage block


def test_report_refuses_a_200000_deep_results_file(tmp_path):
    path = tmp_path / "faasr_results.json"
    path.write_bytes(b'{"a":' * 200000 + b"1" + b"}" * 200000)
    _assert_clear(_cli("report", path), [str(path), "levels deep"])
