"""Typed reading of one `[[outputs.<kind>]]` table: every bad or unknown key is a ConfigError naming the key.

The configuration loader hands over plain dicts (TOML has no line numbers once parsed), so the location of an
error is the config file (when known), the key's line when the caller can tell it (`line_of`), and the key path,
e.g. `vigil.toml:12 [outputs.webhook[0].url]`.
"""

from __future__ import annotations

import difflib
import os
import ssl
import typing as t
from pathlib import Path

from vigil.errors import ConfigError, Location
from vigil.rules.datemath import DateMathError, parse_interval
from vigil.notify.retry import RetryPolicy

_MISSING = object()


class Section:
    """One table of the config, read key by key; `finish()` rejects the keys nobody asked for (typos)."""

    def __init__(self, values: t.Any, key: str, *, source: t.Optional[str] = None, base_dir: t.Optional[Path] = None,
                 line_of: t.Optional[t.Callable[[str], t.Optional[int]]] = None):
        self.key = key
        self.source = source
        self.base_dir = base_dir
        self.line_of = line_of
        if not isinstance(values, t.Mapping):
            raise self.error(f"must be a table, not {type(values).__name__}")
        self.values = dict(values)
        self._read: set[str] = set()

    # ---------------------------------------------------------------------------------------------- errors
    def error(self, message: str, key: t.Optional[str] = None, hint: t.Optional[str] = None) -> ConfigError:
        where = f"{self.key}.{key}" if key else self.key
        line = self.line_of(where) if self.line_of else None
        return ConfigError(message, Location(path=self.source, line=line, key=where), hint)

    def accept(self, *keys: str) -> None:
        """Mark keys as known without reading them here (the caller reads them itself)."""
        self._read.update(keys)

    def finish(self) -> None:
        unknown = sorted(set(self.values) - self._read)
        if unknown:
            key = unknown[0]
            close = difflib.get_close_matches(key, sorted(self._read), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(sorted(self._read))}"
            raise self.error("unknown key", key, hint)

    # ---------------------------------------------------------------------------------------------- getters
    def _get(self, key: str, default: t.Any) -> t.Any:
        self._read.add(key)
        value = self.values.get(key, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                raise self.error("is required", key)
            return default
        return value

    def str(self, key: str, default: t.Any = _MISSING) -> t.Any:
        value = self._get(key, default)
        if value is not default and not isinstance(value, str):
            raise self.error(f"must be a string, not {value!r}", key)
        if isinstance(value, str) and not value.strip() and default is _MISSING:
            raise self.error("must not be empty", key)
        return value

    def choice(self, key: str, choices: t.Sequence[str], default: t.Any = _MISSING) -> t.Any:
        value = self.str(key, default)
        if value is not default and value not in choices:
            raise self.error(f"must be one of {', '.join(choices)}, not {value!r}", key)
        return value

    def bool(self, key: str, default: t.Any = _MISSING) -> t.Any:
        value = self._get(key, default)
        if value is not default and not isinstance(value, bool):
            raise self.error(f"must be true or false, not {value!r}", key)
        return value

    def number(self, key: str, default: t.Any = _MISSING, *, minimum: float = 0.0, integer: bool = False) -> t.Any:
        value = self._get(key, default)
        if value is default:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
            raise self.error(f"must be {'an integer' if integer else 'a number'}, not {value!r}", key)
        if value < minimum:
            raise self.error(f"must be at least {minimum:g}, not {value!r}", key)
        return value

    def strings(self, key: str, default: t.Any = _MISSING) -> t.Any:
        """A list of strings; a single string is accepted as a one-element list."""
        value = self._get(key, default)
        if value is default:
            return value
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.error(f"must be a list of strings, not {value!r}", key)
        return tuple(value)

    def table(self, key: str, default: t.Any = _MISSING) -> t.Any:
        value = self._get(key, default)
        if value is not default and not (
            isinstance(value, t.Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
        ):
            raise self.error("must be a table of strings", key)
        return dict(value) if value is not default else value

    def path(self, key: str, default: t.Any = _MISSING) -> t.Any:
        """A file path; a relative one is relative to the config file's directory (else the working directory)."""
        value = self.str(key, default)
        if not isinstance(value, str):
            return value
        path = Path(os.path.expanduser(value))
        if not path.is_absolute() and self.base_dir is not None:
            path = self.base_dir / path
        return path

    def secret(self, key: str, *, required: bool = False) -> t.Optional[str]:
        """`key` inline, or `<key>_env` naming an environment variable (keeps secrets out of the file)."""
        inline = self.str(key, None)
        env_name = self.str(f"{key}_env", None)
        if inline is not None and env_name is not None:
            raise self.error(f"set either {key} or {key}_env, not both", key)
        if env_name is not None:
            value = os.environ.get(env_name)
            if not value:
                raise self.error(f"environment variable {env_name} is not set or empty", f"{key}_env")
            return value
        if inline is None and required:
            raise self.error(f"is required (or {key}_env naming an environment variable)", key)
        return inline

    def interval(self, key: str, default: t.Any = _MISSING) -> t.Any:
        """A Kibana-style interval string (`30s`, `5m`, `1h`, `1d`); returned as given after checking it."""
        value = self.str(key, default)
        if isinstance(value, str) and value not in THROTTLE_WORDS:
            try:
                parse_interval(value)
            except DateMathError as error:  # re-locate the interval error at this config key
                raise self.error(f"is not an interval: {value!r} ({error.args[0]})", key,
                                 hint='use a number and a unit: "30s", "15m", "1h", "1d"') from None
        return value

    def tls_context(self) -> ssl.SSLContext:
        """`ca_file` (a PEM bundle; default: the system trust store) and `verify_tls` (false: lab receivers with
        self-signed certificates; the connection is then encrypted but not authenticated)."""
        ca_file, verify = self.path("ca_file", None), self.bool("verify_tls", True)
        if ca_file is not None and not ca_file.is_file():
            raise self.error(f"no such file: {ca_file}", "ca_file")
        try:
            context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        except ssl.SSLError as error:
            raise self.error(f"not a PEM certificate bundle: {error}", "ca_file") from None
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            retries=self.number("retries", 3, integer=True),
            backoff=float(self.number("backoff", 1.0)),
            max_backoff=float(self.number("max_backoff", 60.0)),
        )


# Kibana's legacy `throttle` words: "no_actions" (never notify) and "rule" (every run); anything else is an interval.
THROTTLE_WORDS = ("no_actions", "rule")
