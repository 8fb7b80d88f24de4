"""Turn the paths a user typed into a stream of raw lines with their location.

Paths may be files (plain, gzip or zstd; the compression is recognised by its magic bytes, not the file name),
directories (walked recursively, in sorted order so that runs are reproducible), glob patterns, or `-` for stdin.
Every line comes out as a `Line`: its 1-based number, the byte offsets where it starts and ends in the (decompressed)
stream, and its bytes without the trailing newline. The offsets let follow mode and checkpoints resume exactly.

Bad input is never fatal here: a record that cannot be used is reported through `BadRecords` as `file:line: reason`
and the stream goes on.
"""

from __future__ import annotations

import glob
import gzip
import io
import os
import sys
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from vigil.errors import Location, SourceError
from vigil.io.paths import files_in

STDIN = "-"
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_BLOCK = 1 << 20  # large reads: one syscall per MiB keeps Python's per-line overhead the only cost


class Line(t.NamedTuple):
    number: int  # 1-based line number in its file
    start: int  # byte offset of the first byte of the line
    end: int  # byte offset just after the line's newline (where the next line starts)
    data: bytes  # the line without its trailing newline (and without a trailing \r)


@dataclass
class BadRecords:
    """Counts records that could not be used and keeps the first few locations for the report."""

    keep: int = 50
    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, path: str, line: int, reason: str) -> None:
        self.count += 1
        if len(self.examples) < self.keep:
            self.examples.append(f"{path}:{line}: {reason}")


def expand_paths(paths: t.Iterable[str]) -> list[str]:
    """Files named by `paths`: directories recursively (sorted), globs expanded, `-` kept as stdin.

    Inside a directory, hidden files and documentation (`.md`, `.rst`, `.html`, `.pdf`) are passed over.

    A path that names nothing is a SourceError; a directory or glob that holds no file is one too, because a
    silent empty run would look like "no detections".
    """
    out: list[str] = []
    for raw in paths:
        if raw == STDIN:
            out.append(STDIN)
            continue
        path = Path(raw)
        if path.is_dir():
            found = files_in(path)
            if not found:
                raise SourceError("directory holds no files", Location(path=raw))
            out.extend(found)
        elif path.exists():
            out.append(raw)
        elif glob.has_magic(raw):
            found = sorted(p for p in glob.glob(raw, recursive=True) if os.path.isfile(p))
            if not found:
                raise SourceError("pattern matches no files", Location(path=raw))
            out.extend(found)
        else:
            raise SourceError("no such file or directory", Location(path=raw))
    return out


def compression_of(head: bytes) -> t.Optional[str]:
    """`gzip`, `zstd` or None from the first bytes of a stream."""
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if head.startswith(_ZSTD_MAGIC):
        return "zstd"
    return None


def open_binary(path: str) -> t.BinaryIO:
    """A readable binary stream of the decompressed content of `path` (`-` is stdin)."""
    try:
        raw: t.BinaryIO = sys.stdin.buffer if path == STDIN else open(path, "rb")  # noqa: SIM115
    except OSError as error:
        raise SourceError(f"cannot open: {error.strerror}", Location(path=path)) from None
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw, _BLOCK)  # type: ignore[arg-type]
    kind = compression_of(buffered.peek(4)[:4])
    if kind == "gzip":
        return gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
    if kind == "zstd":
        import zstandard

        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(buffered), _BLOCK)  # type: ignore[return-value]
    return buffered  # type: ignore[return-value]


def iter_lines(path: str, stream: t.Optional[t.BinaryIO] = None, *, start: int = 0, first_line: int = 1) -> t.Iterator[Line]:
    """Every line of `path` (or of an already open `stream`) with its number and byte offsets.

    `start`/`first_line` tell where `stream` is positioned, so numbering stays right when resuming. A last line
    without a newline is still a line (a finished file may lack the final newline); follow mode, where the last line
    may be half written, uses `vigil.sources.follow` instead.
    """
    owned = stream is None
    fh = open_binary(path) if stream is None else stream
    number, offset = first_line, start
    try:
        while True:
            try:
                chunk = fh.readlines(_BLOCK)
            except (OSError, EOFError) as error:  # a corrupt or truncated gzip/zstd member
                raise SourceError(f"cannot read: {error}", Location(path=path, line=number)) from None
            if not chunk:
                return
            for raw in chunk:
                end = offset + len(raw)
                data = raw[:-1] if raw.endswith(b"\n") else raw
                if data.endswith(b"\r"):
                    data = data[:-1]
                yield Line(number, offset, end, data)
                number += 1
                offset = end
    finally:
        if owned and path != STDIN:
            fh.close()


def first_lines(path: str, limit: int = 64, max_bytes: int = 1 << 20) -> list[Line]:
    """Up to `limit` non-blank lines from the start of a file (for format sniffing), reading at most `max_bytes`."""
    out: list[Line] = []
    read = 0
    for line in iter_lines(path):
        read = line.end
        if line.data.strip():
            out.append(line)
        if len(out) >= limit or read >= max_bytes:
            break
    return out
