"""A loopback stand-in for the three GitHub REST calls the faasr-py runtime makes.

    GET  /repos/{owner}/{repo}/contents/{path}?ref=BRANCH   the workflow JSON (PAYLOAD_URL)
    GET  /repos/{owner}/{repo}/tarball                      the FunctionGitRepo folders
    POST /repos/{owner}/{repo}/actions/workflows/{file}/dispatches   trigger the next action

The real runtime's own `requests` calls reach it over real HTTP (the driver
only rewrites the https://api.github.com prefix), so the runtime's URLs,
headers and bodies are checked here the way GitHub would check them: a wrong
token gets 401, an unknown workflow file 404, a missing ref 422, like the
real API. Bound to 127.0.0.1 only.
"""

import base64
import io
import json
import logging
import re
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger(__name__)

_CONTENTS = re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/contents/(?P<path>.+)$")
_TARBALL = re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/tarball(?:/(?P<ref>[^/]+))?$")
_DISPATCH = re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/actions/workflows/(?P<file>[^/]+)/dispatches$")
_SKIP = {"__pycache__", ".git", ".venv", "venv", ".pytest_cache"}


class Dispatch:
    """One workflow_dispatch the runtime sent: which workflow file, and its inputs."""

    def __init__(self, owner, repo, workflow_file, ref, overwritten, payload_url):
        self.owner, self.repo, self.workflow_file = owner, repo, workflow_file
        self.ref = ref
        self.overwritten = overwritten  # dict, parsed from the OVERWRITTEN string input
        self.payload_url = payload_url


class GitHubAPIStandIn:
    """Serves published files and folders; hands each valid dispatch to `on_dispatch`.

    `on_dispatch(dispatch)` returns None to accept (204) or an error message (404).
    """

    def __init__(self, token, on_dispatch):
        self._token = token
        self._on_dispatch = on_dispatch
        self._lock = threading.Lock()
        self._files = {}    # (owner, repo, ref, path) -> bytes
        self._folders = {}  # (owner, repo) -> {subpath: folder}
        self._tarballs = {}  # (owner, repo) -> bytes, cached
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="faasr-py-github-api",
                                        daemon=True)
        self._thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def publish_file(self, owner, repo, ref, path, data):
        with self._lock:
            self._files[(owner, repo, ref, path.strip("/"))] = bytes(data)

    def unpublish_file(self, owner, repo, ref, path):
        with self._lock:
            self._files.pop((owner, repo, ref, path.strip("/")), None)

    def publish_folder(self, owner, repo, subpath, folder):
        """Make `folder` appear at `subpath` (may be "") of the repository's tarball."""
        with self._lock:
            self._folders.setdefault((owner, repo), {})[subpath.strip("/")] = Path(folder)
            self._tarballs.pop((owner, repo), None)

    def close(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    # -- serving -----------------------------------------------------------------
    def _tarball(self, owner, repo):
        with self._lock:
            if (owner, repo) in self._tarballs:
                return self._tarballs[(owner, repo)]
            folders = dict(self._folders.get((owner, repo), {}))
        if not folders:
            return None
        root = f"{owner}-{repo}-0000000"  # GitHub's top folder: owner-repo-shortsha
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            tar.addfile(_dir_info(root))  # faasr-py takes the first member as the root folder
            for subpath, folder in sorted(folders.items()):
                prefix = f"{root}/{subpath}" if subpath else root
                for part in _parents(subpath):
                    tar.addfile(_dir_info(f"{root}/{part}"))
                for path in sorted(folder.rglob("*")):
                    rel = path.relative_to(folder)
                    if any(p in _SKIP for p in rel.parts) or path.suffix == ".pyc":
                        continue
                    tar.add(str(path), arcname=f"{prefix}/{rel.as_posix()}", recursive=False)
        data = buf.getvalue()
        with self._lock:
            self._tarballs[(owner, repo)] = data
        return data

    def _handler_class(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt, *args):  # quiet; the token is never in a path anyway
                log.debug("github stand-in: " + fmt, *args)

            def _reply(self, status, body=None, content_type="application/json"):
                data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
                self.send_response(status)
                if body is not None:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _not_found(self):
                self._reply(404, {"message": "Not Found",
                                  "documentation_url": "https://docs.github.com/rest"})

            def do_GET(self):
                self._safely(self._get)

            def do_POST(self):
                self._safely(self._post)

            def _safely(self, method):
                try:
                    method()
                except Exception as exc:  # a bug here shows to the runtime as GitHub's 500
                    log.exception("github stand-in: %s %s failed", self.command, self.path)
                    self._reply(500, {"message": f"Server Error: {type(exc).__name__}"})

            def _get(self):
                parts = urlsplit(self.path)
                path = unquote(parts.path)
                m = _CONTENTS.match(path)
                if m:
                    ref = (parse_qs(parts.query).get("ref") or [""])[0]
                    with api._lock:
                        data = api._files.get((m["owner"], m["repo"], ref, m["path"].strip("/")))
                    if data is None:
                        return self._not_found()
                    return self._reply(200, {"type": "file", "encoding": "base64", "path": m["path"],
                                             "content": base64.b64encode(data).decode()})
                m = _TARBALL.match(path)
                if m:
                    data = api._tarball(m["owner"], m["repo"])
                    if data is None:
                        return self._not_found()
                    return self._reply(200, data, "application/x-gzip")
                self._not_found()

            def _post(self):
                path = unquote(urlsplit(self.path).path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                m = _DISPATCH.match(path)
                if not m:
                    return self._not_found()
                if self.headers.get("Authorization") != f"token {api._token}":
                    return self._reply(401, {"message": "Bad credentials"})
                try:
                    body = json.loads(raw or b"{}")
                    inputs = body.get("inputs") or {}
                    overwritten = json.loads(inputs["OVERWRITTEN"])
                    payload_url = inputs["PAYLOAD_URL"]
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    return self._reply(422, {"message": f"Invalid request: {exc}"})
                if not body.get("ref"):
                    return self._reply(422, {"message": "Invalid request: ref is missing"})
                error = api._on_dispatch(Dispatch(m["owner"], m["repo"], m["file"], body["ref"],
                                                  overwritten, payload_url))
                if error:
                    return self._reply(404, {"message": error})
                self._reply(204)

        return Handler


def _dir_info(name):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info


def _parents(subpath):
    """'a/b/c' -> ['a', 'a/b', 'a/b/c']"""
    parts = [p for p in subpath.split("/") if p]
    return ["/".join(parts[:i + 1]) for i in range(len(parts))]
