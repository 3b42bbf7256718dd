"""The lab's pure parts, without a lab: proposal translation, spec validation, addressing, the
fault catalogue and its checks, the daemons' configuration and the parsers of what the lab reads
from its gateways (outputs recorded on the lab, 2026-11-28; no keys in them)."""

from __future__ import annotations

import dataclasses

import pytest

from lab import daemons, faults, observe, proposals, topology
from lab.config import LabConfig, LabError
from lab.spec import TunnelSpec

# lab: swanctl --list-sas --raw on a_left (healthy) and b_left (IKE dropped by the peer), 2026-11-28
SWANCTL_UP = (
    "list-sa event {lab-a {uniqueid=1 version=2 state=ESTABLISHED local-host=203.0.113.1 local-port=4500 "
    "local-id=a-left.lab remote-host=203.0.113.6 remote-port=4500 remote-id=a-right.lab initiator=yes "
    "initiator-spi=bf30a876b1832198 responder-spi=b3dd84968a161088 encr-alg=AES_CBC encr-keysize=256 "
    "integ-alg=HMAC_SHA2_256_128 prf-alg=PRF_HMAC_SHA2_256 dh-group=MODP_2048 established=27 rekey-time=14006 "
    "child-sas {lab-a-1 {name=lab-a uniqueid=1 reqid=1 state=INSTALLED mode=TUNNEL protocol=ESP spi-in=c23149f0 "
    "spi-out=fe58a441 encr-alg=AES_GCM_16 encr-keysize=256 bytes-in=488 packets-in=7 use-in=24 bytes-out=592 "
    "packets-out=9 use-out=24 rekey-time=3253 life-time=3933 install-time=32 local-ts=[10.1.1.0/24] "
    "remote-ts=[10.1.2.0/24]}}}}\nlist-sas reply {}\n")
SWANCTL_CONNECTING = (
    "list-sa event {lab-b {uniqueid=2 version=2 state=CONNECTING local-host=203.0.113.9 local-port=500 "
    "local-id=%any remote-host=203.0.113.14 remote-port=500 remote-id=%any initiator=yes "
    "initiator-spi=351f91cae1df708a responder-spi=0000000000000000 tasks-active=[IKE_VENDOR IKE_INIT IKE_NATD "
    "IKE_CERT_PRE IKE_AUTH IKE_CERT_POST IKE_CONFIG IKE_AUTH_LIFETIME IKE_MOBIKE IKE_ESTABLISH CHILD_CREATE] "
    "child-sas {}}}\nlist-sas reply {}\n")
# lab: ipsec whack --showstates on a_right (IKEv2 responder) and c_left (IKEv1 initiator), 2026-11-28
WHACK_V2 = """000 #1: "lab-a":4500 STATE_V2_ESTABLISHED_IKE_SA (established IKE SA); REKEY in 28501s; REPLACE in 28771s; newest; idle;
000 #2: "lab-a":4500 STATE_V2_ESTABLISHED_CHILD_SA (established Child SA); REKEY in 28501s; REPLACE in 28771s; newest; eroute owner; IKE SA #1; idle;
000 #2: "lab-a" esp.c23149f0@203.0.113.1 esp.fe58a441@203.0.113.6 tun.0@203.0.113.1 tun.0@203.0.113.6 Traffic: ESPin=592B ESPout=488B ESPmax=2^63B
"""
WHACK_V1 = """000 #1: "lab-c":500 STATE_MAIN_I4 (IKE SA established); REPLACE in 28145s; newest; lastdpd=-1s(seq in:0 out:0); idle;
000 #2: "lab-c":500 STATE_QUICK_I2 (IPsec SA established); REPLACE in 27973s; newest; eroute owner; ISAKMP SA #1; idle;
"""
# lab: iptables-legacy-save -c -t mangle on the WAN router a_wan after the probes, 2026-11-28
U32_ESP = '-m length --length 30:65535 -m u32 ! --u32 "0x0>>0x16&0x3c@0x8=0x0"'
ROUTER_SAVE = "\n".join([
    "*mangle",
    ":PREROUTING ACCEPT [16:1976]",
    "[9:1096] -A PREROUTING -i left0 -p esp -m comment --comment esp_left_to_right",
    f"[0:0] -A PREROUTING -i left0 -p udp -m multiport --ports 4500 {U32_ESP} -m comment --comment esp_left_to_right",
    "[2:300] -A PREROUTING -i left0 -p udp -m udp --dport 500 -m comment --comment ike_left_to_right",
    "[0:0] -A PREROUTING -d 10.1.2.0/24 -i left0 -m comment --comment clear_left_to_right",
    "[7:880] -A PREROUTING -i right0 -p esp -m comment --comment esp_right_to_left",
    f"[3:400] -A PREROUTING -i right0 -p udp -m multiport --ports 4500 {U32_ESP} -m comment --comment esp_right_to_left",
    "COMMIT",
    "",
])


