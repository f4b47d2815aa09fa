"""Canaries for faasr_easypy/easypy/pyats_patches.py: each fails loudly when a pyATS or Python
upgrade removes what a patch replaces or changes how it behaves, and install() declines (with
a warning) wherever a premise does not hold."""

import concurrent.futures
import inspect
import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest

from faasr_easypy.easypy import pyats_patches

ROOT = Path(__file__).resolve().parents[1]


def _fresh(code):
    """The JSON `code` prints last, run in a fresh interpreter (no patch installed yet)."""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.splitlines()[-1]), out.stderr


def test_setup_py_pins_the_tested_pyats_minor_version():
    text = (ROOT / "setup.py").read_text()
    major, minor = pyats_patches.PYATS_TESTED
    for package in ("pyats[library]", "genie"):
        assert f'"{package}>={major}.{minor},<{major}.{minor + 1}"' in text, package
    assert pyats_patches.pyats_version() == pyats_patches.PYATS_TESTED  # the installed one


def test_pyats_internals_are_what_the_patches_replace():
    """Unpatched pyATS, as each premise expects it."""
    found, _ = _fresh(
        "import concurrent.futures, importlib, inspect, json\n"
        "from pyats.reporter import server, utils\n"
        "from faasr_easypy.easypy import git_info, source_cache\n"
        "out = {'executor': server.ThreadPoolExecutor is concurrent.futures.ThreadPoolExecutor,\n"
        "       'git': [importlib.import_module(m).get_git_info is utils.get_git_info for m in git_info.USERS],\n"
        "       'inspect': [importlib.import_module(m).inspect is inspect for m in source_cache.USERS]}\n"
        "print(json.dumps(out))\n")
    assert found == {"executor": True, "git": [True, True], "inspect": [True, True]}


def test_every_premise_holds_here_and_install_applies_them_once():
    found, stderr = _fresh(
        "import json\n"
        "from faasr_easypy.easypy import pyats_patches as p\n"
        "premises = {x.name: x.premise() for x in p.PATCHES}\n"
        "first = p.install()\n"
        "print(json.dumps([premises, first, p.install()]))\n")
    premises, first, second = found
    if sys.version_info < (3, 13):
        assert premises == dict.fromkeys(premises) and len(premises) == 7
        assert first == second == {"reporter_worker": True, "reporter_wait": True, "git_info": True,
                                   "source_cache": True, "task_run": True, "reporter_redaction": True,
                                   "mail_encoding": True}
        assert "not applied" not in stderr
    else:  # the source cache's premise: inspect parses the file for a class only before 3.13
        assert first["source_cache"] is False and "source_cache not applied" in stderr


def test_install_patches_the_names_it_says():
    found, _ = _fresh(
        "import concurrent.futures, importlib, json\n"
        "from pyats.reporter import server, utils\n"
        "from faasr_easypy.easypy import git_info, pyats_patches, reporter_worker, source_cache\n"
        "pyats_patches.install()\n"
        "print(json.dumps({'executor': server.ThreadPoolExecutor is reporter_worker.OneWorkerExecutor,\n"
        "    'git': [importlib.import_module(m).get_git_info is git_info.get_git_info\n"
        "            for m in ('pyats.reporter.utils', *git_info.USERS)],\n"
        "    'inspect': [importlib.import_module(m).inspect is source_cache._substitute\n"
        "                for m in source_cache.USERS],\n"
        "    'futures': concurrent.futures.ThreadPoolExecutor is not reporter_worker.OneWorkerExecutor}))\n")
    assert found == {"executor": True, "git": [True, True, True], "inspect": [True, True], "futures": True}


def test_importing_the_easypy_modules_patches_nothing():
    found, _ = _fresh(
        "import concurrent.futures, json\n"
        "from faasr_easypy.easypy import git_info, jobs_api, plugin, pyats_patches, reporter_worker, source_cache\n"
        "from pyats.reporter import server\n"
        "from pyats.aetest import utils\n"
        "import inspect\n"
        "import time\n"
        "print(json.dumps([server.ThreadPoolExecutor is concurrent.futures.ThreadPoolExecutor,\n"
        "                  utils.inspect is inspect, git_info._original is None, server.time is time]))\n")
    assert found == [True, True, True, True]


def test_reporter_server_still_builds_one_executor_per_message_the_way_assumed():
    """The reporter's ThreadPoolExecutor(max_workers=1) per message is what OneWorkerExecutor
    stands in for: pyATS's server module must still name it and call it with max_workers=1."""
    from pyats.reporter import server

    assert hasattr(server, "ThreadPoolExecutor")
    assert hasattr(server, "ReportServer")
    from faasr_easypy.easypy.reporter_worker import OneWorkerExecutor

    with OneWorkerExecutor(max_workers=1) as executor:
        assert executor.submit(lambda: 7).result(timeout=5) == 7
    assert isinstance(OneWorkerExecutor(max_workers=2), concurrent.futures.ThreadPoolExecutor)


