# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""esp_sa lines from xfrm records: Wireshark 4.x's exact strings, warnings instead of wrong lines."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _xfrm_record, _xfrm_text
from ansible_collections.netdoctor.ipsec.plugins.plugin_utils._esp_sa import EspSaError, esp_sa_table
from ansible_collections.netdoctor.ipsec.tests.unit.cases import assert_subset, fixture_text, load_cases


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def records(fixture, include_keys=True):
    options = _xfrm_record.RecordOptions("salt", include_keys=include_keys)
    return _xfrm_text.state_records(fixture_text(fixture), options, lambda warning: None)[0]


def build(case):
    inputs = case["input"] if isinstance(case["input"], list) else [case["input"]]
    per_input = [records(item["states"], item.get("include_keys", True)) for item in inputs]
    for patch in case.get("patch", []):
        for state in per_input[patch.get("input", 0)]:
            if state["spi"] == patch["spi"]:
                state.update(patch["set"])
    return esp_sa_table([state for states in per_input for state in states], case.get("wireshark_version", "4.0"))


@pytest.mark.parametrize("case", load_cases(__file__))
def test_esp_sa_cases(case):
    table = build(case)
    assert_subset({"lines": table.lines, "skipped": [s["spi"] for s in table.skipped]}, case["expected"])
    for text in case.get("warnings_contain", []):
        assert any(text in warning for warning in table.warnings), (text, table.warnings)
    assert len(table.warnings) == case.get("warning_count", len(table.warnings))
    assert table.text == "".join(line + "\n" for line in table.lines)


def test_bad_input_is_a_clear_error():
    with pytest.raises(EspSaError, match="got str"):
        esp_sa_table("src 1.2.3.4")
    with pytest.raises(EspSaError, match="without 'states' or 'spi'"):
        esp_sa_table({"foo": 1})
    with pytest.raises(EspSaError, match="wireshark_version"):
        esp_sa_table([], "four")
    with pytest.raises(EspSaError, match="predates"):
        esp_sa_table([], "3.6")


def test_module_results_of_both_gateways_are_accepted():
    gw_a = {"xfrm": {"states": records("xfrm/uml_traffic_gw_a_ip_ss_state.txt")}}
    gw_b = {"xfrm": {"states": records("xfrm/uml_traffic_gw_b_ip_ss_state.txt")}}
    table = esp_sa_table([gw_a, gw_b])
    assert len(table.lines) == 2


TSHARK = shutil.which("tshark")


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")
def test_real_tshark_accepts_every_line(tmp_path):
    """tshark loads the whole generated table without 'invalid value' (it rejects the table on one bad line)."""
    table = esp_sa_table(records("xfrm/uml_manual_ip_ss_state.txt"))
    assert len(table.lines) == 17
    config = tmp_path / "wireshark"
    config.mkdir()
    (config / "esp_sa").write_text(table.text)
    pcap = tmp_path / "empty.pcap"
    # A valid empty pcap (global header only, Ethernet).
    pcap.write_bytes(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
    env = dict(os.environ, WIRESHARK_CONFIG_DIR=str(config), HOME=str(tmp_path))
    result = subprocess.run(
        [TSHARK, "-n", "-r", str(pcap), "-o", "esp.enable_encryption_decode:TRUE", "-o", "esp.enable_authentication_check:TRUE"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "esp_sa" not in result.stderr and "invalid" not in result.stderr, result.stderr
    broken = config / "esp_sa"
    broken.write_text(table.text + '"IPv4","1.1.1.1","2.2.2.2","0x1","AES-GCM [RFC4106]","0x00","HMAC-SHA1-96 [RFC2404]",""\n')
    result = subprocess.run([TSHARK, "-n", "-r", str(pcap)], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert "invalid value" in result.stderr  # the check above can fail: tshark does report bad lines
