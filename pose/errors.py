"""Exceptions whose message is written for the person using the demo.

The app shows ``str(error)`` as it is, so every message says what was wrong and what
is accepted, in plain words, without paths from the server's temp folders or tracebacks.
"""


class PoseError(Exception):
    """Base class: anything the user can be told about in one sentence or two."""


class ImageError(PoseError):
    """The uploaded file is not an image we can use (unreadable, empty, too large...)."""


class BoxError(PoseError):
    """A person box given by the caller is malformed or outside the image."""


class ModelError(PoseError):
    """The model could not be found, downloaded, verified or loaded."""


class ModelConfigError(ModelError):
    """``pose_config.json`` is missing, malformed, or does not match the ONNX file."""


class ModelUnavailableError(ModelError):
    """The Hub model cannot be had right now (no network and no cache, repo or revision not
    found, the Hub failing): the default model may fall back to the bundled one.
    ``reason`` is the short why, e.g. "the repository was not found on the Hub"."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
