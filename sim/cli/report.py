"""`report`: one self-contained HTML page from result directories already on disk."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import EXIT_OK, arg, command, output_path


@command(
    "report", "write one self-contained HTML page (no network needed to open it) from result directories of "
              "run, explain, compare, sweep, backtest and calibrate, without rerunning anything",
    arg("dirs", type=Path, nargs="+", metavar="RESULT_DIR", help="result directories, in any order"),
    arg("--out", type=output_path, metavar="FILE.html",
        help="the page (default: beside the first directory, RESULT_DIR.html); sim writes only a new file or a "
             "page it wrote before, never over a file it did not make, nor inside a result directory"),
    arg("--force", action="store_true", help="replace FILE even if another sim command wrote it"),
    arg("--json", action="store_true", help="print {\"report\": FILE} as JSON on stdout, nothing else"),
    arg("--quiet", action="store_true", help="print nothing on stdout"),
)
def cmd_report(args: argparse.Namespace) -> int:
    from ..ownership import from_here
    from ..report import make_report

    firsts: dict[Path, Path] = {}
    for d in args.dirs:  # a directory named twice (or by two paths) is shown once, where first named
        firsts.setdefault(d.resolve(), d)
    dirs = list(firsts.values())
    page = make_report(dirs, args.out, force=args.force)
    shown = page if args.out is not None else from_here(page)  # the default is made absolute: named from here
    if args.json:
        print(json.dumps({"report": str(shown)}))
    elif not args.quiet:
        print(f"report: {shown}")
    return EXIT_OK
