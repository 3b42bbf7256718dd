# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Host facts an IPsec gateway is judged by: sysctls, IKE listeners, interfaces, routes.

Parsers here are pure (``text -> data``); the ``collect_*`` helpers take a file reader or a
CommandRunner so that the module and the tests share them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import sys

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _addr, _command

IKE_PORTS = (500, 4500)
GLOBAL_SYSCTLS = {
    "ip_forward": "net/ipv4/ip_forward",
    "ipv6_forwarding": "net/ipv6/conf/all/forwarding",
    "xfrm_larval_drop": "net/core/xfrm_larval_drop",
    "xfrm_acq_expires": "net/core/xfrm_acq_expires",
    "ip_no_pmtu_disc": "net/ipv4/ip_no_pmtu_disc",
}
INTERFACE_SYSCTLS = ("rp_filter", "accept_redirects", "send_redirects", "disable_policy", "disable_xfrm", "forwarding")
ROUTE_KEYWORDS = ("via", "dev", "src", "from", "table", "proto", "scope", "metric", "mtu", "iif", "uid", "oif",
                  "realm", "realms", "expires", "error", "pref")
ROUTE_TYPES = ("unicast", "local", "broadcast", "multicast", "unreachable", "prohibit", "blackhole", "throw", "nat", "anycast")
LINK_RE = re.compile(r"^(\d+):\s+([^:@\s]+)(?:@[^:\s]+)?:\s+<([^>]*)>(.*)$")


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def parse_proc_net_udp(text, family=4):
    """``/proc/net/udp`` (or udp6) -> [{family, address, port}] of bound sockets."""
    sockets = []
    for line in (text or "").splitlines()[1:]:
        fields = line.split()
        if len(fields) < 3 or ":" not in fields[1]:
            continue
        hex_addr, _sep, hex_port = fields[1].rpartition(":")
        try:
            port = int(hex_port, 16)
            address = _decode_proc_address(hex_addr, family)
        except ValueError:
            continue
        sockets.append({"family": "ipv%d" % family, "address": address, "port": port, "inode": _int(fields[9]) if len(fields) > 9 else None})
    return sockets


def _decode_proc_address(hex_addr, family):
    """The kernel prints each 32-bit word of the address as a host-order integer."""
    words = [hex_addr[i:i + 8] for i in range(0, len(hex_addr), 8)]
    value = 0
    for word in words:
        swapped = word if sys.byteorder == "big" else "".join(reversed([word[i:i + 2] for i in range(0, 8, 2)]))
        value = (value << 32) | int(swapped, 16)
    return _addr.format_address(family, value)


def ike_listeners(sockets):
    """The UDP sockets bound to the IKE ports (500, 4500)."""
    return [sock for sock in sockets if sock["port"] in IKE_PORTS]


def parse_ip_link(text):
    """``ip -o link show`` -> [{index, name, flags, mtu, state, master}]."""
    links = []
    for line in (text or "").splitlines():
        found = LINK_RE.match(line.strip())
        if not found:
            continue
        words = found.group(4).split()
        attrs = dict(zip(words[::2], words[1::2]))
        links.append({"index": _int(found.group(1)), "name": found.group(2), "flags": found.group(3).split(","),
                      "mtu": _int(attrs.get("mtu")), "state": attrs.get("state"), "master": attrs.get("master")})
    return links


def parse_ip_addr(text):
    """``ip -o addr show`` -> [{interface, family, address, prefix}]."""
    addresses = []
    for line in (text or "").splitlines():
        words = line.split()
        if len(words) < 4 or words[2] not in ("inet", "inet6"):
            continue
        address, _sep, prefix = words[3].partition("/")
        addresses.append({"interface": words[1].rstrip(":").split("@")[0], "family": "ipv4" if words[2] == "inet" else "ipv6",
                          "address": address, "prefix": _int(prefix)})
    return addresses


def parse_route_line(line):
    """One ``ip route`` / ``ip route get`` line -> {type, dst, via, dev, src, table, ...}."""
    words = line.split()
    route = {"type": "unicast"}
    if words and words[0] in ROUTE_TYPES:
        route["type"] = words.pop(0)
    if words:
        route["dst"] = words.pop(0)
    index = 0
    while index < len(words):
        word = words[index]
        if word in ROUTE_KEYWORDS and index + 1 < len(words):
            value = words[index + 1]
            if word == "via" and value in ("inet", "inet6") and index + 2 < len(words):
                index += 1
                value = words[index + 1]
            route[word] = value
            index += 2
        else:
            index += 1
    for key in ("metric", "mtu", "uid"):
        if key in route:
            route[key] = _int(route[key])
    return route


