"""Where the model comes from: the Hugging Face Hub (cached) or a local folder.

Precedence, first match wins: explicit arguments (the CLI flags), ``POSE_MODEL_PATH``
(a local folder with ``pose_config.json`` and the ONNX file, for offline use), then
``POSE_MODEL_REPO`` / ``POSE_MODEL_REVISION``, then the project's default repo below.

Hub downloads go through ``hf_hub_download`` into the normal HF cache; later runs use
the cache (with a commit-hash revision, without any request at all), and
``HF_HUB_OFFLINE=1`` works from the cache. The ONNX file's sha256 must equal the one in
the config; a mismatching cached file is deleted and downloaded once more.

Fallback: when the *default* model cannot be had (no network and no cache, repo or revision
not found, the Hub failing), the model bundled in ``models/`` is used instead and
``ModelFiles.fallback_reason`` says why; ``POSE_FALLBACK=0`` turns this off. A damaged file
(checksum mismatch) or an invalid config never falls back: that stops with its message. A
model chosen outright (a path, or a repo by flag or ``POSE_MODEL_REPO``) never falls back.

One HEAD request with a short timeout checks that the Hub answers before downloading: without
it huggingface_hub retries a dead connection for 23 s before looking in the cache.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import CONFIG_FILENAME, ModelConfig
from .errors import ModelConfigError, ModelError, ModelUnavailableError

log = logging.getLogger(__name__)

# The quantized Simple Baselines PoseResNet-50 (MPII, 256x256) published by `python -m pose.export
# --push-to-hub`, pinned to the tag created when it is published.
DEFAULT_MODEL_REPO = "simple-baselines-demo/pose-resnet50-mpii-int8"
DEFAULT_MODEL_REVISION = "v1"
# Served when the default cannot be had: PP-TinyPose 256x192 (COCO-17), shipped in the repo.
BUNDLED_MODEL = Path(__file__).resolve().parent.parent / "models" / "pp-tinypose-256x192-coco"
HUB_PROBE_TIMEOUT_S = 5.0  # s: the one HEAD that tells whether the Hub answers at all
_RETRIED_STATUS = (408, 429, 500, 502, 503, 504)  # answers huggingface_hub retries for 23 s


@dataclass(frozen=True)
class ModelSource:
    """Either a local folder (``path``) or a Hub repo at a revision. ``default`` marks the
    project's default repo, the only source that may fall back to the bundled model."""

    repo: str | None = None
    revision: str | None = None
    path: Path | None = None
    default: bool = False

    def __str__(self) -> str:
        return str(self.path) if self.path else f"{self.repo}@{self.revision}"

    @classmethod
    def resolve(cls, path: str | os.PathLike | None = None, repo: str | None = None, revision: str | None = None,
                *, env: str = "POSE_MODEL", default: ModelSource | None = None) -> ModelSource:
        """Apply the precedence: arguments, {env}_PATH, {env}_REPO/REVISION, then ``default``
        (for the pose model: the project's Hub repo; the detector passes its bundled folder)."""
        if path:
            return cls(path=Path(path))
        if repo:
            return cls(repo=repo, revision=revision or "main")
        env_path = os.environ.get(f"{env}_PATH")
        if env_path:
            return cls(path=Path(env_path))
        env_repo = os.environ.get(f"{env}_REPO")
        if env_repo:
            return cls(repo=env_repo, revision=revision or os.environ.get(f"{env}_REVISION") or "main")
        if default is not None:
            return default
        return cls(repo=DEFAULT_MODEL_REPO, revision=revision or os.environ.get(f"{env}_REVISION") or DEFAULT_MODEL_REVISION,
                   default=True)


@dataclass(frozen=True)
class ModelFiles:
    config: Any  # ModelConfig for a pose model, DetectorConfig for a detector
    onnx_path: Path
    fallback_reason: str | None = None  # set when the bundled model stands in for the default: why not the default


