"""What `python -m sim sweep` shows once it ends: the points' table and the sensitivity
indices (its progress over points: `cli.progress.step_progress`)."""

from __future__ import annotations

from ..model import CLASSES
from ..reporting import console as shared_console
from ..reporting import fmt_estimate, index_rows
from .driver import SweepResult

__all__ = ["print_sweep"]

SHOWN_POINTS = 20
"""Points listed on the terminal; all of them are in points.csv."""
SHOWN_FACTORS = 3
"""With more factors than this, the points are only in points.csv (a table would not fit)."""


def print_sweep(result: SweepResult) -> None:
    """The points (the first `SHOWN_POINTS`), the analysis, and how the sweep went."""
    from rich.table import Table

    sweep, rows = result.sweep, result.rows
    console = shared_console()
    table = Table(title=f"{sweep.scenario.name}: {sweep.design} sweep, {sweep.runs:,} replicates a point; each P "
                        "with its 95 % Monte Carlo interval (Wilson)", title_justify="left")
    for name in sweep.names:
        table.add_column(_header(name), justify="right")
    for label in ("P(substantive\nor better)\n[95 %]", "P(talk fest)\n[95 %]", "P(collapse)\n[95 %]"):
        table.add_column(label, justify="right", no_wrap=True)
    shown = rows[:SHOWN_POINTS]
    factors = [[f"{r[n]:.4g}" for n in sweep.names] for r in shown]
    widths = [max([len(line) for line in _header(n).splitlines()] + [len(row[k]) for row in factors])
              for k, n in enumerate(sweep.names)]
    # Each P over its interval, on two lines, where one line each would not fit.
    stacked = sum(widths) + 3 * 20 + 3 * (len(widths) + 3) + 1 > console.width
    for r, values in zip(shown, factors):
        cells = [fmt_estimate(r[f"{e}_p"], r[f"{e}_low"], r[f"{e}_high"])
                 for e in ("substantive_or_better", "talk_fest", "collapse")]
        table.add_row(*values, *(c.replace(" [", "\n[", 1) if stacked else c for c in cells))
    if len(sweep.names) <= SHOWN_FACTORS:
        console.print(table)
    if len(rows) > SHOWN_POINTS or len(sweep.names) > SHOWN_FACTORS:
        shown = 0 if len(sweep.names) > SHOWN_FACTORS else SHOWN_POINTS
        console.print(f"{'... ' if shown else ''}{len(rows) - shown:,} {'more ' if shown else ''}points "
                      f"in {result.out / 'points.csv'}", soft_wrap=True)
    if len(rows) > 1 and len({tuple(r[f"{c}_count"] for c in CLASSES) for r in rows}) == 1:
        console.print("every point gave the same count of every class: on these replicates the forecast does not "
                      f"move with {' or '.join(sweep.names)} over these values", soft_wrap=True)
    if result.analysis is not None:
        console.print(_analysis_table(result.analysis))
    rate = result.ran * sweep.runs / result.timing["running"] if result.timing["running"] > 0 else None
    speed = f", {rate:,.0f} replicates/s" if rate else ""
    where = {"sequential": "1 process", "processes": f"{result.workers} processes",
             "dask": f"Dask, {result.workers} workers", "none": "nothing to run"}[result.backend]
    console.print(
        f"{len(rows):,} of {result.n_points:,} points ({result.resumed:,} resumed, {result.ran:,} run), "
        f"{sweep.runs:,} replicates a point, seed entropy {result.entropy}, {where}, "
        f"{result.seconds:.2f} s{speed}", soft_wrap=True)
    console.print(f"results: {result.out}", soft_wrap=True)


def _analysis_table(analysis: dict):
    from rich.table import Table

    sobol = analysis["method"] == "sobol"
    table = Table(title=("Sobol indices" if sobol else "Morris elementary effects")
                  + " of P(substantive or better), 95 % bootstrap intervals", title_justify="left")
    table.add_column("parameter", overflow="fold")
    heads, rows = index_rows(analysis)
    for h in heads:
        table.add_column(h, justify="right", no_wrap=True)
    for name, cells in rows:
        table.add_row(name, *cells)
    return table


def _header(path: str) -> str:
    """A factor's path, shortened for a column head: `agents.russia.issues.islands.salience`
    reads `russia.islands.` over `salience`."""
    parts = [p for k, p in enumerate(path.split(".")) if not (k == 0 and p in ("agents", "events", "relations"))
             and p != "issues"]
    if len(".".join(parts)) <= 14 or len(parts) == 1:
        return ".".join(parts)
    return ".".join(parts[:-1]) + ".\n" + parts[-1]

