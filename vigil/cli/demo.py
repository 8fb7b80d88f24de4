"""`vigil demo`: the built-in Nping rule over the bundled sample telemetry, end to end, with no server.

The samples (vigil/data/samples/) hold the same story in every supported format: one `nping` run on `web-01` that
Elastic's rule alerts on, and near misses it must not alert on. The demo hunts them into a temporary store (or
`--db`), with an empty exception store so local exceptions cannot hide anything, then prints each alert and the
rule's investigation guide.
"""

from __future__ import annotations

import tempfile
from collections import Counter
import typing as t
from importlib import resources
from pathlib import Path

import click
from rich.markdown import Markdown
from rich.panel import Panel

from vigil.alerts import AlertStore
from vigil.cli.run import _console, alerts_table, hunt_summary, run_hunt, shown_alerts
from vigil.config import SourceConfig
from vigil.exceptions import ExceptionStore
from vigil.rules import builtin_rules
from vigil.sources import SourceStats

NPING_RULE_ID = "0d69150b-96f8-467c-a86d-a67a3378ce77"


def sample_files() -> list[str]:
    """The bundled sample inputs, one per source format (the README describing them is not an input)."""
    root = Path(str(resources.files("vigil") / "data" / "samples"))
    return sorted(str(p) for p in root.iterdir() if p.is_file() and p.suffix != ".md" and not p.name.startswith("."))


@click.command("demo")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              help="Keep the alerts in this store (default: a temporary one, deleted afterwards).")
@click.option("--no-guide", is_flag=True, help="Do not print the rule's investigation guide.")
def demo_command(db: t.Optional[Path], no_guide: bool) -> None:
    """Run Elastic's "Nping Process Activity" rule over the bundled samples (7 formats) and show the alerts."""
    rule = next(r for r in builtin_rules() if r.rule_id == NPING_RULE_ID)
    files = sample_files()
    console = _console()
    console.print(f"[bold]{rule.name}[/] (rule {rule.rule_id}, v{rule.version}, severity {rule.severity})")
    console.print(f"query: {' '.join((rule.query or '').split())}", markup=False, highlight=False)
    console.print(f"hunting {len(files)} sample files: " + ", ".join(Path(f).name for f in files), highlight=False)
    stats = SourceStats()
    with tempfile.TemporaryDirectory(prefix="vigil-demo-") as tmp:
        store_path = db or Path(tmp) / "demo.db"
        with AlertStore(store_path) as store:
            results = run_hunt([rule], [SourceConfig(tuple(files))], store,
                               exceptions=ExceptionStore(Path(tmp) / "exceptions"), stats=stats)
    alerts = shown_alerts([a for h in results for a in h.alerts], False)
    console.print(hunt_summary(results, stats))
    console.print(alerts_table(alerts, f"Alerts ({len(alerts)}): one per source format", show_rule=False,
                                 show_where=False))
    per_format = Counter(a.records[0].source for a in alerts if a.records)
    console.print(f"{len(alerts)} alert(s) from {len(per_format)} format(s) in {len(files)} file(s)", highlight=False)
    if len(per_format) == len(files) and set(per_format.values()) == {1}:
        console.print("exactly one per format: the near misses (nping2, NPING, process ends, non-Linux hosts, "
                      "look-alike actions) raised none", highlight=False)
    if db:
        console.print(f"alerts stored in {db}: try `vigil alerts list --db {db}`", highlight=False)
    if rule.note and not no_guide:
        console.print(Panel(Markdown(rule.note), title="Investigation guide", title_align="left"))
