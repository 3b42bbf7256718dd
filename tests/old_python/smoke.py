# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Old-gateway smoke test: import every module_utils file and run the gateway parsers on recorded
outputs under the interpreter that runs this script (the test suite runs it with Python 2.7 and 3.6).

The compile check proves the syntax; this proves the code runs there. It must stay Python 2.7
compatible itself. Each entry of SMOKE is (module, function, fixture or None, check); the check
gets the function's result and returns True when it looks right.
"""

from __future__ import absolute_import, division, print_function

import glob
import io
import os
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MODULE_UTILS = os.path.join(ROOT, "plugins", "module_utils")
FIXTURES = os.path.join(ROOT, "tests", "unit", "fixtures")
PACKAGE = "ansible_collections.netdoctor.ipsec.plugins.module_utils"


def install_package_stubs():
    """Python 2.7 has no namespace packages: declare the collection's packages by hand."""
    parts = PACKAGE.split(".")
    for depth in range(1, len(parts) + 1):
        name = ".".join(parts[:depth])
        module = types.ModuleType(name)
        module.__path__ = [MODULE_UTILS] if depth == len(parts) else []
        sys.modules[name] = module


def fixture_text(relpath):
    with io.open(os.path.join(FIXTURES, relpath), encoding="utf-8", errors="replace") as handle:
        lines = handle.read().splitlines(True)
    while lines and lines[0].startswith(("# source:", "# lab:", "# note:")):
        lines.pop(0)
    return "".join(lines)


def load(name):
    __import__(PACKAGE + "." + name)
    return sys.modules[PACKAGE + "." + name]


