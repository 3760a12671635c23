"""Top-down pose estimation (Simple Baselines) with onnxruntime.

Typical use::

    from pose import PoseEstimator
    est = PoseEstimator.load()               # pose model (POSE_MODEL_PATH / the Hub / bundled) + detector
    people = est.estimate_people("photo.jpg")  # PeopleResult: everyone found, best person score first
    people.to_dict()                         # JSON-ready: model, skeleton, detector, people with joints by name
    one = est.estimate("photo.jpg", box=(10, 20, 300, 400))  # PoseResult: keypoints (J, 2), scores (J,), ...

    from pose import VideoTracker
    tracker = VideoTracker(est, fps=25)      # the paper's tracking: detector + flow-propagated boxes, OKS matching
    frame = tracker.update(rgb)              # TrackedFrame: people with track_ids; .to_dict() for JSON
"""

from .errors import BoxError, ImageError, ModelConfigError, ModelError, PoseError
from .estimator import PoseEstimator
from .hub import ModelSource
from .joints import COCO, MPII, Skeleton
from .result import PeopleResult, PoseResult
from .tracking import TrackedFrame, TrackerSettings, VideoTracker

__all__ = [
    "BoxError",
    "COCO",
    "ImageError",
    "MPII",
    "ModelConfigError",
    "ModelError",
    "ModelSource",
    "PoseError",
    "PeopleResult",
    "PoseEstimator",
    "PoseResult",
    "Skeleton",
    "TrackedFrame",
    "TrackerSettings",
    "VideoTracker",
]
