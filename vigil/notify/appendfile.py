"""Append lines to a file so that concurrent writers (several vigil processes) never interleave or lose them.

The file is opened with O_APPEND, so every write lands at the current end even when another process wrote since;
a whole batch goes out in one `write` call (Linux serialises writes to one regular file, so a batch stays
contiguous), and the batch is fsync'ed before returning, so a delivered notification survives a crash.
"""

from __future__ import annotations

import os
import typing as t
from dataclasses import dataclass
from pathlib import Path


def append_lines(path: t.Union[str, Path], lines: t.Iterable[bytes], *, fsync: bool = True, mode: int = 0o640) -> int:
    """Append `lines` (each without its newline) as one write; returns the bytes written. Creates parent dirs."""
    data = b"".join(line + b"\n" for line in lines)
    if not data:
        return 0
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:  # a short write (disk full, signal) continues where it stopped, still at the end of file
            written = os.write(fd, view)
            view = view[written:]
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    return len(data)


@dataclass
class FileChannel:
    """A channel that appends one line per alert to a file; the CEF and NDJSON channels differ only in `format_line`.

    A failed append is not retried (a full or read-only disk does not fix itself within a backoff): it goes to the
    dead-letter file at once.
    """

    options: t.Any  # vigil.notify.base.ChannelOptions
    path: Path
    dead_letter: t.Optional[Path]
    kind: str
    format_line: t.Callable[[t.Mapping[str, t.Any]], bytes]
    fsync: bool = True

    @property
    def name(self) -> str:
        return self.options.name

    def send(self, batch: t.Any) -> t.Any:
        from vigil.notify.delivery import deliver
        from vigil.notify.retry import PermanentFailure, RetryPolicy

        lines = [self.format_line(alert) for alert in batch.alerts]

        def attempt() -> str:
            try:
                append_lines(self.path, lines, fsync=self.fsync)
            except OSError as error:
                raise PermanentFailure(f"cannot append to {self.path}: {error.strerror or error}") from None
            return f"{len(lines)} lines appended"

        return deliver(channel=self.name, kind=self.kind, target=str(self.path), alerts=len(batch.alerts),
                       attempt=attempt, policy=RetryPolicy(retries=0), dead_letter=self.dead_letter,
                       payload=batch.to_payload)
