# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""libreswan (pluto) to the ``ike`` record: ``ipsec whack --status`` / ``--trafficstatus`` /
``--showstates`` output and ipsec.conf (with ``include``, ``also=``, ``%defaultroute``, ``%any``)
plus ipsec.secrets.

whack output of libreswan 4.x prefixes every line with a three-digit code (``000 ``); 5.x does not.
Both are read. Connection blocks give the configured and the negotiated algorithms (``IKE
algorithms:``, ``IKEv2 algorithm newest:``, ``ESP algorithm newest:``); state lines give the SAs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from collections import OrderedDict

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _ike_record as rec
from ansible_collections.netdoctor.ipsec.plugins.module_utils import _ipsec_conf, _proposals, _psk

_CODE = re.compile(r"^\d{3} ")
_CONN_NAME = r'"(?P<name>[^"]+)"(?P<inst>\[\d+\])?'
_CONN_HEADER = re.compile("^" + _CONN_NAME + r"(?: [^:]*?)?: (?P<spec>\S*\.\.\.\S*)(?:; (?P<rest>.*))?$")
_CONN_LINE = re.compile("^" + _CONN_NAME + r"(?: [^:]*?)?:\s+(?P<body>.*)$")
_STATE = re.compile(r"^#(?P<serial>\d+): " + _CONN_NAME + r"(?P<peer>\s*\S*?)(?::(?P<port>\d+))? (?P<state>"
                    r"(?:STATE_)?[A-Z0-9_]+) \((?P<desc>[^)]*)\);?\s*(?P<rest>.*)$")
_STATE_TRAFFIC = re.compile(r"^#(?P<serial>\d+): " + _CONN_NAME + r".*?(?P<sas>(?:\s(?:esp|ah|comp|tun)\.\S+@\S+)+)\s+Traffic: (?P<traffic>.*)$")
_INTERFACE_OLD = re.compile(r"^interface (?P<dev>\S+) UDP (?P<addr>\S+):(?P<port>\d+)$")
_INTERFACE_NEW = re.compile(r"^interface (?P<dev>\S+) (?P<addr>\S+):UDP/(?P<port>\d+)(?P<nat> \(NAT\))?$")
_TRAFFIC = re.compile(r"^#(?P<serial>\d+): " + _CONN_NAME + r"(?P<peer>[^,]*), (?P<fields>.*)$")
_ESTABLISHED_STATES = ("ESTABLISHED", "MAIN_I4", "MAIN_R3", "AGGR_I2", "AGGR_R2", "QUICK_I2", "QUICK_R2")


def strip_codes(text):
    return [_CODE.sub("", line, count=1) for line in (text or "").splitlines()]


def _addr_id(part):
    """``198.51.100.12[@gw-b.lab,+S=C]`` / ``host<nexthop>[id]---hop`` -> (host, id)."""
    match = re.match(r"^(?P<host>[^\[<]*?)(?:<[^>]*>)?(?:\[(?P<id>[^\]]*)\])?(?:---\S+)?$", part)
    if not match:
        return part, None
    ident = match.group("id")
    if ident:
        ident = ident.split(",")[0]
    return match.group("host"), ident


def _parse_spec(spec):
    """``LSUB===LHOST[LID]...RHOST[RID]===RSUB`` -> dict of the two sides (local first)."""
    left, _sep, right = spec.partition("...")
    lparts = left.split("===")
    rparts = right.split("===")
    lhost, lid = _addr_id(lparts[-1])
    rhost, rid = _addr_id(rparts[0])
    lsub = lparts[0] if len(lparts) > 1 else lhost
    rsub = rparts[-1] if len(rparts) > 1 else rhost
    rsub = rsub.strip("{}")
    return {"local_host": lhost, "local_id": lid, "remote_host": rhost or "%any", "remote_id": rid,
            "local_ts": lsub, "remote_ts": rsub}


