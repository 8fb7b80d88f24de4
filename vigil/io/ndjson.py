"""Read NDJSON fast: one reused block buffer, a whole-block literal prefilter, decoding only what may match.

Two levels, usable on their own:

    iter_lines(path, prefilter=None, stats=None, on_bad=None) -> Iterator[tuple[int, bytes]]
        1-based line number and raw bytes (no newline) of every non-blank line that may match; lines the prefilter
        proves cannot match are counted in `stats.skipped` and never split out of their block.
    NdjsonReader(paths, prefilter=None, decode=None)   iterate -> JsonLine(path, line, doc, raw)
        decodes candidate lines (orjson by default), keeps `BadLine`s and unreadable-file errors, fills `stats`;
        `reader.matching(predicate)` runs an event test inside the read loop and yields only the matches.

Where the time goes, and why it is spent this way (1 KB Elastic Defend lines, file in the page cache):

* reading: `readinto` one 1 MiB buffer, reused (a fresh block per read costs as much again in page faults);
* the prefilter: stringzilla's SIMD substring search and newline count run at ~10 GB/s, six to eight times
  CPython's `bytes.find`/`count`, so a selective needle leaves the scan close to the speed of `grep -F`. Only the
  lines holding a needle are cut out (`_Scanner`), and which clause to scan for is measured on the data;
* decoding: without a selective prefilter every line is decoded; with a buffer-reading decoder (msgspec, see
  `vigil.io.projection`) lines are passed as views into the block, not copied.

Inputs: plain files, gzip and zstandard (recognised by their magic bytes, whatever the name), and `-` for stdin.
Bad input never stops a read: a malformed, non-object, invalid UTF-8 or over-long (> 16 MiB) line becomes a
`BadLine`; an unreadable or corrupt file becomes a `SourceError` in `reader.errors`; all other lines still flow.
Lines skipped by the prefilter are not validated (that is the point of skipping them).
"""

from __future__ import annotations

import os
import sys
import typing as t
from dataclasses import asdict, dataclass, field

import orjson
from stringzilla import Str, count, find, rfind, translate

from vigil.errors import Location, SourceError

if t.TYPE_CHECKING:
    from vigil.eql.literals import RequiredLiterals

BLOCK_SIZE = 1024 * 1024  # 1 MiB: a block stays in cache across the passes over it (read, count, search)
# A prefilter whose best needle scores below this (short or common words such as `start`) may hit most lines: the
# reader then tries it block by block and uses it only where it pays (`NdjsonReader.weak_prefilter`).
MIN_PREFILTER_SCORE = 3.0
MAX_LINE = 16 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass(slots=True)
class ReadStats:
    """Counters over everything read. `lines` counts every line (blank ones too); `bytes` is decompressed size."""

    files: int = 0
    lines: int = 0
    bytes: int = 0
    skipped: int = 0  # proven unable to match by the prefilter, never parsed
    parsed: int = 0
    bad: int = 0
    blank: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that could not be used, and why."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


class JsonLine(t.NamedTuple):
    """One decoded line: where it is, the JSON object, and the raw bytes (for re-decoding or output)."""

    path: str
    line: int
    doc: dict
    raw: bytes


Progress = t.Callable[[str, int, t.Optional[int]], None]  # (path, input bytes consumed, input size or None)


