"""Atomic writes and the probe of a folder leave no temp file behind, even when a Ctrl-C cuts them short."""

from __future__ import annotations

import os

import pytest
from conftest import signal_after

from sim.io import atomic_write_text, check_can_create


@pytest.mark.parametrize("name", ["open", "close"])
def test_a_ctrl_c_while_a_folder_is_probed_leaves_no_temp_file(name, tmp_path, monkeypatch):
    """check_can_create makes a temp file and removes it: a Ctrl-C raised as the file is made or closed
    stops the command, and the temp file (a `.NAME.tmp-*` beside the path, which nothing removed) goes."""
    fired = signal_after(monkeypatch, os, name, "check_can_create")
    with pytest.raises(KeyboardInterrupt):
        check_can_create(tmp_path / "posterior.json")
    monkeypatch.undo()
    assert fired == [name] and list(tmp_path.iterdir()) == []
    assert check_can_create(tmp_path / "posterior.json") is None and list(tmp_path.iterdir()) == []


def test_a_second_ctrl_c_while_a_cut_short_write_is_cleaned_up_leaves_no_temp_file(tmp_path, monkeypatch):
    """A write stopped by a Ctrl-C removes its temp file; a second Ctrl-C as it does waits for the removal."""
    page = tmp_path / "report.html"
    page.write_text("old")
    fired = []

    def fsync(fd):  # the first Ctrl-C, as the temp file is synced; the second as its removal begins
        fired.append(signal_after(monkeypatch, os, "unlink", before=True))
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(page, "new")
    monkeypatch.undo()
    assert fired[0] == ["unlink"] and [p.name for p in tmp_path.iterdir()] == ["report.html"] and page.read_text() == "old"