def test_git_info_answer_is_pyats_own():
    """The cached lookup returns what pyATS's get_git_info returns for the file."""
    found, _ = _fresh(
        "import json\n"
        "from pyats.reporter import utils\n"
        "from faasr_easypy.easypy import git_info\n"
        "path = __import__('os').path.abspath('testscripts/conditional.py')\n"
        "theirs = utils.get_git_info(path)\n"
        "assert git_info.install()\n"
        "print(json.dumps([repr(theirs), repr(git_info.get_git_info(path)), repr(utils.get_git_info(path))]))\n")
    assert found[0] == found[1] == found[2] and found[0] != "None"


def test_source_cache_answers_like_inspect_on_this_python():
    from faasr_easypy.easypy import source_cache

    assert source_cache_premise_holds() == (sys.version_info < (3, 13))
    for cls in (source_cache._FileClasses, source_cache._ClassStarts):
        assert source_cache.getsource(cls) == inspect.getsource(cls)


def source_cache_premise_holds():
    return pyats_patches.source_cache_premise() is None


@pytest.mark.parametrize("version", [(3, 13, 0), (3, 14, 1)])
def test_source_cache_declines_on_python_313_and_later(version):
    reason = pyats_patches.source_cache_premise(version_info=version)
    assert reason and "__firstlineno__" in reason


def test_task_run_still_takes_the_testscript_parameters():
    from pyats.easypy.tasks import Task

    assert callable(Task._run)
    params = inspect.signature(Task._run).parameters.values()
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    assert pyats_patches.task_run_premise() is None


def test_an_untested_pyats_declines_every_patch_with_a_warning(monkeypatch, caplog):
    monkeypatch.setattr(pyats_patches, "_installed", {})
    monkeypatch.setattr(pyats_patches, "PYATS_TESTED", (1, 0))
    applied = []
    monkeypatch.setattr(pyats_patches, "PATCHES", tuple(
        pyats_patches.Patch(p.name, p.premise, lambda n=p.name: applied.append(n) or True)
        for p in pyats_patches.PATCHES))
    with caplog.at_level(logging.WARNING, logger=pyats_patches.__name__):
        result = pyats_patches.install()
    assert result == dict.fromkeys(result, False) and len(result) == len(pyats_patches.PATCHES)
    assert not applied
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == len(pyats_patches.PATCHES)
    assert all(re.search(r"not applied: pyATS [\d.]+ is not the tested 1\.0", m) for m in messages), messages


def test_a_failed_premise_declines_only_that_patch(monkeypatch, caplog):
    monkeypatch.setattr(pyats_patches, "_installed", {})
    applied = []
    patches = [pyats_patches.Patch(p.name, p.premise, lambda n=p.name: applied.append(n) or True)
               for p in pyats_patches.PATCHES]
    patches[2] = pyats_patches.Patch("source_cache", lambda: "Python 3.13 says no", patches[2].apply)
    monkeypatch.setattr(pyats_patches, "PATCHES", tuple(patches))
    with caplog.at_level(logging.WARNING, logger=pyats_patches.__name__):
        result = pyats_patches.install()
    assert result["source_cache"] is False and "source_cache" not in applied
    assert [r.getMessage() for r in caplog.records] == [
        "faasr-easypy: pyATS patch source_cache not applied: Python 3.13 says no"]


def test_reporter_messages_and_mails_are_redacted_once_installed():
    """The redaction patches replace what they say, and only mask once given a redactor."""
    found, _ = _fresh(
        "import json\n"
        "from pyats.reporter.client import ReportClient\n"
        "from pyats.results import Failed\n"
        "from pyats.utils.email import EmailMsg\n"
        "from faasr_easypy.easypy import pyats_mail, pyats_patches, redaction\n"
        "from faasr_easypy.redact import Redactor\n"
        "before = ReportClient._socket_wrapper\n"
        "pyats_patches.install()\n"
        "sent = []\n"
        "redaction._original[0] = lambda self, _name, **kw: sent.append((_name, kw))\n"
        "client = object.__new__(ReportClient)\n"
        "ReportClient._socket_wrapper(client, 'stop_section', result=Failed.clone('x ghp_secret_123'))\n"
        "redaction.use(Redactor(['ghp_secret_123'], include_environment=False))\n"
        "ReportClient._socket_wrapper(client, 'stop_section', result=Failed.clone('x ghp_secret_123'),\n"
        "                             detail='d ghp_secret_123', parameters={'k': ['ghp_secret_123', 3]})\n"
        "print(json.dumps({'replaced': ReportClient._socket_wrapper is not before,\n"
        "    'mail': EmailMsg.message is not pyats_mail._state['original'][0],\n"
        "    'unmasked': sent[0][1]['result'].reason, 'masked': sent[1][1]['result'].reason,\n"
        "    'type': type(sent[1][1]['result']).__name__, 'value': str(sent[1][1]['result']),\n"
        "    'detail': sent[1][1]['detail'], 'parameters': sent[1][1]['parameters']}))\n")
    assert found == {"replaced": True, "mail": True, "unmasked": "x ghp_secret_123", "masked": "x ***",
                     "type": "TestResult", "value": "failed", "detail": "d ***",
                     "parameters": {"k": ["***", 3]}}
