"""Per-replicate results as one self-describing Parquet file, streamed a chunk at a time.

`replicates.parquet` holds one row a replicate, one row group a chunk (so memory
stays that of a chunk): `replicate`, `block` (its block of 1,024, which names its
random numbers), `outcome` and `package` as categoricals carrying their whole
label sets (a package is null where there was no deal), `summit_day` and
`summit_date`, `signed.<party>` and `position.<agent>.<issue>` (the positions on
the summit day, float32; parties, agents and issues in the scenario file's order).
`trajectory.parquet` holds the weekly quantiles behind the fan chart. Anyone opens
them in one line:

    import pandas as pd
    df = pd.read_parquet("results/baseline/<run-id>/replicates.parquet")

or `sim.load_replicates(directory)`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from .arrow import booleans, numbers, strings, values_of
from .model import CLASSES, Model
from .montecarlo import Chunk
from .randomness import BLOCK_SIZE

__all__ = ["MAX_CATEGORIES", "QUANTILES", "ReplicateWriter", "count_written", "load_replicates",
           "write_trajectory"]

MAX_CATEGORIES = 65_536
"""Menus up to this size are written as a categorical; larger ones as the package's index."""
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


class _FileOrder:
    """Where the file's parties, agents and issues sit in the engine's canonical order (by
    role, which the columns of a chunk follow): the columns are written in the file's order,
    as summary.json lists them, so that a reader finds them where they wrote them."""

    def __init__(self, model: Model):
        s = model.scenario
        self.parties, self.agents, self.issues = list(s.summit.parties), list(s.agents), list(s.issues)
        self.party_rows = [model.parties.index(model.agents.index(p)) for p in self.parties]
        self.agent_index = np.array([model.agents.index(a) for a in self.agents], dtype=np.intp)
        self.issue_index = np.array([model.issues.index(i) for i in self.issues], dtype=np.intp)


def _schema(model: Model, order: _FileOrder):
    import pyarrow as pa

    package = pa.dictionary(pa.int32(), pa.string()) if len(model.packages) <= MAX_CATEGORIES else pa.int32()
    fields = [pa.field("replicate", pa.int64()), pa.field("block", pa.int32()),
              pa.field("outcome", pa.dictionary(pa.int8(), pa.string())), pa.field("package", package),
              pa.field("summit_day", pa.int32()), pa.field("summit_date", pa.date32())]
    fields += [pa.field(f"signed.{p}", pa.bool_()) for p in order.parties]
    fields += [pa.field(f"position.{a}.{i}", pa.float32()) for a in order.agents for i in order.issues]
    labels = {"classes": ",".join(CLASSES), "agents": ",".join(order.agents), "issues": ",".join(order.issues),
              "package_index": "true" if package == pa.int32() else "false"}
    return pa.schema(fields, metadata={f"sim.{k}": v for k, v in labels.items()})


class ReplicateWriter:
    """Append chunks (in replicate order) to `path` as row groups; `close` finishes the file."""

    def __init__(self, path: str | Path, model: Model):
        import pyarrow.parquet as pq

        self.model = model
        self.order = _FileOrder(model)
        self.schema = _schema(model, self.order)
        self._classes = strings(CLASSES)
        self._menu = strings(model.package_names) if len(model.packages) <= MAX_CATEGORIES else None
        self._start = model.start_date or dt.date(1970, 1, 1)
        # Dictionary pages only for the categoricals: tried on the float columns they are
        # built and thrown away, which doubled the writing time (0.8 s a million replicates).
        self.writer = pq.ParquetWriter(str(path), self.schema, compression="zstd",
                                       use_dictionary=["outcome", "package"])
        self.rows = 0

    def write(self, chunk: Chunk) -> None:
        import pyarrow as pa

        n = len(chunk.outcome)
        index = np.arange(chunk.start, chunk.start + n, dtype=np.int64)
        package = np.asarray(chunk.package, dtype=np.int32)
        if self._menu is not None:
            package_col = pa.DictionaryArray.from_arrays(numbers(package, mask=package < 0), self._menu)
        else:
            package_col = numbers(package, mask=package < 0)
        days = np.asarray(chunk.summit_day, dtype=np.int32)
        epoch = (self._start - dt.date(1970, 1, 1)).days
        columns = [numbers(index), numbers((index // BLOCK_SIZE).astype(np.int32)),
                   pa.DictionaryArray.from_arrays(numbers(np.asarray(chunk.outcome, dtype=np.int8)), self._classes),
                   package_col, numbers(days), numbers((days + epoch).astype(np.int32), pa.date32())]
        columns += [booleans(chunk.signed[k]) for k in self.order.party_rows]
        position = chunk.position[:, self.order.agent_index][:, :, self.order.issue_index].reshape(n, -1)
        columns += [numbers(position[:, j]) for j in range(position.shape[1])]
        self.writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=self.schema))
        self.rows += n

    def close(self) -> None:
        self.writer.close()


