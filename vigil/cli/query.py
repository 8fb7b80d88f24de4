"""`vigil query EQL FILE...` runs one EQL query over NDJSON files; `vigil check EQL` validates and normalizes a query.

Event queries stream: lines that cannot match are skipped by the literal prefilter, the rest are decoded with only
the fields the query reads (projection), and each match is written out as the line it was read from. Sequences and samples read
full documents and need them in timestamp order (`--sort` sorts in memory).
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
import time
import typing as t
from collections import deque

import click
import orjson

from vigil.errors import EqlError
from vigil.eql import ast
from vigil.io.ndjson import JsonLine

EXIT_MATCHES, EXIT_NO_MATCH, EXIT_USAGE, EXIT_INPUT = 0, 1, 2, 3
DEFAULT_TABLE_FIELDS = ("@timestamp", "event.action", "host.name", "user.name", "process.name", "process.command_line")

EXIT_HELP = f"""
\b
Exit status:
  {EXIT_MATCHES}  at least one match
  {EXIT_NO_MATCH}  no match
  {EXIT_USAGE}  bad usage or an invalid query
  {EXIT_INPUT}  input errors: bad lines or unreadable files (wins over 0 and 1; the good lines were still used)
"""


def register(group: click.Group) -> None:
    group.add_command(query_command)
    group.add_command(check_command)


# ---------------------------------------------------------------------------------------------------- query
@click.command(
    "query",
    epilog=EXIT_HELP,
    short_help="Run an EQL query over NDJSON files.",
)
@click.argument("eql")
@click.argument("files", nargs=-1, metavar="[FILE]...")
@click.option("--table", is_flag=True, help="Print a table of matches instead of NDJSON.")
@click.option("--fields", metavar="F1,F2,..", help="Columns of --table (dotted ECS fields).")
@click.option("--category-field", default="event.category", show_default=True, help="Field holding the event category.")
@click.option("--timestamp-field", default="@timestamp", show_default=True, help="Field ordering events.")
@click.option("--tiebreaker-field", default=None, help="Field ordering events with equal timestamps.")
@click.option("--sort", is_flag=True, help="Sort in memory by timestamp first (sequences/samples on unsorted input).")
@click.option("--stats", "show_stats", is_flag=True, help="Print read and match counters on stderr.")
@click.option("--max-bad", default=10, show_default=True, metavar="N", help="Bad lines to list before a count.")
@click.option("--no-prefilter", is_flag=True, help="Parse every line (skip the literal prefilter).")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when it is a terminal).")
@click.option("--source", "source", metavar="NAME",
              help="Read FILEs through vigil's input formats: `auto` detects each file's format (CrowdStrike FDR, "
                   "SentinelOne, raw audit.log, Elasticsearch exports and hits, ...) and normalizes it to ECS; or "
                   "name one (`vigil sources list`). Default: FILEs already hold ECS documents, one per line "
                   "(the fast path).")
@click.pass_context
def query_command(
    ctx: click.Context,
    eql: str,
    files: tuple[str, ...],
    table: bool,
    fields: t.Optional[str],
    category_field: str,
    timestamp_field: str,
    tiebreaker_field: t.Optional[str],
    sort: bool,
    show_stats: bool,
    max_bad: int,
    no_prefilter: bool,
    progress: t.Optional[bool],
    source: t.Optional[str],
) -> None:
    """Print the events matching the EQL query in FILEs (NDJSON: plain, .gz or .zst; `-` or nothing = stdin).

    Matches are printed one JSON document per line; a sequence or sample prints its events one per line, in step
    order. Event queries stream in constant memory, in input order. Sequences and samples assume the input is in
    timestamp order (as Elasticsearch sorts it); give --sort for input that is not (it is then held in memory).
    """
    from vigil.engine import compile_query
    from vigil.eql import parse
    from vigil.eql.literals import required_literals
    from vigil.io.ndjson import NdjsonReader
    from vigil.io.paths import expand_directories

    started = time.perf_counter()
    parsed = parse(eql)
    compiled = compile_query(
        parsed, category_field=category_field, timestamp_field=timestamp_field, tiebreaker_field=tiebreaker_field
    )
    is_event = isinstance(parsed.body, ast.EventQuery)
    if source:
        emitted, problems = _query_sources(list(files) or ["-"], source, compiled, parsed, sort, table, fields,
                                           is_event, show_stats)
        ctx.exit(EXIT_INPUT if problems else EXIT_MATCHES if emitted else EXIT_NO_MATCH)
    paths = expand_directories(files) or ["-"]
    prefilter = None if no_prefilter else required_literals(parsed)
    show_progress = progress if progress is not None else sys.stderr.isatty()
    with _Progress(show_progress) as bar:
        reader = NdjsonReader(paths, prefilter=prefilter, progress=bar.update if show_progress else None)
        if is_event and reader.prefilter is None:
            # No selective literal: most lines get decoded, so decode only the fields the query reads. (Behind a
            # selective prefilter so few lines are decoded that building the projection, and importing msgspec,
            # would cost more than it saves.)
            from vigil.io.projection import projected_decoder, query_fields

            ordering = (timestamp_field, tiebreaker_field) if sort else ()  # only --sort reads them
            reader.decode = projected_decoder(query_fields(parsed, category_field, *ordering))
        if is_event and not table:
            emitted = _emit_lines(_event_hits(reader, compiled, parsed.pipes, sort))
        else:
            if is_event:
                groups = ([line] for line in _event_hits(reader, compiled, parsed.pipes, sort))
            else:
                groups = _sequence_matches((line.doc for line in reader), compiled, sort)
            emitted = _emit(groups, table, _parse_fields(fields), is_event)
    _report_input_problems(reader, max_bad)
    if show_stats:
        _print_stats(reader, emitted, time.perf_counter() - started, prefilter)
    if reader.errors or reader.stats.bad:
        ctx.exit(EXIT_INPUT)
    ctx.exit(EXIT_MATCHES if emitted else EXIT_NO_MATCH)


def _query_sources(paths: list[str], source: str, compiled: t.Any, parsed: ast.Query, sort: bool, table: bool,
                   fields: t.Optional[str], is_event: bool, show_stats: bool) -> tuple[int, int]:
    """`--source`: records come normalized from vigil.sources (no byte prefilter: vendor lines are not ECS text).
    Returns (matches, input problems)."""
    from vigil.sources import SourceStats, open_sources

    stats = SourceStats()
    with open_sources(paths, source=None if source == "auto" else source, stats=stats) as stream:
        docs: t.Iterable[dict] = (record.doc for record in stream)
        if is_event:
            hits: t.Iterator[dict] = (doc for doc in docs if compiled.matches(doc))
            if sort:
                hits = iter(sorted(hits, key=compiled.sort_key))
            for pipe in parsed.pipes:
                hits = itertools.islice(hits, pipe.count) if pipe.kind == "head" else iter(deque(hits, pipe.count))
            groups: t.Iterator[list] = ([doc] for doc in hits)
        else:
            groups = _sequence_matches(docs, compiled, sort)
        emitted = _emit(groups, table, _parse_fields(fields), is_event)
    if stats.bad.count or show_stats:
        click.echo(stats.report(), err=True)
    return emitted, stats.bad.count


def _event_hits(reader: t.Any, compiled: t.Any, pipes: t.Sequence[ast.Pipe], sort: bool) -> t.Iterator[JsonLine]:
    """The matching lines (JsonLines: their raw bytes are the output; the full document is decoded only for
    --table), pipes applied here."""
    hits: t.Iterator[t.Any] = reader.matching(compiled.matches)  # tested inside the read loop: no per-line hop
    if sort:
        hits = iter(sorted(hits, key=lambda line: compiled.sort_key(line.doc)))
    for pipe in pipes:
        hits = itertools.islice(hits, pipe.count) if pipe.kind == "head" else iter(deque(hits, maxlen=pipe.count))
    return hits


def _emit_lines(hits: t.Iterator[JsonLine]) -> int:
    """Write an event query's matches as the lines they were read from (valid JSON: each was parsed)."""
    out = sys.stdout.buffer
    count = 0
    chunk: list[bytes] = []
    for line in hits:
        count += 1
        chunk.append(line.raw.strip())
        if len(chunk) >= 1024:  # one write per thousand matches: stdout may be unbuffered (python -u, a pipe)
            out.write(b"\n".join(chunk) + b"\n")
            chunk.clear()
    if chunk:
        out.write(b"\n".join(chunk) + b"\n")
    out.flush()
    return count


