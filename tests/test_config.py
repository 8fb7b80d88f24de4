"""The configuration file: where it is found, what it holds, and located errors for every mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from vigil.cli import cli
from vigil.config import Config, load_config, parse_config
from vigil.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "vigil.toml"


def test_the_documented_example_is_valid():
    config = parse_config(EXAMPLE.read_text(), EXAMPLE)
    assert config.store_path == Path("/var/lib/vigil/vigil.db")
    assert config.rule_dirs == (Path("/etc/vigil/rules"),)
    assert config.enabled == ("0d69150b-96f8-467c-a86d-a67a3378ce77",)
    first, second = config.sources
    assert first.paths == ("/var/log/audit/audit.log",) and first.format == "auditd_log" and first.follow
    assert second.format is None and not second.follow
    assert config.outputs == {}


def test_relative_paths_are_relative_to_the_file(tmp_path):
    path = tmp_path / "conf" / "vigil.toml"
    path.parent.mkdir()
    path.write_text('[store]\npath = "data/alerts.db"\n[[sources]]\npaths = ["logs/*.ndjson", "-"]\n')
    config = load_config(path)
    assert config.store_path == tmp_path / "conf" / "data" / "alerts.db"
    assert config.sources[0].paths == (str(tmp_path / "conf" / "logs" / "*.ndjson"), "-")


def test_default_file_is_optional_but_a_named_one_must_exist(tmp_path, monkeypatch):
    monkeypatch.setenv("VIGIL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("VIGIL_CONFIG", raising=False)
    assert load_config() == Config()
    monkeypatch.setenv("VIGIL_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config()
    (tmp_path / "home" / "vigil.toml").write_text('[rules]\ndisabled = ["abc"]\n')
    monkeypatch.delenv("VIGIL_CONFIG")
    assert load_config().disabled == ("abc",)


def test_enabled_and_disabled_override_the_registry():
    config = parse_config('[rules]\nenabled = ["a"]\ndisabled = ["b"]\n')
    assert config.rule_enabled("a", False) and not config.rule_enabled("b", True) and config.rule_enabled("c", True)


@pytest.mark.parametrize("text, line, key, words", [
    ('[store]\npath = 3\n', 2, "store.path", "path must be a string"),
    ('[store]\n\npaht = "x"\n', 3, "store.paht", "unknown key 'paht'"),
    ('[storage]\npath = "x"\n', 1, "storage", "unknown section [storage]"),
    ('[[sources]]\npaths = ["a"]\n\n[[sources]]\nformat = "ecs"\n', 4, "sources[1]", "needs `paths`"),
    ('[[sources]]\npaths = ["a"]\nformat = "nope"\n', 3, "sources[0].format", "unknown source format"),
    ('[[sources]]\npaths = ["a"]\nfollow = "yes"\n', 3, "sources[0].follow", "follow must be true or false"),
    ('[rules]\nenabled = ["x"]\ndisabled = ["x"]\n', 3, "rules.disabled", "both enabled and disabled"),
    ('[rules]\ndirs = "rules"\n', 2, "rules.dirs", "dirs must be a list"),
    ('[sources]\npaths = ["a"]\n', 1, "sources", "[[sources]]"),
])
def test_mistakes_are_located(text, line, key, words):
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "/etc/vigil.toml")
    error = caught.value
    assert words in error.message
    assert (error.location.path, error.location.line, error.location.key) == ("/etc/vigil.toml", line, key)
    assert str(error).startswith(f"/etc/vigil.toml:{line} [{key}]: ")


def test_toml_syntax_errors_keep_line_and_column():
    with pytest.raises(ConfigError) as caught:
        parse_config('[store]\npath = "unterminated\n', "c.toml")
    assert caught.value.location.line == 2 and "not valid TOML" in caught.value.message


def test_the_cli_reports_config_errors_without_a_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[store]\npath = 1\n')
    result = CliRunner().invoke(cli, ["run", "--once", "--config", str(bad)])
    assert result.exit_code == 2
    assert f"error: {bad}:2 [store.path]: path must be a string" in result.output
    assert "Traceback" not in result.output


def test_run_uses_configured_sources_and_store(tmp_path, monkeypatch):
    monkeypatch.setenv("VIGIL_HOME", str(tmp_path / "home"))
    samples = Path(__file__).resolve().parents[1] / "vigil" / "data" / "samples"
    config = tmp_path / "vigil.toml"
    config.write_text(f'[store]\npath = "alerts.db"\n[[sources]]\npaths = ["{samples / "defend.ndjson"}"]\n')
    result = CliRunner().invoke(cli, ["run", "--once", "--at", "2026-11-28T14:06:00Z", "--config", str(config),
                                      "--rule", "builtin"])
    assert result.exit_code == 0, result.output
    assert "New alerts (1)" in result.output and (tmp_path / "alerts.db").exists()


def test_no_sources_anywhere_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("VIGIL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("VIGIL_CONFIG", raising=False)
    result = CliRunner().invoke(cli, ["run", "--once"])
    assert result.exit_code == 2 and "no sources: give FILE arguments or configure [[sources]]" in result.output
