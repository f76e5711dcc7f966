"""A small client of an MLflow tracking server's REST API: the model registry and the artifact
proxy, nothing else, with the standard library alone (no ``mlflow`` package to install: its
client pulls in a web framework, pandas and more for what is a handful of GET requests).

It reads the calls crnnaudit needs (an alias's version, a version's record and download URI, the
registered models and their versions, the files of a version) and writes only what an admin
allowed (a tag on a version; a card stored beside the version's model file). Every failure is a
:class:`~crnnaudit.errors.RegistryError` naming what was asked for and why.
"""

from __future__ import annotations

import base64
import json
import posixpath
import urllib.error
import urllib.parse
import urllib.request
from typing import Callable, Iterator

from ..config import setting
from ..errors import RegistryError
from ..limits import MAX_REGISTRY_DEPTH, MAX_REGISTRY_ENTRIES, REGISTRY_TIMEOUT_S

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


class NotFound(RegistryError):
    """The server answered that what was asked for does not exist."""


class MlflowRest:
    """The tracking server at ``tracking_uri`` (default ``MLFLOW_TRACKING_URI``), with MLflow's
    own authentication variables (a bearer token, or a user name and password).

    Raises:
        RegistryError: no server is set, or its address is not ``http(s)://``.
    """

    def __init__(self, tracking_uri: str | None = None, timeout: float = REGISTRY_TIMEOUT_S):
        uri = (tracking_uri or setting("MLFLOW_TRACKING_URI") or "").rstrip("/")
        if not uri:
            raise RegistryError("no model registry is set: set MLFLOW_TRACKING_URI to the MLflow tracking server "
                                "(http://host:port) to open models:/ URIs")
        if urllib.parse.urlsplit(uri).scheme not in ("http", "https"):
            raise RegistryError(f"MLFLOW_TRACKING_URI={uri!r}: crnnaudit reads a registry through an MLflow "
                                "tracking server (http:// or https://), not a database or a folder directly")
        self.uri, self.timeout = uri, timeout

    # --- transport --------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        token, user = setting("MLFLOW_TRACKING_TOKEN"), setting("MLFLOW_TRACKING_USERNAME")
        if token:
            return {"Authorization": f"Bearer {token}"}
        if user:
            pair = f"{user}:{setting('MLFLOW_TRACKING_PASSWORD') or ''}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        return {}

    def _open(self, method: str, path: str, what: str, params: dict | None = None, body: bytes | None = None,
              content_type: str = "application/json"):
        url = self.uri + urllib.parse.quote(path, safe="/") + (
            "?" + urllib.parse.urlencode(params) if params else "")
        headers = dict(self._headers(), **({"Content-Type": content_type} if body is not None else {}))
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            detail = _error_detail(e)
            if e.code == 404 or "RESOURCE_DOES_NOT_EXIST" in detail or "not found" in detail.lower():
                raise NotFound(f"{what}: not found in the registry at {self.uri} ({detail})") from e
            if e.code in (401, 403):
                raise RegistryError(f"{what}: the registry at {self.uri} refused access (HTTP {e.code}); set "
                                    "MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and _PASSWORD") from e
            raise RegistryError(f"{what}: the registry at {self.uri} answered HTTP {e.code} ({detail})") from e
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", None) or e
            raise RegistryError(f"{what}: the registry at {self.uri} does not answer ({reason})") from e

    def _json(self, method: str, path: str, what: str, params: dict | None = None, body: dict | None = None) -> dict:
        with self._open(method, path, what, params, json.dumps(body).encode() if body is not None else None) as r:
            raw = r.read(16 << 20)
        try:
            value = json.loads(raw or b"{}")
        except ValueError as e:
            raise RegistryError(f"{what}: the registry at {self.uri} answered something that is not JSON") from e
        if not isinstance(value, dict):
            raise RegistryError(f"{what}: the registry at {self.uri} answered an unexpected {type(value).__name__}")
        return value

    # --- the registry -----------------------------------------------------------------
    def alias_version(self, name: str, alias: str, what: str) -> str:
        """The version ``alias`` of registered model ``name`` points to now."""
        mv = self._json("GET", f"{API}/registered-models/alias", what, {"name": name, "alias": alias})
        return _version_of(mv.get("model_version"), what)

    def model_version(self, name: str, version: str, what: str) -> dict:
        """A version's record (``name``, ``version``, ``source``, ``run_id``, ``status``, ``aliases``...)."""
        mv = self._json("GET", f"{API}/model-versions/get", what, {"name": name, "version": version})
        record = mv.get("model_version")
        _version_of(record, what)
        return record

    def download_uri(self, name: str, version: str, what: str) -> str:
        """Where the version's files are (an ``mlflow-artifacts:`` URI on a server that proxies them)."""
        out = self._json("GET", f"{API}/model-versions/get-download-uri", what, {"name": name, "version": version})
        if not isinstance(out.get("artifact_uri"), str):
            raise RegistryError(f"{what}: the registry gave no location for the version's files")
        return out["artifact_uri"]

    def registered_models(self, what: str = "the registry's models") -> list[dict]:
        """Every registered model's record (``name``, ``aliases``), following the pages."""
        return list(self._pages(f"{API}/registered-models/search", "registered_models", {"max_results": 1000}, what))

    def versions(self, name: str, what: str) -> list[dict]:
        """Every version of ``name`` (newest first)."""
        quoted = name.replace("'", "\\'")
        found = list(self._pages(f"{API}/model-versions/search", "model_versions",
                                 {"filter": f"name='{quoted}'", "max_results": 1000}, what))
        return sorted(found, key=lambda v: -int(v.get("version", 0)))

    def _pages(self, path: str, key: str, params: dict, what: str) -> Iterator[dict]:
        token, seen = None, 0
        while True:
            page = self._json("GET", path, what, dict(params, **({"page_token": token} if token else {})))
            items = page.get(key) or []
            seen += len(items)
            yield from (i for i in items if isinstance(i, dict))
            token = page.get("next_page_token")
            if not token or seen >= MAX_REGISTRY_ENTRIES:
                return

    def set_tag(self, name: str, version: str, key: str, value: str, what: str) -> None:
        self._json("POST", f"{API}/model-versions/set-tag", what,
                   body={"name": name, "version": str(version), "key": key, "value": value})

    # --- files ------------------------------------------------------------------------
    def files(self, artifact_uri: str, what: str) -> list[tuple[str, int]]:
        """Every file under ``artifact_uri`` as (path relative to it, size), at most
        :data:`MAX_REGISTRY_ENTRIES` entries and :data:`MAX_REGISTRY_DEPTH` folders deep."""
        root, out = _proxied_path(artifact_uri, what), []

        def walk(rel: str, depth: int) -> None:
            listing = self._json("GET", ARTIFACTS, what, {"path": posixpath.join(root, rel) if rel else root})
            for f in listing.get("files") or []:
                name = posixpath.basename(str(f.get("path", "")))
                if not _safe_name(name):
                    raise RegistryError(f"{what}: the registry lists a file named {name!r}; refused")
                path = posixpath.join(rel, name) if rel else name
                if len(out) >= MAX_REGISTRY_ENTRIES:
                    raise RegistryError(f"{what}: the version holds more than {MAX_REGISTRY_ENTRIES} files")
                if f.get("is_dir"):
                    if depth >= MAX_REGISTRY_DEPTH:
                        raise RegistryError(f"{what}: the version's folders nest deeper than {MAX_REGISTRY_DEPTH}")
                    walk(path, depth + 1)
                else:
                    out.append((path, int(f.get("file_size") or 0)))
        walk("", 0)
        return out

    def download(self, artifact_uri: str, rel: str, sink: Callable[[bytes], None], limit: int, what: str) -> int:
        """Stream the file ``rel`` under ``artifact_uri`` into ``sink``; at most ``limit`` bytes.

        Returns: the number of bytes read.
        """
        path = posixpath.join(_proxied_path(artifact_uri, what), rel)
        size = 0
        with self._open("GET", f"{ARTIFACTS}/{path}", what) as r:
            while block := r.read(1 << 20):
                size += len(block)
                if size > limit:
                    raise RegistryError(f"{what}: {rel} is larger than {limit >> 20} MB; refused")
                sink(block)
        return size

    def upload(self, artifact_uri: str, rel: str, data: bytes, what: str) -> None:
        """Store ``data`` as the file ``rel`` under ``artifact_uri``."""
        path = posixpath.join(_proxied_path(artifact_uri, what), rel)
        with self._open("PUT", f"{ARTIFACTS}/{path}", what, body=data, content_type="application/octet-stream"):
            pass


def _version_of(record, what: str) -> str:
    if not isinstance(record, dict) or not str(record.get("version", "")).isdigit():
        raise RegistryError(f"{what}: the registry's answer names no model version")
    return str(record["version"])


def _proxied_path(artifact_uri: str, what: str) -> str:
    """The path of an ``mlflow-artifacts:`` URI within the server's artifact proxy."""
    parts = urllib.parse.urlsplit(artifact_uri)
    if parts.scheme != "mlflow-artifacts":
        raise RegistryError(f"{what}: the version's files are at {artifact_uri!r}, which crnnaudit does not read "
                            "directly; run the tracking server with its artifact proxy (mlflow server "
                            "--serve-artifacts, the default) so that files are served as mlflow-artifacts:/")
    path = parts.path.strip("/")
    if any(p in ("", ".", "..") for p in path.split("/")):
        raise RegistryError(f"{what}: the version's files are at {artifact_uri!r}, not a usable path")
    return path


def _safe_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name and "\x00" not in name


def _error_detail(e: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(e.read(64 << 10) or b"{}")
        return str(body.get("message") or body.get("error_code") or e.reason)[:300]
    except Exception:  # noqa: BLE001  (an error page that is not JSON)
        return str(e.reason)[:300]