# (module_utils name, function name, fixture path or None, argument builder, check)
SMOKE = [
    # ike_info / log_info parsers
    ("_proposals", "parse_strongswan", None, lambda text: ("aes256gcm16-prfsha256-ecp256,default", "ike"),
     lambda r: r[0][0]["encryption"] == ["AES_GCM_16_256"] and r[0][0]["prf"] == ["PRF_HMAC_SHA2_256"] and r[0][1]["default"]),
    ("_proposals", "parse_libreswan", None, lambda text: ("aes256-sha2_256;modp2048", "ike"),
     lambda r: r[0][0]["integrity"] == ["HMAC_SHA2_256_128"] and r[0][0]["dh"] == ["MODP_2048"]),
    ("_strongswan", "parse_list_sas_output", "strongswan/list_sas_ike_only_raw.txt", lambda text: (text,),
     lambda r: r["sas"][0]["spi_i"] == "0x1c95da157fcd12e7" and not r["unparsed"]),
    ("_strongswan", "parse_list_conns_output", "strongswan/list_conns.txt", lambda text: (text,),
     lambda r: r["connections"][0]["children"][0]["local_ts"] == ["10.1.0.0/24"]),
    ("_strongswan_conf", "swanctl_secrets", "strongswan/swanctl_conf_rw_psk_fqdn_moon.conf",
     lambda text: (load("_strongswan_conf").parse_settings(text)[0], "salt"),
     lambda r: r[0][0]["facts"]["encoding"] == "base64" and r[0][0]["fingerprint"].startswith("hmac-sha256:")),
    ("_stroke", "parse_statusall", "strongswan/statusall_ikev2_psk.txt", lambda text: (text,),
     lambda r: r["sas"][0]["children"][0]["state"] == "INSTALLED"),
    ("_libreswan", "parse_whack_status", "libreswan/whack_status_4_10_ike_only.txt", lambda text: (text,),
     lambda r: r["version"] == "4.10" and r["sas"][0]["established"] and not r["unparsed"]),
    ("_libreswan", "parse_ipsec_conf", "libreswan/ipsec_conf_also.conf", lambda text: (text,),
     lambda r: r["connections"][0]["start_action"] == "trap"),
    ("_racoon", "parse_racoon_conf", "racoon/racoon_conf_inherit.conf", lambda text: (text,),
     lambda r: [c["name"] for c in r["connections"]] == ["anonymous", "203.0.113.10", "203.0.113.10[8000]"]),
    ("_racoon", "parse_show_sa_isakmp", "racoon/racoonctl_l_show_sa_isakmp.txt", lambda text: (text,),
     lambda r: r[0][0]["established"] and r[0][0]["initiator"]),
    ("_setkey", "parse_sad", "racoon/setkey_D_linux_centos6.txt", lambda text: (text, "salt"),
     lambda r: len(r[0]) == 4 and r[0][0]["spi"] == "0x00005fb5" and r[0][2]["integrity"] == "HMAC_MD5_96"),
    ("_ike_logs", "classify_lines", "logs/sw-lsw_psk-leftinit_right_pluto.log", lambda text: (text.splitlines(), "libreswan"),
     lambda r: "AUTHENTICATION_FAILED" in [e["code"] for e in r]),
    ("_vici", "decode_message", None,
     lambda text: (load("_vici").encode_message({"a": {"b": ["1", "2"]}, "c": "d"}),),
     lambda r: r["a"]["b"] == ["1", "2"] and r["c"] == "d"),
    ("_psk", "decode_psk", None, lambda text: ("0sYWJj",), lambda r: r[0] == b"abc" and r[1] == "base64"),
    ("_fingerprint", "fingerprint", None, lambda text: (b"k", "s"), lambda r: r.startswith("hmac-sha256:")),
    ("_addr", "normalize_network", None, lambda text: ("10.1.0.9/24",), lambda r: r == "10.1.0.0/24"),
    ("_algorithms", "kernel_aead", None, lambda text: ("rfc4106(gcm(aes))", 288, 128), lambda r: r == "AES_GCM_16_256"),
    ("_capture_summary", "summarize_files", None,
     lambda text: ([(os.path.join(FIXTURES, "pcap", "ns-nat-t-b.pcap"), "wan0")], {"peer_addresses": ["203.0.113.254"]}),
     lambda r: r["ike"]["sas"][0]["nat"]["initiator_behind_nat"] is True and r["ike"]["counts"]["in"] == 5),
    ("_capture_summary", "summarize_files", None,
     lambda text: ([(os.path.join(FIXTURES, "pcap", "ns-healthy-a.pcapng"), None),
                    (os.path.join(FIXTURES, "pcap", "ns-healthy-any-sll2.pcap"), "any"),
                    (os.path.join(FIXTURES, "pcap", "ns-mtu-a.pcap"), "wan0")], {}),
     lambda r: r["packets"]["ike"] == 14 and r["fragments"]["reassembled"] == 2 and r["icmp"]["counts"]["packet_too_big"] == 1),
    ("_xfrm_text", "state_records", "xfrm/uml_manual_ip_ss_state.txt",
     lambda text: (text, load("_xfrm_record").RecordOptions("s", local_addresses=["198.51.100.1"]), lambda w: None),
     lambda r: len(r[0]) == 25 and r[0][24]["auth"]["canonical"] == "HMAC_SHA2_256_128" and r[0][17]["replay"]["esn_context"]
     and r[0][24]["key_fingerprints"]["enc"].startswith("hmac-sha256:") and r[0][24]["direction"] == "out"),
    ("_xfrm_text", "policy_records", "xfrm/uml_manual_ip_ss_policy.txt", lambda text: (text, lambda w: None),
     lambda r: len(r[0]) == 12 and r[0][0]["socket"] and len(r[0][3]["tmpls"]) == 2),
    ("_xfrm_netlink", "decode_state", "xfrm/uml_traffic_gw_a_netlink_state.hex",
     lambda text: (__import__("binascii").unhexlify(text.split()[0]), lambda index: "if%d" % index),
     lambda r: r["spi"] == "0x0000b001" and r["replay"]["bitmap"].endswith("7") and r["current"]["packets"] == 3),
    ("_xfrm_netlink", "decode_policy", "xfrm/uml_manual_netlink_policy.hex",
     lambda text: (__import__("binascii").unhexlify(text.split()[0]), lambda index: "if%d" % index),
     lambda r: r["socket"] and r["family"] == 6 and r["lifetime"]["hard_bytes"] is None),
    ("_xfrm_stat", "parse_xfrm_stat", "xfrm/uml_xfrm_stat.txt", lambda text: (text,), lambda r: r[0]["XfrmOutNoStates"] == 4),
    ("_iptables", "parse_save", "firewall/ufw_legacy_ipv4.txt", lambda text: (text,),
     lambda r: len(r["tables"][0]["chains"]) > 30 and not r["unparsed"]
     and [c for c in r["tables"][0]["chains"] if c["name"] == "ufw-user-input"][0]["rules"][1]["matches"][1]["value"] == [[500, 500], [4500, 4500]]),
    ("_nftables", "parse_json", "firewall/own_nft_ipsec.json", lambda text: (text, fixture_text("firewall/own_nft_ipsec.nft")),
     lambda r: r["tables"][0]["chains"][4]["rules"][0]["text"] == "rt ipsec exists accept"
     and r["tables"][0]["chains"][4]["rules"][0]["matches"][0]["value"] == {"dir": "out", "pol": "ipsec"}),
    ("_hostfacts", "parse_route_get", "hostfacts/route_get_remote.txt", lambda text: (text,),
     lambda r: r["table"] == "220" and r["dev"] == "wan0"),
    ("_hostfacts", "parse_proc_net_udp", "hostfacts/proc_net_udp6.txt", lambda text: (text, 6),
     lambda r: [(s["address"], s["port"]) for s in r] == [("::", 500), ("2001:db8::1", 4500)]),
    ("_firewall", "iptables_variant", None, lambda text: ("iptables v1.4.21\n",), lambda r: r == ("iptables-legacy", "1.4.21")),
]


def main():
    install_package_stubs()
    failures = []
    names = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(MODULE_UTILS, "*.py")))
    for name in names:
        if name == "__init__":
            continue
        try:
            load(name)
        except Exception as exc:  # pylint: disable=broad-except
            failures.append("import %s: %r" % (name, exc))
    for module_name, function, fixture, build_args, check in SMOKE:
        try:
            text = fixture_text(fixture) if fixture else None
            result = getattr(load(module_name), function)(*build_args(text))
            if not check(result):
                failures.append("%s.%s: unexpected result %r" % (module_name, function, result))
        except Exception as exc:  # pylint: disable=broad-except
            failures.append("%s.%s: %r" % (module_name, function, exc))
    version = "%d.%d" % sys.version_info[:2]
    if failures:
        print("old-python smoke on %s: %d failure(s)" % (version, len(failures)))
        for failure in failures:
            print("  " + failure)
        return 1
    print("old-python smoke on %s: %d modules imported, %d parser runs ok" % (version, len(names), len(SMOKE)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