def _policy_facts(conn, policy):
    flags = set(policy.replace(";", "").split("+"))
    if "IKEv2" in flags:
        conn["ike_version"] = 2
    elif "IKEv1" in flags:
        conn["ike_version"] = 1
    for flag, auth in (("PSK", "psk"), ("RSASIG", "pubkey"), ("ECDSA", "pubkey"), ("AUTH_NULL", "null"), ("AUTH_NEVER", "never")):
        if flag in flags and not conn["local_auth"]:
            conn["local_auth"] = auth
    conn["aggressive"] = "AGGRESSIVE" in flags
    child = conn["children"][0]
    if "TUNNEL" in flags:
        child["mode"] = "tunnel"
    elif "ENCRYPT" in flags or "AUTHENTICATE" in flags:
        child["mode"] = "transport"
    elif "PASS" in flags:
        child["mode"] = "pass"
    child["pfs"] = "PFS" in flags
    child["sha256_96"] = "SHA2_TRUNCBUG" in flags
    child["ipcomp"] = "COMPRESS" in flags
    child["protocol"] = "ah" if "AUTHENTICATE" in flags and "ENCRYPT" not in flags else "esp"
    if "UP" in flags:
        child["start_action"] = "start"
    elif "ROUTE" in flags:
        child["start_action"] = "trap"
    conn["extra"]["policy"] = policy.strip().rstrip(";")
    esn = [name for flag, name in (("ESN_YES", "ESN"), ("ESN_NO", "NO_ESN")) if flag in flags]
    conn["extra"]["esn"] = esn


def _kv(body):
    """``a: 1; b:2; c=3`` -> dict (keys as written)."""
    out = OrderedDict()
    for part in body.split(";"):
        part = part.strip()
        if not part:
            continue
        match = re.match(r"^([\w\- ]+?)\s*[:=]\s*(.*)$", part)
        if match:
            out[match.group(1).strip()] = match.group(2).strip()
    return out


def _conn_body(conn, body, problems):
    child = conn["children"][0]
    if body.startswith("policy:"):
        _policy_facts(conn, body[len("policy:"):].strip())
        return True
    if body.startswith("IKE algorithms:"):
        conn["ike_proposals_text"] = body.split(":", 1)[1].strip()
        conn["ike_proposals"], found = _proposals.parse_libreswan_names(conn["ike_proposals_text"], "ike")
        problems.extend(found)
        return True
    if body.startswith(("ESP algorithms:", "AH algorithms:")):
        child["esp_proposals_text"] = body.split(":", 1)[1].strip()
        child["esp_proposals"], found = _proposals.parse_libreswan_names(child["esp_proposals_text"], "esp")
        for proposal in child["esp_proposals"]:
            proposal["esn"] = list(conn["extra"].get("esn") or [])
        problems.extend(found)
        return True
    if body.startswith(("IKEv2 algorithm newest:", "IKEv1 algorithm newest:", "IKE algorithm newest:")):
        conn["extra"]["ike_newest"] = body.split(":", 1)[1].strip()
        return True
    if body.startswith(("ESP algorithm newest:", "AH algorithm newest:")):
        conn["extra"]["esp_newest"] = body.split(":", 1)[1].strip()
        return True
    if body.startswith("newest IKE SA:") or body.startswith("routing:"):
        fields = _kv(body)
        for key in ("newest IKE SA", "established IKE SA"):
            if fields.get(key, "#0") != "#0":
                conn["extra"]["newest_ike_sa"] = fields[key].lstrip("#")
        for key in ("newest IPsec SA", "established Child SA"):
            if fields.get(key, "#0") != "#0":
                conn["extra"]["newest_child_sa"] = fields[key].lstrip("#")
        if "routing" in fields:
            conn["extra"]["routing"] = fields["routing"]
        return True
    fields = _kv(body.replace(", ", "; "))
    if "our id" in fields or "their id" in fields:
        conn["local_id"] = fields.get("our id", conn["local_id"])
        conn["remote_id"] = fields.get("their id", conn["remote_id"])
        if conn["remote_id"] in ("(none)", "%none"):
            conn["remote_id"] = "%any"
        return True
    if "our auth" in fields:
        auth = {"secret": "psk", "rsasig": "pubkey", "ecdsa": "pubkey", "null": "null", "never": "never"}
        conn["local_auth"] = auth.get(fields["our auth"], fields["our auth"])
        conn["remote_auth"] = auth.get(fields.get("their auth", ""), fields.get("their auth"))
        return True
    if "ike_life" in fields:
        conn["lifetimes"]["ike_lifetime"] = rec.seconds(fields["ike_life"])
        margin = rec.seconds(fields.get("rekey_margin")) or 0
        conn["lifetimes"]["ike_rekey"] = (conn["lifetimes"]["ike_lifetime"] or 0) - margin or None
        child["lifetimes"]["lifetime"] = rec.seconds(fields.get("ipsec_life"))
        child["lifetimes"]["rekey"] = (child["lifetimes"]["lifetime"] or 0) - margin or None
        return True
    if "liveness" in fields or "dpddelay" in fields:
        conn["dpd"]["delay"] = rec.seconds(fields.get("dpddelay"))
        conn["dpd"]["timeout"] = rec.seconds(fields.get("dpdtimeout"))
        conn["dpd"]["action"] = fields.get("dpdaction") or ("restart" if fields.get("liveness") == "active" else None)
        child["dpd_action"] = conn["dpd"]["action"]
        return True
    if body.startswith("nat-traversal:"):
        encap = fields.get("nat-traversal: encapsulation") or fields.get("nat-traversal: encaps") or ""
        conn["encap"] = {"yes": True, "no": False}.get(encap.strip(), None)
        conn["extra"]["encapsulation"] = encap.strip() or None
        return True
    if "conn_prio" in fields or "mark" in fields or "xauth us" in fields or "modecfg info" in fields:
        return True
    return bool(fields)


