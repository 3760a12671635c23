"""Which optical flow moves the joints: sparse Lucas-Kanade on the joints against dense flows,
on clips whose truth is known in every frame, in one run.

    python -m benchmarks.flow [--frames 90]

For each pair of consecutive frames, the true joints of frame t-1 are moved to frame t by
each method and compared with the true joints of frame t: the median and 90th-percentile
error (px), and the median time per frame (ms, 2 cores). "no motion" (joints left where
they were) is the floor any flow must beat. Clips: two men crossing (720p, composed from
COCO cut-outs; the one behind is partly hidden at mid-clip) and a shared MPII photo moving
and shrinking (720p).
"""

from __future__ import annotations

import argparse
import statistics
import time

import cv2
import numpy as np

from benchmarks.models import start
from pose.flow import grey_for_flow, lucas_kanade
from tests.shared_data import crossing_clip, moving_clip, mpii_person

DENSE_SIDE = 640  # px: dense flows run on the frame scaled to this width (full 720p is several times slower)


def sparse_lk(prev: np.ndarray, cur: np.ndarray, points: np.ndarray, groups: np.ndarray) -> np.ndarray:
    (g0, s), (g1, _) = grey_for_flow(prev), grey_for_flow(cur)
    return lucas_kanade(g0, g1, points * s, groups) / s


def dense(method):
    def run(prev, cur, points, groups):
        f = DENSE_SIDE / prev.shape[1]
        size = (DENSE_SIDE, round(prev.shape[0] * f))
        g0 = cv2.cvtColor(cv2.resize(prev, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
        g1 = cv2.cvtColor(cv2.resize(cur, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
        flow = method(g0, g1)  # (h, w, 2) px of the small frame
        p = np.clip(np.round(points * f).astype(int), 0, [size[0] - 1, size[1] - 1])
        return points + flow[p[:, 1], p[:, 0]] / f
    return run


DIS = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
METHODS = {
    "no motion": lambda prev, cur, points, groups: points,
    "Lucas-Kanade, sparse (ours)": sparse_lk,
    f"DIS ultrafast, dense @{DENSE_SIDE}": dense(lambda a, b: DIS.calc(a, b, None)),
    f"Farneback, dense @{DENSE_SIDE}": dense(lambda a, b: cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)),
}


def pairs_crossing(frames: int):
    clip = crossing_clip(frames)
    for (f0, t0), (f1, t1) in zip(clip, clip[1:]):
        truth0, truth1 = {g.person: g for g in t0}, {g.person: g for g in t1}
        both = [p for p in truth0 if p in truth1]
        pts = np.concatenate([truth0[p].joints for p in both])
        ok = np.concatenate([truth0[p].labelled & truth1[p].labelled for p in both])
        yield f0, f1, pts, np.concatenate([truth1[p].joints for p in both]), np.repeat(np.arange(len(both)), 17), ok


def pairs_moving(frames: int):
    person = mpii_person("060754485.jpg")
    clip = moving_clip(person, frames, (1280, 720), end_scale=0.5, end_shift=(300.0, 150.0))
    for (f0, j0, _), (f1, j1, _) in zip(clip, clip[1:]):
        yield f0, f1, j0, j1, np.zeros(len(j0), int), person.visible


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=90)
    args = start(ap)
    cv2.setNumThreads(2)
    print(f"Joints moved from frame t-1 to t by each method, against the truth at t ({args.frames} frames per clip):")
    print(f"{'clip':<10} {'method':<30} {'median px':>9} {'p90 px':>7} {'ms/frame':>8}")
    for clip_name, pairs in (("crossing", pairs_crossing), ("moving", pairs_moving)):
        data = list(pairs(args.frames))
        for name, method in METHODS.items():
            errors, times = [], []
            for f0, f1, p0, p1, groups, ok in data:
                t = time.perf_counter()
                moved = method(f0, f1, p0, groups)
                times.append(time.perf_counter() - t)
                errors.append(np.linalg.norm(moved - p1, axis=1)[ok])
            e = np.concatenate(errors)
            print(f"{clip_name:<10} {name:<30} {np.median(e):9.2f} {np.percentile(e, 90):7.2f} {statistics.median(times) * 1e3:8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
