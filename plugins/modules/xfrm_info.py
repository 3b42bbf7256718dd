#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: xfrm_info
short_description: Read the kernel's IPsec state (SAD), policies (SPD) and xfrm error counters
version_added: 0.1.0
description:
  - Reads the Linux kernel's IPsec security associations (the SAD, C(ip xfrm state)), security
    policies (the SPD, C(ip xfrm policy), including per-socket policies) and the xfrm error counters
    of C(/proc/net/xfrm_stat), in the network namespace the module runs in.
  - The primary reader talks to the kernel's XFRM netlink interface directly with the Python standard
    library. When netlink is not usable (no permission, an interface layout the module does not know)
    it parses C(ip -s -s xfrm state) and C(ip -s -s xfrm policy) instead and says so in RV(backend).
    Both readers return the same records for the same kernel state.
  - SA keys never leave the gateway by default; each key is replaced by a salted fingerprint
    (see O(fingerprint_salt)), so the controller can check that one side's outbound SA carries the
    same keys as the other side's inbound SA.
  - Read-only; needs root (C(CAP_NET_ADMIN)) to see the SAs.
extends_documentation_fragment:
  - netdoctor.ipsec._attributes
  - netdoctor.ipsec._attributes.info_module
  - netdoctor.ipsec._attributes.idempotent_not_modify_state
  - netdoctor.ipsec._fingerprint
