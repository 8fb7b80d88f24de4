"""Windows-style command-line splitting, as Elastic's CrowdStrike and SentinelOne pipelines apply it (even on Linux).

Both pipelines split `process.command_line` into `process.args` with the Windows `CommandLineToArgvW` rules
(datasources.md §7.5): only space and tab separate, double quotes group, backslashes are literal unless they precede a
quote. The quoting rules are delegated to `mslex` (a library written for exactly this); the common case, a command line
with no double quote, is split here directly because without quotes those rules reduce to splitting on blanks, and
it is the hot path of the CrowdStrike adapter.
"""

from __future__ import annotations

import mslex


def windows_argv(command_line: str) -> list[str]:
    """`CommandLineToArgvW(command_line)` (UCRT rules). Never raises: unparsable input yields blank-split words."""
    if '"' not in command_line:
        if "\t" in command_line:
            command_line = command_line.replace("\t", " ")
        return [word for word in command_line.split(" ") if word]
    try:
        return mslex.split(command_line, like_cmd=False, check=False, ucrt=True)
    except ValueError:
        return command_line.replace("\t", " ").split()