def test_strongswan_status():
    up = daemons.DAEMONS["strongswan"].parse_status(SWANCTL_UP)
    assert (up.ike, up.child, up.states) == ("up", "up", ("ESTABLISHED", "INSTALLED"))
    connecting = daemons.DAEMONS["strongswan"].parse_status(SWANCTL_CONNECTING)
    assert (connecting.ike, connecting.child, connecting.states) == ("down", "down", ("CONNECTING",))
    empty = daemons.DAEMONS["strongswan"].parse_status("list-sas reply {}\n")
    assert (empty.ike, empty.child, empty.states) == ("down", "down", ())


@pytest.mark.parametrize("text, states", [
    (WHACK_V2, ("STATE_V2_ESTABLISHED_IKE_SA", "STATE_V2_ESTABLISHED_CHILD_SA")),
    (WHACK_V1, ("STATE_MAIN_I4", "STATE_QUICK_I2")),
    (WHACK_V2.replace("000 ", ""), ("STATE_V2_ESTABLISHED_IKE_SA", "STATE_V2_ESTABLISHED_CHILD_SA")),
])
def test_libreswan_status(text, states):
    sa = daemons.DAEMONS["libreswan"].parse_status(text)
    assert (sa.ike, sa.child, sa.states) == ("up", "up", states)


def test_libreswan_half_open_is_down():
    sa = daemons.DAEMONS["libreswan"].parse_status('000 #3: "lab-a":500 STATE_V2_PARENT_I1 (sent IKE_SA_INIT request);\n')
    assert (sa.ike, sa.child) == ("down", "down")


def test_router_counters_sum_per_direction():
    counts = observe.parse_counters(ROUTER_SAVE)
    assert counts == {"esp_left_to_right": 9, "ike_left_to_right": 2, "clear_left_to_right": 0,
                      "esp_right_to_left": 10}


@pytest.mark.parametrize("text, ike", [
    ("aes256-sha256-modp2048", "aes256-sha2_256;modp2048"),
    ("aes128-sha1-modp3072", "aes128-sha1;modp3072"),
    ("aes256gcm16-prfsha256-ecp256", "aes_gcm256-sha2_256;dh19"),
])
def test_ike_proposal_for_libreswan(text, ike):
    assert proposals.libreswan_ike(proposals.parse(text, "IKE")) == ike


@pytest.mark.parametrize("text, esp", [
    ("aes256-sha256", "aes256-sha2_256"),
    ("aes128-sha1", "aes128-sha1"),
    ("aes256gcm16", "aes_gcm256"),
    ("aes256-sha256-modp2048", "aes256-sha2_256;modp2048"),
])
def test_esp_proposal_for_libreswan(text, esp):
    assert proposals.libreswan_esp(proposals.parse(text, "ESP")) == esp


@pytest.mark.parametrize("text, kind, message", [
    ("aes256-md5", "ESP", "unexpected 'md5'"),
    ("chacha20poly1305", "ESP", "unknown encryption 'chacha20poly1305'"),
    ("aes256gcm16-sha256", "ESP", "an AEAD cipher takes no integrity algorithm"),
    ("aes256", "ESP", "needs an integrity algorithm"),
    ("aes256-sha256", "IKE", "needs a DH group"),
    ("aes256gcm16-modp2048", "IKE", "needs a PRF"),
    ("aes256-sha256-prfsha256", "ESP", "ESP has no PRF"),
])
def test_bad_proposals_are_refused(text, kind, message):
    with pytest.raises(LabError, match=message):
        proposals.parse(text, kind)