def parse_whack_status(text):
    """``ipsec whack --status`` -> ``{version, interfaces, connections, sas, setup, warnings, unparsed}``."""
    result = {"version": None, "interfaces": [], "connections": [], "sas": [], "setup": OrderedDict(),
              "warnings": [], "unparsed": []}
    conns = OrderedDict()
    states = OrderedDict()
    head_other = []
    section = "head"
    for line in strip_codes(text):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("Connection list:"):
            section = "conns"
            continue
        if stripped.startswith(("State Information", "State list:")):
            section = "states"
            continue
        if stripped.startswith(("Bare Shunt list", "Total IPsec connections")):
            section = "tail" if stripped.startswith("Bare") else section
            continue
        if section == "head" and (_CONN_HEADER.match(stripped) or _STATE.match(stripped)):
            section = "conns"
        if section == "head":
            if not _head_line(result, stripped):
                head_other.append(stripped)
            continue
        if section == "conns" and _status_conn_line(conns, stripped, result["warnings"]):
            continue
        if section in ("states", "conns") and _state_line(states, stripped):
            continue
        if section == "states" and stripped.startswith(("IKE SAs:", "IPsec SAs:")):
            continue
        if section == "tail":
            continue
        result["unparsed"].append(stripped)
    result["connections"] = [rec.finish_connection(c) for c in conns.values()]
    result["sas"] = sas_from_states(states, conns)
    if head_other and not (result["interfaces"] or result["version"] or conns or states):
        result["unparsed"] = head_other + result["unparsed"]
        result["warnings"].append("this does not look like whack --status output")
    result["warnings"].extend(rec.unparsed_warnings(result["unparsed"], "whack --status output"))
    return result


def _head_line(result, line):
    for pattern, nat in ((_INTERFACE_OLD, None), (_INTERFACE_NEW, True)):
        match = pattern.match(line)
        if match:
            result["interfaces"].append({"interface": match.group("dev"), "address": match.group("addr").strip("[]"),
                                         "port": int(match.group("port")),
                                         "nat": bool(nat and match.group("nat")) or match.group("port") == "4500"})
            return True
    version = re.search(r"pluto_version=([^,\s]+)", line)
    if version:
        result["version"] = version.group(1)
    pairs = re.findall(r"([\w\-]+)=([^,\s]+)", line)
    for key, value in pairs:
        if key in ("ikev1-policy", "uniqueids", "listen", "nat-traversal", "keep-alive", "nat-ikeport", "plutodebug"):
            result["setup"][key] = value
    return bool(pairs) or line.endswith(":") or line.startswith(("using kernel", "algorithm ", "stats ", "debug"))