# ------------------------------------------------------------------------------------------------ opening
class _Input:
    """A binary stream of decompressed bytes plus a way to tell how far into the (compressed) input we are."""

    def __init__(self, path: str):
        self.path = path
        self.size: t.Optional[int] = None
        self._errors: tuple[type[BaseException], ...] = (OSError, EOFError)  # what a read may raise; see below
        self._closers: list[t.Any] = []
        try:
            raw: t.Any = sys.stdin.buffer if path == "-" else open(path, "rb")
        except OSError as error:
            raise SourceError(f"cannot read: {error.strerror or error}", Location(path=path)) from None
        if path != "-":
            self._closers.append(raw)
            try:
                self.size = os.fstat(raw.fileno()).st_size
            except OSError:
                self.size = None
        head = raw.read(4)
        if path == "-":
            raw = _Prefixed(head, raw)  # stdin cannot seek back: replay the magic bytes
        else:
            raw.seek(0)
        self._raw = raw
        self.stream: t.Any = raw
        # Decompressors are imported only when an input needs them: `vigil query` on a plain file starts faster.
        if head.startswith(GZIP_MAGIC):
            import gzip

            self.stream = gzip.GzipFile(fileobj=raw, mode="rb")
            self._closers.insert(0, self.stream)
        elif head.startswith(ZSTD_MAGIC):
            import zstandard

            self.stream = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
            self._closers.insert(0, self.stream)
            self._errors += (zstandard.ZstdError,)

    def position(self) -> int:
        try:
            return self._raw.tell() if self.path != "-" else 0
        except (OSError, ValueError):
            return 0

    def read(self, size: int) -> bytes:
        try:
            return self.stream.read(size)
        except self._errors as error:
            raise SourceError(f"cannot decompress or read: {error}", Location(path=self.path)) from None

    def readinto(self, target: memoryview) -> int:
        """Fill `target` as far as one read goes; 0 at the end. Reading into one reused buffer avoids allocating
        (and page-faulting) a fresh block per read, which costs as much as the read itself at page-cache speed."""
        try:
            return self.stream.readinto(target) or 0
        except self._errors as error:
            raise SourceError(f"cannot decompress or read: {error}", Location(path=self.path)) from None

    def close(self) -> None:
        for closer in self._closers:
            try:
                closer.close()
            except self._errors:
                pass


class _Prefixed:
    """A read-only stream that returns `prefix` before the rest of `stream`."""

    def __init__(self, prefix: bytes, stream: t.Any):
        self.prefix = prefix
        self.stream = stream

    def read(self, size: int = -1) -> bytes:
        if not self.prefix:
            return self.stream.read(size)
        head, self.prefix = self.prefix, b""
        if size is not None and 0 <= size <= len(head):
            head, self.prefix = head[:size], head[size:]
            return head
        return head + self.stream.read(-1 if size is None or size < 0 else size - len(head))

    def readinto(self, target: memoryview) -> int:
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)

    def tell(self) -> int:
        return 0

    def close(self) -> None:
        pass


# ------------------------------------------------------------------------------------------------ lines
def iter_lines(
    path: str,
    *,
    prefilter: t.Optional["RequiredLiterals"] = None,
    stats: t.Optional[ReadStats] = None,
    on_bad: t.Optional[t.Callable[[BadLine], None]] = None,
    block_size: int = BLOCK_SIZE,
    progress: t.Optional[Progress] = None,
) -> t.Iterator[tuple[int, bytes]]:
    """Yield (1-based line number, raw line) for each non-blank line of `path` that may match `prefilter`.

    Raises SourceError when the file cannot be opened or is corrupt part-way (lines before that were yielded).
    Over-long lines are passed to `on_bad` and skipped.
    """
    for batch in iter_batches(
        path, prefilter=prefilter, stats=stats, on_bad=on_bad, block_size=block_size, progress=progress
    ):
        yield from batch


def iter_batches(
    path: str,
    *,
    prefilter: t.Optional["RequiredLiterals"] = None,
    stats: t.Optional[ReadStats] = None,
    on_bad: t.Optional[t.Callable[[BadLine], None]] = None,
    block_size: int = BLOCK_SIZE,
    progress: t.Optional[Progress] = None,
) -> t.Iterator[list[tuple[int, bytes]]]:
    """`iter_lines`, one list per block: a consumer's per-line loop then runs without a generator in between."""
    stats = stats if stats is not None else ReadStats()
    for first, lines, numbers in _blocks(path, prefilter, stats, on_bad, block_size, progress):
        batch = []
        for number, line in zip(numbers or range(first, first + len(lines)), lines):
            if not line or line.isspace():
                stats.blank += 1
            else:
                batch.append((number, line))
        if batch:
            yield batch