def _sequence_matches(docs: t.Iterable[dict], compiled: t.Any, sort: bool) -> t.Iterator[list]:
    if sort:
        docs = sorted(docs, key=compiled.sort_key)
    for match in compiled.run(docs):
        yield [event for event in match.events if event is not None]


def _emit(groups: t.Iterator[list], table: bool, columns: tuple[str, ...], is_event: bool) -> int:
    """Write the matches; returns how many matches (groups) there were."""
    if table:
        return _print_table(groups, columns, numbered=not is_event)
    out = sys.stdout.buffer
    count = 0
    for group in groups:
        count += 1
        out.write(b"".join(_ndjson(item) for item in group))
    out.flush()
    return count


def _ndjson(item: t.Any) -> bytes:
    """A match as one output line: an event query's line is written as read (it is valid JSON: it was parsed)."""
    if isinstance(item, JsonLine):
        return item.raw.strip() + b"\n"
    return orjson.dumps(item) + b"\n"


def _document(item: t.Any) -> dict:
    return orjson.loads(item.raw) if isinstance(item, JsonLine) else item


def _print_table(groups: t.Iterator[list], columns: tuple[str, ...], numbered: bool) -> int:
    from rich.console import Console
    from rich.table import Table

    from vigil.engine import fields

    getters = [fields.getter(c) for c in columns]
    grid = Table(*((["#"] if numbered else []) + list(columns)), show_lines=False)
    count = 0
    for group in groups:
        count += 1
        for item in group:
            doc = _document(item)
            cells = [_cell(get(doc)) for get in getters]
            grid.add_row(*(([str(count)] if numbered else []) + cells))
    # Piped output has no terminal width: do not squeeze the table into rich's 80-column default.
    Console(soft_wrap=False, width=None if sys.stdout.isatty() else 200).print(grid)
    return count


