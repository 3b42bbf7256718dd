"""The lab's tunnels on the real lab (one boot for all): healthy strongSwan/libreswan pairs with
both initiators and the proposals other areas rely on, every fault of the catalogue in its
documented broken state, the inventory contract, exec, and the lab_state playbook.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from lab import faults

REPO = Path(__file__).resolve().parents[2]

HEALTHY = {
    "sw_sw_cbc_sha256": {"left": "strongswan", "right": "strongswan", "esp": "aes256-sha256"},
    "sw_ls_cbc_sha1": {"left": "strongswan", "right": "libreswan", "esp": "aes128-sha1"},
    "ls_sw_gcm": {"left": "libreswan", "right": "strongswan", "esp": "aes256gcm16"},
    "sw_ls_sha256_96_ls_initiates": {"left": "strongswan", "right": "libreswan", "initiator": "right",
                                     "esp": "aes256-sha256", "sha256_96": True},
}
FAULTS = {f"fault_{name}": {"fault": name} for name in faults.catalogue()}
FAULT_VARIANTS = {
    "fault_psk_libreswan": {"fault": "psk", "right": "libreswan"},
    "fault_trunc_libreswan": {"fault": "trunc", "right": "libreswan"},
    "fault_fw-esp_left_libreswan": {"fault": "fw-esp", "fault_side": "left", "left": "libreswan"},
}
LAB_TUNNELS = {**HEALTHY, **FAULTS, **FAULT_VARIANTS}

# what the kernel SAs of each healthy tunnel must use: (xfrm keyword, algorithm, ICV/trunc bits)
KERNEL_ALGORITHMS = {
    "sw_sw_cbc_sha256": {("enc", "cbc(aes)", None), ("auth-trunc", "hmac(sha256)", 128)},
    "sw_ls_cbc_sha1": {("enc", "cbc(aes)", None), ("auth-trunc", "hmac(sha1)", 96)},
    "ls_sw_gcm": {("aead", "rfc4106(gcm(aes))", 128)},
    "sw_ls_sha256_96_ls_initiates": {("enc", "cbc(aes)", None), ("auth-trunc", "hmac(sha256)", 96)},
}
INVENTORY_VARS = [
    "ansible_host", "ansible_user", "ansible_ssh_private_key_file", "ansible_python_interpreter",
    "ansible_ssh_common_args", "ansible_pipelining", "ipsec_daemon", "ipsec_connection", "ipsec_local_address",
    "ipsec_peer_address", "ipsec_wan_interface", "ipsec_lan_interface", "ipsec_local_subnets",
    "ipsec_remote_subnets", "ipsec_inside_address", "ipsec_remote_inside_address", "lab_tunnel", "lab_side",
    "lab_fault", "lab_fault_side", "lab_proposals",
]
KEY_LIKE = re.compile(r"0x[0-9a-fA-F]{16,}")


def kernel_algorithms(lab_session, gateway: str) -> set[tuple]:
    """(keyword, algorithm, bits) of every SA in the gateway's kernel; the keys are dropped here."""
    text = lab_session.exec(gateway, ["ip", "xfrm", "state"]).out
    found = set()
    for m in re.finditer(r"^\s+(enc|auth-trunc|auth|aead) (\S+) 0x[0-9a-f]+(?: \(\d+ bits\))?(?: (\d+))?$", text,
                         re.M):
        keyword, algorithm, bits = m.groups()
        found.add((keyword, algorithm, int(bits) if bits else None))
    return found


@pytest.mark.parametrize("name", list(HEALTHY))
def test_healthy_tunnel_is_verified(lab_session, name):
    t = lab_session.tunnel(name)
    assert t.fault is None and t.mismatches == []
    obs = t.observed
    assert obs["ike_sa"]["left"] == obs["ike_sa"]["right"] == "up"
    assert obs["child_sa"]["left"] == obs["child_sa"]["right"] == "up"
    assert obs["ping"] == "ok" and obs["probe"]["ping_received"] == 3
    assert obs["tcp"] == "ok"
    assert obs["esp"]["left_to_right"] > 0 and obs["esp"]["right_to_left"] > 0
    assert obs["clear"]["left_to_right"] == obs["clear"]["right_to_left"] == 0
    for side in ("left", "right"):
        assert obs["sides"][side]["xfrm_states"] == 2