def _status_conn_line(conns, line, warnings):
    header = _CONN_HEADER.match(line)
    if header and "===" in line or header and "..." in (header.group("spec") or ""):
        name = header.group("name") + (header.group("inst") or "")
        conn = rec.connection(name, "daemon")
        conn["loaded"] = True
        conn["ike_strict"] = True
        conn["children"].append(rec.child_config(name))
        spec = _parse_spec(header.group("spec"))
        conn["local_addrs"] = [spec["local_host"]]
        conn["remote_addrs"] = [spec["remote_host"]]
        conn["local_id"], conn["remote_id"] = spec["local_id"], spec["remote_id"]
        conn["children"][0]["local_ts"] = rec.normalize_ts_list([spec["local_ts"]])
        conn["children"][0]["remote_ts"] = rec.normalize_ts_list([spec["remote_ts"]])
        if header.group("rest"):
            conn["extra"]["state"] = header.group("rest").strip().rstrip(";")
        conns[name] = conn
        return True
    match = _CONN_LINE.match(line)
    if match:
        name = match.group("name") + (match.group("inst") or "")
        conn = conns.get(name)
        if conn is None:
            return False
        return _conn_body(conn, match.group("body").strip(), warnings)
    return False


def _state_line(states, line):
    if re.match(r'^#\d+: pending (?:Phase 2|Child SA) for "', line):
        return True
    match = _STATE_TRAFFIC.match(line)
    if match:
        state = states.setdefault(match.group("serial"), {"serial": match.group("serial")})
        state["sas_text"] = match.group("sas").strip()
        state["traffic"] = _kv(match.group("traffic").replace(" ", ";"))
        return True
    match = _STATE.match(line)
    if match:
        state = states.setdefault(match.group("serial"), {"serial": match.group("serial")})
        state["name"] = match.group("name") + (match.group("inst") or "")
        state["port"] = match.group("port")
        state["state"] = match.group("state")
        state["description"] = match.group("desc")
        rest = match.group("rest") or ""
        state["rest"] = rest
        parent = re.search(r"(?:IKE SA|isakmp)#?\s*#?(\d+)", rest)
        if parent:
            state["parent"] = parent.group(1)
        return True
    return False


def _is_child_state(state):
    text = state.get("state", "") + " " + state.get("description", "")
    return bool(re.search(r"CHILD|QUICK|IPsec SA|Child SA", text))


def _esp_spis(sas_text, local_hosts):
    """``esp.SPI@peer esp.SPI@me`` -> (spi_in, spi_out, proto, encap)."""
    spi_in = spi_out = None
    proto = "esp"
    for kind, spi, dest in re.findall(r"(esp|ah)\.([0-9a-fA-F]+)@(\S+)", sas_text or ""):
        proto = kind
        if dest in local_hosts:
            spi_in = rec.spi_hex(spi)
        else:
            spi_out = rec.spi_hex(spi)
    return spi_in, spi_out, proto


