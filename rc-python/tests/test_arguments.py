"""Out-of-range arguments raise a ValueError naming the argument, never a PanicException
(which escapes ``except Exception``). No server is needed: the values are checked before
anything connects (the clients point at 127.0.0.1:1, where nothing listens)."""

from __future__ import annotations

import json
import math

import pytest

import rcclient

BAD_SECONDS = [float("nan"), float("inf"), -1.0, 1e300]


def client(**kw):
    return rcclient.Client(
        "reader@localhost", "pw", ["room@conference.localhost"],
        server="127.0.0.1:1", tls="plaintext-loopback", **kw,
    )


@pytest.mark.parametrize("value", BAD_SECONDS)
@pytest.mark.parametrize("key", ["initial", "max"])
def test_reconnect_seconds_out_of_range_raise_value_error_naming_them(key, value):
    with pytest.raises(ValueError, match=rf'reconnect\["{key}"\]'):
        client(reconnect={key: value})


@pytest.mark.parametrize("key,value", [("factor", float("nan")), ("factor", 0.5),
                                       ("jitter", float("inf")), ("jitter", -0.1)])
def test_reconnect_factor_and_jitter_out_of_range_raise_value_error(key, value):
    with pytest.raises(ValueError, match=rf'reconnect\["{key}"\]'):
        client(reconnect={key: value})


@pytest.mark.parametrize("value", BAD_SECONDS)
def test_keepalive_out_of_range_raises_value_error_naming_it(value):
    with pytest.raises(ValueError, match=r"keepalive\[0\]"):
        client(keepalive=(value, 10.0))
    with pytest.raises(ValueError, match=r"keepalive\[1\]"):
        client(keepalive=(10.0, value))


@pytest.mark.parametrize("value", BAD_SECONDS)
def test_rejoin_delay_out_of_range_raises_value_error_naming_it(value):
    with pytest.raises(ValueError, match="rejoin_delay"):
        client(rejoin_delay=value)


@pytest.mark.parametrize("value", BAD_SECONDS)
def test_request_timeout_out_of_range_raises_value_error_naming_it(value):
    with pytest.raises(ValueError, match="request_timeout"):
        client(request_timeout=value)


@pytest.mark.parametrize("value", BAD_SECONDS)
def test_take_and_receive_timeouts_out_of_range_raise_value_error(value):
    with client() as c:
        with pytest.raises(ValueError, match="timeout"):
            c.receive(timeout=value)
        with pytest.raises(ValueError, match="timeout"):
            c.take(3, timeout=value)
        assert c.receive(timeout=0.01) is None


@pytest.mark.parametrize("value", [float("nan"), -1.0])
def test_wait_until_joined_with_a_nan_or_negative_timeout_raises_value_error(value):
    with client() as c:
        with pytest.raises(ValueError, match="timeout"):
            c.wait_until_joined(value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 0.0, -5.0, 1e300])
def test_a_huge_or_invalid_polling_interval_raises_value_error(value):
    with pytest.raises(ValueError, match="interval"):
        rcclient.open("mediawiki:http://127.0.0.1:1/api.php", wiki="w", interval=value)


def change_from(server_url):
    return rcclient.parse(json.dumps({
        "id": 4, "type": "edit", "namespace": 0, "title": "Alpha", "timestamp": 1795424344,
        "user": "Admin", "revision": {"old": 2, "new": 3}, "server_url": server_url,
        "server_script_path": "/w", "wiki": "wikidb",
    }))


@pytest.mark.parametrize("server_url", ["javascript:alert(1)//", "JavaScript:alert(1)//",
                                        "data:text/html,<script>x</script>", "//evil.example"])
def test_repr_html_links_only_http_urls(server_url):
    html = change_from(server_url)._repr_html_()
    assert "href" not in html, html
    assert "<script>" not in html, html


def test_repr_html_links_an_https_wiki():
    html = change_from("https://wiki.example.org")._repr_html_()
    assert 'href="https://wiki.example.org/w/index.php?diff=3&amp;oldid=2"' in html, html
    assert not math.isnan(0.0)