@pytest.mark.parametrize("text, kind", [("aes256-sha256-modp2048", "IKE"), ("aes128-sha1-modp3072", "IKE"),
                                        ("aes256gcm16", "ESP"), ("aes128-sha1", "ESP")])
def test_disjoint_proposal_shares_nothing(text, kind):
    prop = proposals.parse(text, kind)
    other = proposals.parse(proposals.disjoint(prop, kind), kind)
    assert other.encryption != prop.encryption and other.integrity != prop.integrity
    if kind == "IKE":
        assert other.dh != prop.dh


def test_spec_defaults_and_fault_requirements():
    assert TunnelSpec.from_dict({}) == TunnelSpec()
    trunc = TunnelSpec.from_dict({"fault": "trunc"})
    assert (trunc.esp, trunc.fault_side) == ("aes256-sha256", "right")
    nat = TunnelSpec.from_dict({"fault": "nat-t", "initiator": "right"})
    assert (nat.nat, nat.initiator, nat.fault_side) == (True, "left", "left")
    assert TunnelSpec.from_dict({"fault": "none"}).fault is None


@pytest.mark.parametrize("spec, message", [
    ({"colour": "red"}, "unknown keys"),
    ({"left": "racoon"}, "left must be one of strongswan, libreswan"),
    ({"fault": "nat-t", "fault_side": "right"}, "fault nat-t can be applied to left, not right"),
    ({"fault": "no-such"}, "unknown fault 'no-such'"),
    ({"sha256_96": True}, "sha256_96 needs an HMAC-SHA-256 ESP proposal"),
    ({"nat": True, "initiator": "right"}, "only the left"),
    ({"ike_version": 3}, "ike_version must be 1 or 2"),
])
def test_bad_specs_are_refused(spec, message):
    with pytest.raises(LabError, match=message):
        TunnelSpec.from_dict(spec)


def test_addresses_of_the_first_and_last_tunnels():
    cfg = LabConfig.from_env(lab_dir="/tmp/nd-lab-unit", slot=2)
    tunnels = topology.plan([TunnelSpec()] * 25 + [TunnelSpec(fault="nat-t").resolved()], cfg)
    a, z = tunnels[0], tunnels[25]
    assert (a.left.name, a.right.host_ns, a.router, a.group) == ("a_left", "a_right_host", "a_wan", "tunnel_a")
    assert (a.left.wan_address, a.right.wan_address) == ("203.0.113.1/30", "203.0.113.6/30")
    assert (a.left.peer_address, a.right.peer_address) == ("203.0.113.6", "203.0.113.1")
    assert (a.left.lan_net, a.right.host_address) == ("10.1.1.0/24", "10.1.2.10/24")
    assert (a.left.mgmt_ip, a.right.mgmt_ip, str(cfg.host_ip), str(cfg.bridge_ip)) == \
        ("198.51.100.130", "198.51.100.131", "198.51.100.129", "198.51.100.190")
    assert (z.letter, z.left.wan_address, z.left.peer_address) == ("z", "10.26.254.2/24", "203.0.113.206")
    assert (z.right.wan_address, z.right.peer_address) == ("203.0.113.206/30", "203.0.113.205")
    assert z.right.mgmt_ip == "198.51.100.181"  # .64*2 + 3 + 2*25
    with pytest.raises(LabError, match="at most 30 tunnels"):
        topology.plan([TunnelSpec()] * 31, cfg)
    last = topology.plan([TunnelSpec()] * 30, cfg)[-1]
    assert (last.letter, last.group, last.right.name, last.right.mgmt_ip, last.right.wan_address) == \
        ("ad", "tunnel_ad", "ad_right", "198.51.100.189", "203.0.113.238/30")
    addresses = [s.mgmt_ip for t in tunnels for s in t.sides] + [s.local_address for t in tunnels for s in t.sides]
    assert len(addresses) == len(set(addresses))
    assert not any(addr.startswith("192.0.2.") for addr in addresses)