def fetch_model(source: ModelSource, config_file: str = CONFIG_FILENAME,
                load_config: Callable[[Path], Any] = ModelConfig.load) -> ModelFiles:
    """Find (and download if needed) the config and the checksum-verified ONNX file; for the
    default source, fall back to the bundled model when the Hub model cannot be had.
    ``config_file`` and ``load_config`` name and read the config (a detector has its own)."""
    if source.path is not None:
        return _local(source.path, config_file, load_config)
    try:
        return _from_hub(source.repo or DEFAULT_MODEL_REPO, source.revision or "main", config_file, load_config)
    except ModelUnavailableError as e:
        if not (source.default and fallback_enabled()):
            raise
        files = _local(BUNDLED_MODEL, config_file, load_config)
        log.warning("%s; using the bundled model %s instead (POSE_FALLBACK=0 turns this off)", str(e).rstrip("."), files.config.name)
        return ModelFiles(files.config, files.onnx_path, fallback_reason=e.reason)


def fallback_enabled() -> bool:
    """``POSE_FALLBACK``: 1 (default) lets the default model fall back to the bundled one, 0 does not."""
    value = os.environ.get("POSE_FALLBACK", "1").strip()
    if value not in ("0", "1"):
        raise ModelError(f"POSE_FALLBACK must be 0 or 1, not {value!r}")
    return value == "1"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _local(path: Path, config_file: str, load_config: Callable[[Path], Any]) -> ModelFiles:
    path = Path(path)
    folder = path.parent if path.is_file() else path
    config_path = path if path.is_file() else path / config_file
    if not folder.is_dir():
        raise ModelError(f"the model folder {path} is not a folder")
    config = load_config(config_path)
    onnx = folder / config.onnx_file
    if not onnx.is_file():
        raise ModelError(f"model file {onnx} named in {config_path} does not exist")
    actual = sha256_of(onnx)
    if actual != config.onnx_sha256:
        raise ModelConfigError(
            f"checksum mismatch: {onnx} has sha256 {actual}, but {config_path} expects {config.onnx_sha256}; "
            "the file is damaged or belongs to another config"
        )
    return ModelFiles(config, onnx)


def _from_hub(repo: str, revision: str, config_file: str, load_config: Callable[[Path], Any]) -> ModelFiles:
    down = _hub_down(repo, config_file, revision)  # None, or why only the cache is used
    config = load_config(Path(_download(repo, config_file, revision, down=down)))
    onnx = Path(_download(repo, config.onnx_file, revision, down=down))
    actual = sha256_of(onnx)
    if actual != config.onnx_sha256:
        _delete_cached(onnx)
        where = f"{repo}@{revision}/{config.onnx_file}"
        if _offline() or down:
            raise ModelError(
                f"checksum mismatch: the cached {where} was damaged (sha256 {actual}, expected "
                f"{config.onnx_sha256}); the bad file was deleted. It cannot be downloaded again: {_NO_NETWORK}"
            )
        log.warning("checksum mismatch for cached %s (sha256 %s); deleted it, downloading again", where, actual)
        try:
            onnx = Path(_download(repo, config.onnx_file, revision, force=True))
        except ModelError as e:
            raise ModelError(
                f"checksum mismatch: the cached {where} was damaged (sha256 {actual}, expected "
                f"{config.onnx_sha256}); the bad file was deleted, and downloading it again failed: {e}"
            ) from None
        actual = sha256_of(onnx)
        if actual != config.onnx_sha256:
            _delete_cached(onnx)
            raise ModelError(
                f"checksum mismatch: {where} on the Hub has sha256 {actual}, but its {config_file} expects "
                f"{config.onnx_sha256}; the downloaded file was deleted"
            )
    return ModelFiles(config, onnx)


_NO_CONNECTION = "there is no network connection"
_NO_NETWORK = (
    "no network connection (or HF_HUB_OFFLINE=1) and no cached copy. "
    "Run once with network access to fill the cache, or set POSE_MODEL_PATH to a local model folder."
)


