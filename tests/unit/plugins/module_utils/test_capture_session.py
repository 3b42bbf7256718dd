# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_capture_session: the capture files are made all or nothing, and the janitor (a real forked
process) removes exactly what the module told it it had made when the module goes away.

Real captures and kill tests: tests/lab/test_capture_netns.py and tests/lab/test_capture_lab_esp.py.
"""

from __future__ import annotations

import errno
import os
import socket
import time

import pytest

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _capture_session

START = 1795843800.0  # 2026-11-28T05:30:00Z


def plan(**extra):
    base = {"start": time.time() + 30, "duration": 5, "interfaces": ["wan0"], "dest_dir": None, "keep_pcap": False,
            "warnings": []}
    base.update(extra)
    return base


def capture_dirs(folder):
    return sorted(name for name in os.listdir(str(folder)) if name.startswith("netdoctor-capture-"))


def wait_until(condition, seconds=5.0):
    """Whether ``condition()`` became true within ``seconds`` (the janitor works asynchronously)."""
    deadline = time.time() + seconds
    while not condition() and time.time() < deadline:
        time.sleep(0.02)
    return condition()


def wait_gone(path):
    return wait_until(lambda: not os.path.exists(path))


def janitor_owning(folder):
    """A started janitor that was told about one new directory, ``folder``."""
    janitor = _capture_session.Janitor(time.time() + 60)
    janitor.start()
    folder.mkdir()
    janitor.own_dir(str(folder))
    return janitor


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """tempfile's default folder for this test only (the module's private directory goes there)."""
    monkeypatch.setattr(_capture_session.tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_a_file_that_cannot_be_made_leaves_no_directory_behind(private_tmp):
    # the same interface twice: the second file's name is taken (O_EXCL) after the first file was made
    session = _capture_session.Session(plan(interfaces=["wan0", "wan0"]), runner=None)
    with pytest.raises(OSError) as raised:
        session.run()
    assert raised.value.errno == errno.EEXIST
    assert capture_dirs(private_tmp) == []


def test_in_a_given_folder_only_the_files_made_by_this_run_are_removed(tmp_path):
    host = socket.gethostname().split(".")[0] or "gateway"
    foreign = tmp_path / ("netdoctor-%s-20261128T053000-lan0.pcap" % host)
    foreign.write_text("someone else's capture")
    session = _capture_session.Session(plan(start=START, interfaces=["wan0", "lan0"], dest_dir=str(tmp_path)), runner=None)
    with pytest.raises(OSError):
        session._make_files(_capture_session.Janitor(START + 60))  # pylint: disable=protected-access
    assert sorted(os.listdir(str(tmp_path))) == [foreign.name]
    assert foreign.read_text() == "someone else's capture"


def test_the_janitor_removes_what_it_was_told_about_when_the_module_goes_away(tmp_path):
    owned = tmp_path / "netdoctor-capture-owned"
    janitor = janitor_owning(owned)
    (owned / "a.pcap").write_text("")
    janitor.own_file(str(owned / "a.pcap"))
    loose = tmp_path / "kept-elsewhere.pcap"
    loose.write_text("")
    janitor.own_file(str(loose))
    untold = tmp_path / "not-ours"
    untold.mkdir()
    janitor.abandon()  # the pipe closes without "done", as when the module is killed
    assert wait_gone(str(owned)) and wait_gone(str(loose))
    assert untold.is_dir()


def test_the_janitor_leaves_the_files_of_a_finished_run(tmp_path):
    kept = tmp_path / "netdoctor-capture-kept"
    janitor = janitor_owning(kept)
    pid = janitor.pid
    janitor.release()  # keep_pcap: the module is done and keeps the files
    wait_until(lambda: not _capture_session._alive(pid))  # pylint: disable=protected-access
    assert kept.is_dir()