def _blocks(
    path: str,
    prefilter: t.Optional["RequiredLiterals"],
    stats: ReadStats,
    on_bad: t.Optional[t.Callable[[BadLine], None]],
    block_size: int,
    progress: t.Optional[Progress],
    views: bool = False,
) -> t.Iterator[tuple[int, t.Sequence[t.Any], t.Optional[list[int]]]]:
    """The candidate lines of `path`, a block at a time, as (number of the first line, lines, None) when the lines
    are consecutive, else (0, lines, their numbers). Blank lines may be among them (the consumer counts them: a
    JSON decoder rejects them anyway, so checking each line up front would be wasted work); over-long ones are not.

    Lines are `bytes`, except with `views=True` when every line of a block is passed on: they are then
    `stringzilla.Str` views into the block, valid only until the next block is asked for (no copy per line: for a
    decoder that reads buffers, such as msgspec, that is a third of the per-line cost of splitting).

    One buffer is reused for the whole file: each read fills it after the unfinished line carried from the last
    block, and the block is everything up to its last newline. A line that fills the buffer on its own grows it
    (up to the 16 MiB line limit, past which the line is reported and skipped to its newline)."""
    stats = stats if stats is not None else ReadStats()
    report = on_bad or (lambda bad: None)
    scanner = _Scanner(prefilter) if prefilter is not None else None
    source = _Input(path)
    stats.files += 1
    buf = bytearray(max(block_size, 16))
    view = memoryview(buf)
    try:
        consumed = 0  # lines fully behind us
        filled = 0  # bytes of buf holding data: the carried unfinished line, then the newest read
        discarding = False  # inside an over-long line: drop bytes up to its newline
        while True:
            if filled == len(buf):  # no newline in a full buffer: one line longer than the buffer
                if filled > MAX_LINE:
                    _bad(BadLine(path, consumed + 1, "line longer than 16 MiB"), stats, report)
                    filled, discarding = 0, True
                else:
                    view.release()
                    buf = buf + bytes(len(buf))
                    view = memoryview(buf)
            got = source.readinto(view[filled : filled + block_size])
            if not got:
                break
            stats.bytes += got
            if progress is not None:
                progress(path, source.position(), source.size)
            if discarding:
                newline = find(buf, b"\n", 0, got)
                if newline < 0:
                    continue
                consumed += 1
                stats.lines += 1
                discarding = False
                filled = got - newline - 1
                view[:filled] = bytes(view[newline + 1 : got])
                fresh = 0
            else:
                fresh = filled  # the carried bytes hold no newline: look for one in the new ones only
                filled += got
            end = rfind(buf, b"\n", fresh, filled) + 1
            if not end:
                continue
            block, total = _block_lines(buf, view, end, consumed, path, scanner, stats, report, views)
            if block[1]:
                yield block
            consumed += total
            tail = filled - end
            if tail:  # a copy first: source and target overlap when the tail is longer than the block
                view[:tail] = bytes(view[end:filled])
            filled = tail
        if discarding:
            stats.lines += 1
        elif filled:
            if filled == len(buf):
                view.release()
                buf = buf + b"\n"
                view = memoryview(buf)
            else:
                buf[filled] = 10  # the last line has no newline: give it one
            block, _ = _block_lines(buf, view, filled + 1, consumed, path, scanner, stats, report, views)
            if block[1]:
                yield block
    finally:
        view.release()
        source.close()


def _block_lines(
    buf: bytearray,
    view: memoryview,
    end: int,
    before: int,
    path: str,
    scanner: t.Optional["_Scanner"],
    stats: ReadStats,
    report: t.Callable[[BadLine], None],
    views: bool = False,
) -> tuple[tuple[int, t.Sequence[t.Any], t.Optional[list[int]]], int]:
    """The candidate lines among the lines of `buf[:end]` (which ends with a newline) as `_blocks` yields them,
    and how many lines the block has; `before` = lines preceding the block in its file."""
    if scanner is not None:
        scanned = scanner.block(buf, view, end, before, path, stats, report, views)
        if scanned is not None:
            return scanned
    if views and end <= MAX_LINE:
        strs = Str(view[: end - 1]).split("\n")  # the block's final newline left out: one item per line
        stats.lines += len(strs)
        return (before + 1, strs, None), len(strs)
    lines = bytes(view[:end]).split(b"\n")
    total = len(lines) - 1
    stats.lines += total
    del lines[total:]
    if end <= MAX_LINE:
        return (before + 1, lines, None), total
    numbers = list(range(before + 1, before + total + 1))  # rare: a block that may hold an over-long line
    kept = [(n, line) for n, line in zip(numbers, lines) if _short(line, path, n, stats, report)]
    return (0, [line for _, line in kept], [n for n, _ in kept]), total


