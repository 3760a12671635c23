"""Minimal Hugging Face Hub-compatible HTTP server for tests (stdlib only).

Serves model repos under ``/{owner/name}/resolve/{revision}/{filename}`` so the real
``huggingface_hub.hf_hub_download`` code path (HEAD for metadata, then GET, with Range
resume) is exercised end to end, and accepts the few write calls that
``HfApi.create_repo``, ``HfApi.upload_folder`` and ``HfApi.create_tag`` make, so uploads
can be tested for real too.  Point huggingface_hub at it with the env var
``HF_ENDPOINT=hub.endpoint``; it is read when huggingface_hub is imported, so set it
before that import (e.g. in a subprocess).

Repos come from :meth:`HubServer.add_file` (files on disk, one fixed commit) or from the
write API (each upload makes a new commit).  A revision is ``main`` (the latest commit),
a tag, or the 40-hex sha of any commit of the repo.

Download response shapes (mirroring the Hub for a plain, non-LFS, non-xet file)::

    200/206  X-Repo-Commit: <40-hex sha>
             ETag: "<sha256 hex of content>"          (quoted)
             Content-Type: application/octet-stream
             Content-Length: <body length>            (full size on HEAD and 200)
             Accept-Ranges: bytes
             Content-Range: bytes START-END/SIZE      (206 only)
    404      X-Error-Code: RepoNotFound      X-Error-Message: Repository not found
    404      X-Error-Code: RevisionNotFound  X-Error-Message: Invalid rev id: <rev>
    404      X-Error-Code: EntryNotFound     X-Error-Message: Entry not found
             X-Repo-Commit: <sha>
    404      (no X-Error-Code)                for any other path
    416      Content-Range: bytes */SIZE      for an unsatisfiable Range

Write API (every POST needs ``Authorization: Bearer <token>``, else 401; JSON replies)::

    POST /api/repos/create                 {"name", "organization", "type"?} -> 200 {"url"},
                                           409 if the repo exists (model repos only)
    POST /api/validate-yaml                -> 200 {"errors": [], "warnings": []} (no check)
    POST /api/models/{repo}/preupload/main {"files": [{"path", ...}]} -> 200 {"files":
                                           [{"path", "uploadMode": "regular", "shouldIgnore": false}]}
                                           (so file contents come inline, base64, in the commit)
    POST /api/models/{repo}/commit/main    NDJSON: a "header" line, then "file" (base64 content)
                                           and "deletedFile" lines -> 200 {"commitUrl",
                                           "commitOid", "pullRequestUrl": null}; 400 for others
                                           (e.g. "lfsFile": this server never asks for LFS)
    POST /api/models/{repo}/tag/{rev}      {"tag"} -> 200 {}; 409 if the tag exists

Write-API errors are JSON ``{"error": message}`` (the create 409 adds ``"url"``, which
``create_repo(exist_ok=True)`` reads); missing repos and revisions also carry the
``X-Error-Code`` headers above.  No ``X-Linked-*`` or ``X-Xet-*`` headers
are ever sent, so huggingface_hub uses ``ETag`` and ``Content-Length``, downloads over
plain HTTP and (answered "regular" by preupload) uploads without xet or LFS.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

_RANGE_RE = re.compile(r"bytes=(\d+)-(\d*)")
_REPO_API_RE = re.compile(r"/api/models/([^/]+/[^/]+)/(preupload|commit|tag)/([^/]+)")


@dataclass
class _Repo:
    """A model repo: its commits (sha -> {filename: file on disk or content}) and its refs
    ("main" and tags -> sha)."""

    commits: dict[str, dict[str, Path | bytes]]
    refs: dict[str, str]

    @classmethod
    def new(cls, repo_id: str) -> _Repo:
        """An empty repo whose first commit is the sha1 hex of its id."""
        sha = hashlib.sha1(repo_id.encode()).hexdigest()
        return cls({sha: {}}, {"main": sha})

    def resolve(self, revision: str) -> str | None:
        """The commit sha a branch, tag or commit sha names, or None."""
        return self.refs.get(revision) or (revision if revision in self.commits else None)


class HubServer:
    """Hub-like file server on 127.0.0.1 (free port), serving from a daemon thread.

    Starts serving on construction; use as ``with HubServer() as hub: ...`` or call
    :meth:`close` yourself.  Pass ``verbose=True`` to get request/error logs on stderr, and
    ``token=...`` to accept writes only with that bearer token (default: any).
    """

    def __init__(self, verbose: bool = False, token: str | None = None) -> None:
        self.verbose = verbose
        self.token = token
        self._closed = False
        self._lock = threading.Lock()
        self._repos: dict[str, _Repo] = {}
        self._breaks: dict[tuple[str, str], int] = {}
        self._requests: list[tuple[str, str]] = []
        self._fail_status: int | None = None
        handler = type("_BoundHandler", (_Handler,), {"hub": self})
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self._httpd.hub = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="HubServer", daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        """Base URL to use as ``HF_ENDPOINT``, e.g. ``"http://127.0.0.1:54321"``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> list[tuple[str, str]]:
        """Snapshot (a copy) of every request received, as ``(method, url-decoded path)``."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget all recorded requests."""
        with self._lock:
            self._requests.clear()

    def add_file(self, repo_id: str, filename: str, path: str | Path) -> None:
        """Serve the file at ``path`` as ``filename`` in model repo ``repo_id`` ("owner/name").

        The file goes into the repo's latest commit, in place.  It is read at request time,
        so its content may be swapped between requests (new ETag).  The commit stays fixed,
        though, so a client whose cache already holds this commit's snapshot keeps returning
        the old file (use a fresh HF_HOME or ``force_download=True``).
        """
        with self._lock:
            repo = self._repos.setdefault(repo_id, _Repo.new(repo_id))
            repo.commits[repo.refs["main"]][filename] = Path(path)

    def add_tag(self, repo_id: str, tag: str) -> None:
        """Tag the latest commit of ``repo_id`` (a repo made with :meth:`add_file`)."""
        with self._lock:
            repo = self._repos[repo_id]
            repo.refs[tag] = repo.refs["main"]

    def fail_downloads(self, status: int | None) -> None:
        """Answer every download (HEAD and GET) with this HTTP status, as a Hub outage would;
        None serves normally again."""
        with self._lock:
            self._fail_status = status

    def commit_for(self, repo_id: str) -> str:
        """The latest commit ("main") of ``repo_id``: the sha1 hex of the repo id until
        something is uploaded to it (so fixed for repos made with :meth:`add_file`)."""
        with self._lock:
            repo = self._repos.get(repo_id)
            return repo.refs["main"] if repo else hashlib.sha1(repo_id.encode()).hexdigest()

    def break_after(self, repo_id: str, filename: str, nbytes: int) -> None:
        """Make the next GET of this file send full headers but drop the connection after
        ``nbytes`` body bytes.  One-shot: later GETs are served normally."""
        with self._lock:
            self._breaks[(repo_id, filename)] = nbytes

    def close(self) -> None:
        """Stop serving and release the port (idempotent)."""
        if not self._closed:
            self._closed = True
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join()

    def __enter__(self) -> HubServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class _Server(ThreadingHTTPServer):
    """Threading server whose connection errors stay quiet unless the hub is verbose."""

    daemon_threads = True
    hub: HubServer

    def handle_error(self, request: object, client_address: object) -> None:
        if self.hub.verbose:
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Handler(BaseHTTPRequestHandler):
    """Request handler; ``hub`` is bound per server by :class:`HubServer`."""

    protocol_version = "HTTP/1.1"
    hub: HubServer

    def log_message(self, format: str, *args: object) -> None:
        if self.hub.verbose:
            super().log_message(format, *args)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _reply(
        self, status: int, headers: dict[str, str], payload: bytes, body: bool, cut: int | None = None
    ) -> None:
        """Send status, headers (plus Content-Length of the full payload) and, unless HEAD,
        the payload; with ``cut``, send only ``payload[:cut]`` then drop the connection."""
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if body:
            self.wfile.write(payload if cut is None else payload[:cut])
        if cut is not None:
            self.wfile.flush()
            self.close_connection = True

    def _error(self, code: str | None, message: str, body: bool, extra: dict[str, str] | None = None) -> None:
        headers = {"Content-Type": "text/plain; charset=utf-8", **(extra or {})}
        if code is not None:
            headers.update({"X-Error-Code": code, "X-Error-Message": message})
        self._reply(404, headers, message.encode(), body)

    def _record(self) -> str:
        """Record the request; return its raw (still url-encoded) path."""
        raw_path = urlsplit(self.path).path
        with self.hub._lock:
            self.hub._requests.append((self.command, unquote(raw_path)))
        return raw_path

    def _serve(self, body: bool) -> None:
        hub = self.hub
        raw_path = self._record()
        parts = [unquote(p) for p in raw_path.lstrip("/").split("/", 4)]
        if len(parts) != 5 or parts[2] != "resolve" or not parts[4]:
            return self._error(None, "Not found", body)
        repo_id, revision, filename = f"{parts[0]}/{parts[1]}", parts[3], parts[4]
        if hub._fail_status is not None:
            return self._reply(hub._fail_status, {"Content-Type": "text/plain"}, b"Service unavailable", body)
        with hub._lock:
            repo = hub._repos.get(repo_id)
            commit = repo.resolve(revision) if repo else None
            content = repo.commits[commit].get(filename) if repo and commit else None
        if repo is None:
            return self._error("RepoNotFound", "Repository not found", body)
        if commit is None:
            return self._error("RevisionNotFound", f"Invalid rev id: {revision}", body)
        if content is None:
            return self._error("EntryNotFound", "Entry not found", body, {"X-Repo-Commit": commit})

        data = content.read_bytes() if isinstance(content, Path) else content
        size = len(data)
        headers = {
            "X-Repo-Commit": commit,
            "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
        }
        status, payload = 200, data
        match = _RANGE_RE.fullmatch(self.headers.get("Range", "")) if body else None
        if match:
            start = int(match.group(1))
            end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
            if start >= size or start > end:
                headers["Content-Range"] = f"bytes */{size}"
                return self._reply(416, headers, b"", body)
            status, payload = 206, data[start : end + 1]
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"

        with hub._lock:
            cut = hub._breaks.pop((repo_id, filename), None) if body else None
        self._reply(status, headers, payload, body, cut)

    # ---- write API ---------------------------------------------------------------------------

    def _json(self, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self._reply(status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(obj).encode(), True)

    def _api_error(self, status: int, message: str, code: str | None = None, **extra: str) -> None:
        """A write-API error as the Hub sends it: JSON ``{"error": message, **extra}`` (and
        ``X-Error-Code``/``X-Error-Message`` when ``code`` is given)."""
        headers = {"X-Error-Code": code, "X-Error-Message": message} if code else {}
        self._json({"error": message, **extra}, status, headers)

    def do_POST(self) -> None:
        hub = self.hub
        raw_path = self._record()
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or (hub.token is not None and auth != f"Bearer {hub.token}"):
            return self._api_error(401, "Invalid credentials in Authorization header")
        if raw_path == "/api/validate-yaml":
            return self._json({"errors": [], "warnings": []})
        if raw_path == "/api/repos/create":
            return self._create_repo(json.loads(data))
        match = _REPO_API_RE.fullmatch(raw_path)
        if match is None:
            return self._api_error(404, "Not found")
        repo_id, action, revision = (unquote(g) for g in match.groups())
        with hub._lock:
            repo = hub._repos.get(repo_id)
            commit = repo.resolve(revision) if repo else None
        if repo is None:
            return self._api_error(404, "Repository not found", "RepoNotFound")
        if commit is None or (action != "tag" and revision != "main"):  # uploads go to main only
            return self._api_error(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        if action == "preupload":
            files = json.loads(data)["files"]
            return self._json({"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]})
        if action == "commit":
            return self._commit(repo_id, repo, data)
        tag = json.loads(data)["tag"]
        with hub._lock:
            exists = tag in repo.refs
            if not exists:
                repo.refs[tag] = commit
        if exists:
            return self._api_error(409, f"Tag {tag} already exists")
        self._json({})

    def _create_repo(self, payload: dict[str, Any]) -> None:
        if payload.get("type", "model") != "model" or not payload.get("organization"):
            return self._api_error(400, "This server only hosts owner/name model repos")
        repo_id = f"{payload['organization']}/{payload['name']}"
        with self.hub._lock:
            exists = repo_id in self.hub._repos
            if not exists:
                self.hub._repos[repo_id] = _Repo.new(repo_id)
        if exists:
            return self._api_error(409, "You already created this model repo", url=f"{self.hub.endpoint}/{repo_id}")
        self._json({"url": f"{self.hub.endpoint}/{repo_id}", "name": repo_id})

    def _commit(self, repo_id: str, repo: _Repo, data: bytes) -> None:
        """Apply an NDJSON commit to main: a new commit, sha1 of the parent sha and the body."""
        lines = [json.loads(line) for line in data.splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            return self._api_error(400, "A commit starts with a header line")
        changes: dict[str, bytes | None] = {}
        for line in lines[1:]:
            key, value = line.get("key"), line.get("value", {})
            if key == "file" and value.get("encoding") == "base64":
                changes[value["path"]] = base64.b64decode(value["content"])
            elif key == "deletedFile":
                changes[value["path"]] = None
            else:
                return self._api_error(400, f"Unsupported commit operation {key!r} (regular files only)")
        with self.hub._lock:
            parent = repo.refs["main"]
            files: dict[str, Path | bytes] = dict(repo.commits[parent])
            for path, content in changes.items():
                if content is None:
                    files.pop(path, None)
                else:
                    files[path] = content
            sha = hashlib.sha1(parent.encode() + data).hexdigest()
            repo.commits[sha] = files
            repo.refs["main"] = sha
        self._json({"commitUrl": f"{self.hub.endpoint}/{repo_id}/commit/{sha}", "commitOid": sha, "pullRequestUrl": None})
