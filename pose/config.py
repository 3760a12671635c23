"""``pose_config.json``: everything the pipeline needs to know about a model.

A model is an ONNX file plus this JSON file beside it (in a Hub repo or a local folder).
No model fact is hard-coded anywhere else. Example (the Simple Baselines export)::

    {
      "format_version": 1,
      "name": "Simple Baselines PoseResNet-50, MPII 256x256 (int8)",
      "source": "https://github.com/microsoft/human-pose-estimation.pytorch",
      "license": "MIT",
      "onnx": {"file": "model.onnx", "sha256": "<64 hex digits>"},
      "input": {"name": "input", "layout": "NCHW", "width": 256, "height": 256,
                "color": "RGB", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
      "output": {"name": "heatmaps", "layout": "NCHW"},
      "skeleton": "mpii",
      "joints": ["r_ankle", "r_knee", ..., "l_wrist"]
    }

``mean`` and ``std`` apply to pixel values scaled to [0, 1]. ``skeleton`` names the joint set
(``pose.joints``: "mpii" or "coco"; configs written before it existed are MPII). ``joints``
names the joint of each output channel, in channel order; channels may come in any order
but must name each joint of the skeleton exactly once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ModelConfigError
from .joints import SKELETONS, Skeleton

CONFIG_FILENAME = "pose_config.json"
FORMAT_VERSION = 1
LAYOUTS = ("NCHW", "NHWC")
COLOR_ORDERS = ("RGB", "BGR")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ModelConfig:
    name: str
    source: str
    license: str
    onnx_file: str  # file name beside the config, e.g. "model.onnx"
    onnx_sha256: str  # lowercase hex
    input_name: str
    input_layout: str  # "NCHW" or "NHWC"
    input_width: int  # px
    input_height: int  # px
    color: str  # "RGB" or "BGR": channel order the network expects
    mean: tuple[float, float, float]  # per channel, in the network's colour order, on [0, 1] pixels
    std: tuple[float, float, float]
    output_name: str
    output_layout: str  # "NCHW" or "NHWC"
    skeleton: Skeleton  # the joint set the heatmaps describe
    channel_joints: tuple[int, ...]  # skeleton joint index of each output channel, in channel order

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) of the network input in pixels."""
        return self.input_width, self.input_height

    @classmethod
    def from_dict(cls, data: Any, origin: str = CONFIG_FILENAME) -> ModelConfig:
        """Validate a parsed config; every problem names the field and what is accepted."""
        v = ConfigValidator(origin)
        root = v.obj(data, "the file")
        version = root.get("format_version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            v.fail(f"format_version is {version!r}; this app reads version {FORMAT_VERSION}")
        onnx_file, sha = v.onnx(root)
        inp = v.obj(v.field(root, "input"), "input")
        out = v.obj(v.field(root, "output"), "output")
        skeleton = SKELETONS[v.choice(root, "skeleton", tuple(SKELETONS), default="mpii")]
        return cls(
            name=v.text(root, "name"),
            source=v.text(root, "source"),
            license=v.text(root, "license"),
            onnx_file=onnx_file,
            onnx_sha256=sha,
            input_name=v.text(inp, "name", "input."),
            input_layout=v.choice(inp, "layout", LAYOUTS, "input."),
            input_width=v.size(inp, "width", "input."),
            input_height=v.size(inp, "height", "input."),
            color=v.choice(inp, "color", COLOR_ORDERS, "input."),
            mean=v.triple(inp, "mean", "input.", positive=False),
            std=v.triple(inp, "std", "input.", positive=True),
            output_name=v.text(out, "name", "output."),
            output_layout=v.choice(out, "layout", LAYOUTS, "output."),
            skeleton=skeleton,
            channel_joints=v.joints(root, skeleton),
        )

    @classmethod
    def load(cls, path: str | Path) -> ModelConfig:
        return cls.from_dict(read_json(path), origin=str(path))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "source": self.source,
            "license": self.license,
            "onnx": {"file": self.onnx_file, "sha256": self.onnx_sha256},
            "input": {
                "name": self.input_name,
                "layout": self.input_layout,
                "width": self.input_width,
                "height": self.input_height,
                "color": self.color,
                "mean": list(self.mean),
                "std": list(self.std),
            },
            "output": {"name": self.output_name, "layout": self.output_layout},
            "skeleton": self.skeleton.name,
            "joints": [self.skeleton.joints[j] for j in self.channel_joints],
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")


def read_json(path: str | Path) -> Any:
    """A config file's parsed JSON; ModelConfigError naming the file when it cannot be read."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelConfigError(f"model config not found: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ModelConfigError(f"cannot read model config {path}: {e}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ModelConfigError(f"{path} is not valid JSON: {e}") from None


class ConfigValidator:
    """Small helpers that raise ModelConfigError naming the config and the field."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def fail(self, message: str) -> None:
        raise ModelConfigError(f"invalid model config {self.origin}: {message}")

    def onnx(self, root: dict[str, Any]) -> tuple[str, str]:
        """The "onnx" section: (file name beside the config, lowercase sha256)."""
        onnx = self.obj(self.field(root, "onnx"), "onnx")
        sha = self.text(onnx, "sha256", "onnx.").lower()
        if not _SHA256.fullmatch(sha):
            self.fail("onnx.sha256 must be 64 hexadecimal digits")
        name = self.text(onnx, "file", "onnx.")
        if Path(name).name != name:
            self.fail(f"onnx.file must be a plain file name beside the config, not {name!r}")
        return name, sha

    def obj(self, value: Any, what: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(f"{what} must be a JSON object")
        return value

    def field(self, obj: dict[str, Any], key: str, prefix: str = "") -> Any:
        if key not in obj:
            self.fail(f"missing field {prefix}{key}")
        return obj[key]

    def text(self, obj: dict[str, Any], key: str, prefix: str = "") -> str:
        value = self.field(obj, key, prefix)
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{prefix}{key} must be a non-empty string")
        return value

    def choice(self, obj: dict[str, Any], key: str, allowed: tuple[str, ...], prefix: str = "", default: str | None = None) -> str:
        value = obj.get(key, default) if default is not None else self.field(obj, key, prefix)
        if value not in allowed:
            self.fail(f"{prefix}{key} is {value!r}; expected one of {', '.join(allowed)}")
        return value

    def size(self, obj: dict[str, Any], key: str, prefix: str = "") -> int:
        value = self.field(obj, key, prefix)
        if isinstance(value, bool) or not isinstance(value, int) or not 8 <= value <= 4096:
            self.fail(f"{prefix}{key} must be a whole number of pixels from 8 to 4096, not {value!r}")
        return value

    def number(self, obj: dict[str, Any], key: str, prefix: str, low: float, high: float) -> float:
        value = self.field(obj, key, prefix)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            self.fail(f"{prefix}{key} must be a number from {low:g} to {high:g}, not {value!r}")
        return float(value)

    def whole(self, obj: dict[str, Any], key: str, prefix: str, low: int, high: int) -> int:
        value = self.field(obj, key, prefix)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(f"{prefix}{key} must be a whole number from {low} to {high}, not {value!r}")
        return value

    def triple(self, obj: dict[str, Any], key: str, prefix: str, positive: bool) -> tuple[float, float, float]:
        value = self.field(obj, key, prefix)
        ok = (
            isinstance(value, list)
            and len(value) == 3
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value)
            and (not positive or all(x > 0 for x in value))
        )
        if not ok:
            kind = "positive numbers" if positive else "numbers"
            self.fail(f"{prefix}{key} must be a list of 3 {kind} (one per colour channel), not {value!r}")
        return (float(value[0]), float(value[1]), float(value[2]))

    def joints(self, root: dict[str, Any], skeleton: Skeleton) -> tuple[int, ...]:
        names = self.field(root, "joints")
        n = len(skeleton)
        if not isinstance(names, list) or len(names) != n:
            self.fail(f"joints must list the {skeleton.name} joint of each of the {n} output channels")
        for name in names:
            if name not in skeleton.joints:
                self.fail(f"joints: unknown {skeleton.name} joint {name!r}; expected names from {', '.join(skeleton.joints)}")
        missing = set(skeleton.joints) - set(names)
        if missing:
            dup = sorted({j for j in names if names.count(j) > 1})
            self.fail(
                f"joints must name each {skeleton.name} joint once; repeated: {', '.join(dup)}; "
                f"missing: {', '.join(sorted(missing))}"
            )
        return tuple(skeleton.index(name) for name in names)