class _Scanner:
    """The prefilter over whole blocks: SIMD substring search (stringzilla) finds the lines holding a needle of one
    clause or one of its triggers; only those lines are cut out and checked against the whole formula. Every other
    line costs nothing but its share of one newline count per block.

    Which clause, and whether to scan at all, is measured rather than guessed: every `PROBE_EVERY` blocks each
    clause's needles are counted in the block (a count runs at memory speed) and the rarest clause is kept. When
    even that one hits more than `DENSE` of the lines, cutting candidates out one by one costs more than splitting
    the whole block, so the block is split instead: every line goes to a reader that tests each document anyway
    (the prefilter only ever saves work), and `iter_lines` tests each line against the formula.
    """

    PROBE_EVERY = 32
    DENSE = 0.5  # measured crossover: cutting out lines costs ~2x splitting per line, decoding aside

    def __init__(self, prefilter: "RequiredLiterals"):
        self.prefilter = prefilter
        self.clauses = [self._texts(clause) for clause in prefilter.clauses]
        self.rest: t.Optional[t.Callable[[bytes], bool]] = None
        self._rests: dict[int, t.Optional[t.Callable[[bytes], bool]]] = {}
        self._choose(prefilter.clauses.index(prefilter.best_clause()))
        self.may_match = _formula(self.clauses)
        self.dense = False
        self._blocks = 0
        self._lowered = bytearray()

    @staticmethod
    def _texts(clause: t.Sequence[t.Any]) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
        """(texts to find as they are, texts to find in the lowered block) for one clause, triggers included."""
        exact = dict.fromkeys(n.text for n in clause if not n.case_insensitive)
        folded = tuple(dict.fromkeys(n.text for n in clause if n.case_insensitive))
        for needle in clause:
            exact.update(dict.fromkeys(needle.triggers))
        return tuple(exact), folded

    def _lower(self, buf: bytearray, end: int) -> bytearray:
        """ASCII lower-casing, as `bytes.lower` does for `Needle.found_in`, into a buffer reused across blocks."""
        if len(self._lowered) < end:
            self._lowered = bytearray(len(buf))
        translate(buf, _LOWER, start=0, end=end, out=self._lowered)
        return self._lowered

    def _probe(self, buf: bytearray, end: int, lines: int) -> None:
        lowered = self._lower(buf, end) if any(folded for _, folded in self.clauses) else None
        hits = []
        for exact, folded in self.clauses:
            n = sum(count(buf, text, 0, end) for text in exact)
            n += sum(count(lowered, text, 0, end) for text in folded)  # type: ignore[arg-type]
            hits.append(n)
        rarest = min(range(len(hits)), key=hits.__getitem__)
        self._choose(rarest)
        self.dense = hits[rarest] > self.DENSE * lines

    def _choose(self, index: int) -> None:
        """Scan for clause `index`; a line found that way satisfies it, so only the other clauses are left to test."""
        self.exact, self.folded = self.clauses[index]
        if index not in self._rests:
            others = self.clauses[:index] + self.clauses[index + 1 :]
            self._rests[index] = _formula(others) if others else None
        self.rest = self._rests[index]

    def block(
        self,
        buf: bytearray,
        view: memoryview,
        end: int,
        before: int,
        path: str,
        stats: ReadStats,
        report: t.Callable[[BadLine], None],
        views: bool = False,
    ) -> t.Optional[tuple[tuple[int, list[bytes], t.Optional[list[int]]], int]]:
        """The block's candidate lines as `_block_lines` returns them, or None: pass every line of this block on
        (only when `views`: the consumer then tests each line itself, and needs no prefilter guarantee)."""
        total = count(buf, b"\n", 0, end)
        if self._blocks % self.PROBE_EVERY == 0:
            self._probe(buf, end, total)
        self._blocks += 1
        if self.dense and views:
            return None
        stats.lines += total
        if self.dense:
            return self._dense_block(view, end, before, total, path, stats, report), total
        hits: dict[int, int] = {}  # start -> end of each line holding a text of the scanned clause
        for text in self.exact:
            _add_hits(buf, buf, end, text, hits)
        if self.folded:
            lowered = self._lower(buf, end)
            for text in self.folded:
                _add_hits(lowered, buf, end, text, hits)
        out: list[bytes] = []
        numbers: list[int] = []
        candidates = 0
        number, counted_to = before + 1, 0
        rest = self.rest
        for start in sorted(hits):
            stop = hits[start]
            number += count(buf, b"\n", counted_to, start)
            counted_to = start
            line = bytes(view[start:stop])
            if rest is None or rest(line):
                candidates += 1
                if stop - start <= MAX_LINE or _short(line, path, number, stats, report):
                    out.append(line)
                    numbers.append(number)
        stats.skipped += total - candidates
        return (0, out, numbers), total

    def _dense_block(
        self, view: memoryview, end: int, before: int, total: int, path: str, stats: ReadStats,
        report: t.Callable[[BadLine], None],
    ) -> tuple[int, list[bytes], t.Optional[list[int]]]:
        """Split the block and test each line (still far cheaper than decoding the lines that fail)."""
        may_match = self.may_match
        numbered = [item for item in zip(range(before + 1, before + total + 1), bytes(view[:end]).split(b"\n"))
                    if may_match(item[1])]
        stats.skipped += total - len(numbered)
        if end > MAX_LINE:
            numbered = [(n, line) for n, line in numbered if _short(line, path, n, stats, report)]
        return 0, [line for _, line in numbered], [n for n, _ in numbered]