def count_written(path: str | Path, n_classes: int, n_slots: int) -> np.ndarray:
    """Replicates per package (the last slot for no deal) and class, (n_slots, n_classes), of a
    written file, read a row group at a time."""
    import pyarrow.parquet as pq

    counts = np.zeros(n_slots * n_classes, dtype=np.int64)
    reader = pq.ParquetFile(str(path))
    for g in range(reader.num_row_groups):
        table = reader.read_row_group(g, columns=["outcome", "package"])
        outcome = values_of(table.column("outcome").combine_chunks().indices, np.int8).astype(np.int64)
        package = table.column("package").combine_chunks()
        index = package.indices if hasattr(package, "indices") else package
        values = values_of(index, np.int32, fill=-1).astype(np.int64)
        counts += np.bincount(values % n_slots * n_classes + outcome, minlength=n_slots * n_classes)
    return counts.reshape(n_slots, n_classes)


def write_trajectory(path: str | Path, model: Model, trajectory: np.ndarray) -> None:
    """The weekly quantiles of every agent's position on every issue over the replicates kept
    for the fan chart (`trajectory` (weeks, n_agents, n_issues, k)): one row per week, agent
    and issue, with the tick's day and date."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    weeks = trajectory.shape[0]
    days = np.array((0,) + tuple(model.ticks))[:weeks]
    q = np.quantile(trajectory, QUANTILES, axis=-1) if trajectory.shape[-1] else \
        np.full((len(QUANTILES), *trajectory.shape[:3]), np.nan)
    w, a, i = np.meshgrid(np.arange(weeks), np.arange(model.n_agents), np.arange(model.n_issues), indexing="ij")
    start = model.start_date or dt.date(1970, 1, 1)
    epoch = (start - dt.date(1970, 1, 1)).days
    columns = {"week": numbers(w.ravel().astype(np.int32)), "day": numbers(days[w.ravel()].astype(np.int32)),
               "date": numbers((days[w.ravel()] + epoch).astype(np.int32), pa.date32()),
               "agent": pa.DictionaryArray.from_arrays(numbers(a.ravel().astype(np.int32)), strings(model.agents)),
               "issue": pa.DictionaryArray.from_arrays(numbers(i.ravel().astype(np.int32)), strings(model.issues)),
               "replicates": numbers(np.full(w.size, trajectory.shape[-1], dtype=np.int32))}
    for level, values in zip(QUANTILES, q):
        columns[f"q{round(level * 100):02d}"] = numbers(values.ravel().astype(np.float32))
    pq.write_table(pa.table(columns), str(path), compression="zstd")


def load_replicates(directory: str | Path):
    """A run's per-replicate results as a pandas DataFrame (needs pandas: `pip install 'sim[data]'`),
    from the `replicates.parquet` in `directory`, the run's result directory (`sim run --out DIR`);
    without pandas, `pyarrow.parquet.read_table` reads that file. A directory without one is an
    `InputError`, which names the newest run folder inside where there are some (`results/<scenario>`)."""
    from .arguments import check_path
    from .errors import InputError, Problem

    check_path(directory, "a run's result directory", "directory")
    directory = Path(directory)
    path = directory / "replicates.parquet"
    if not path.is_file():
        runs = sorted(directory.glob("*/replicates.parquet"), key=lambda p: (p.stat().st_mtime_ns, p.parent.name))
        if runs:  # results/<scenario>, which `sim run` fills with one folder a run
            why = (f"is not a run's result directory but holds {len(runs)} of them: pass one, e.g. the newest, "
                   f"load_replicates('{runs[-1].parent}')")
        else:
            why = ("does not exist" if not directory.exists() else
                   "is a file; load_replicates takes the result directory that holds replicates.parquet"
                   if not directory.is_dir() else "is not a run's result directory: it holds no replicates.parquet")
        raise InputError(Problem(str(directory), "", why))
    try:
        import pandas as pd
    except ImportError:
        raise InputError(Problem("load_replicates", "", "needs pandas: pip install 'sim[data]'")) from None
    return pd.read_parquet(path)
