"""Load test of the real app: C concurrent API clients x R requests each, with server memory.

    python -m benchmarks.load [--clients 8] [--requests 25] [--endpoint keypoints|predict]
                              [--threads 2] [--concurrency-limit 1] [--max-size 64] [--flip]

Starts ``python app.py`` on a free 127.0.0.1 port with the real model in ../shared (linked into
a temp dir with the test config) and POSE_THREADS=--threads, POSE_CONCURRENCY_LIMIT=
--concurrency-limit, POSE_QUEUE_MAX_SIZE=--max-size (app.py reads these two in main(): how many
events run at once, how many may wait; defaults 1 and 64). Waits until the app answers, then
gives each client its own ``gradio_client.Client`` on its own thread. Each client sends
--warmup requests (not measured), then all start together and send --requests each, cycling
through the shared MPII photos with their annotated person boxes as ``x1,y1,x2,y2`` and the
repo's examples/*.jpg without a box (the detector finds the people). A request succeeds when every
person it returns has all the joints of the model's skeleton.

Prints successes, failures (with the first few messages), p50/p95/max latency per request,
throughput, and the server's RSS (the app and any children, VmRSS from /proc) before the
clients connect, after warm-up and after the run, with the growth.

The clients run on the same machine as the app, so their CPU use is printed too (with the CPU
of any other process, which spoils a comparison); they skip gradio_client's per-request loading
of the TLS CA bundle (plain http on loopback), which would otherwise cost more CPU than the app.

Bounded: traffic goes to 127.0.0.1 only (telemetry off), each request times out after
--request-timeout s, no request starts after --deadline s, and the server is killed at the end,
also on Ctrl-C or an error.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# Nothing leaves the machine: no client telemetry (gradio_client reads the variable when a Client
# is made, huggingface_hub when it is imported), no proxy for loopback.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
for _var in ("NO_PROXY", "no_proxy"):
    os.environ[_var] = ",".join(filter(None, [os.environ.get(_var, ""), "127.0.0.1,localhost"]))

from pose.joints import SKELETONS  # noqa: E402
from tests.app_server import running_app  # noqa: E402
from tests.shared_data import REPO, make_model_dir, missing_reason, mpii_people, shared_available  # noqa: E402

ENDPOINTS = ("keypoints", "predict")


# -- the server ------------------------------------------------------------------------------
def _tree_pids(root: int) -> list[int]:
    """``root`` and all its descendants (from the ppid field of /proc/*/stat)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        ppid = int(text.rsplit(")", 1)[1].split()[1])  # the name in () may hold spaces
        children.setdefault(ppid, []).append(int(stat.parent.name))
    pids, i = [root], 0
    while i < len(pids):
        pids.extend(children.get(pids[i], []))
        i += 1
    return pids


def cpu_s(pid: int) -> float:
    """CPU time (user + system) used so far by ``pid`` and its live descendants, seconds."""
    total = 0
    for p in _tree_pids(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU time all cores spent outside idle/iowait since boot, seconds (from /proc/stat)."""
    user, nice, system, idle, iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants, MiB (VmRSS of each)."""
    total_kib = 0
    for p in _tree_pids(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
        except OSError:
            pass
    return total_kib / 1024


# -- the clients -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Item:
    image: Path
    box: str  # "x1,y1,x2,y2" or "" (whole photo)


def request_items() -> list[Item]:
    """The shared MPII photos with their annotated boxes, then examples/*.jpg without a box."""
    people = [Item(p.image, ",".join(f"{v:.1f}" for v in p.box)) for p in mpii_people()]
    return people + [Item(p, "") for p in sorted((REPO / "examples").glob("*.jpg"))]


@dataclass
class Phase:
    latencies_s: list[float] = field(default_factory=list)
    results: list[dict] = field(default_factory=list)  # the keypoints JSON of each success
    errors: list[str] = field(default_factory=list)
    not_run: int = 0
    wall_s: float = 0.0

    @property
    def successes(self) -> int:
        return len(self.latencies_s)

    @property
    def failures(self) -> int:
        return len(self.errors)

    def quantile(self, q: float) -> float:
        xs = sorted(self.latencies_s)
        if not xs:
            return float("nan")
        k = (len(xs) - 1) * q  # linear interpolation between order statistics
        lo = int(k)
        return xs[lo] + (xs[min(lo + 1, len(xs) - 1)] - xs[lo]) * (k - lo)


def _call(client, endpoint: str, item: Item, flip: bool, timeout_s: float) -> dict:
    from gradio_client import handle_file

    if endpoint == "keypoints":
        job = client.submit(handle_file(str(item.image)), flip, item.box, api_name="/keypoints")
        keypoints = job.result(timeout=timeout_s)
    else:
        job = client.submit(handle_file(str(item.image)), 0.2, flip, item.box, api_name="/predict")
        *_, keypoints = job.result(timeout=timeout_s)
    people = keypoints.get("people") if isinstance(keypoints, dict) else None
    skeleton = SKELETONS.get(keypoints.get("skeleton")) if isinstance(keypoints, dict) else None
    if not people or skeleton is None or any(len(p.get("joints", [])) != len(skeleton) for p in people):
        raise ValueError(f"expected people with a whole skeleton's joints in {str(keypoints)[:200]}")
    return keypoints


def _run_phase(clients: list, per_client: int, endpoint: str, items: list[Item], flip: bool,
               timeout_s: float, deadline: float, stop: threading.Event, offset: int = 0) -> Phase:
    phase, lock = Phase(), threading.Lock()
    start = threading.Barrier(len(clients) + 1)

    def worker(i: int, client) -> None:
        start.wait()
        for j in range(per_client):
            if stop.is_set() or time.monotonic() > deadline:
                with lock:
                    phase.not_run += per_client - j
                return
            item = items[(offset + i + j) % len(items)]  # clients on different photos at once
            t0 = time.perf_counter()
            try:
                keypoints = _call(client, endpoint, item, flip, timeout_s)
            except Exception as e:  # noqa: BLE001 - every failure is a result here
                with lock:
                    phase.errors.append(f"{type(e).__name__}: {e} [{item.image.name}]")
            else:
                with lock:
                    phase.latencies_s.append(time.perf_counter() - t0)
                    phase.results.append(keypoints)

    threads = [threading.Thread(target=worker, args=(i, c), daemon=True) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        while t.is_alive():  # join with a timeout so Ctrl-C reaches the main thread
            t.join(timeout=0.5)
    phase.wall_s = time.perf_counter() - t0
    return phase


@dataclass
class LoadResult:
    warmup: Phase
    run: Phase
    rss_before_mb: float
    rss_warm_mb: float
    rss_after_mb: float
    rss_peak_mb: float  # highest RSS sampled (every 0.2 s) during warm-up and run
    server_cpu_s: float  # during the run: the app ...
    client_cpu_s: float  # ... this process (the clients share the machine with the server) ...
    machine_cpu_s: float  # ... and every process on the machine; the rest is someone else's load

    @property
    def rss_growth_mb(self) -> float:
        return self.rss_after_mb - self.rss_before_mb


class _RssSampler(threading.Thread):
    def __init__(self, pid: int, every_s: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.every_s, self.peak_mb, self.done = pid, every_s, 0.0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every_s):
            self.peak_mb = max(self.peak_mb, rss_mb(self.pid))


def run_load(url: str, pid: int, *, clients: int, requests: int, endpoint: str = "keypoints", flip: bool = False,
             warmup: int = 1, request_timeout_s: float = 120.0, deadline_s: float = 600.0,
             download_dir: Path | None = None, progress: Callable[[str], None] = lambda _: None) -> LoadResult:
    """Connect ``clients`` API clients to the app at ``url`` (process ``pid``), warm up, then
    ``requests`` each, all at once; the app's RSS and CPU around it."""
    from gradio_client import Client

    items = request_items()
    deadline = time.monotonic() + deadline_s
    stop = threading.Event()
    rss_before = rss_mb(pid)
    progress(f"connecting {clients} clients to {url}")
    # ssl_verify=False: plain http on loopback, nothing to verify; with the default, gradio_client
    # loads the CA bundle for each of the 3 HTTP clients it makes per request (~90 ms of CPU per
    # request, more than the app spends), and on a small machine the clients would starve the app.
    conns = [
        Client(url, verbose=False, analytics_enabled=False, ssl_verify=False,
               download_files=str(download_dir) if download_dir else False)
        for _ in range(clients)
    ]
    sampler = _RssSampler(pid)
    sampler.start()
    try:
        progress(f"warm-up: {warmup} request(s) per client")
        warm = _run_phase(conns, warmup, endpoint, items, flip, request_timeout_s, deadline, stop)
        rss_warm = rss_mb(pid)
        progress(f"run: {clients} clients x {requests} requests of /{endpoint}")
        cpu0 = (cpu_s(pid), time.process_time(), machine_busy_s())
        run = _run_phase(conns, requests, endpoint, items, flip, request_timeout_s, deadline, stop, offset=warmup)
        cpu1 = (cpu_s(pid), time.process_time(), machine_busy_s())
        rss_after = rss_mb(pid)
    finally:
        stop.set()
        sampler.done.set()
        closing = [threading.Thread(target=c.close, daemon=True) for c in conns]  # ~1 s each (heartbeat)
        for t in closing:
            t.start()
        for t in closing:
            t.join(timeout=5)
    server_cpu, client_cpu, machine_cpu = (b - a for a, b in zip(cpu0, cpu1))
    return LoadResult(warm, run, rss_before, rss_warm, rss_after, max(sampler.peak_mb, rss_after),
                      server_cpu, client_cpu, machine_cpu)


# -- the command -----------------------------------------------------------------------------
def _dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=8, help="concurrent API clients, one thread each (default 8)")
    ap.add_argument("--requests", type=int, default=25, help="measured requests per client (default 25)")
    ap.add_argument("--endpoint", choices=ENDPOINTS, default="keypoints", help="API endpoint (default keypoints)")
    ap.add_argument("--threads", type=int, default=2, help="onnxruntime threads in the app: POSE_THREADS (default 2)")
    ap.add_argument("--concurrency-limit", type=int, default=1, help="events run at once: POSE_CONCURRENCY_LIMIT (default 1)")
    ap.add_argument("--max-size", type=int, default=64, help="events that may wait: POSE_QUEUE_MAX_SIZE (default 64)")
    ap.add_argument("--flip", action="store_true", help="flip test on every request")
    ap.add_argument("--warmup", type=int, default=1, help="unmeasured requests per client first (default 1)")
    ap.add_argument("--request-timeout", type=float, default=120.0, help="seconds per request (default 120)")
    ap.add_argument("--deadline", type=float, default=900.0, help="no request starts after this many seconds (default 900)")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                    help="extra environment variable for the app, e.g. MALLOC_ARENA_MAX=2 (repeatable)")
    ap.add_argument("--model-path", help="model folder (default: the shared EfficientPose-I with the test config)")
    args = ap.parse_args()
    if bad := [e for e in args.env if "=" not in e]:
        ap.error(f"--env takes KEY=VALUE, not {bad[0]!r}")
    extra_env = dict(e.split("=", 1) for e in args.env)
    if not shared_available():
        print(missing_reason(), file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanup below on kill, too
    try:
        return _main(args, extra_env)
    except KeyboardInterrupt:
        print("\ninterrupted: server stopped", file=sys.stderr)
        return 130
    except RuntimeError as e:  # the app did not start
        print(f"error: {e}", file=sys.stderr)
        return 2


def _main(args: argparse.Namespace, extra_env: dict[str, str]) -> int:
    with tempfile.TemporaryDirectory(prefix="pose-load-") as tmp:
        tmp = Path(tmp)
        model_dir = Path(args.model_path) if args.model_path else make_model_dir(tmp / "model")
        downloads = tmp / "client-downloads"
        print(f"app: concurrency_limit={args.concurrency_limit}, max_size={args.max_size}, "
              f"{args.threads} onnxruntime threads, {os.cpu_count()} cores; flip={args.flip}"
              + "".join(f", {k}={v}" for k, v in extra_env.items()), flush=True)
        t0 = time.perf_counter()
        with running_app(model_dir, tmp, threads=args.threads, concurrency_limit=args.concurrency_limit,
                         max_size=args.max_size, extra_env=extra_env) as server:
            print(f"started in {time.perf_counter() - t0:.1f} s at {server.url} (pid {server.proc.pid})", flush=True)
            res = run_load(server.url, server.proc.pid, clients=args.clients, requests=args.requests, endpoint=args.endpoint, flip=args.flip,
                           warmup=args.warmup, request_timeout_s=args.request_timeout, deadline_s=args.deadline,
                           download_dir=downloads, progress=lambda m: print(m, flush=True))
            cache_mb = _dir_mb(tmp / "gradio-temp")
        print("server stopped")
        log_errors = [line for line in server.log_path.read_text(errors="replace").splitlines()
                      if " ERROR " in line or " WARNING " in line or line.startswith(("Traceback", "ERROR"))]

    run, warm = res.run, res.warmup
    total = args.clients * args.requests
    print(f"\n/{args.endpoint}: {args.clients} clients x {args.requests} requests = {total}")
    print(f"  successes   {run.successes}")
    print(f"  failures    {run.failures}" + (f"  (+{run.not_run} not run: deadline)" if run.not_run else ""))
    for msg in run.errors[:5]:
        print(f"    {msg}")
    if warm.failures:
        print(f"  warm-up failures {warm.failures} of {warm.failures + warm.successes}; first: {warm.errors[0]}")
    print(f"  latency     p50 {run.quantile(0.5) * 1e3:7.0f} ms   p95 {run.quantile(0.95) * 1e3:7.0f} ms   "
          f"max {max(run.latencies_s, default=float('nan')) * 1e3:7.0f} ms")
    throughput = run.successes / run.wall_s if run.wall_s else float("nan")
    print(f"  throughput  {throughput:.2f} requests/s ({run.wall_s:.1f} s wall); "
          f"p50 x throughput = {run.quantile(0.5) * throughput:.1f} requests in flight")
    cores = os.cpu_count() or 1
    other = res.machine_cpu_s - res.server_cpu_s - res.client_cpu_s
    print(f"  CPU in run  app {res.server_cpu_s / run.wall_s:.2f} cores, clients {res.client_cpu_s / run.wall_s:.2f}, "
          f"other processes {max(other, 0) / run.wall_s:.2f} (of {cores}); "
          f"app CPU per request {res.server_cpu_s / max(run.successes, 1) * 1e3:.0f} ms")
    growth_run = res.rss_after_mb - res.rss_warm_mb
    growth_all = res.rss_growth_mb
    print(f"  server RSS  before {res.rss_before_mb:.0f} MiB, after warm-up {res.rss_warm_mb:.0f} MiB, "
          f"after run {res.rss_after_mb:.0f} MiB, peak {res.rss_peak_mb:.0f} MiB")
    print(f"  RSS growth  {growth_all:+.0f} MiB in all, {growth_run:+.0f} MiB during the run "
          f"(target < 100 MiB: {'met' if growth_all < 100 else 'NOT met'})")
    print(f"  server file cache (GRADIO_TEMP_DIR) {cache_mb:.1f} MiB after the run")
    print(f"  server log  {len(log_errors)} error/warning lines" + "".join(f"\n    {line[:300]}" for line in log_errors[:5]))
    print(f"summary | limit {args.concurrency_limit} | threads {args.threads} | max_size {args.max_size} | "
          + "".join(f"{k}={v} | " for k, v in extra_env.items()) +
          f"{run.successes}/{total} ok | {run.failures} failed | {throughput:.2f} req/s | "
          f"p50 {run.quantile(0.5) * 1e3:.0f} ms | p95 {run.quantile(0.95) * 1e3:.0f} ms | "
          f"RSS +{growth_all:.0f} MiB (+{growth_run:.0f} in run) | "
          f"other CPU {max(other, 0) / run.wall_s:.2f} cores")
    return 0 if run.failures == 0 and not run.not_run else 1


if __name__ == "__main__":
    raise SystemExit(main())