def _formula(clauses: t.Sequence[tuple[tuple[bytes, ...], tuple[bytes, ...]]]) -> t.Callable[[bytes], bool]:
    """`RequiredLiterals.may_match` as one generated expression of `in` tests (a needle matches when its text or
    one of its triggers is in the line, so each clause is an `or` of plain substring tests). Only repr() of byte
    strings enters the source."""
    lowered = any(folded for _, folded in clauses)
    terms = []
    for exact, folded in clauses:
        tests = [f"{text!r} in line" for text in exact] + [f"{text!r} in low" for text in folded]
        terms.append("(" + " or ".join(tests) + ")")
    body = " and ".join(terms) or "True"
    source = f"def may_match(line):\n    {'low = line.lower()' if lowered else 'pass'}\n    return {body}\n"
    namespace: dict[str, t.Any] = {}
    exec(source, namespace)  # noqa: S102 -- only repr() of byte strings in the source
    return namespace["may_match"]


_LOWER = bytes(range(256)).lower()


def _add_hits(hay: bytearray, block: bytearray, end: int, text: bytes, hits: dict[int, int]) -> None:
    """Record (start -> end offset) of every line of `block[:end]` where `hay` (the block or its lowered copy) holds
    `text`. Needle texts never hold a newline, and the block ends with one, so every hit lies inside one line."""
    pos = find(hay, text, 0, end)
    while pos >= 0:
        stop = find(block, b"\n", pos, end)
        hits[rfind(block, b"\n", 0, pos) + 1] = stop
        pos = find(hay, text, stop + 1, end)  # on to the next line: one hit per line is enough


def _short(line: bytes, path: str, number: int, stats: ReadStats, report: t.Callable[[BadLine], None]) -> bool:
    if len(line) > MAX_LINE:
        _bad(BadLine(path, number, "line longer than 16 MiB"), stats, report)
        return False
    return True


def _bad(bad: BadLine, stats: ReadStats, report: t.Callable[[BadLine], None]) -> None:
    stats.bad += 1
    report(bad)