def _cell(value: t.Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _parse_fields(text: t.Optional[str]) -> tuple[str, ...]:
    if not text:
        return DEFAULT_TABLE_FIELDS
    columns = tuple(f.strip() for f in text.split(",") if f.strip())
    if not columns:
        raise click.BadParameter("give at least one field name", param_hint="--fields")
    return columns


def _report_input_problems(reader: t.Any, max_bad: int) -> None:
    for error in reader.errors:
        click.echo(f"error: {error}", err=True)
    shown = reader.bad_lines[: max(0, max_bad)]
    for bad in shown:
        click.echo(f"{bad}", err=True)
    rest = reader.stats.bad - len(shown)
    if rest > 0:
        click.echo(f"... and {rest} more bad line{'s' if rest != 1 else ''}", err=True)
    if reader.stats.bad:
        click.echo(f"{reader.stats.bad} bad line{'s' if reader.stats.bad != 1 else ''} skipped", err=True)


def _print_stats(reader: t.Any, matches: int, elapsed: float, prefilter: t.Any) -> None:
    stats = reader.stats
    rate = stats.lines / elapsed if elapsed > 0 else 0.0
    used = reader.prefilter or reader.weak_prefilter
    # The reader picks, block by block, the clause that rejects most lines: show them all, the likeliest first.
    clauses = [used.best_clause()] + [c for c in used.clauses if c != used.best_clause()] if used else []
    literal = " AND ".join(" | ".join(n.text.decode("utf-8", "replace") for n in c) for c in clauses) or "none"
    click.echo(
        f"files {stats.files}  lines {stats.lines:,}  bytes {stats.bytes:,}  skipped by prefilter {stats.skipped:,}  "
        f"parsed {stats.parsed:,}  bad {stats.bad:,}  matches {matches:,}\n"
        f"prefilter: {literal}  time {elapsed:.2f}s  {rate:,.0f} lines/s",
        err=True,
    )


class _Progress:
    """A rich progress bar over the bytes of each input file, on stderr; a no-op when disabled."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._bar: t.Any = None
        self._tasks: dict[str, t.Any] = {}

    def __enter__(self) -> "_Progress":
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                console=Console(stderr=True), transient=True,
            )
            self._bar.start()
        return self

    def update(self, path: str, done: int, total: t.Optional[int]) -> None:
        if self._bar is None:
            return
        task = self._tasks.get(path)
        if task is None:
            task = self._tasks[path] = self._bar.add_task(path, total=total)
        self._bar.update(task, completed=done)

    def __exit__(self, *exc: t.Any) -> None:
        if self._bar is not None:
            self._bar.stop()


# ---------------------------------------------------------------------------------------------------- check
@click.command("check", short_help="Validate an EQL query and print it normalized.")
@click.argument("eql")
@click.option("--json", "as_json", is_flag=True, help="Print the AST, fields and required literals as JSON.")
@click.pass_context
def check_command(ctx: click.Context, eql: str, as_json: bool) -> None:
    """Validate EQL and print its normalized text; a bad query prints the located error and exits 2."""
    from vigil.eql import parse, to_eql
    from vigil.eql.literals import required_literals
    from vigil.io.projection import query_fields

    try:
        parsed = parse(eql)
    except EqlError as error:
        if not as_json:
            raise
        click.echo(orjson.dumps({"valid": False, "error": error.to_dict()}, option=orjson.OPT_INDENT_2).decode())
        ctx.exit(EXIT_USAGE)
    if not as_json:
        click.echo(to_eql(parsed))
        return
    literals = required_literals(parsed)
    body = parsed.body
    report = {
        "valid": True,
        "query": to_eql(parsed),
        "kind": "event" if isinstance(body, ast.EventQuery) else type(body).__name__.lower(),
        "fields": sorted(query_fields(parsed)),
        "required_literals": literals.to_dict() if literals else None,
        "ast": ast_to_json(parsed),
    }
    click.echo(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())


def ast_to_json(node: t.Any) -> t.Any:
    """A plain JSON form of an AST node: `{"node": ClassName, field: value, ...}` (positions left out)."""
    if isinstance(node, ast.Node):
        out: dict[str, t.Any] = {"node": type(node).__name__}
        for f in dataclasses.fields(node):
            if f.name != "pos":
                out[f.name] = ast_to_json(getattr(node, f.name))
        return out
    if isinstance(node, tuple):
        return [ast_to_json(item) for item in node]
    return node
