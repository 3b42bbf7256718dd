# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The packets a tunnel needs, asked of one gateway's firewall.

For one side this builds the packets the tunnel depends on (IKE on UDP 500 and 4500 each way,
ESP each way, the protected traffic forwarded each way, and the outbound protected traffic at
POSTROUTING for NAT) and asks the firewall rule evaluator (``_firewall_eval``) what becomes of
each. The answers feed P1.FW_IKE, P2.FW_ESP, P2.FORWARD and P2.NAT_EXEMPT.
"""

from __future__ import annotations

import importlib
import typing as t

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _addr

QUESTIONS = ("ike_in_500", "ike_out_500", "ike_in_4500", "ike_out_4500", "esp_in", "esp_out",
             "forward_out", "forward_in", "nat_out")


def _evaluator() -> t.Any:
    try:
        return importlib.import_module("ansible_collections.netdoctor.ipsec.plugins.plugin_utils._firewall_eval")
    except ImportError:
        return None


def inner_host(selectors: t.Sequence[str], preferred: str | None = None) -> str | None:
    """An address inside the selectors: the preferred one (probe address) if it fits, else the first host."""
    if preferred:
        return preferred
    for text in selectors or []:
        net = _addr.parse_network(str(text).split("[")[0])
        if net:
            family, value, prefix = _addr.network_base(net)
            host = value + 1 if _addr.FAMILY_BITS[family] - prefix > 1 else value
            return _addr.format_address(family, host)
    return None


def packets(tunnel: t.Any, name: str) -> dict[str, dict[str, t.Any]]:
    """The questions for side ``name`` as packet descriptions (hook path, addresses, protocol, ports)."""
    other = "b" if name == "a" else "a"
    local = tunnel.endpoint[name]
    peer = (tunnel.peers[name] or [tunnel.endpoint[other]])[0]
    children = tunnel.children(name)
    local_ts = [ts for child in children for ts in child["local_ts"]]
    remote_ts = [ts for child in children for ts in child["remote_ts"]]
    options = tunnel.options
    inner_local = inner_host(local_ts, options.get(f"inner_{name}"))
    inner_remote = inner_host(remote_ts, options.get(f"inner_{other}"))
    questions: dict[str, dict[str, t.Any]] = {}
    for port in (500, 4500):
        questions[f"ike_in_{port}"] = {"hook": "input", "src": peer, "dst": local, "proto": "udp", "sport": port, "dport": port}
        questions[f"ike_out_{port}"] = {"hook": "output", "src": local, "dst": peer, "proto": "udp", "sport": port, "dport": port}
    questions["esp_in"] = {"hook": "input", "src": peer, "dst": local, "proto": "esp"}
    questions["esp_out"] = {"hook": "output", "src": local, "dst": peer, "proto": "esp"}
    if inner_local and inner_remote:
        questions["forward_out"] = {"hook": "forward", "src": inner_local, "dst": inner_remote, "proto": "icmp",
                                    "ipsec": "out"}
        questions["forward_in"] = {"hook": "forward", "src": inner_remote, "dst": inner_local, "proto": "icmp",
                                   "ipsec": "in"}
        questions["nat_out"] = {"hook": "postrouting", "table": "nat", "src": inner_local, "dst": inner_remote,
                                "proto": "icmp", "ipsec": "out"}
    return {key: value for key, value in questions.items() if value.get("src") and value.get("dst")}


def evaluate(tunnel: t.Any, name: str) -> dict[str, t.Any]:
    """``{available, reason, backend, answers: {question: verdict}}`` for side ``name``."""
    side = tunnel.side(name)
    ruleset = side["firewall"].get("ruleset")
    result: dict[str, t.Any] = {"available": False, "reason": "", "backend": side["firewall"].get("backend"),
                                "both_loaded": side["firewall"].get("both_loaded"), "answers": {}}
    evaluator = _evaluator()
    if evaluator is None:
        result["reason"] = "the firewall rule evaluator is not installed with this collection"
        return result
    if not ruleset:
        result["reason"] = "no firewall ruleset was gathered"
        return result
    questions = packets(tunnel, name)
    for key, packet in questions.items():
        try:
            result["answers"][key] = evaluator.evaluate_packet(ruleset, packet)
        except Exception as exc:  # noqa: BLE001 - one unanswerable packet must not hide the others
            result["answers"][key] = {"verdict": "unknown", "reason": f"{type(exc).__name__}: {exc}"}
    result["available"] = True
    return result


QUESTION_LABELS = {
    "ike_in_500": "IKE from the peer (UDP 500, INPUT)",
    "ike_out_500": "IKE to the peer (UDP 500, OUTPUT)",
    "ike_in_4500": "IKE/NAT-T from the peer (UDP 4500, INPUT)",
    "ike_out_4500": "IKE/NAT-T to the peer (UDP 4500, OUTPUT)",
    "esp_in": "ESP from the peer (protocol 50, INPUT)",
    "esp_out": "ESP to the peer (protocol 50, OUTPUT)",
    "forward_out": "protected traffic toward the remote subnet (FORWARD)",
    "forward_in": "decapsulated traffic from the remote subnet (FORWARD)",
    "nat_out": "protected traffic at POSTROUTING (nat)",
}


def describe_question(question: str, packet: dict[str, t.Any]) -> str:
    label = QUESTION_LABELS.get(question, question)
    if packet.get("src") and packet.get("dst"):
        return f"{label} {packet['src']} -> {packet['dst']}"
    return label


def _rule_of(answer: dict[str, t.Any]) -> dict[str, t.Any]:
    found = answer.get("rule")
    return found if isinstance(found, dict) else {"text": found} if found else {}


def describe_rule(answer: dict[str, t.Any]) -> str:
    """``rule `-A INPUT -p esp -j DROP` (filter/INPUT #3, 12 packets)`` or the chain policy."""
    found = _rule_of(answer)
    where = "/".join(str(part) for part in (found.get("table") or answer.get("table"), found.get("chain") or answer.get("chain")) if part)
    if found.get("index") is not None:
        where += f" #{found['index']}"
    counters = found.get("counters") or {}
    packets = counters.get("packets", found.get("packets"))
    counted = f", {packets} packets" if packets is not None else ""
    text = found.get("text")
    if text:
        return f"rule `{text}` ({where}{counted})" if where else f"rule `{text}`"
    if answer.get("policy") or answer.get("decided_by") == "policy":
        return f"the {where or 'chain'} policy {str(answer.get('policy') or answer.get('verdict')).upper()}"
    return f"{where or 'no rule'} ({answer.get('verdict', '?')})"


def fix_for(side: dict[str, t.Any], question: str, answer: dict[str, t.Any], packet: dict[str, t.Any]) -> str:
    """The concrete change: delete the rule that drops the packet, or accept it before that rule."""
    host = side["host"]
    found = _rule_of(answer)
    backend = (side["firewall"].get("backend") or "iptables").lower()
    text = found.get("text") or ""
    if question == "nat_out":
        src, dst = packet.get("src_net") or packet["src"], packet.get("dst_net") or packet["dst"]
        if backend.startswith("nft"):
            return (f"on {host}: exempt IPsec traffic before the NAT rule, e.g. "
                    f"`nft insert rule {found.get('table') or 'ip nat'} {found.get('chain') or 'postrouting'} rt ipsec exists accept`")
        return (f"on {host}: exempt IPsec traffic before the NAT rule: "
                f"`iptables -t nat -I POSTROUTING -s {src} -d {dst} -m policy --dir out --pol ipsec -j ACCEPT`")
    if backend.startswith("nft") and found.get("handle") is not None:
        return f"on {host}: `nft delete rule {found.get('family', 'inet')} {found.get('table')} {found.get('chain')} handle {found['handle']}` or accept the packet before it"
    chain = found.get("chain") or {"input": "INPUT", "output": "OUTPUT", "forward": "FORWARD"}.get(packet.get("hook"), "INPUT")
    proto = packet.get("proto")
    match = f"-p {proto}" + (f" --dport {packet['dport']}" if packet.get("dport") else "")
    addresses = f"-s {packet['src']} -d {packet['dst']}"
    accept = f"`iptables -I {chain} {addresses} {match} -j ACCEPT`"
    if question.startswith("forward"):
        direction = "out" if question == "forward_out" else "in"
        accept = f"`iptables -I FORWARD {addresses} -m policy --dir {direction} --pol ipsec -j ACCEPT`"
    if text.startswith("-A "):
        return f"on {host}: remove `iptables {'-t ' + found['table'] + ' ' if found.get('table') not in (None, 'filter') else ''}-D {text[3:]}` or insert {accept}"
    return f"on {host}: insert {accept}"