@pytest.mark.parametrize("name", list(HEALTHY))
def test_healthy_tunnel_uses_the_requested_algorithms_on_both_sides(lab_session, name):
    t = lab_session.tunnel(name)
    for gateway in (t.left, t.right):
        assert kernel_algorithms(lab_session, gateway) == KERNEL_ALGORITHMS[name], gateway


def test_each_healthy_pair_runs_the_daemons_it_names(lab_session):
    for name, spec in HEALTHY.items():
        t = lab_session.tunnel(name)
        for side, gateway in (("left", t.left), ("right", t.right)):
            daemon = spec[side]
            probe = ["swanctl", "--list-sas"] if daemon == "strongswan" else ["ipsec", "whack", "--trafficstatus"]
            res = lab_session.exec(gateway, probe)
            assert res.ok and f"lab-{t.letter}" in res.out, (gateway, res.err)
            assert t.hostvars[gateway]["ipsec_daemon"] == daemon
            assert t.hostvars[gateway]["lab_initiator"] == (spec.get("initiator", "left") == side)


@pytest.mark.parametrize("name", list(FAULTS) + list(FAULT_VARIANTS))
def test_fault_brings_its_documented_state(lab_session, name):
    t = lab_session.tunnel(name)
    assert faults.mismatches(faults.HEALTHY_EXPECT, t.baseline) == [], "the baseline was not healthy"
    assert t.result["expected"] == faults.get(t.fault).expect
    assert t.mismatches == []
    assert faults.mismatches(faults.get(t.fault).expect, t.observed) == []


def test_fw_esp_ike_up_ping_fails_esp_one_way(lab_session):
    obs = lab_session.tunnel("fault_fw-esp").observed
    assert obs["ike_sa"]["left"] == obs["ike_sa"]["right"] == "up"
    assert obs["ping"] == "fail" and obs["probe"]["ping_received"] == 0
    assert obs["esp"]["left_to_right"] > 0
    assert obs["esp"]["right_to_left"] == 0


def test_fault_is_seen_again_by_a_fresh_observation(lab_session):
    live = lab_session.observe("fault_fw-esp")
    assert live["mismatches"] == []
    assert live["observed"]["esp"]["fault_to_peer"] == 0 and live["observed"]["esp"]["peer_to_fault"] > 0


def test_psk_fault_gives_the_sides_different_keys_and_no_key_leaks(lab_session):
    psks = lab_session.lab.psks()
    fault, healthy = lab_session.tunnel("fault_psk"), lab_session.tunnel("sw_sw_cbc_sha256")
    assert psks[fault.letter]["left"] != psks[fault.letter]["right"]
    assert psks[healthy.letter]["left"] == psks[healthy.letter]["right"]
    every_key = {k for sides in psks.values() for k in sides.values()}
    published = lab_session.cfg.state_file.read_text() + lab_session.inventory.read_text()
    assert not [k for k in every_key if k in published], "a PSK is in state.json or the inventory"


def test_trunc_fault_side_drops_the_peers_esp_on_integrity(lab_session):
    t = lab_session.tunnel("fault_trunc")
    stat = lab_session.exec(t.fault_host, ["cat", "/proc/net/xfrm_stat"]).out
    errors = int(re.search(r"^XfrmInStateProtoError\s+(\d+)", stat, re.M).group(1))
    assert errors > 0
    assert ("auth-trunc", "hmac(sha256)", 96) in kernel_algorithms(lab_session, t.fault_host)
    assert ("auth-trunc", "hmac(sha256)", 128) in kernel_algorithms(lab_session, t.peer_host)


def test_daemon_down_fault_stopped_the_daemon(lab_session):
    t = lab_session.tunnel("fault_daemon-down")
    assert t.observed["daemon"]["fault"] == "stopped"
    assert lab_session.exec(t.fault_host, ["pgrep", "-x", "charon"]).rc == 1
    assert lab_session.exec(t.peer_host, ["pgrep", "-x", "charon"]).rc == 0


def test_nat_t_tunnel_is_encapsulated_and_healthy(lab_session):
    t = lab_session.tunnel("fault_nat-t")
    left = t.hostvars[t.left]
    right = t.hostvars[t.right]
    assert left["lab_nat"] is True and left["ipsec_local_address"].startswith("10.")
    assert right["ipsec_peer_address"] != left["ipsec_local_address"]
    assert "encap type espinudp sport 4500 dport 4500" in lab_session.exec(t.left, ["ip", "xfrm", "state"]).out
    assert t.observed["ping"] == "ok" and t.observed["esp"]["peer_to_fault"] > 0


