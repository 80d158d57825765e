"""`pingyi serve` says when phones would reach gunicorn with nothing in front of it."""
from __future__ import annotations

import pytest

from survey_app.cli.serve import exposure_warning


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "pingyi.example.cn"])
def test_listening_beyond_this_machine_without_a_proxy_names_nginx_and_its_config(host):
    warning = exposure_warning(host, 0)
    assert warning and "deploy/nginx.conf" in warning and "PINGYI_PROXY_COUNT=1" in warning


@pytest.mark.parametrize(("host", "proxies"), [("127.0.0.1", 0), ("localhost", 0), ("::1", 0), ("0.0.0.0", 1)])
def test_loopback_or_a_configured_proxy_is_quiet(host, proxies):
    assert exposure_warning(host, proxies) is None
