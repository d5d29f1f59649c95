"""Worker overhead around OCR, engine builds per process, and memory over a long run.

    .venv/bin/python -m benchmarks.bench_worker            # 500 jobs, a few minutes on 2 cores
    .venv/bin/python -m benchmarks.bench_worker --jobs 60  # quick look
    .venv/bin/python -m benchmarks.bench_worker --reconcile 10000   # the reconciler on N open requests

Everything is real and local: a redis-server of its own on a free port, a loopback HTTP server serving
distinct small PNGs (480x120, "加QQ 3912870NN"), one `qqscan worker --burst` subprocess, a SQLite store in
a temp dir (or --db URL). Each image has different bytes, so every job runs OCR.

Per job, from what RQ and the job recorded:
  wall      RQ's started_at -> ended_at of the job
  scan      decode + OCR + detectors, as recorded in the result (`ms`)
  overhead  wall - scan: fetch from loopback, has_scan, store write, RQ bookkeeping inside the job
  cycle     time between consecutive job ends - scan: overhead plus dequeue, heartbeat, result write
Targets: median overhead <= 50 ms; engine builds per worker process = 1; RSS after the last job within
15% of RSS after job 50.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from redis import Redis

from jobs.queueing import Policy, enqueue_scans, fetch_job, job_id, job_queue
from tests.helpers_http import LoopbackServer

REPO = Path(__file__).resolve().parent.parent
FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


def png(i: int) -> bytes:
    img = Image.new("RGB", (480, 120), "white")
    ImageDraw.Draw(img).text(
        (20, 35), f"加QQ {391287000 + i}", font=ImageFont.truetype(FONT, 36), fill="black"
    )
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def bench_reconcile(n: int, db: str | None) -> int:
    """N URLs enqueued (recorded + queued), then the reconciler with all of them queued, and again after a
    FLUSHALL (a Redis restarted without persistence): how long each pass takes. No worker runs."""
    from jobs.queueing import reconcile
    from store.results import Store
    from tests.redis_server import start_redis

    server = start_redis()
    try:
        store = Store(db or f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench_reconcile_')) / 's.sqlite3'}")
        conn = Redis.from_url(server.url)
        urls = [f"https://img.test/{i}.png" for i in range(n)]
        t0 = time.perf_counter()
        enqueue_scans(conn, urls, store=store)
        t1 = time.perf_counter()
        live = reconcile(conn, store)
        t2 = time.perf_counter()
        conn.flushall()
        t3 = time.perf_counter()
        lost = reconcile(conn, store)
        t4 = time.perf_counter()
        print(f"enqueue {n} URLs (record in store + queue)   {t1 - t0:7.2f} s")
        print(f"reconcile, every job queued                 {t2 - t1:7.2f} s  {live}")
        print(f"reconcile after FLUSHALL (all re-queued)    {t4 - t3:7.2f} s  {lost}")
        store.close()
    finally:
        server.stop()
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--jobs", type=int, default=500)
    p.add_argument("--db", default=None, help="store URL (default: SQLite in a temp dir)")
    p.add_argument("--reconcile", type=int, default=0, metavar="N", help="instead: time the reconciler")
    args = p.parse_args()
    if args.reconcile:
        return bench_reconcile(args.reconcile, args.db)
    if args.jobs < 60:
        p.error("--jobs must be at least 60 (RSS is compared from job 50 on)")

    tmp = Path(tempfile.mkdtemp(prefix="bench_worker_"))
    port = free_port()
    redis_proc = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    http = LoopbackServer().start()
    try:
        url = f"redis://127.0.0.1:{port}/0"
        conn = Redis.from_url(url)
        for _ in range(100):
            try:
                conn.ping()
                break
            except Exception:
                time.sleep(0.05)
        urls = []
        for i in range(args.jobs):
            http.route(f"/{i}.png", body=png(i), content_type="image/png")
            urls.append(http.url(f"/{i}.png"))
        env = dict(
            os.environ,
            QQSCAN_REDIS_URL=url,
            QQSCAN_DATABASE_URL=args.db or f"sqlite:///{tmp / 'store.sqlite3'}",
            QQSCAN_ALLOW_HOSTS=http.host,
            QQSCAN_FETCH_RATE="0",
            PYTHONPATH=str(REPO),
            QQSCAN_RECONCILE_INTERVAL="0",  # only the measured jobs on the queues
        )
        from store.results import Store

        with Store(env["QQSCAN_DATABASE_URL"]) as store:  # requests are recorded where the worker stores
            enqueue_scans(conn, urls, policy=Policy(retry_max=0), store=store)
        cmd = [str(Path(sys.executable).parent / "qqscan"), "worker", "--burst", "--logging-level", "WARNING"]
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, check=True)
        total = time.perf_counter() - t0

        jobs = [fetch_job(job_id("scan", u), conn) for u in urls]
        rets = [j.return_value() for j in jobs]
        bad = [r for r in rets if not r or r.get("status") != "scanned"]
        if bad:
            print(f"{len(bad)} job(s) did not scan: {bad[:3]}", file=sys.stderr)
            return 1
        order = sorted(range(len(jobs)), key=lambda k: jobs[k].ended_at)
        wall = [(jobs[k].ended_at - jobs[k].started_at).total_seconds() * 1000 for k in order]
        scan = [float(rets[k]["timings"]["scan_ms"]) for k in order]
        overhead = [w - s for w, s in zip(wall, scan, strict=True)]
        ends = [jobs[k].ended_at for k in order]
        gaps = [(b - a).total_seconds() * 1000 for a, b in zip(ends, ends[1:], strict=False)]
        cycle = [g - s for g, s in zip(gaps, scan[1:], strict=True)]
        fetch = [float(rets[k]["timings"]["fetch_ms"]) for k in order]
        store = [float(rets[k]["timings"]["store_ms"]) for k in order]
        pids = {rets[k]["pid"] for k in order}
        builds = {rets[k]["engine_builds"] for k in order}
        rss = [float(rets[k]["rss_mb"]) for k in order]
        failed = job_queue("scan", conn).failed_job_registry.count

        n = len(order)
        print(f"\nqqscan worker benchmark: {n} jobs, 1 worker, {os.cpu_count()} CPUs, {total:.1f} s total")
        print(f"command: .venv/bin/python -m benchmarks.bench_worker --jobs {args.jobs}")
        print(f"worker:  {' '.join(cmd)}\n")
        print(f"{'per job (ms)':<34} {'median':>8} {'p90':>8} {'max':>8}")
        for name, vals in (
            ("wall (RQ started -> ended)", wall),
            ("scan (decode+OCR+detect)", scan),
            ("overhead = wall - scan", overhead),
            ("  of which fetch (loopback)", fetch),
            ("  of which store write", store),
            ("cycle - scan (incl. dequeue)", cycle),
        ):
            print(f"{name:<34} {statistics.median(vals):>8.1f} {pct(vals, 0.9):>8.1f} {max(vals):>8.1f}")
        rss50, rss_end = rss[49], rss[-1]
        growth = (rss_end - rss50) / rss50 * 100
        print()
        print(f"{'worker processes (distinct pids)':<34} {len(pids):>8}")
        print(f"{'engine builds per process':<34} {', '.join(map(str, sorted(builds))):>8}")
        print(f"{'RSS after job 50 (MiB)':<34} {rss50:>8.0f}")
        print(f"{f'RSS after job {n} (MiB)':<34} {rss_end:>8.0f}   ({growth:+.1f}%)")
        print(f"{'failed jobs':<34} {failed:>8}")
        ok = statistics.median(overhead) <= 50 and builds == {1} and abs(growth) <= 15
        print(f"\ntargets (overhead <= 50 ms, 1 build, RSS within 15%): {'met' if ok else 'NOT met'}")
        return 0
    finally:
        http.stop()
        redis_proc.terminate()
        redis_proc.wait(5)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
