"""Tail files the way log shippers do: through rotation and truncation, resuming from an exact checkpoint.

A `FileFollower` reads complete lines from one path. It never hands out a line before its newline has been written
(a half-written last line is kept back and waited for), notices when the path now names a different file (rotation
by rename: it drains the old file first, then starts the new one at offset 0) or when the file shrank under it
(copytruncate: it starts again at offset 0), and knows the (device, inode, offset, line) after every line it gave.

A `Checkpoint` stores those positions, one per followed path, written atomically (temporary file + fsync + rename),
so a process killed at any moment restarts from the last committed position: what was committed is not read again
and what was not is. A caller that also writes output can store its own bookmark (`extra`, e.g. the output file's
size) in the same atomic write, which is what makes "every record exactly once" possible (see `vigil sources
normalize --output`).
"""

from __future__ import annotations

import os
import threading
import time
import typing as t
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from vigil.errors import Location, SourceError
from vigil.sources.readers import Line

CHECKPOINT_VERSION = 1
_READ = 1 << 20


@dataclass(frozen=True, slots=True)
class Position:
    """Where reading resumes in one followed path: which file (device, inode) and how far (offset, next line)."""

    dev: int
    inode: int
    offset: int
    line: int  # number of the next line to read (1-based)


class Checkpoint:
    """Positions of followed paths persisted in one small JSON file."""

    def __init__(self, path: t.Union[str, Path]):
        self.path = Path(path)
        self.positions: dict[str, Position] = {}
        self.extra: dict[str, t.Any] = {}
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        try:
            data = orjson.loads(self.path.read_bytes())
            if data.get("version") != CHECKPOINT_VERSION:
                raise ValueError(f"unknown checkpoint version {data.get('version')!r}")
            self.positions = {p: Position(**pos) for p, pos in data.get("files", {}).items()}
            self.extra = dict(data.get("extra") or {})
        except (OSError, ValueError, TypeError, AttributeError) as error:
            raise SourceError(f"checkpoint cannot be read: {error}", Location(path=str(self.path)),
                              hint="delete it to start over from the beginning of each file") from None

    def get(self, path: str) -> t.Optional[Position]:
        return self.positions.get(path)

    def save(self, positions: t.Optional[dict[str, Position]] = None, extra: t.Optional[dict] = None) -> None:
        """Merge `positions`/`extra` and write the file atomically."""
        if positions:
            self.positions.update(positions)
        if extra is not None:
            self.extra.update(extra)
        payload = orjson.dumps(
            {"version": CHECKPOINT_VERSION, "files": {p: asdict(pos) for p, pos in self.positions.items()},
             "extra": self.extra},
            option=orjson.OPT_INDENT_2,
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        try:  # make the rename itself durable
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


class FileFollower:
    """Complete lines from one path, across rotation and truncation.

    `poll()` returns the lines available now (possibly none) and never blocks. `position` is where reading would
    resume after the last line returned. With `follow=False` the follower reads to the end once (a final line
    without newline is then complete) and `done` becomes True.
    """

    def __init__(self, path: str, start: t.Optional[Position] = None, *, follow: bool = True,
                 rotate_grace: float = 1.0, on_note: t.Optional[t.Callable[[str], None]] = None,
                 hold_partial: bool = False):
        self.path = path
        self.follow = follow
        # Read once but resumable (checkpointed batch runs): a last line without newline may still be being
        # written, so leave it for the next run instead of parsing half of it.
        self.hold_partial = hold_partial
        self.rotate_grace = rotate_grace
        self.note = on_note or (lambda message: None)
        self.done = False
        self.generation = 0  # bumped when reading moves to another file or back to offset 0
        self._fh: t.Optional[t.BinaryIO] = None
        self._ident = (0, 0)
        self._offset = 0  # offset of the first byte of `_partial` (= end of the last complete line)
        self._line = 1
        self._partial = b""
        self._queue: list[tuple[t.BinaryIO, tuple[int, int], int, int]] = []  # rotated files still to finish
        self._rotated_since: t.Optional[float] = None
        self._open_initial(start)

    # -- opening and resuming
    def _open_initial(self, start: t.Optional[Position]) -> None:
        fh = self._try_open(self.path)
        if start is None:
            if fh is not None:
                self._attach(fh, 0, 1)
            return
        if fh is not None and self._ident_of(fh) == (start.dev, start.inode):
            if os.fstat(fh.fileno()).st_size >= start.offset:
                self._attach(fh, start.offset, start.line)
            else:
                self.note(f"{self.path}: file is shorter than the checkpoint (truncated while stopped); reading it from the start")
                self._attach(fh, 0, 1)
            return
        rotated = self._find_rotated(start)
        if rotated is not None:
            self.note(f"{self.path}: rotated while stopped; finishing {rotated} from the checkpoint first")
            old = open(rotated, "rb")  # noqa: SIM115
            self._attach(old, start.offset, start.line)
            self._rotated_since = time.monotonic() - self.rotate_grace  # no writer is left: finish without waiting
            if fh is not None:
                self._queue.append((fh, self._ident_of(fh), 0, 1))
            return
        if fh is not None:
            self.note(f"{self.path}: the checkpointed file is gone; reading the current file from the start")
            self._attach(fh, 0, 1)

    def _find_rotated(self, start: Position) -> t.Optional[str]:
        folder = os.path.dirname(self.path) or "."
        base = os.path.basename(self.path)
        try:
            names = os.listdir(folder)
        except OSError:
            return None
        for name in sorted(names):
            if not name.startswith(base) or name == base:
                continue
            candidate = os.path.join(folder, name)
            try:
                st = os.stat(candidate)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (start.dev, start.inode):
                return candidate
        return None

    @staticmethod
    def _try_open(path: str) -> t.Optional[t.BinaryIO]:
        try:
            return open(path, "rb")  # noqa: SIM115
        except FileNotFoundError:
            return None
        except OSError as error:
            raise SourceError(f"cannot open: {error.strerror}", Location(path=path)) from None

    @staticmethod
    def _ident_of(fh: t.BinaryIO) -> tuple[int, int]:
        st = os.fstat(fh.fileno())
        return st.st_dev, st.st_ino

    def _attach(self, fh: t.BinaryIO, offset: int, line: int) -> None:
        fh.seek(offset)
        self._fh, self._ident, self._offset, self._line, self._partial = fh, self._ident_of(fh), offset, line, b""

    @property
    def position(self) -> Position:
        return Position(self._ident[0], self._ident[1], self._offset, self._line)

    # -- reading
    def poll(self) -> list[Line]:
        """Complete lines available now."""
        if self.done:
            return []
        if self._fh is None:
            fh = self._try_open(self.path)
            if fh is None:
                if not self.follow:
                    self.done = True
                return []
            self._attach(fh, 0, 1)
            self.generation += 1
        out = self._read_available()
        if out:
            return out
        # At the end of the current file: has the path moved on (rotation), or shrunk (truncation)?
        if self._queue or self._rotated():
            return self._finish_rotated()
        if not self.follow:
            out = [] if self.hold_partial else self._take_partial()
            self.done = True
            return out
        try:
            size = os.fstat(self._fh.fileno()).st_size  # type: ignore[union-attr]
        except OSError:
            return []
        if size < self._offset + len(self._partial):
            if self._partial:
                self.note(f"{self.path}:{self._line}: truncated while its last line was half written; that part is lost")
            self.note(f"{self.path}: truncated; reading it again from the start")
            self._fh.seek(0)  # type: ignore[union-attr]
            self._offset, self._line, self._partial = 0, 1, b""
            self.generation += 1
        return []

    def _read_available(self) -> list[Line]:
        fh = self._fh
        assert fh is not None
        out: list[Line] = []
        while True:
            chunk = fh.read(_READ)
            if not chunk:
                return out
            data = self._partial + chunk if self._partial else chunk
            last = data.rfind(b"\n")
            if last < 0:
                self._partial = data
                continue
            self._partial = data[last + 1:]
            offset, number = self._offset, self._line
            for raw in data[:last].split(b"\n"):
                end = offset + len(raw) + 1
                out.append(Line(number, offset, end, raw[:-1] if raw.endswith(b"\r") else raw))
                offset, number = end, number + 1
            self._offset, self._line = offset, number

    def _take_partial(self) -> list[Line]:
        """The file is finished (rotated away or read once): a last line without newline is complete now."""
        if not self._partial:
            return []
        data = self._partial
        line = Line(self._line, self._offset, self._offset + len(data), data)
        self._offset, self._line, self._partial = line.end, self._line + 1, b""
        return [line]

    def _rotated(self) -> bool:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False  # renamed away and not yet recreated: keep reading the old file meanwhile
        except OSError:
            return False
        if (st.st_dev, st.st_ino) == self._ident:
            return False
        fh = self._try_open(self.path)
        if fh is None:
            return False
        self._queue.append((fh, self._ident_of(fh), 0, 1))
        self.note(f"{self.path}: rotated; finishing the old file, then reading the new one")
        return True

    def _finish_rotated(self) -> list[Line]:
        """Drain the old file; once it stayed quiet for `rotate_grace`, switch to the next one."""
        now = time.monotonic()
        if self._rotated_since is None:
            self._rotated_since = now
            return []
        if now - self._rotated_since < self.rotate_grace:
            return []  # a writer holding the old file open may still finish its last line
        out = self._take_partial()
        if out:
            return out  # the old file's last line first; the switch happens on the next poll
        assert self._fh is not None
        self._fh.close()
        fh, _, offset, line = self._queue.pop(0)
        self._attach(fh, offset, line)
        self._rotated_since = None
        self.generation += 1
        return []

    def close(self) -> None:
        for fh, *_ in self._queue:
            fh.close()
        self._queue.clear()
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class Idle:
    """Marker from `follow_lines`: nothing new for a while (lets grouping parsers flush what they hold)."""

    def __repr__(self) -> str:
        return "IDLE"


IDLE = Idle()


class Reset(t.NamedTuple):
    """Marker from `follow_lines`: what follows comes from another file (rotation) or from offset 0 (truncation)."""

    position: Position


FollowItem = t.Union[Line, Idle, Reset]


def follow_lines(follower: FileFollower, *, interval: float = 0.1, idle_after: float = 0.5,
                 stop: t.Optional[threading.Event] = None) -> t.Iterator[FollowItem]:
    """Blocking iterator over a follower's lines and markers; ends when the follower is done or `stop` is set."""
    quiet_since: t.Optional[float] = None
    signalled = False
    generation = follower.generation
    while not follower.done and not (stop is not None and stop.is_set()):
        lines = follower.poll()
        if follower.generation != generation:
            generation = follower.generation
            yield Reset(follower.position)
        if lines:
            yield from lines
            quiet_since, signalled = None, False
            continue
        if follower.done:
            break
        now = time.monotonic()
        if quiet_since is None:
            quiet_since = now
        elif not signalled and now - quiet_since >= idle_after:
            signalled = True
            yield IDLE
        if stop is not None:
            stop.wait(interval)
        else:
            time.sleep(interval)