def sas_from_states(states, conns):
    """IKE SA records (with their child SAs) from whack state lines and the connections' "newest" algorithms."""
    ike_sas = OrderedDict()
    children = []
    for serial, state in states.items():
        if "state" not in state:
            continue
        if _is_child_state(state):
            children.append(state)
            continue
        sa = rec.ike_sa(state["name"])
        sa["uniqueid"] = serial
        sa["state"] = state["state"]
        sa["established"] = any(token in state["state"] for token in _ESTABLISHED_STATES)
        sa["ike_version"] = 2 if "V2" in state["state"] or "IKE_SA" in state["description"] else 1
        sa["initiator"] = _initiator(state["state"])
        sa["rekey_in"] = _seconds_after(state.get("rest", ""), ("REKEY in", "EVENT_v2_REKEY in", "EVENT_SA_REPLACE in"))
        sa["remote_port"] = rec.to_int(state.get("port"))
        conn = conns.get(state["name"])
        if conn:
            sa["local_host"] = _first(conn["local_addrs"])
            sa["remote_host"] = _first(conn["remote_addrs"])
            sa["local_id"], sa["remote_id"] = conn["local_id"], conn["remote_id"]
            if conn["extra"].get("newest_ike_sa") == serial and conn["extra"].get("ike_newest"):
                proposals, _p = _proposals.parse_libreswan_names(conn["extra"]["ike_newest"], "ike")
                sa["proposal"] = proposals[0] if proposals else None
        if sa["ike_version"] == 1 and sa["remote_port"]:
            sa["nat"]["detected"] = sa["remote_port"] == 4500
        ike_sas[serial] = sa
    for state in children:
        child = rec.child_sa(state["name"])
        child["uniqueid"] = state["serial"]
        child["state"] = state["state"]
        child["installed"] = any(token in state["state"] for token in _ESTABLISHED_STATES)
        conn = conns.get(state["name"])
        local_hosts = set(conn["local_addrs"]) if conn else set()
        child["spi_in"], child["spi_out"], child["protocol"] = _esp_spis(state.get("sas_text"), local_hosts)
        traffic = state.get("traffic") or {}
        child["bytes_in"] = _bytes(traffic.get("ESPin") or traffic.get("AHin"))
        child["bytes_out"] = _bytes(traffic.get("ESPout") or traffic.get("AHout"))
        child["rekey_in"] = _seconds_after(state.get("rest", ""), ("REKEY in", "EVENT_SA_REPLACE in"))
        if conn:
            child["mode"] = conn["children"][0]["mode"]
            child["local_ts"] = list(conn["children"][0]["local_ts"])
            child["remote_ts"] = list(conn["children"][0]["remote_ts"])
            if conn["extra"].get("newest_child_sa") == state["serial"] and conn["extra"].get("esp_newest"):
                child["proposal"] = _newest_esp(conn["extra"]["esp_newest"])
        parent = ike_sas.get(state.get("parent")) or _sa_by_name(ike_sas, state["name"])
        if parent is None:
            parent = rec.ike_sa(state["name"])
            parent["state"] = "UNKNOWN"
            ike_sas["child-" + state["serial"]] = parent
        parent["children"].append(child)
    return list(ike_sas.values())


def _newest_esp(text):
    """``AES_GCM_16_256-NONE; pfsgroup=<Phase1>`` -> proposal (a pfsgroup other than <Phase1>/<N/A> is the DH)."""
    algs, _sep, rest = text.partition(";")
    proposals, _p = _proposals.parse_libreswan_names(algs.strip(), "esp")
    proposal = proposals[0] if proposals else None
    group = re.search(r"pfsgroup=([^;\s]+)", rest)
    if proposal is not None and group and not group.group(1).startswith("<"):
        dh = _proposals.canonical_dh(group.group(1))
        if dh:
            proposal["dh"] = [dh]
    return proposal


def _sa_by_name(ike_sas, name):
    for sa in reversed(list(ike_sas.values())):
        if sa["name"] == name:
            return sa
    return None


def _initiator(state):
    match = re.search(r"_(I|R)\d*(?:_|$)", state)
    if match:
        return match.group(1) == "I"
    return None


def _seconds_after(text, prefixes):
    for prefix in prefixes:
        match = re.search(re.escape(prefix) + r"\s*(\d+)s", text)
        if match:
            return int(match.group(1))
    return None


def _bytes(value):
    if not value:
        return None
    match = re.match(r"^(\d+)B?$", value)
    return int(match.group(1)) if match else None


def _first(values):
    return values[0] if values else None


