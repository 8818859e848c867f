"""gunicorn settings for the web process: `gunicorn -c deploy/gunicorn.conf.py 'app:create_app()'`."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", 4))
# WeChat drops a callback after 5 s; nothing we serve may take longer than that.
timeout = 30
graceful_timeout = 20
keepalive = 5
# Behind nginx: trust X-Forwarded-* from the local proxy only.
forwarded_allow_ips = "127.0.0.1"
accesslog = "-"
errorlog = "-"