options:
  backend:
    description:
      - How to read the kernel tables.
      - V(auto) uses netlink and falls back to the C(ip) text when netlink is not usable.
      - V(netlink) and V(text) force one reader; a failure is then reported in RV(errors).
    type: str
    choices: [auto, netlink, text]
    default: auto
  gather:
    description:
      - Which tables to read.
    type: list
    elements: str
    choices: [states, policies, stat]
    default: [states, policies, stat]
  include_keys:
    description:
      - Also return the raw SA keys (in RV(xfrm.states[].raw_keys)), for example to write a Wireshark
        C(esp_sa) file with the P(netdoctor.ipsec.to_esp_sa#filter) filter.
      - "Anyone who can read the result can decrypt the tunnel's traffic. Set C(no_log: true) on the
        task and write files with mode C(0600)."
    type: bool
    default: false
  local_addresses:
    description:
      - Addresses of this gateway, in addition to those configured on its interfaces, for telling
        inbound from outbound SAs (for example a public address NATed to the gateway).
    type: list
    elements: str
    default: []
notes:
  - Times (RV(xfrm.states[].current.add_time) and the like) are seconds since the epoch. The text
    reader converts the local times C(ip) prints with the gateway's time zone.
  - A few values C(ip) does not print (RV(xfrm.states[].mapping_maxage),
    RV(xfrm.states[].nat_keepalive_interval)) are V(null) with the text reader.
seealso:
  - plugin: netdoctor.ipsec.parse_xfrm_state
    plugin_type: filter
  - plugin: netdoctor.ipsec.parse_xfrm_policy
    plugin_type: filter
  - plugin: netdoctor.ipsec.to_esp_sa
    plugin_type: filter
author:
  - netdoctor.ipsec contributors (@netdoctor-ipsec)
"""

EXAMPLES = r"""
- name: Read SAs, policies and xfrm counters, keys as fingerprints under the run's salt
  netdoctor.ipsec.xfrm_info:
    fingerprint_salt: "{{ netdoctor_salt }}"
  register: xfrm

- name: Inbound SAs whose integrity check fails
  ansible.builtin.debug:
    msg: "{{ xfrm.xfrm.states | selectattr('direction', 'eq', 'in') | selectattr('stats.integrity_failed', 'gt', 0) }}"

- name: Raw keys for a Wireshark esp_sa file (never logged)
  netdoctor.ipsec.xfrm_info:
    include_keys: true
    gather: [states]
  register: xfrm_keys
  no_log: true
"""

RETURN = r"""
backend:
  description: The reader that produced the records.
  returned: always
  type: str
  choices: [netlink, text]
  sample: netlink
local_addresses:
  description: The addresses this gateway counts as its own (interfaces plus O(local_addresses)).
  returned: always
  type: list
  elements: str
  sample: [127.0.0.1, 192.0.2.1, 10.1.0.1]
errors:
  description: What could not be read, and why (the rest was still read).
  returned: always
  type: list
  elements: str
  sample: ["'ip -s -s xfrm state' failed with rc=2: RTNETLINK answers: Operation not permitted"]
unparsed:
  description: Text-reader lines outside any state or policy block (keys redacted). Empty with netlink.
  returned: always
  type: list
  elements: str
  sample: []
xfrm:
  description: The kernel's IPsec tables.
  returned: always
  type: dict
  contains:
    states:
      description:
        - The security associations, in kernel order. An empty list when none exist or they were not
          gathered.
        - Numbers that the input did not spell as numbers (sanitized pastes read by the filter) are
          kept as text and the line is listed in RV(xfrm.states[].unparsed).
      type: list
      elements: dict
      contains:
        src:
          description: Outer source address.
          type: str
          sample: 192.0.2.1
        dst:
          description: Outer destination address.
          type: str
          sample: 192.0.2.2
        family:
          description: Address family of the outer addresses.
          type: int
          choices: [4, 6]
        proto:
          description: IPsec protocol (C(esp), C(ah), C(comp), C(route2), C(hao), or the number).
          type: str
          sample: esp
        spi:
          description: SPI as C(0x%08x) text (the spelling Wireshark compares).
          type: str
          sample: "0xc8e2bf74"
        reqid:
          description: Request id that links the SA to its policies' templates.
          type: int
          sample: 1
        mode:
          description: C(transport), C(tunnel), C(beet), C(ro), C(in_trigger) (or the number).
          type: str
          sample: tunnel
        direction:
          description:
            - C(in) when only the destination is a local address, C(out) when only the source is;
              otherwise the kernel's SA direction (RV(xfrm.states[].sa_dir)) when set, else C(unknown).
          type: str
          choices: [in, out, unknown]
        sa_dir:
          description: The SA direction attribute (Linux 6.10+, C(ip ... dir in|out)), or null.
          type: str
          sample: null
        enc:
          description: Encryption algorithm (C(enc) line), or null.
          type: dict
          contains:
            name:
              description: Kernel name.
              type: str
              sample: cbc(aes)
            canonical:
              description: Canonical name (collection vocabulary), null when unknown.
              type: str
              sample: AES_CBC_256
            key_bits:
              description: Key length in bits, including any salt/nonce the kernel keeps in the key.
              type: int
              sample: 256
        auth:
          description: Integrity algorithm (C(auth-trunc) or C(auth) line), or null.
          type: dict
          contains:
            name:
              description: Kernel name.
              type: str
              sample: hmac(sha256)
            canonical:
              description: Canonical name with the truncation, null when unknown.
              type: str
              sample: HMAC_SHA2_256_128
            key_bits:
              description: Key length in bits.
              type: int
              sample: 256
            trunc_bits:
              description:
                - ICV length in bits. For an C(auth) line without truncation (old output), the kernel's
                  default (96 for hmac(sha256), the pre-RFC 4868 draft).
              type: int
              sample: 128
        aead:
          description: AEAD algorithm (C(aead) line), or null.
          type: dict
          contains:
            name:
              description: Kernel name.
              type: str
              sample: rfc4106(gcm(aes))
            canonical:
              description: Canonical name (ICV octets, then key bits without the salt).
              type: str
              sample: AES_GCM_16_256
            key_bits:
              description: Key length in bits including the 32-bit salt.
              type: int
              sample: 288
            icv_bits:
              description: ICV length in bits.
              type: int
              sample: 128
        comp:
          description: IPComp algorithm, or null.
          type: dict
          contains:
            name:
              description: Kernel name.
              type: str
              sample: deflate
        icv_bits:
          description: ICV length in bits (from the AEAD or the integrity algorithm), null without either.
          type: int
          sample: 96
        key_fingerprints:
          description:
            - Fingerprint of each key (C(enc), C(auth), C(aead)), HMAC-SHA-256 under O(fingerprint_salt).
              Equal fingerprints under one salt mean equal keys. Key-less algorithms have none.
          type: dict
          sample: {enc: "hmac-sha256:0c5b0d2e4f1e9a8b7c6d5e4f3a2b1c0d", auth: "hmac-sha256:9f8e7d6c5b4a39281706f5e4d3c2b1a0"}
        raw_keys:
          description: Raw keys as C(0x) hex, per algorithm kind (C(enc), C(auth), C(aead)). Secret.
          returned: when O(include_keys=true)
          type: dict
          sample: {aead: "0x<hex>"}
        encap:
          description: UDP/TCP encapsulation (NAT traversal), or null.
          type: dict
          contains:
            type:
              description: C(espinudp), C(espinudp-nonike), C(espintcp) (or the number).
              type: str
              sample: espinudp
            sport:
              description: Source port.
              type: int
              sample: 4500
            dport:
              description: Destination port.
              type: int
              sample: 4500
            oa:
              description: Original address (NAT-OA).
              type: str
              sample: 0.0.0.0
        esn:
          description: Extended sequence numbers are on (C(flag esn)).
          type: bool
        flags:
          description:
            - State flags as C(ip) names them (C(noecn), C(decap-dscp), C(nopmtudisc), C(wildrecv), C(icmp),
              C(af-unspec), C(align4), C(esn)); unknown bits as hex.
          type: list
          elements: str
          sample: [af-unspec]
        extra_flags:
          description: Extra flags (C(dont-encap-dscp), C(oseq-may-wrap)), null when the kernel sent none.
          type: list
          elements: str
          sample: null
        replay_window:
          description: The replay window of the SA header (libreswan sets 0 here and uses the ESN block).
          type: int
          sample: 32
        replay:
          description: Anti-replay state, or null.
          type: dict
          contains:
            esn_context:
              description: The kernel keeps an ESN-style replay context (C(anti-replay esn context)).
              type: bool
            window:
              description: Effective replay window in packets.
              type: int
              sample: 128
            seq:
              description: Highest sequence number received (inbound).
              type: int
            oseq:
              description: Last sequence number sent (outbound).
              type: int
            seq_hi:
              description: High 32 bits of the inbound sequence number (ESN context), else null.
              type: int
            oseq_hi:
              description: High 32 bits of the outbound sequence number (ESN context), else null.
              type: int
            bitmap_length:
              description: Number of 32-bit bitmap words (ESN context), else null.
              type: int
            bitmap:
              description: Replay bitmap as hex, most significant word first.
              type: str
              sample: "00000007"
        seq:
          description: Sequence number of the netlink/PF_KEY request that made the SA (C(seq) of C(ip -s)).
          type: int
        lifetime:
          description: Configured limits (null means unlimited), or null when the input had none.
          type: dict
          contains:
            soft_bytes:
              description: Soft byte limit.
              type: int
            hard_bytes:
              description: Hard byte limit.
              type: int
            soft_packets:
              description: Soft packet limit.
              type: int
            hard_packets:
              description: Hard packet limit.
              type: int
            soft_add_seconds:
              description: Soft expiry after creation, 0 for none.
              type: int
              sample: 3030
            hard_add_seconds:
              description: Hard expiry after creation, 0 for none.
              type: int
              sample: 3600
            soft_use_seconds:
              description: Soft expiry after first use, 0 for none.
              type: int
            hard_use_seconds:
              description: Hard expiry after first use, 0 for none.
              type: int
        current:
          description: Current counters, or null when the input had none.
          type: dict
          contains:
            bytes:
              description: Bytes processed by the SA.
              type: int
              sample: 504
            packets:
              description: Packets processed by the SA.
              type: int
              sample: 6
            add_time:
              description: Creation time, seconds since the epoch.
              type: int
              sample: 1795843513
            use_time:
              description: First use, seconds since the epoch; null when never used.
              type: int
        lastused:
          description: Last use, seconds since the epoch; null when not reported.
          type: int
        stats:
          description: Per-SA error counters, or null when the input had none.
          type: dict
          contains:
            replay_window:
              description: Packets dropped as outside the replay window.
              type: int
            replay:
              description: Packets dropped as replayed.
              type: int
            integrity_failed:
              description: Packets whose ICV check failed (key or truncation mismatch).
              type: int
        selector:
          description: The SA's own selector (C(sel) line), null when it is all zero (tunnel SAs).
          type: dict
          contains:
            src:
              description: Source network.
              type: str
              sample: 10.1.0.0/24
            dst:
              description: Destination network.
              type: str
            family:
              description: Address family.
              type: int
            proto:
              description: IP protocol number, null for any.
              type: int
            proto_name:
              description: IP protocol name as C(/etc/protocols) spells it.
              type: str
            sport:
              description: Source port, null for any.
              type: int
            dport:
              description: Destination port, null for any.
              type: int
            type:
              description: ICMP / ICMPv6 / mobility header type, null for any.
              type: int
            code:
              description: ICMP / ICMPv6 code, null for any.
              type: int
            gre_key:
              description: GRE key, null for any.
              type: int
            dev:
              description: Interface the selector is bound to, null for any.
              type: str
            uid:
              description: User id of the selector.
              type: int
        mark:
          description: Mark the SA matches (C(value), C(mask)), or null.
          type: dict
          sample: {value: 5, mask: 255}
        output_mark:
          description: Mark set on packets after the transformation (C(value), C(mask) or null), or null.
          type: dict
          sample: {value: 1, mask: 4294967295}
        if_id:
          description: XFRM interface id, or null.
          type: int
        offload:
          description: Hardware offload (C(dev), C(dir), C(mode) crypto or packet), or null.
          type: dict
        tfcpad:
          description: Traffic flow confidentiality padding, or null.
          type: int
        coa:
          description: Care-of address (Mobile IPv6), or null.
          type: str
        sec_ctx:
          description: Security (LSM) context, or null.
          type: str
        pcpu:
          description: Per-CPU SA number, or null.
          type: int
        mapping_maxage:
          description: NAT mapping maximum age in seconds (C(XFRMA_MTIMER_THRESH)); netlink reader only.
          type: int
        nat_keepalive_interval:
          description: NAT keepalive interval in seconds; netlink reader only.
          type: int
        larval:
          description: An ESP/AH/IPComp SA without algorithms yet (an SPI reserved, or an acquire in progress).
          type: bool
        unparsed:
          description: Lines of this SA the reader did not understand (keys redacted), or unknown netlink attributes.
          type: list
          elements: str
          sample: []
    policies:
      description: The security policies, including per-socket policies, in kernel order.
      type: list
      elements: dict
      contains:
        src:
          description: Selector source network.
          type: str
          sample: 10.1.0.0/24
        dst:
          description: Selector destination network.
          type: str
          sample: 10.2.0.0/24
        family:
          description: Address family of the selector.
          type: int
        proto:
          description: IP protocol number, null for any.
          type: int
        proto_name:
          description: IP protocol name, null for any.
          type: str
        sport:
          description: Source port, null for any.
          type: int
        dport:
          description: Destination port, null for any.
          type: int
        type:
          description: ICMP / ICMPv6 / mobility header type, null for any.
          type: int
        code:
          description: ICMP / ICMPv6 code, null for any.
          type: int
        gre_key:
          description: GRE key, null for any.
          type: int
        dev:
          description: Interface the selector is bound to, null for any.
          type: str
        uid:
          description: User id of the selector.
          type: int
        dir:
          description: C(in), C(out), C(fwd) (or the number).
          type: str
          sample: out
        socket:
          description: A per-socket policy (an IKE daemon's bypass for its own sockets), not an SPD entry.
          type: bool
        action:
          description: C(allow) or C(block).
          type: str
        priority:
          description: Priority (lower wins).
          type: int
          sample: 375423
        index:
          description: Kernel policy index.
          type: int
        ptype:
          description: Policy type C(main) or C(sub), null when the kernel does not report it.
          type: str
        share:
          description: Sharing mode (C(any), C(session), C(user), C(unique)).
          type: str
        flags:
          description: Policy flags (C(localok), C(icmp)); unknown bits as hex.
          type: list
          elements: str
        lifetime:
          description: Configured limits, same keys as RV(xfrm.states[].lifetime).
          type: dict
        current:
          description: Current counters, same keys as RV(xfrm.states[].current).
          type: dict
        tmpls:
          description: Templates (the SAs the policy requires), in order (outermost transformation last).
          type: list
          elements: dict
          contains:
            src:
              description: Outer source address of the SA (tunnel mode), V(0.0.0.0) or V(::) for any.
              type: str
            dst:
              description: Outer destination address of the SA.
              type: str
            family:
              description: Address family.
              type: int
            proto:
              description: C(esp), C(ah), C(comp) (or the number).
              type: str
            spi:
              description: Required SPI as C(0x%08x), C(0x00000000) for any.
              type: str
            reqid:
              description: Request id the SA must carry (0 for any).
              type: int
            mode:
              description: C(tunnel), C(transport), C(beet) (or the number).
              type: str
            level:
              description: C(required) or C(use) (optional).
              type: str
            share:
              description: Sharing mode.
              type: str
            enc_mask:
              description: Allowed encryption algorithms bit mask, hex.
              type: str
              sample: ffffffff
            auth_mask:
              description: Allowed integrity algorithms bit mask, hex.
              type: str
            comp_mask:
              description: Allowed compression algorithms bit mask, hex.
              type: str
        mark:
          description: Mark the policy matches (C(value), C(mask)), or null.
          type: dict
        if_id:
          description: XFRM interface id, or null.
          type: int
        offload:
          description: Policy offload (C(dev), C(mode)), or null.
          type: dict
        sec_ctx:
          description: Security (LSM) context, or null.
          type: str
        unparsed:
          description: Lines of this policy the reader did not understand, or unknown netlink attributes.
          type: list
          elements: str
    stat:
      description:
        - C(/proc/net/xfrm_stat) counters by name (C(XfrmInNoStates), C(XfrmInStateProtoError), ...).
        - Null when the kernel has no xfrm statistics (C(CONFIG_XFRM_STATISTICS)) or they were not gathered.
      type: dict
      sample: {XfrmInError: 0, XfrmInNoStates: 3, XfrmOutPolBlock: 0}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _command
from ansible_collections.netdoctor.ipsec.plugins.module_utils import _fingerprint
from ansible_collections.netdoctor.ipsec.plugins.module_utils import _hostfacts
from ansible_collections.netdoctor.ipsec.plugins.module_utils import _xfrm_netlink
from ansible_collections.netdoctor.ipsec.plugins.module_utils import _xfrm_record
from ansible_collections.netdoctor.ipsec.plugins.module_utils import _xfrm_stat
from ansible_collections.netdoctor.ipsec.plugins.module_utils import _xfrm_text


class XfrmGatherer(object):
    """Reads the tables with one reader, falling back from netlink to text in ``auto``."""

    def __init__(self, module):
        self.module = module
        self.runner = _command.CommandRunner(module)
        self.errors = []
        self.unparsed = []
        self.backend = "text" if module.params["backend"] == "text" else "netlink"

    def _netlink_failed(self, what, exc):
        message = "netlink %s dump not usable: %s" % (what, exc)
        if self.module.params["backend"] == "netlink":
            self.errors.append(message)
            return False
        if self.backend == "netlink":
            self.module.warn(message + "; reading `ip -s -s xfrm` text instead")
        self.backend = "text"
        return True

    def _ip_text(self, table):
        try:
            return self.runner.run("ip", ["-s", "-s", "xfrm", table])[1]
        except _command.CommandError as exc:
            self.errors.append(str(exc))
            return None

    def local_addresses(self):
        extra = self.module.params["local_addresses"] or []
        try:
            found = _xfrm_netlink.local_addresses()
        except _xfrm_netlink.NetlinkError as exc:
            found = []
            try:
                found = [entry["address"] for entry in _hostfacts.parse_ip_addr(self.runner.run("ip", ["-o", "addr", "show"])[1])]
            except _command.CommandError as command_exc:
                self.errors.append("cannot read the local addresses (netlink: %s; %s)" % (exc, command_exc))
        addresses = []
        for text in list(found) + list(extra):
            canonical = _xfrm_record.canonical_address(text)
            if canonical not in addresses:
                addresses.append(canonical)
        return addresses

    def _table(self, table, dump, finish, records_from_text):
        """The records of one table: the netlink ``dump``, each ``finish``-ed, or the ``ip`` text."""
        if self.backend == "netlink":
            try:
                return [finish(entry) for entry in dump()]
            except _xfrm_netlink.NetlinkError as exc:
                if not self._netlink_failed(table, exc):
                    return []
        text = self._ip_text(table)
        if text is None:
            return []
        records, orphans = records_from_text(text)
        self.unparsed.extend(orphans)
        return records

    def states(self, options):
        warn = self.module.warn
        return self._table("state", _xfrm_netlink.dump_states, lambda state: _xfrm_record.finish_state(state, options, warn),
                           lambda text: _xfrm_text.state_records(text, options, warn))

    def policies(self):
        warn = self.module.warn
        return self._table("policy", _xfrm_netlink.dump_policies, lambda policy: _xfrm_record.finish_policy(policy, warn),
                           lambda text: _xfrm_text.policy_records(text, warn))

    def stat(self):
        try:
            with open(_xfrm_stat.XFRM_STAT_PATH) as handle:
                text = handle.read()
        except (IOError, OSError) as exc:
            self.module.warn("%s is not readable (%s): the kernel keeps no xfrm statistics"
                             % (_xfrm_stat.XFRM_STAT_PATH, exc))
            return None
        counters, unparsed = _xfrm_stat.parse_xfrm_stat(text)
        if unparsed:
            self.module.warn("%s: kept %d line(s) that are not counters" % (_xfrm_stat.XFRM_STAT_PATH, len(unparsed)))
            self.unparsed.extend(unparsed)
        return counters


def main():
    module = AnsibleModule(
        argument_spec=dict(
            backend=dict(type="str", default="auto", choices=["auto", "netlink", "text"]),
            gather=dict(type="list", elements="str", default=["states", "policies", "stat"],
                        choices=["states", "policies", "stat"]),
            include_keys=dict(type="bool", default=False, no_log=True),
            local_addresses=dict(type="list", elements="str", default=[]),
            fingerprint_salt=dict(type="str", no_log=True),
        ),
        supports_check_mode=True,
    )
    salt = _fingerprint.module_salt(module)
    gather = module.params["gather"]
    gatherer = XfrmGatherer(module)
    local_addresses = gatherer.local_addresses()
    options = _xfrm_record.RecordOptions(
        salt,
        include_keys=module.params["include_keys"],
        local_addresses=local_addresses,
    )
    xfrm = {"states": [], "policies": [], "stat": None}
    with _xfrm_record.paused_gc():
        if "states" in gather:
            xfrm["states"] = gatherer.states(options)
        if "policies" in gather:
            xfrm["policies"] = gatherer.policies()
    if "stat" in gather:
        xfrm["stat"] = gatherer.stat()
    module.exit_json(
        changed=False,
        backend=gatherer.backend,
        local_addresses=local_addresses,
        errors=gatherer.errors,
        unparsed=gatherer.unparsed,
        xfrm=xfrm,
    )


if __name__ == "__main__":
    main()