def test_inventory_has_the_documented_variables(lab_session):
    res = subprocess.run(["ansible-inventory", "-i", str(lab_session.inventory), "--list"], capture_output=True,
                         text=True, env=lab_session.ansible_env(), timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    import json
    inv = json.loads(res.stdout)
    hostvars = inv["_meta"]["hostvars"]
    assert len(hostvars) == 2 * len(lab_session.tunnel_names)
    for name in LAB_TUNNELS:
        t = lab_session.tunnel(name)
        assert sorted(inv[t.group]["hosts"]) == [t.left, t.right]
        left, right = hostvars[t.left], hostvars[t.right]
        for host in (left, right):
            missing = [v for v in INVENTORY_VARS if v not in host]
            assert not missing, f"{name}: missing {missing}"
            assert host["lab_fault"] == (t.fault or "none")
        assert left["ipsec_local_subnets"] == right["ipsec_remote_subnets"]
        assert right["ipsec_local_subnets"] == left["ipsec_remote_subnets"]
        assert left["ipsec_remote_inside_address"] == right["lab_inner_host_address"]
        if not left["lab_nat"]:
            assert left["ipsec_peer_address"] == right["ipsec_local_address"]
            assert right["ipsec_peer_address"] == left["ipsec_local_address"]


def test_exec_reaches_gateways_inner_hosts_routers_and_the_guest(lab_session):
    t = lab_session.tunnel("sw_sw_cbc_sha256")
    assert lab_session.exec("guest", ["hostname"]).out.strip() == "guest"
    assert lab_session.exec(t.right, ["hostname"]).out.strip() == f"{t.letter}-right"
    host_ip = t.hostvars[t.right]["lab_inner_host_address"]
    assert f"{host_ip}/24" in lab_session.exec(f"{t.right}_host", ["ip", "-4", "-br", "addr"]).out
    assert "iptables-legacy" not in lab_session.exec(f"{t.letter}_wan", ["iptables-legacy-save", "-t", "mangle"]).err


def test_lab_state_playbook_shows_both_sides_without_keys(lab_session):
    t = lab_session.tunnel("sw_ls_cbc_sha1")
    res = lab_session.playbook(REPO / "playbooks/lab_state.yml", t.group)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert f"{t.left} (strongswan, left side)" in res.stdout
    assert f"{t.right} (libreswan, right side)" in res.stdout
    assert "ESTABLISHED" in res.stdout and "STATE_V2_ESTABLISHED_CHILD_SA" in res.stdout
    assert "[key removed]" in res.stdout
    assert not KEY_LIKE.search(res.stdout + res.stderr)


def test_native_mode_runs_where_the_kernel_has_esp(lab_session):
    """The lab's own guest kernel has ESP: a lab started there must pick native mode by itself,
    come up healthy with a libreswan peer, and leave nothing in the guest after `lab down`."""
    nested = f"{lab_session.cfg.lab_dir}/nested-native"
    lab = ["env", f"PYTHONPATH={REPO}", f"ND_LAB_DIR={nested}", "ND_LAB_SLOT=auto", "ND_LAB_SLOT_WAIT=0",
           f"ND_TOOLS={lab_session.cfg.tools}", "/bin/sh", "-c", 'exec "$0" -m lab "$@"', sys.executable]
    up = lab_session.exec("guest", [*lab, "up", "--right", "libreswan"], timeout=600)
    try:
        assert up.rc == 0, up.err[-3000:]
        assert "mode native: the host kernel has ESP" in up.err
        assert re.search(r"tunnel_a: healthy .*\[as documented\]", up.out)
        ssh = lab_session.exec("guest", [*lab, "exec", "a_right", "--", "ipsec", "whack", "--trafficstatus"])
        assert ssh.rc == 0 and '"lab-a"' in ssh.out
    finally:
        down = lab_session.exec("guest", [*lab, "down"], timeout=300)
    assert down.rc == 0, down.err
    left = lab_session.exec("guest", ["sh", "-c", "ip -br link | grep ndlab; grep -F '.lab' /proc/mounts | "
                                      "grep -F nested-native; ls -A " + nested + " 2>/dev/null"]).out
    assert left.strip() == ""
    Path(nested).rmdir()