def parse_showstates(text):
    """``ipsec showstates`` / ``whack --showstates``: the state lines alone -> SA records (no connection data)."""
    states = OrderedDict()
    unparsed = []
    for line in strip_codes(text):
        stripped = line.strip()
        if stripped and not _state_line(states, stripped):
            unparsed.append(stripped)
    return sas_from_states(states, {}), unparsed


def parse_trafficstatus(text):
    """``ipsec whack --trafficstatus`` -> (``[{serial, name, type, add_time, bytes_in, bytes_out, max_bytes, id, username, lease, peer}]``, unparsed)."""
    entries, unparsed = [], []
    for line in strip_codes(text):
        stripped = line.strip()
        if not stripped:
            continue
        match = _TRAFFIC.match(stripped)
        if not match:
            unparsed.append(stripped)
            continue
        fields = OrderedDict()
        for key, value in re.findall(r"(\w+)=('[^']*'|[^,]*)", match.group("fields")):
            fields[key] = value.strip("'")
        entries.append({
            "serial": match.group("serial"),
            "name": match.group("name") + (match.group("inst") or ""),
            "peer": match.group("peer").strip() or None,
            "type": fields.get("type"),
            "add_time": rec.to_int(fields.get("add_time")),
            "bytes_in": rec.to_int(fields.get("inBytes")),
            "bytes_out": rec.to_int(fields.get("outBytes")),
            "max_bytes": fields.get("maxBytes"),
            "id": fields.get("id"),
            "username": fields.get("username"),
            "lease": fields.get("lease"),
        })
    return entries, unparsed


def apply_traffic(sas, traffic):
    """Put trafficstatus byte counters on the matching child SAs (by serial)."""
    by_serial = dict((entry["serial"], entry) for entry in traffic)
    for sa in sas:
        for child in sa["children"]:
            entry = by_serial.get(child["uniqueid"])
            if entry:
                child["bytes_in"] = entry["bytes_in"]
                child["bytes_out"] = entry["bytes_out"]
    return sas


# --- ipsec.conf (libreswan meaning) -----------------------------------------------------------------

AUTO_TO_START = {"add": "none", "start": "start", "up": "start", "ondemand": "trap", "route": "trap", "ignore": None, "keep": "none"}
AUTHBY = {"secret": "psk", "rsasig": "pubkey", "ecdsa": "pubkey", "rsa-sha2": "pubkey", "rsa-sha1": "pubkey",
          "null": "null", "never": "never"}


def _ike_version(params):
    keyexchange = (params.get("keyexchange") or "").lower()
    if keyexchange in ("ikev1", "ikev2"):
        return int(keyexchange[-1])
    ikev2 = (params.get("ikev2") or "yes").lower()
    return 1 if ikev2 in ("no", "never") else 2


def _auth(params, side):
    value = params.get(side + "auth") or (params.get("authby") or "rsasig,ecdsa").split(",")[0]
    value = value.lower()
    return AUTHBY.get(value, value)


def _subnets(params, side):
    values = params.get(side + "subnets") or params.get(side + "subnet")
    if not values:
        host = params.get(side, "")
        values = host if host and not host.startswith("%") else "dynamic"
    return _ipsec_conf.with_protoport(rec.normalize_ts_list([values]), params, side)


