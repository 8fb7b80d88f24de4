"""The `[outputs]` configuration: defaults, names, located errors; and `vigil notify test` end to end."""

from __future__ import annotations

import orjson
import pytest
from click.testing import CliRunner

from vigil.cli import cli
from vigil.errors import ConfigError
from vigil.notify import Notifiers


def _error(outputs) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        Notifiers.from_config(outputs, source="vigil.toml")
    return caught.value


def test_channel_names_kinds_and_enabled(tmp_path):
    notifiers = Notifiers.from_config({
        "webhook": {"url": "https://hooks.example.org/x"},
        "file": [{"path": "a.ndjson"}, {"path": "b.ndjson", "name": "archive"}, {"path": "c", "enabled": False}],
        "syslog": [{"protocol": "tcp"}],
    }, base_dir=tmp_path)
    assert [(c.options.name, c.channel.kind) for c in notifiers.channels] == [
        ("webhook", "webhook"), ("syslog", "syslog"), ("file-1", "file"), ("archive", "file")]
    assert [c.options.name for c in notifiers.select(["file"]).channels] == ["file-1", "archive"]
    with pytest.raises(ConfigError) as caught:
        notifiers.select(["nope"])
    assert "configured: archive, file, file-1" in str(caught.value)


@pytest.mark.parametrize("outputs, key, words", [
    ({"webhok": {}}, "outputs.webhok", "did you mean 'webhook'?"),
    ({"webhook": {"url": "ftp://x"}}, "outputs.webhook.url", "http:// or https://"),
    ({"webhook": [{"url": "http://a"}, {"url": "http://b", "retries": -1}]}, "outputs.webhook[1].retries",
     "at least 0"),
    ({"webhook": {"url": "http://a", "secret": "x", "secret_env": "Y"}}, "outputs.webhook.secret", "not both"),
    ({"slack": {}}, "outputs.slack.url", "is required"),
    ({"file": [{"path": "a", "name": "x"}, {"path": "b", "name": "x"}]}, "outputs.file[1].name", "duplicate"),
    ({"file": {"path": "a", "throttle": "1 hour"}}, "outputs.file.throttle", "is not an interval"),
    ({"file": {"path": "a", "notify_when": "onThrottleInterval"}}, "outputs.file.notify_when", "needs a throttle"),
    ({"file": {"path": "a", "min_severity": "severe"}}, "outputs.file.min_severity", "must be one of"),
    ({"throttle": 5}, "outputs.throttle", "must be a string"),
    ({"file": "alerts.ndjson"}, "outputs.file", "must be a table"),
])
def test_config_errors_name_the_key(outputs, key, words):
    error = _error(outputs)
    assert error.location.key == key and error.location.path == "vigil.toml"
    assert words in str(error)


def test_secret_from_environment(monkeypatch, http_receiver, nping):
    monkeypatch.setenv("VIGIL_TEST_HOOK_SECRET", "from-env")
    alerts, rule = nping
    Notifiers.from_config({"webhook": {"url": http_receiver.url, "secret_env": "VIGIL_TEST_HOOK_SECRET"}}).notify(
        alerts, rule)
    from vigil.notify import verify_webhook

    request = http_receiver.requests[0]
    assert verify_webhook("from-env", request.body, request.headers["x-vigil-signature"])


def test_cli_notify_test_sends_sample_and_reports(tmp_path, http_receiver, vigil_home):
    config = tmp_path / "vigil.toml"
    config.write_text(f'''
[outputs]
throttle = "1h"

[[outputs.webhook]]
name = "soc"
url = "{http_receiver.url}"
secret = "k"

[[outputs.file]]
path = "alerts.ndjson"
''')
    runner = CliRunner()
    result = runner.invoke(cli, ["notify", "test", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "ok   soc (webhook): sent, 1 attempt" in result.output
    assert "ok   file (file): sent" in result.output
    body = orjson.loads(http_receiver.requests[0].body)
    assert body["alerts"][0]["process"]["name"] == "nping" and "vigil-notify-test" in body["alerts"][0]["tags"]
    assert (tmp_path / "alerts.ndjson").exists()
    # a test is not a notification: a second one is not throttled and no throttle state was written
    again = runner.invoke(cli, ["notify", "test", "--config", str(config), "--json", "soc"])
    assert again.exit_code == 0
    assert [orjson.loads(line)["status"] for line in again.output.splitlines()] == ["sent"]
    assert not (vigil_home / "notify-state.json").exists()


def test_cli_notify_test_failure_exit_status_and_located_config_error(tmp_path):
    config = tmp_path / "vigil.toml"
    config.write_text('[[outputs.webhook]]\nurl = "http://127.0.0.1:1/"\nretries = 0\n')
    result = CliRunner().invoke(cli, ["notify", "test", "--config", str(config)])
    assert result.exit_code == 1
    assert "FAIL webhook (webhook): failed" in result.output and "payload kept in" in result.output
    config.write_text('[[outputs.webhook]]\nurl = "http://127.0.0.1:1/"\n\nretriez = 0\n')
    result = CliRunner().invoke(cli, ["notify", "test", "--config", str(config)])
    assert result.exit_code == 2
    assert f"{config}:4 [outputs.webhook[0].retriez]: unknown key" in result.output
    assert "did you mean 'retries'?" in result.output
    assert "Traceback" not in result.output
