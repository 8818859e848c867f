"""Every answer carries the security headers: no framing by other sites, no MIME sniffing,
a content policy that still lets the pages' own scripts, WeUI and ECharts run."""

import pytest

from app.web import SECURITY_HEADERS


@pytest.mark.parametrize("path", ["/console/login", "/h5/me", "/api/v1/towns", "/healthz", "/no-such-page"])
def test_headers_on_every_kind_of_answer(client, path):
    response = client.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (path, name)
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in policy and "object-src 'none'" in policy
    assert "Strict-Transport-Security" not in response.headers  # served over http in tests