def connection_from_params(name, params, local_addresses=None, source="ipsec.conf"):
    """One resolved libreswan conn section as a connection record."""
    problems = []
    local, remote = _orient(params, local_addresses)
    conn = rec.connection(name, source)
    conn["ike_version"] = _ike_version(params)
    conn["local_addrs"] = [params.get(local) or "%defaultroute"]
    conn["remote_addrs"] = [params.get(remote) or "%any"]
    _ipsec_conf.set_identities(conn, params, local, remote, _auth)
    ike_text = params.get("ike", "")
    conn["ike_proposals_text"] = ike_text or "default"
    conn["ike_proposals"], found = _proposals.parse_libreswan(ike_text, "ike")
    problems.extend(found)
    conn["ike_strict"] = True
    conn["aggressive"] = bool(rec.yes_no(params.get("aggressive", params.get("aggrmode", "no"))))
    encap = (params.get("encapsulation") or params.get("forceencaps") or "auto").lower()
    conn["encap"] = {"yes": True, "no": False}.get(encap)
    conn["extra"]["encapsulation"] = encap
    conn["mobike"] = bool(rec.yes_no(params.get("mobike", "no")))
    conn["fragmentation"] = (params.get("fragmentation") or "yes").lower()
    conn["dpd"] = {"delay": rec.seconds(params.get("dpddelay", "0")), "timeout": rec.seconds(params.get("dpdtimeout")),
                   "action": (params.get("dpdaction") or "hold").lower()}
    ike_life = rec.seconds(params.get("ikelifetime", "8h"))
    margin = rec.seconds(params.get("rekeymargin", "9m"))
    conn["lifetimes"] = {"ike_rekey": ike_life - margin if ike_life and margin else ike_life, "ike_reauth": 0, "ike_lifetime": ike_life}
    child = rec.child_config(name)
    phase2 = (params.get("phase2") or "esp").lower()
    child["protocol"] = "ah" if phase2 == "ah" else "esp"
    esp_text = params.get("esp") or params.get("phase2alg") or params.get("ah") or ""
    child["esp_proposals_text"] = esp_text or "default"
    child["esp_proposals"], found = _proposals.parse_libreswan(esp_text, child["protocol"])
    problems.extend(found)
    esn = (params.get("esn") or "either").lower()
    esn_names = {"yes": ["ESN"], "no": ["NO_ESN"], "either": ["ESN", "NO_ESN"]}.get(esn, ["NO_ESN"])
    for proposal in child["esp_proposals"]:
        proposal["esn"] = list(esn_names)
    child["pfs"] = bool(rec.yes_no(params.get("pfs", "yes")))
    child["local_ts"] = _subnets(params, local)
    child["remote_ts"] = _subnets(params, remote)
    child["mode"] = (params.get("type") or "tunnel").lower()
    auto = (params.get("auto") or "ignore").lower()
    child["start_action"] = AUTO_TO_START.get(auto, auto)
    child["dpd_action"] = conn["dpd"]["action"]
    child["sha256_96"] = bool(rec.yes_no(params.get("sha2-truncbug", params.get("sha2_truncbug", "no"))))
    child["ipcomp"] = bool(rec.yes_no(params.get("compress", "no")))
    child["reqid"] = rec.to_int(params.get("reqid"))
    life = rec.seconds(params.get("salifetime", params.get("lifetime", "8h")))
    child["lifetimes"] = {"rekey": life - margin if life and margin else life, "lifetime": life, "rekey_bytes": None, "life_bytes": None}
    for key in ("leftsourceip", "rightsourceip", "narrowing", "vti-interface", "ipsec-interface", "mark"):
        if key in params:
            child["extra"][key] = params[key]
    conn["children"].append(child)
    if auto == "ignore":
        conn["extra"]["auto"] = "ignore"
    return rec.finish_connection(conn), problems


def _orient(params, local_addresses):
    """As ``_ipsec_conf.orientation``; without our addresses, pluto's %defaultroute side is local."""
    if not local_addresses and params.get("right") == "%defaultroute" and params.get("left") != "%defaultroute":
        return "right", "left"
    return _ipsec_conf.orientation(params, local_addresses)


def parse_ipsec_conf(text, path=None, loader=None, local_addresses=None):
    """libreswan ipsec.conf -> ``{connections, warnings, unparsed, setup}`` (``auto=ignore`` templates skipped)."""
    return _ipsec_conf.parse_connections(text, connection_from_params, path, loader, local_addresses)


# --- merge and gather ----------------------------------------------------------------------------

