"""gunicorn settings for the web process: `gunicorn -c deploy/gunicorn.conf.py 'app:create_app()'`.

Sync workers behind nginx, as gunicorn recommends for a buffering proxy: nginx holds slow
phones and photo uploads, so a worker only ever sees a whole request, and every request we
serve is short (the WeChat callback answers in milliseconds; nothing may take WeChat's 5 s).
Measured against threads (bench/callback.py, docs/PERFORMANCE.md): the accept queue that
sync workers share hands requests out first come, first served, which keeps the latency
tail close to the median where keep-alive connections pinned to threads let it spread.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# One worker per core: every request served here is short and spends nearly all its time
# on the CPU (the callback's one Redis round trip is a tenth of a millisecond), so a worker
# beyond the cores only takes turns on them, and each switch costs. On 2 cores, 2 workers
# served both the callback and a bare endpoint 10-20 % faster, with a lower p99, than 3 in
# every paired round, and 3 were faster than 5 (docs/PERFORMANCE.md). Raise GUNICORN_WORKERS
# when PostgreSQL is on another host and pages spend a real share of their time waiting on it.
workers = int(os.environ.get("GUNICORN_WORKERS", max(2, multiprocessing.cpu_count())))
worker_class = "sync"
# Each worker's heartbeat touches a file on every loop; on a disk-backed /tmp that write can
# stall the worker behind the filesystem journal (gunicorn's FAQ); tmpfs never does. On 2
# cores with an ext4 /tmp, tmpfs was as fast or faster in eight paired rounds of the callback.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# WeChat drops a callback after 5 s; nothing we serve may take longer than that.
timeout = 30
graceful_timeout = 20
# Behind nginx: trust X-Forwarded-* from the local proxy only.
forwarded_allow_ips = "127.0.0.1"
# nginx keeps the access log; set GUNICORN_ACCESSLOG=- to have gunicorn write one too.
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")


# /metrics sums every worker's counts when PROMETHEUS_MULTIPROC_DIR is set (the web unit sets
# it to a runtime directory). The directory must start empty, and a worker's files must be
# marked dead when it exits, or its gauges would linger (prometheus_client's multiprocess notes).
def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.remove(os.path.join(directory, name))


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
