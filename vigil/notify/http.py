"""POST a body over HTTP(S) with httpx, sorting failures into "retry" and "give up" for `retry.run_with_retries`."""

from __future__ import annotations

import ssl
import typing as t

import httpx

from vigil.notify.retry import PermanentFailure, TransientFailure
from vigil.notify.section import Section

# 408 Request Timeout, 425 Too Early, 429 Too Many Requests and every 5xx may succeed later; other 4xx will not.
_RETRYABLE_STATUS = {408, 425, 429}


def read_url(section: Section, key: str = "url") -> str:
    """The `url` key (or `url_env`: incoming-webhook URLs carry their token), checked now so that a typo is a
    config error rather than a failed delivery at 3 a.m."""
    text = section.secret(key, required=True)
    assert text is not None
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as error:
        raise section.error(f"is not a URL: {text!r} ({error})", key) from None
    if url.scheme not in ("http", "https") or not url.host:
        raise section.error(f"must be an http:// or https:// URL with a host, not {text!r}", key)
    return text


def redact(url: str) -> str:
    """The URL without its path and query: Slack-style webhook URLs carry their secret token in the path."""
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}/…" if parsed.path not in ("", "/") else url


class HttpPoster:
    """One HTTP endpoint. `proxy` is explicit: environment proxy variables are ignored, so alerts go where the
    config says and nowhere else."""

    def __init__(self, url: str, *, timeout: float = 10.0, verify: t.Union[bool, ssl.SSLContext] = True,
                 proxy: t.Optional[str] = None, headers: t.Optional[dict[str, str]] = None):
        self.url = url
        self.timeout = timeout
        self.verify = verify
        self.proxy = proxy
        self.headers = dict(headers or {})
        self._client: t.Optional[httpx.Client] = None

    def client(self) -> httpx.Client:
        # one client per endpoint, kept: connection reuse across runs, and TLS set-up paid once
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout, verify=self.verify, proxy=self.proxy, trust_env=False,
                                        follow_redirects=False)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def post(self, body: bytes, headers: dict[str, str]) -> str:
        """Send once; returns "HTTP <status>" or raises TransientFailure / PermanentFailure."""
        try:
            response = self.client().post(self.url, content=body, headers={**self.headers, **headers})
        except httpx.TransportError as error:  # refused, reset, DNS, TLS, timeouts: all may clear up
            raise TransientFailure(f"{type(error).__name__}: {error or 'no detail'}") from None
        status = response.status_code
        if 200 <= status < 300:
            return f"HTTP {status}"
        excerpt = response.text[:200].strip().replace("\n", " ")
        message = f"HTTP {status} {response.reason_phrase}" + (f": {excerpt}" if excerpt else "")
        if status in _RETRYABLE_STATUS or status >= 500:
            raise TransientFailure(message, retry_after=_retry_after(response.headers.get("retry-after")))
        raise PermanentFailure(message)


def _retry_after(value: t.Optional[str]) -> t.Optional[float]:
    """`Retry-After` in seconds (the HTTP-date form is rare for webhooks and ignored)."""
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