def merge(loaded, configured, warnings, daemon_answered):
    """pluto's connections completed from ipsec.conf (start action, ESN, lifetimes it does not print)."""
    by_name = dict((c["name"], c) for c in configured)
    merged = []
    for conn in loaded:
        base = conn["name"].split("[")[0]
        conf = by_name.get(base)
        if conf is not None:
            conn["source"] = "daemon+config"
            by_name.pop(base, None)
            child, conf_child = conn["children"][0], conf["children"][0]
            if child["start_action"] is None:
                child["start_action"] = conf_child["start_action"]
            if child["esp_proposals"] is None:
                child["esp_proposals"] = conf_child["esp_proposals"]
                child["esp_proposals_text"] = conf_child["esp_proposals_text"]
            for proposal in child["esp_proposals"] or []:
                if not proposal["esn"]:
                    proposal["esn"] = list(conf_child["esp_proposals"][0]["esn"]) if conf_child["esp_proposals"] else []
            if conn["ike_proposals"] is None:
                conn["ike_proposals"] = conf["ike_proposals"]
                conn["ike_proposals_text"] = conf["ike_proposals_text"]
            conn["ike_proposals_text"] = conf["ike_proposals_text"] if conf["ike_proposals_text"] != "default" else conn["ike_proposals_text"]
            child["esp_proposals_text"] = conf_child["esp_proposals_text"]
            child["reqid"] = child["reqid"] or conf_child["reqid"]
            child["extra"].update(conf_child["extra"])
            conn["mobike"] = conf["mobike"]
            conn["fragmentation"] = conf["fragmentation"]
            conn["extra"]["config_dpd_action"] = conf["dpd"]["action"]
        merged.append(rec.finish_connection(conn))
    for conn in configured:
        if conn["name"] in by_name:
            if conn["extra"].get("auto") == "ignore":
                conn["loaded"] = False
            else:
                rec.mark_not_loaded(conn, daemon_answered, warnings, "in ipsec.conf but not loaded in pluto")
            merged.append(conn)
    return merged


def gather(ctx):
    """The libreswan record of this gateway (whack output + ipsec.conf/ipsec.secrets)."""
    record = rec.daemon_record("libreswan")
    ctx.host_state(record, "libreswan")
    tool = "whack" if ctx.runner.has("whack") else "ipsec"
    prefix = [] if tool == "whack" else ["whack"]
    status = ctx.run(record, tool, prefix + ["--status"], "whack --status") if ctx.runner.has(tool) else None
    loaded, sas = [], []
    if status is not None:
        parsed = parse_whack_status(status)
        record["sources"].append("command:whack --status")
        record["version"] = parsed["version"]
        record["warnings"].extend(parsed["warnings"])
        record["unparsed"].extend(parsed["unparsed"])
        loaded, sas = parsed["connections"], parsed["sas"]
        record["extra_setup"] = parsed["setup"]
        traffic_text = ctx.run(record, tool, prefix + ["--trafficstatus"], "whack --trafficstatus")
        if traffic_text is not None:
            traffic, unparsed = parse_trafficstatus(traffic_text)
            apply_traffic(sas, traffic)
            record["unparsed"].extend(unparsed)
    elif record["running"]:
        record["errors"].append("pluto runs but whack --status failed: live SAs unknown")
    configured, secrets = [], []
    if ctx.options.get("read_config", True):
        # Our addresses orient ipsec.conf's left/right; they are read first, with or without the file.
        ctx.local_addresses(record)
        conf_path, configured = ctx.ipsec_conf(record, parse_ipsec_conf)
        if conf_path:
            record["sources"].append("file:%s" % conf_path)
        secrets_path, secrets = ctx.ipsec_secrets(record)
        if secrets_path:
            record["sources"].append("file:%s" % secrets_path)
    record.pop("extra_setup", None)
    record["connections"] = merge(loaded, configured, record["warnings"], status is not None)
    record["sas"] = sas
    record["secrets"] = secrets
    record["warnings"].extend(_psk.attach_to_connections(record["connections"], secrets, sas, "libreswan"))
    if not record["version"]:
        record["version"] = ctx.tool_version("ipsec", ["--version"], r"Libreswan (\S+)")
    return record
