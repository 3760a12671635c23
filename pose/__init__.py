"""Top-down pose estimation (Simple Baselines) with onnxruntime.

Typical use::

    from pose import PoseEstimator
    est = PoseEstimator.load()             # model from POSE_MODEL_PATH / the Hub
    result = est.estimate("photo.jpg")     # PoseResult: keypoints (J, 2), scores (J,), skeleton, ...
    result.to_dict()                       # JSON-ready, joints by name in the skeleton's order
"""

from .errors import BoxError, ImageError, ModelConfigError, ModelError, PoseError
from .estimator import PoseEstimator
from .hub import ModelSource
from .joints import COCO, MPII, Skeleton
from .result import PoseResult

__all__ = [
    "BoxError",
    "COCO",
    "ImageError",
    "MPII",
    "ModelConfigError",
    "ModelError",
    "ModelSource",
    "PoseError",
    "PoseEstimator",
    "PoseResult",
    "Skeleton",
]