def test_slot_setting():
    assert LabConfig.from_env(lab_dir="/tmp/x", slot="auto").slot is None
    with pytest.raises(LabError, match="one of 0..3 or auto"):
        LabConfig.from_env(lab_dir="/tmp/x", slot="7")
    with pytest.raises(LabError, match="may not be under /run"):
        LabConfig.from_env(lab_dir="/run/lab", slot=0)


def test_catalogue_is_complete_and_checkable():
    names = set(faults.catalogue())
    assert names == {"ike-version", "ike-proposal", "esp-proposal", "psk", "identity", "selectors", "trunc",
                     "fw-ike", "fw-esp", "forward-drop", "masquerade", "no-route", "daemon-down", "nat-t"}
    for fault in faults.catalogue().values():
        assert {"ike_sa", "child_sa", "ping", "tcp", "esp"} <= set(fault.expect), fault.name


def test_mismatches_compare_by_role_and_accept_any():
    observed = {"ike_sa": {"fault": "up", "peer": "up"}, "child_sa": {"fault": "down", "peer": "down"},
                "ping": "fail", "tcp": "fail", "esp": {"peer_to_fault": 0, "fault_to_peer": 0},
                "clear": {"fault_to_peer": 0}, "daemon": {"fault": "running"}}
    assert faults.mismatches(faults.get("esp-proposal").expect, observed) == []
    assert faults.mismatches(faults.get("psk").expect, observed) == [
        "ike_sa on fault side: expected down, observed up", "ike_sa on peer side: expected down, observed up"]
    assert "ping: expected ok, observed fail" in faults.mismatches(faults.HEALTHY_EXPECT, observed)


def _settings(**changes) -> daemons.Settings:
    base = daemons.Settings(conn="lab-a", ike_version=2, ike="aes256-sha256-modp2048", esp="aes256-sha256",
                            psk="throwaway", local_id="a-right.lab", remote_id="a-left.lab",
                            local_addr="203.0.113.6", remote_addr="203.0.113.1", local_ts="10.1.2.0/24",
                            remote_ts="10.1.1.0/24", sourceip="10.1.2.1", nexthop="203.0.113.5", sha256_96=False)
    return dataclasses.replace(base, **changes)


def test_libreswan_configuration():
    files = daemons.DAEMONS["libreswan"].files(_settings(sha256_96=True, ike_version=1))
    conf = files["etc/ipsec.conf"]
    for line in ("ikev1-policy=accept", "ikev2=no", "left=203.0.113.6", "leftid=@a-right.lab", "leftsourceip=10.1.2.1",
                 "leftnexthop=203.0.113.5", "rightsubnet=10.1.1.0/24", "ike=aes256-sha2_256;modp2048",
                 "esp=aes256-sha2_256", "pfs=no", "sha2-truncbug=yes", "auto=add"):
        assert f"\n    {line}\n" in conf or f"\n{line}\n" in conf, line
    assert files["etc/ipsec.secrets"] == '@a-right.lab @a-left.lab : PSK "throwaway"\n'


def test_strongswan_configuration():
    swanctl = daemons.DAEMONS["strongswan"].files(_settings(sha256_96=True, ike_version=1))["etc/swanctl/swanctl.conf"]
    for line in ("version = 1", "local_addrs = 203.0.113.6", "proposals = aes256-sha256-modp2048",
                 "id = a-right.lab", "local_ts = 10.1.2.0/24", "esp_proposals = aes256-sha256", "sha256_96 = yes",
                 'secret = "throwaway"'):
        assert line in swanctl, line
    items = daemons.file_items(__import__("pathlib").Path("/gw"), daemons.DAEMONS["strongswan"].files(_settings()))
    modes = {i["path"]: i.get("mode") for i in items}
    assert modes["/gw/etc/swanctl/swanctl.conf"] == 0o600