def parse_route_get(text):
    """``ip route get`` output -> the route (its first line; ``cache`` lines are ignored)."""
    lines = [line for line in (text or "").splitlines() if line.strip() and not line.strip().startswith("cache")]
    if not lines:
        return None
    return parse_route_line(lines[0].strip())


def parse_routes(text):
    return [parse_route_line(line.strip()) for line in (text or "").splitlines() if line.strip() and not line.startswith(" ")]


def parse_ip_rules(text):
    """``ip rule show`` -> [{priority, selector, table, action}]."""
    rules = []
    for line in (text or "").splitlines():
        head, sep, rest = line.partition(":")
        if not sep or not head.strip().isdigit():
            continue
        words = rest.split()
        table = None
        action = "lookup"
        for key in ("lookup", "table"):
            if key in words and words.index(key) + 1 < len(words):
                table = words[words.index(key) + 1]
        for other in ("blackhole", "unreachable", "prohibit", "goto", "nop"):
            if other in words:
                action = other
        rules.append({"priority": int(head.strip()), "selector": rest.strip(), "table": table, "action": action})
    return rules


def policy_tables(rules):
    """Routing tables referenced by ip rules other than local/main/default (e.g. strongSwan's 220)."""
    tables = []
    for rule in rules:
        table = rule.get("table")
        if table and table not in ("local", "main", "default", "255", "254", "253") and table not in tables:
            tables.append(table)
    return tables


def first_host(network_text):
    """The address a lookup toward a subnet uses: the first host (the address itself for a host prefix)."""
    net = _addr.parse_network(network_text)
    if net is None:
        return None
    family, value, prefix = _addr.network_base(net)
    bits = _addr.FAMILY_BITS[family]
    if prefix < bits - 1:
        value += 1
    else:
        value = net[1]
    return _addr.format_address(family, value)


def collect_sysctls(read, interfaces):
    """Sysctls that matter for IPsec; ``read(path)`` returns the file text or None.

    Per-interface values are reported beside all/default; ``effective_rp_filter`` is the kernel's
    rule: the maximum of conf/all and conf/<interface>.
    """
    result = {}
    for name, path in GLOBAL_SYSCTLS.items():
        result[name] = _int((read("/proc/sys/" + path) or "").strip())
    conf = {}
    for scope in ["all", "default"] + list(interfaces):
        values = {}
        for key in INTERFACE_SYSCTLS:
            values[key] = _int((read("/proc/sys/net/ipv4/conf/%s/%s" % (scope, key)) or "").strip())
        conf[scope] = values
    result["conf"] = conf
    all_rp = conf["all"].get("rp_filter") or 0
    result["effective_rp_filter"] = dict(
        (name, max(all_rp, conf[name].get("rp_filter") or 0)) for name in interfaces if conf[name].get("rp_filter") is not None)
    return result


def route_lookup(runner, destination, source=None, errors=None):
    """``ip route get destination [from source]`` -> the route, or {error} when the kernel has none."""
    args = ["route", "get", destination]
    if source:
        args += ["from", source]
    entry = {"lookup": destination, "from": source}
    try:
        rc, out, err = runner.run("ip", args, check_rc=False)
    except _command.CommandError as exc:
        if errors is not None:
            errors.append({"source": "ip " + " ".join(args), "kind": "missing" if isinstance(exc, _command.ToolMissing) else "failed",
                           "message": str(exc)})
        entry["error"] = str(exc)
        entry["reachable"] = None
        return entry
    if rc != 0:
        message = (err or out or "").strip()
        entry["error"] = message.replace("RTNETLINK answers: ", "") or "rc=%d" % rc
        entry["reachable"] = False
        return entry
    route = parse_route_get(out)
    if route is None:
        # rc 0 and no route line: the answer was lost, not "no route" (that is rc 2)
        message = "'ip %s' exited 0 but printed no route" % " ".join(args)
        if errors is not None:
            errors.append({"source": "ip " + " ".join(args), "kind": "failed", "message": message})
        entry["error"] = message
        entry["reachable"] = None
        return entry
    entry.update(route)
    entry["reachable"] = route.get("type") not in ("unreachable", "prohibit", "blackhole", "throw")
    return entry


def local_inner_address(addresses, local_subnets):
    """The gateway's own address inside one of its protected subnets (the source of probes), or None."""
    for subnet in local_subnets or []:
        for entry in addresses:
            if _addr.address_in(entry["address"], subnet):
                return entry["address"]
    return None