# ------------------------------------------------------------------------------------------------ documents
def decode_reason(raw: bytes) -> t.Optional[str]:
    """Why `raw` is not a usable JSON object (None when it is)."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        return _json_error(error)
    return None if isinstance(doc, dict) else f"not a JSON object (a {type(doc).__name__})"


def _json_error(error: orjson.JSONDecodeError) -> str:
    message = str(error)
    if "UTF-8" in message or "utf-8" in message:
        return "invalid UTF-8"
    return f"malformed JSON: {message}"


class NdjsonReader:
    """Decoded JSON objects from NDJSON inputs, with counters, bad lines and per-file errors kept.

    Iterating yields `JsonLine(path, line, doc, raw)` in input order. `decode` maps raw bytes to a dict and may raise
    anything; on error the line is re-decoded with orjson, which either succeeds or names the reason it is bad (so a
    fast, partial decoder such as `vigil.io.projection.projected_decoder` can bail out on shapes it does not know).
    A prefilter is applied to every block (`_Scanner` measures per block whether to cut candidate lines out or
    to split the block and test each line); `prefilter` holds it when it looks selective, `weak_prefilter` when its
    needles look common (see `MIN_PREFILTER_SCORE`), which decides nothing but what `--stats` reports. `bad_lines` keeps the first `keep_bad` of them; `stats.bad` counts all.
    `errors` holds one `SourceError` per file that could not be read (completely or part-way).
    """

    def __init__(
        self,
        paths: t.Iterable[str],
        *,
        prefilter: t.Optional["RequiredLiterals"] = None,
        decode: t.Optional[t.Callable[[bytes], dict]] = None,
        block_size: int = BLOCK_SIZE,
        keep_bad: int = 1000,
        progress: t.Optional[Progress] = None,
    ):
        self.paths = list(paths)
        strong = prefilter is not None and prefilter.best_score() >= MIN_PREFILTER_SCORE
        self.prefilter = prefilter if strong else None
        self.weak_prefilter = None if strong else prefilter
        self.decode = decode
        self.block_size = block_size
        self.keep_bad = keep_bad
        self.progress = progress
        self.stats = ReadStats()
        self.bad_lines: list[BadLine] = []
        self.errors: list[SourceError] = []

    def _on_bad(self, bad: BadLine) -> None:
        if len(self.bad_lines) < self.keep_bad:
            self.bad_lines.append(bad)

    def __iter__(self) -> t.Iterator[JsonLine]:
        return self.matching(None)

    def matching(self, predicate: t.Optional[t.Callable[[dict], t.Any]]) -> t.Iterator[JsonLine]:
        """Like iterating, but yield only the lines whose document satisfies `predicate(doc)` (all when None).

        The test runs inside the read loop, so a line that does not match costs its decoding and the test, nothing
        more: no JsonLine, no generator hand-off. Counters and bad lines are kept exactly as when iterating."""
        for path in self.paths:
            try:
                yield from self._read(path, predicate)
            except SourceError as error:
                self.errors.append(error)

    def _read(self, path: str, keep: t.Optional[t.Callable[[dict], t.Any]]) -> t.Iterator[JsonLine]:
        decode = self.decode or orjson.loads
        # A decoder may name a cheaper first attempt (`projected_decoder`: its strict shape) to call without the
        # wrapper's extra Python frame; `decode` itself then runs only on the lines that attempt rejects.
        first = getattr(decode, "first", decode)
        stats = self.stats
        make = tuple.__new__  # JsonLine(...) through its Python-level __new__ costs more than the tuple itself
        literals = self.prefilter or self.weak_prefilter
        views = getattr(self.decode, "accepts_buffers", False)  # lines may then be views, not bytes: see _blocks
        blocks = _blocks(path, literals, stats, self._on_bad, self.block_size, self.progress, views)
        for start, lines, numbers in blocks:
            stats.parsed += len(lines)  # corrected below for each line that turns out blank or bad
            for index, raw in enumerate(lines):
                try:
                    doc = first(raw)
                    if doc.__class__ is not dict:
                        raise TypeError
                except Exception:  # noqa: BLE001 - bad JSON, or a shape the fast decoder gave up on: see _fallback
                    doc = self._fallback(raw, decode, path, numbers[index] if numbers else start + index)
                    if doc is None:
                        continue
                if keep is None or keep(doc):
                    raw = raw if raw.__class__ is bytes else bytes(raw)
                    yield make(JsonLine, (path, numbers[index] if numbers else start + index, doc, raw))

    def _fallback(self, raw: t.Any, decode: t.Callable[[t.Any], t.Any], path: str, number: int) -> t.Optional[dict]:
        """The document of a line the first attempt rejected: `decode`'s, else orjson's full decoding (which
        either succeeds or names why the line is bad); None when the line is blank or bad (counted)."""
        if decode is not orjson.loads:
            try:
                doc = decode(raw)
            except Exception:  # noqa: BLE001 - any failure of the fast path means: decode in full
                doc = None
            if doc.__class__ is dict:
                return doc
        stats = self.stats
        raw = raw if raw.__class__ is bytes else bytes(raw)
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            stats.parsed -= 1
            if not raw or raw.isspace():
                stats.blank += 1
            else:
                _bad(BadLine(path, number, _json_error(error)), stats, self._on_bad)
            return None
        if doc.__class__ is not dict:
            stats.parsed -= 1
            _bad(BadLine(path, number, f"not a JSON object (a {type(doc).__name__})"), stats, self._on_bad)
            return None
        return doc


def iter_json(paths: t.Union[str, t.Iterable[str]], **options: t.Any) -> t.Iterator[JsonLine]:
    """Shorthand for `NdjsonReader(paths, **options)` when counters and bad lines are not needed."""
    return iter(NdjsonReader([paths] if isinstance(paths, str) else paths, **options))
