"""The Arrow builders write what `pyarrow.array` would, without importing pandas."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sim.arrow import booleans, numbers, strings, values_of

DTYPES = st.sampled_from([np.int8, np.int32, np.int64, np.float32, np.float64])


@given(st.data())
def test_numbers_with_nulls_equal_pyarrows_array_and_read_back(data):
    dtype = data.draw(DTYPES)
    values = data.draw(hnp.arrays(dtype, st.integers(0, 40)))
    mask = data.draw(hnp.arrays(np.bool_, len(values)))
    built, reference = numbers(values, mask=mask), pa.array(values, mask=mask)
    assert built.type == reference.type and built.is_valid().equals(reference.is_valid())
    fill = dtype(0)
    nan = dtype in (np.float32, np.float64)
    assert np.array_equal(values_of(built, dtype, fill=fill), values_of(reference, dtype, fill=fill), equal_nan=nan)
    expected = np.where(mask, fill, values)
    assert np.array_equal(values_of(built, dtype, fill=fill), expected, equal_nan=nan)
    start = data.draw(st.integers(0, len(values)))
    sliced = built.slice(start)  # an offset into the buffers
    assert np.array_equal(values_of(sliced, dtype, fill=fill), expected[start:], equal_nan=nan)


@given(hnp.arrays(np.bool_, st.integers(0, 70)), st.lists(st.text(), max_size=20))
def test_booleans_and_strings_equal_pyarrows_array(flags, texts):
    assert booleans(flags).equals(pa.array(flags))
    assert strings(texts).equals(pa.array(texts, pa.string()))


@pytest.mark.slow  # a subprocess and its signals or workers: seconds; CI runs it (-m slow)
def test_a_run_and_its_report_do_not_import_pandas(tmp_path):
    """pyarrow.array imports pandas when it is installed: 0.2 s of every run's start-up."""
    code = ("import sys\nfrom sim.cli import main\n"
            f"assert main(['run', 'scenarios/baseline.yaml', '--runs', '2048', '--out', {str(tmp_path / 'r')!r}, "
            "'--quiet', '--report']) == 0\nassert 'pandas' not in sys.modules, 'pandas imported'\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=__import__("pathlib").Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr
