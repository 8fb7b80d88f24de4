"""`vigil sources ...`: list the formats vigil reads, tell which one a file is, print files as normalized ECS."""

from __future__ import annotations

import os
import sys
import time
import typing as t
from pathlib import Path

import click
import orjson

from vigil.errors import SourceError, VigilError
from vigil.sources import SourceStats, all_adapters, open_sources
from vigil.sources.detect import detect_file, detect_lines
from vigil.sources.follow import Checkpoint
from vigil.sources.readers import STDIN, expand_paths


def register(group: click.Group) -> None:
    group.add_command(sources)


@click.group()
def sources() -> None:
    """Input formats: list them, detect a file's format, print files as normalized ECS.

    \b
    Examples:
      vigil sources list
      vigil sources detect vigil/data/samples/*.ndjson
      vigil sources normalize /var/log/audit/audit.log --follow --checkpoint audit.ckpt
    """


@sources.command("list")
def list_formats() -> None:
    """Every source format vigil reads, with the name `--source` takes."""
    registry = all_adapters()
    width = max((len(name) for name in registry), default=0)
    for name in sorted(registry):
        adapter = registry[name]
        aliases = f" (also: {', '.join(adapter.aliases)})" if adapter.aliases else ""
        click.echo(f"{name.ljust(width)}  {adapter.description}{aliases}")


@sources.command("detect")
@click.argument("paths", nargs=-1, required=True)
def detect(paths: tuple[str, ...]) -> None:
    """Print the detected format of each FILE (directories and globs are expanded)."""
    registry = all_adapters()
    failed = 0
    for path in expand_paths(paths):
        try:
            adapter = detect_file(path, registry) if path != STDIN else detect_lines(path, _stdin_head(), registry)
        except VigilError as error:
            failed += 1
            click.echo(f"error: {error}", err=True)
            continue
        click.echo(f"{path}: {adapter.name}")
    if failed:
        sys.exit(1)


def _stdin_head() -> list:
    from vigil.sources.readers import iter_lines

    out = []
    for line in iter_lines(STDIN):
        if line.data.strip():
            out.append(line)
        if len(out) >= 64:
            break
    return out


@sources.command("normalize")
@click.argument("paths", nargs=-1, required=True)
@click.option("--source", "source", metavar="NAME", help="Force a format (see `vigil sources list`) instead of detecting it.")
@click.option("--follow", is_flag=True, help="Keep reading as files grow, through rotation and truncation (Ctrl-C stops).")
@click.option("--checkpoint", type=click.Path(dir_okay=False, path_type=Path),
              help="Resume from / save positions to this file, so a restart reads every record once.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Append to this file instead of stdout; with --checkpoint a restart never duplicates a line.")
@click.option("--host-os-type", default="linux", show_default=True,
              help="host.os.type given to raw audit.log events (the log does not carry it; audit logs are Linux).")
def normalize(paths: tuple[str, ...], source: t.Optional[str], follow: bool, checkpoint: t.Optional[Path],
              output: t.Optional[Path], host_os_type: str) -> None:
    """Print FILE... as normalized ECS, one `{"_index", "_id", "_source"}` hit per line (re-readable by vigil)."""
    stats = SourceStats()
    out, bookmark = _open_output(output, checkpoint)
    stream = open_sources(list(paths), source=source, follow=follow, checkpoint=checkpoint, stats=stats,
                          host_os_type=host_os_type or None, autocommit=False)
    written = 0
    if checkpoint is not None:  # the baseline a run killed before its first commit rolls back to
        stream.commit({"output_bytes": out.tell()} if bookmark else None)
    last_commit = time.monotonic()

    def commit() -> None:
        out.flush()
        if output is not None:
            os.fsync(out.fileno())
        stream.commit({"output_bytes": out.tell()} if bookmark else None)

    try:
        for record in stream:
            hit: dict[str, t.Any] = {"_index": record.index}
            if record.id is not None:
                hit["_id"] = record.id
            hit["_source"] = record.doc
            out.write(orjson.dumps(hit) + b"\n")
            written += 1
            if written % 1000 == 0 or stream.waiting() or time.monotonic() - last_commit > 0.5:
                commit()
                last_commit = time.monotonic()
        commit()
    except KeyboardInterrupt:
        commit()
    except BrokenPipeError:  # `| head`: the reader has seen enough
        sys.stderr.close()
        os._exit(0)
    finally:
        stream.close()
        if output is not None:
            out.close()
        click.echo(stats.report(), err=True)
        for note in stats.notes:
            click.echo(f"note: {note}", err=True)


def _open_output(output: t.Optional[Path], checkpoint: t.Optional[Path]) -> tuple[t.BinaryIO, bool]:
    """The output stream, rolled back to the last checkpointed size so a restart does not duplicate lines."""
    if output is None:
        return sys.stdout.buffer, False
    try:
        fh = open(output, "ab")  # noqa: SIM115
    except OSError as error:
        raise SourceError(f"cannot write: {error.strerror}", hint="check --output") from None
    if checkpoint is not None and checkpoint.exists():
        size = Checkpoint(checkpoint).extra.get("output_bytes")
        if isinstance(size, int) and fh.tell() > size:
            fh.truncate(size)  # lines written after the last commit are read again, so drop them
            fh.seek(size)
    return fh, checkpoint is not None