def _offline() -> bool:
    from huggingface_hub import constants

    return constants.is_offline_mode()


def _hub_down(repo: str, filename: str, revision: str) -> str | None:
    """Why only the cache can be used: the Hub cannot be reached (one HEAD, short timeout, no
    retries) or answers with a status huggingface_hub would retry. None when it answers, and
    without a request when offline mode is on or a commit-hash revision is already cached."""
    import httpx2
    from huggingface_hub import get_hf_file_metadata, hf_hub_url, try_to_load_from_cache
    from huggingface_hub.errors import HfHubHTTPError

    if _offline() or (_COMMIT.fullmatch(revision) and isinstance(try_to_load_from_cache(repo, filename, revision=revision), str)):
        return None
    try:
        get_hf_file_metadata(hf_hub_url(repo, filename, revision=revision), timeout=HUB_PROBE_TIMEOUT_S)
    except HfHubHTTPError as e:
        if e.response is not None and e.response.status_code in _RETRIED_STATUS:
            log.debug("the Hub answered HTTP %d: using the local cache only", e.response.status_code)
            return f"the Hub answered HTTP {e.response.status_code}"
    except (httpx2.TransportError, OSError) as e:
        log.debug("the Hub cannot be reached (%s): using the local cache only", e)
        return _NO_CONNECTION
    return None


_COMMIT = re.compile(r"[0-9a-f]{40}")


def _download(repo: str, filename: str, revision: str, force: bool = False, down: str | None = None) -> str:
    """The cached path of one file of the repo, downloaded if needed; ``down`` (why the Hub
    cannot be used) restricts it to the cache."""
    # Imported here: huggingface_hub reads HF_ENDPOINT / HF_HUB_OFFLINE at import time.
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    what = f"{filename} from Hugging Face Hub repo {repo}@{revision}"
    try:
        return hf_hub_download(repo_id=repo, filename=filename, revision=revision, force_download=force,
                               local_files_only=down is not None)
    except RevisionNotFoundError:
        raise ModelUnavailableError(f"cannot download {what}: revision {revision!r} not found in the repo",
                                    f"revision {revision!r} of {repo} was not found on the Hub") from None
    except RepositoryNotFoundError:
        raise ModelUnavailableError(
            f"cannot download {what}: repository not found (check the name; a private repo needs HF_TOKEN)",
            f"the repository {repo} was not found on the Hub",
        ) from None
    # LocalEntryNotFoundError subclasses EntryNotFoundError: it must be caught first.
    except (LocalEntryNotFoundError, OfflineModeIsEnabled):
        if down and down != _NO_CONNECTION:
            raise ModelUnavailableError(f"cannot download {what}: {down}, and there is no cached copy",
                                        f"{down} and there is no cached copy") from None
        raise ModelUnavailableError(f"cannot download {what}: {_NO_NETWORK}",
                                    f"{_NO_CONNECTION} and no cached copy") from None
    except EntryNotFoundError:
        raise ModelError(f"cannot download {what}: the repo has no file {filename!r}") from None
    except HfHubHTTPError as e:
        status = e.response.status_code if e.response is not None else "?"
        raise ModelUnavailableError(f"cannot download {what}: the Hub answered HTTP {status}",
                                    f"the Hub answered HTTP {status}") from None
    except OSError as e:  # connection resets, ...
        raise ModelUnavailableError(f"cannot download {what}: {type(e).__name__}: {e}",
                                    f"the download failed ({type(e).__name__})") from None
    except ValueError as e:
        raise ModelError(f"cannot download {what}: {type(e).__name__}: {e}") from None


def _delete_cached(snapshot_path: Path) -> None:
    """Remove a cached file: the blob it points to and the snapshot link."""
    blob = snapshot_path.resolve()
    for p in {blob, snapshot_path}:
        try:
            p.unlink()
        except FileNotFoundError:
            pass
