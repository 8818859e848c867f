"""A requests transport that answers from a WSGI app in-process.

The sandbox's fake WeChat API is part of this very service. Mounted on the client's
`requests.Session` for the sandbox base URL, this adapter turns each prepared HTTP request
into a WSGI call of the app and the answer back into a `requests.Response`: the client
still speaks real HTTP shapes (method, path, query, headers, JSON or multipart body,
status), but needs no listening server — so it works in tests, in CLI processes and in the
dispatcher of the embedded default.

Each call runs in its own short-lived thread: a fresh thread has no Flask contexts, so the
nested request cannot share `g` (and the request's database session) with a caller that is
itself inside a request, and the caller can give up after its timeout like on a socket.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from werkzeug.test import EnvironBuilder, run_wsgi_app

# Used when the caller passes no timeout (requests' default is to wait forever).
_DEFAULT_LIMIT = 30.0


class WSGITransport(BaseAdapter):
    """Serve requests for the mounted URL prefix by calling `app` (a WSGI callable)."""

    def __init__(self, app: Any):
        super().__init__()
        self.app = app

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        """Run the app for `request`. Raises requests.ReadTimeout when it does not answer
        within the timeout (connect + read); re-raises what the app raised (a bug)."""
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["response"] = self._call(request)
            except BaseException as exc:  # handed to the caller's thread below
                outcome["error"] = exc

        worker = threading.Thread(target=run, name="sandbox-wsgi", daemon=True)
        worker.start()
        limit = _total_timeout(timeout)
        worker.join(limit)
        if worker.is_alive():
            raise requests.exceptions.ReadTimeout(
                f"sandbox WeChat API did not answer within {limit:.3f}s", request=request
            )
        if "error" in outcome:
            raise outcome["error"]
        return outcome["response"]

    def close(self) -> None:
        """Nothing to release: no connections are pooled."""

    def _call(self, request: requests.PreparedRequest) -> requests.Response:
        parts = urlsplit(request.url or "")
        body = request.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = dict(request.headers)
        builder = EnvironBuilder(
            path=parts.path or "/",
            base_url=f"{parts.scheme}://{parts.netloc}",
            query_string=parts.query,
            method=request.method or "GET",
            headers=headers,
            data=body or b"",
            content_type=headers.get("Content-Type"),
        )
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        app_iter, status, response_headers = run_wsgi_app(self.app, environ, buffered=True)
        try:
            content = b"".join(app_iter)
        finally:
            close = getattr(app_iter, "close", None)
            if close is not None:
                close()
        response = requests.Response()
        response.status_code = int(status.split(" ", 1)[0])
        response.reason = status.split(" ", 1)[1] if " " in status else ""
        response.headers = CaseInsensitiveDict(response_headers.to_wsgi_list())
        response._content = content
        response.encoding = get_encoding_from_headers(response.headers)
        response.url = request.url or ""
        response.request = request
        return response


def _total_timeout(timeout: Any) -> float:
    if timeout is None:
        return _DEFAULT_LIMIT
    if isinstance(timeout, tuple):
        return float(sum(t for t in timeout if t is not None)) or _DEFAULT_LIMIT
    return float(timeout)
