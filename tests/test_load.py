"""Concurrent API clients against the real app (``python app.py`` subprocess, started by
``tests.app_server`` as the API tests do): a small version of ``python -m benchmarks.load``."""

from __future__ import annotations

from benchmarks.load import run_load
from pose.joints import MPII
from tests.app_server import running_app

CLIENTS, REQUESTS = 2, 5
MAX_RSS_GROWTH_MB = 100


def test_concurrent_clients_all_answered_and_memory_stays_flat(shared, model_dir, tmp_path):
    with running_app(model_dir, tmp_path) as server:
        res = run_load(server.url, server.proc.pid, clients=CLIENTS, requests=REQUESTS, endpoint="keypoints",
                       request_timeout_s=30, deadline_s=40)
    run = res.run
    assert res.warmup.failures == 0 and run.failures == 0, (res.warmup.errors + run.errors)[:3]
    assert run.not_run == 0
    assert len(run.results) == CLIENTS * REQUESTS
    for result in run.results:
        assert all([j["name"] for j in p["joints"]] == list(MPII.joints) for p in result["people"])
    sources = {p["box_source"] for r in run.results for p in r["people"]}
    assert sources == {"user", "detector"}  # MPII boxes, and the people the detector finds in the examples
    # From warm-up (every client served once: the first inference's buffers are in place) to the
    # end; the one-off first-request cost (~70 MiB) is in rss_before -> rss_warm.
    growth = res.rss_after_mb - res.rss_warm_mb
    assert growth < MAX_RSS_GROWTH_MB, (
        f"app RSS grew {growth:.0f} MiB under load ({res.rss_warm_mb:.0f} -> {res.rss_after_mb:.0f} MiB; "
        f"{res.rss_before_mb:.0f} MiB before the first request)"
    )
