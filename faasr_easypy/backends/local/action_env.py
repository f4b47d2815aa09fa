"""The environment an action's function sees: what FaaSr would give it, nothing of the harness.

On a FaaSr platform a function's process holds the platform's ordinary
variables, the ``<DataStore>_AccessKey`` / ``_SecretKey`` of its workflow's data
stores, and the secrets its workflow names (FaaSr 2.1.0's top-level
``"Secrets": ["NAME", ...]``; its schema allows no per-action list). It never
sees the credentials of other platforms, other workflows or the harness (every
``*_PAT``, the ``FAASR_EASYPY_S3_*`` keys of the job's S3 server, ...).

The fork server is started with :func:`base_environment` only (what a
process reads from ``/proc/self/environ`` is the environment it was exec'd
with, so cleaning os.environ after a fork would not be enough), and each
action process then sets :func:`action_environment` of its job.
"""

import os

#: variables every process may keep: how to find programs, libraries, the locale, the user
ALLOWED_NAMES = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TERM", "TMPDIR", "TEMP", "TMP",
    "PWD", "HOSTNAME", "LD_LIBRARY_PATH", "VIRTUAL_ENV", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "AWS_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
    "http_proxy", "https_proxy", "no_proxy", "R_HOME", "R_LIBS", "R_LIBS_USER", "R_LIBS_SITE",
    # not credentials: the Rscript the fork server's R server runs, and the test suite's tag
    # that finds processes a test left behind
    "FAASR_EASYPY_RSCRIPT", "FAASR_EASYPY_TEST_TAG",
})
#: prefixes of variables every process may keep (locale, interpreter and coverage settings)
ALLOWED_PREFIXES = ("LC_", "PYTHON", "COVERAGE_", "COV_CORE_", "XDG_")


def base_environment(environ=None):
    """The variables of `environ` (default os.environ) that are no one's credentials."""
    environ = os.environ if environ is None else environ
    return {name: value for name, value in environ.items()
            if name in ALLOWED_NAMES or name.startswith(ALLOWED_PREFIXES)}


def secret_names(workflow_data):
    """The secrets a workflow names (its top-level ``Secrets`` list), in order, once each."""
    value = workflow_data.get("Secrets") if isinstance(workflow_data, dict) else None
    names = []
    for name in ([value] if isinstance(value, str) else value or ()):
        if isinstance(name, str) and name and name not in names:
            names.append(name)
    return names


def named_secrets(workflow_data, given=None, environ=None):
    """{name: value} of the secrets a workflow's actions may read (faasr_secret, os.environ): all those
    given to the backend (``LocalBackend(secrets=...)``, the caller's own secret store), and
    those the workflow names, from the harness's environment (names with no value left out)."""
    environ = os.environ if environ is None else environ
    out = dict(given or {})
    for name in secret_names(workflow_data):
        if name not in out and environ.get(name) is not None:
            out[name] = environ[name]
    return out


def action_environment(job, environ=None):
    """The whole environment of `job`'s function: the base, its data stores' keys, its secrets."""
    env = base_environment(environ)
    for store_name, store in job["stores"].items():
        env[f"{store_name}_AccessKey"] = store.get("access_key") or ""
        env[f"{store_name}_SecretKey"] = store.get("secret_key") or ""
    env.update(job.get("secrets") or {})
    return env


def enter_action_environment(job):
    """Replace this (forked action) process's environment by action_environment(job)."""
    env = action_environment(job)
    os.environ.clear()
    os.environ.update(env)
