"""The webhook and Slack channels against a real HTTP server on 127.0.0.1: body, signature, retries, dead letters."""

from __future__ import annotations

import hashlib
import hmac

import orjson

from tests.notify.notify_servers import free_port
from vigil.notify import Notifiers, verify_webhook
from vigil.notify.slack import message

FAST = {"retries": 3, "backoff": 0.01, "max_backoff": 0.05}


def _dead_letters(home):
    path = home / "notify-dead-letter.ndjson"
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def test_webhook_body_is_the_alerts_and_rule_and_is_signed(http_receiver, nping):
    alerts, rule = nping
    notifiers = Notifiers.from_config({"webhook": {"url": http_receiver.url, "secret": "s3cret", **FAST}})
    [result] = notifiers.notify(alerts, rule)
    assert (result.status, result.attempts, result.detail) == ("sent", 1, "HTTP 200")
    [request] = http_receiver.requests
    body = orjson.loads(request.body)
    assert body["rule"]["rule_id"] == rule.rule_id and body["rule"]["name"] == "Nping Process Activity"
    assert body["alerts_count"] == 1
    assert body["alerts"][0]["kibana.alert.uuid"] == alerts[0]["kibana.alert.uuid"]
    assert body["alerts"][0]["process"]["name"] == "nping"
    # the receiver's recipe from docs/notify.md: HMAC-SHA256 of the raw body with the shared secret
    expected = "sha256=" + hmac.new(b"s3cret", request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-vigil-signature"] == expected
    assert verify_webhook("s3cret", request.body, request.headers["x-vigil-signature"])
    assert not verify_webhook("other", request.body, request.headers["x-vigil-signature"])
    assert request.headers["x-vigil-timestamp"].isdigit()
    assert request.headers["content-type"] == "application/json"


def test_webhook_without_secret_sends_no_signature(http_receiver, nping):
    alerts, rule = nping
    Notifiers.from_config({"webhook": {"url": http_receiver.url}}).notify(alerts, rule)
    assert "x-vigil-signature" not in http_receiver.requests[0].headers


def test_webhook_retries_server_errors_then_succeeds(http_receiver, nping, vigil_home):
    alerts, rule = nping
    http_receiver.statuses = [500, (429, {"Retry-After": "0"}), 503]
    [result] = Notifiers.from_config({"webhook": {"url": http_receiver.url, "secret": "k", **FAST}}).notify(
        alerts, rule)
    assert (result.status, result.attempts) == ("sent", 4)
    assert len(http_receiver.requests) == 4
    # one notification, one delivery id across its retries: receivers can de-duplicate
    assert len({r.headers["x-vigil-delivery"] for r in http_receiver.requests}) == 1
    assert _dead_letters(vigil_home) == []


def test_webhook_gives_up_after_last_retry_into_dead_letter(http_receiver, nping, vigil_home):
    alerts, rule = nping
    http_receiver.statuses = [502] * 10
    [result] = Notifiers.from_config({"webhook": {"url": http_receiver.url, **FAST}}).notify(alerts, rule)
    assert (result.status, result.attempts, result.ok) == ("failed", 4, False)
    assert "HTTP 502" in result.error
    assert len(http_receiver.requests) == 4
    [letter] = _dead_letters(vigil_home)
    assert letter["channel"] == "webhook" and letter["attempts"] == 4 and "HTTP 502" in letter["error"]
    assert letter["payload"]["alerts"][0]["kibana.alert.uuid"] == alerts[0]["kibana.alert.uuid"]
    assert result.dead_letter == str(vigil_home / "notify-dead-letter.ndjson")


def test_webhook_client_error_is_not_retried(http_receiver, nping, tmp_path):
    alerts, rule = nping
    http_receiver.statuses = [404]
    dead = tmp_path / "dl.ndjson"
    [result] = Notifiers.from_config({"webhook": {"url": http_receiver.url, "dead_letter": str(dead), **FAST}}).notify(
        alerts, rule)
    assert (result.status, result.attempts) == ("failed", 1)
    assert result.error.startswith("HTTP 404")
    assert dead.exists() and orjson.loads(dead.read_bytes())["error"].startswith("HTTP 404")


def test_webhook_connection_refused_is_retried_and_reported(nping, vigil_home):
    alerts, rule = nping
    url = f"http://127.0.0.1:{free_port()}/hook"
    [result] = Notifiers.from_config({"webhook": {"url": url, "retries": 2, "backoff": 0.01}}).notify(alerts, rule)
    assert (result.status, result.attempts) == ("failed", 3)
    assert "ConnectError" in result.error
    assert _dead_letters(vigil_home)[0]["target"].startswith("http://127.0.0.1:")


def test_slack_message_blocks_and_retry(http_receiver, nping):
    alerts, rule = nping
    http_receiver.statuses = [500]
    [result] = Notifiers.from_config({"slack": {"url": http_receiver.url, **FAST}}).notify(alerts, rule)
    assert (result.status, result.attempts) == ("sent", 2)
    body = orjson.loads(http_receiver.requests[-1].body)
    assert body["text"] == "[medium] Nping Process Activity: 1 alert on web-01"
    assert body["blocks"][0]["type"] == "header"
    fields = " ".join(f["text"] for f in body["blocks"][1]["fields"])
    for expected in ("*Severity*", "medium", "risk 47", "*Host*\nweb-01", "`nping`", "pid 4207", "*User*\nana"):
        assert expected in fields
    assert "http" not in orjson.dumps(body["blocks"]).decode()  # link-less


def test_slack_escapes_user_controlled_text(nping):
    alerts, rule = nping
    evil = dict(alerts[0])
    evil["process"] = {**evil["process"], "command_line": "curl <http://x|click> & echo"}
    evil["host"] = {"name": "<!channel>"}
    from vigil.notify.base import Batch, rule_summary

    body = orjson.dumps(message(Batch(rule_summary(rule), (evil,), "2026-01-01T00:00:00.000Z"))).decode()
    assert "<http" not in body and "<!channel>" not in body
    assert "&lt;http://x|click&gt; &amp; echo" in body and "&lt;!channel&gt;" in body
