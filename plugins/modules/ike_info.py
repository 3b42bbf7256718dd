#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ike_info
short_description: Read the IKE daemon's configuration and live SAs (strongSwan, libreswan, racoon) in one schema
version_added: 0.1.0
description:
  - Finds which IKE daemons run (or are configured) on the gateway and reads, for each, its version,
    whether it runs and listens on UDP 500/4500, its configured connections and its live IKE and
    child SAs, all in one schema so that any two gateways can be compared.
  - "strongSwan: the VICI socket (C(charon.vici), a small binary protocol spoken with the standard
    library), falling back to C(swanctl --list-conns/--list-sas --raw); swanctl.conf (and its
    includes) for what VICI does not show (proposals, start actions, secrets); legacy stroke set-ups
    through C(ipsec statusall) plus ipsec.conf and ipsec.secrets."
  - "libreswan: C(ipsec whack --status) and C(--trafficstatus), ipsec.conf (with C(include), C(also=),
    C(%defaultroute), C(%any)) and ipsec.secrets."
  - "racoon (ipsec-tools, IKEv1): racoon.conf (C(remote), C(sainfo), C(proposal) blocks, C(include),
    C(inherit)), psk.txt, C(racoonctl show-sa isakmp|esp) and C(setkey -DP) for the selectors."
  - Pre-shared keys never leave the gateway. Each is matched to its connection the way the daemon
    matches secrets to identities and returned as a salted fingerprint of its decoded bytes, with
    facts that matter on old stacks (length, non-ASCII, quotes, spaces, C(#), whitespace, hex/base64).
  - Whatever cannot be read (socket missing, tool missing, no permission, odd output) becomes a
    warning or an error in the record; the rest is still read. Read-only.
extends_documentation_fragment:
  - netdoctor.ipsec._attributes
  - netdoctor.ipsec._attributes.info_module
  - netdoctor.ipsec._attributes.idempotent_not_modify_state
  - netdoctor.ipsec._fingerprint
options:
  daemons:
    description:
      - Which daemons to read. Empty means detect them (running processes first, else installed tools
        and configuration files).
    type: list
    elements: str
    choices: [strongswan, libreswan, racoon]
    default: []
  read_config:
    description:
      - Read the configuration and secrets files. Without them, proposals, start actions and PSK
        fingerprints of strongSwan connections are unknown (V(null)).
    type: bool
    default: true
  vici_socket:
    description: Path of charon's VICI socket. Default is the first of C(/var/run/charon.vici), C(/run/charon.vici),
                 C(/var/run/strongswan/charon.vici).
    type: path
  swanctl_conf:
    description: strongSwan's swanctl.conf.
    type: path
    default: /etc/swanctl/swanctl.conf
  ipsec_conf:
    description: ipsec.conf (strongSwan stroke or libreswan).
    type: path
    default: /etc/ipsec.conf
  ipsec_secrets:
    description: ipsec.secrets (strongSwan stroke or libreswan).
    type: path
    default: /etc/ipsec.secrets
  racoon_conf:
    description: racoon.conf; its C(path pre_shared_key) names psk.txt.
    type: path
    default: /etc/racoon/racoon.conf
  timeout:
    description: Seconds to wait for an answer on the VICI socket.
    type: int
    default: 10
notes:
  - libreswan's whack output does not show IKE SPIs; RV(ike.sas[].spi_i) and RV(ike.sas[].spi_r) are
    V(null) there.
  - strongSwan's C(default) proposal keyword is expanded to charon's defaults for a build with the
    usual crypto plugins and flagged C(default=true); a daemon without some plugin proposes a subset.
seealso:
  - plugin: netdoctor.ipsec.parse_swanctl_list_sas
    plugin_type: filter
  - plugin: netdoctor.ipsec.parse_swanctl_list_conns
    plugin_type: filter
  - plugin: netdoctor.ipsec.parse_ipsec_statusall
    plugin_type: filter
  - plugin: netdoctor.ipsec.parse_whack_status
    plugin_type: filter
  - plugin: netdoctor.ipsec.parse_racoon_conf
    plugin_type: filter
  - module: netdoctor.ipsec.log_info
author:
  - netdoctor.ipsec contributors (@netdoctor-ipsec)
"""

EXAMPLES = r"""
- name: Read the IKE daemon of both gateways, PSKs fingerprinted under the run's salt
  netdoctor.ipsec.ike_info:
    fingerprint_salt: "{{ netdoctor_salt }}"
  register: ike

- name: Connections whose secret differs from the peer's
  ansible.builtin.debug:
    msg: "{{ ike.ike.connections | map(attribute='psk_fingerprint') }}"

- name: Only libreswan, with the configuration in a non-standard place
  netdoctor.ipsec.ike_info:
    daemons: [libreswan]
    ipsec_conf: /etc/ipsec-site.conf
"""

RETURN = r"""
ike:
  description:
    - The IKE daemon of this gateway (the running one; else the first configured one). This is the
      C(ike) part of the side record the diagnosis compares.
    - Keys that a daemon or its output does not tell are V(null) (unknown), never guessed.
  returned: always
  type: dict
  contains:
    daemon:
      description: Which daemon; V(null) when none was found (then RV(ike.errors) says so).
      type: str
      choices: [strongswan, libreswan, racoon]
      sample: strongswan
    version:
      description: The daemon's version.
      type: str
      sample: 5.9.8
    running:
      description: Whether a daemon process (C(charon), C(charon-systemd), C(pluto), C(racoon)) runs.
      type: bool
    pid:
      description: PID of the daemon process.
      type: int
    listening:
      description: The daemon's UDP sockets on the IKE ports (only its own when /proc shows the owner).
      type: dict
      contains:
        udp_500:
          description: A socket on UDP 500 exists.
          type: bool
        udp_4500:
          description: A socket on UDP 4500 (NAT-T) exists.
          type: bool
        sockets:
          description: The sockets, C({address, port, family}).
          type: list
          elements: dict
          sample: [{address: 0.0.0.0, port: 500, family: 4}]
    sources:
      description: What was read, e.g. C(vici:/run/charon.vici), C(file:/etc/swanctl/swanctl.conf), C(command:whack
                   --status).
      type: list
      elements: str
    connections:
      description: Configured connections (what the daemon has loaded, completed from the configuration files).
      type: list
      elements: dict
      contains:
        name:
          description: Connection name (libreswan instances keep their C([N]) suffix; racoon uses the C(remote) address).
          type: str
          sample: site
        source:
          description: V(daemon) (only the daemon told), V(daemon+config) (both), or the configuration file's path (not
                       loaded / daemon not asked).
          type: str
        loaded:
          description: Whether the daemon has it loaded; V(false) for configured-but-not-loaded; V(null) when the daemon
                       could not be asked.
          type: bool
        ike_version:
          description: 1 or 2; 0 means either (strongSwan C(version=0), stroke C(keyexchange=ike)).
          type: int
          choices: [0, 1, 2]
        local_addrs:
          description: Local addresses as configured (C(%any), C(%defaultroute) kept as written).
          type: list
          elements: str
        remote_addrs:
          description: Remote (peer) addresses as configured.
          type: list
          elements: str
          sample: [192.0.2.2]
        local_port:
          description: Local IKE port (strongSwan).
          type: int
        remote_port:
          description: Remote IKE port.
          type: int
        local_id:
          description: Local identity as written (C(@fqdn), address, DN), or the daemon's default.
          type: str
          sample: gw-a.lab
        remote_id:
          description: Remote identity as written; C(%any) accepts any.
          type: str
          sample: gw-b.lab
        local_auth:
          description: Local authentication method (V(psk), V(pubkey), V(eap), V(xauth), V(null), V(never)...).
          type: str
        remote_auth:
          description: Authentication method required from the peer.
          type: str
        auth:
          description: Same as RV(ike.connections[].local_auth).
          type: str
          sample: psk
        psk_fingerprint:
          description: Salted HMAC-SHA-256 fingerprint of the decoded PSK this connection uses (V(null) when no PSK or none
                       matched).
          type: str
          sample: hmac-sha256:3f2a7c1e9b0d4a6f8e2c5b7a1d3f9e0c
        psk:
          description: "How the PSK was found: C({secret, match, facts, source, local_ids, remote_ids})."
          type: dict
          contains:
            secret:
              description: Name of the secret entry (swanctl section, C(file:line)); never its value.
              type: str
            match:
              description: V(exact) when all IDs of the secret matched, V(wildcard) when a C(%any)/empty selector was used.
              type: str
            facts:
              description: "Facts about the secret: C(length) (bytes), C(encoding) (text/hex/base64), C(quoted),
                C(non_ascii), C(control_characters), C(spaces), C(hash_sign), C(quote_characters), C(backslash),
                C(leading_or_trailing_whitespace), C(decodes), and C(hints) (sentences)."
              type: dict
            source:
              description: File the secret came from.
              type: str
            local_ids:
              description: Identities used as ours for the lookup.
              type: list
              elements: str
            remote_ids:
              description: Identities used as the peer's for the lookup.
              type: list
              elements: str
        ike_proposals:
          description:
            - IKE proposals, each C({encryption, integrity, prf, dh, esn, text, protocol, unknown}) with
              lists of canonical names (C(AES_CBC_256), C(HMAC_SHA2_256_128), C(PRF_HMAC_SHA2_256), C(MODP_2048)).
            - C(default=true) marks an expansion of the daemon's default proposals. V(null) when unknown.
          type: list
          elements: dict
          sample:
            - {encryption: [AES_CBC_256], integrity: [HMAC_SHA2_256_128], prf: [PRF_HMAC_SHA2_256], dh: [MODP_2048],
               esn: [], text: aes256-sha256-modp2048}
        ike_proposals_text:
          description: The proposal keywords as configured (or as the daemon printed them).
          type: str
        ike_strict:
          description: Only the listed IKE proposals are accepted (strongSwan C(!)/no C(default); libreswan and racoon
                       always).
          type: bool
        aggressive:
          description: IKEv1 aggressive mode.
          type: bool
        encap:
          description: UDP encapsulation forced (C(encap=yes), C(forceencaps), C(encapsulation=yes), racoon C(nat_traversal
                       force)).
          type: bool
        mobike:
          description: MOBIKE enabled.
          type: bool
        fragmentation:
          description: IKE fragmentation setting.
          type: str
        dpd:
          description: Dead peer detection, C({delay, timeout, action}) (seconds; action V(clear), V(trap), V(restart),
                       V(hold), V(none)).
          type: dict
        lifetimes:
          description: "IKE SA lifetimes in seconds: C({ike_rekey, ike_reauth, ike_lifetime})."
          type: dict
        children:
          description: Child SA (phase 2) configurations; a libreswan conn has one, racoon one per applicable C(sainfo).
          type: list
          elements: dict
          contains:
            name:
              description: Child name.
              type: str
            local_ts:
              description: Local traffic selectors, normalised (C(10.1.0.0/24), C(10.1.0.0/24[tcp/80]), C(dynamic)).
              type: list
              elements: str
            remote_ts:
              description: Remote traffic selectors.
              type: list
              elements: str
            esp_proposals:
              description: ESP (or AH) proposals, same shape as RV(ike.connections[].ike_proposals); a C(dh) is the PFS group.
              type: list
              elements: dict
            esp_proposals_text:
              description: The proposal keywords as configured.
              type: str
            protocol:
              description: V(esp) or V(ah).
              type: str
            pfs:
              description: PFS on rekeying (a DH group in the ESP proposals; libreswan C(pfs=yes)).
              type: bool
            mode:
              description: V(tunnel), V(transport), V(beet), V(pass), V(drop).
              type: str
            start_action:
              description: V(none) (wait for the peer), V(trap) (on traffic), V(start) (at load).
              type: str
            dpd_action:
              description: Action on a dead peer.
              type: str
            close_action:
              description: Action when the peer closes the child.
              type: str
            sha256_96:
              description: HMAC-SHA-256 truncated to 96 bits (strongSwan C(sha256_96), libreswan C(sha2-truncbug)).
              type: bool
            ipcomp:
              description: IP compression.
              type: bool
            reqid:
              description: Configured reqid.
              type: int
            lifetimes:
              description: "C({rekey, lifetime, rekey_bytes, life_bytes}) (seconds/bytes)."
              type: dict
            extra:
              description: Daemon-specific settings kept for evidence (updown, marks, interfaces...).
              type: dict
        local_ts:
          description: Union of the children's local selectors (convenience for one-child connections).
          type: list
          elements: str
        remote_ts:
          description: Union of the children's remote selectors.
          type: list
          elements: str
        esp_proposals:
          description: Union of the children's ESP proposals.
          type: list
          elements: dict
        mode:
          description: The first child's mode.
          type: str
        start_action:
          description: The first child's start action.
          type: str
        sha256_96:
          description: Any child truncates HMAC-SHA-256 to 96 bits.
          type: bool
        pfs:
          description: Any child uses PFS.
          type: bool
        extra:
          description: Daemon-specific facts (libreswan C(policy), C(routing); racoon C(exchange_mode),
                       C(proposal_check)...).
          type: dict
    sas:
      description: Live IKE SAs with their child SAs.
      type: list
      elements: dict
      contains:
        name:
          description: Connection name.
          type: str
        uniqueid:
          description: Daemon's SA number (strongSwan unique id, libreswan state serial).
          type: str
        state:
          description: The daemon's state name (C(ESTABLISHED), C(CONNECTING), C(STATE_V2_ESTABLISHED_IKE_SA), racoon
                       C(ESTABLISHED)/C(MSG1SENT)...).
          type: str
        established:
          description: The IKE SA is established (mature).
          type: bool
        ike_version:
          description: 1 or 2.
          type: int
        initiator:
          description: This side initiated the IKE SA.
          type: bool
        spi_i:
          description: Initiator SPI (IKEv1 cookie), C(0x) + 16 hex digits.
          type: str
        spi_r:
          description: Responder SPI.
          type: str
        local_host:
          description: Local address of the SA.
          type: str
        local_port:
          description: Local port (4500 after NAT-T floating).
          type: int
        remote_host:
          description: Peer address.
          type: str
        remote_port:
          description: Peer port.
          type: int
        local_id:
          description: Identity we used.
          type: str
        remote_id:
          description: Identity the peer used.
          type: str
        proposal:
          description: The chosen IKE proposal (one name per transform type), same shape as a configured proposal.
          type: dict
        nat:
          description: "NAT detection: C({local, remote, fake, any, detected}) (strongSwan tells each; others only C(detected))."
          type: dict
        established_seconds:
          description: Seconds since establishment.
          type: int
        rekey_in:
          description: Seconds until rekeying.
          type: int
        extra:
          description: Daemon-specific facts (strongSwan virtual IPs and tasks, racoon exchange type and phase 2 count).
          type: dict
        children:
          description: Child SAs.
          type: list
          elements: dict
          contains:
            name:
              description: Child name.
              type: str
            uniqueid:
              description: Daemon's number of the child SA.
              type: str
            reqid:
              description: Kernel reqid.
              type: int
            state:
              description: The daemon's state (C(INSTALLED), C(STATE_V2_ESTABLISHED_CHILD_SA), racoon/setkey C(mature),
                           C(dying)...).
              type: str
            installed:
              description: The child SA is installed / mature.
              type: bool
            mode:
              description: V(tunnel) or V(transport).
              type: str
            protocol:
              description: V(esp) or V(ah).
              type: str
            encap:
              description: ESP in UDP (NAT-T).
              type: bool
            spi_in:
              description: Inbound SPI, C(0x) + 8 hex digits (matches the xfrm_info SPI format).
              type: str
              sample: "0xc8e2bf74"
            spi_out:
              description: Outbound SPI.
              type: str
            proposal:
              description: The chosen ESP proposal (C(dh) = PFS group used; C(esn)).
              type: dict
            local_ts:
              description: Local selectors of the SA.
              type: list
              elements: str
            remote_ts:
              description: Remote selectors of the SA.
              type: list
              elements: str
            bytes_in:
              description: Bytes received.
              type: int
            bytes_out:
              description: Bytes sent.
              type: int
            packets_in:
              description: Packets received (strongSwan only).
              type: int
            packets_out:
              description: Packets sent (strongSwan only).
              type: int
            installed_seconds:
              description: Seconds since installation.
              type: int
            rekey_in:
              description: Seconds until rekeying.
              type: int
            expires_in:
              description: Seconds until the hard lifetime.
              type: int
            extra:
              description: Daemon-specific facts (marks, interface IDs, IPComp CPIs, the racoon peer).
              type: dict
    secrets:
      description: The PSK entries found, C({name, type, ids, fingerprint, facts, source}); never a secret's value.
      type: list
      elements: dict
    warnings:
      description: What could not be read or understood; the rest was still read.
      type: list
      elements: str
    errors:
      description: Failures that leave a main part unknown (daemon running but not answering, no daemon at all).
      type: list
      elements: str
    unparsed:
      description: Output or configuration lines the parsers did not understand (lines of secrets files are never
                   included).
      type: list
      elements: str
daemons:
  description: The records of every daemon found (RV(ike) is one of them), for hosts with more than one.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netdoctor.ipsec.plugins.module_utils import _command, _fingerprint, _ike_gather, _ike_host


def main():
    module = AnsibleModule(
        argument_spec=dict(
            daemons=dict(type="list", elements="str", default=[], choices=["strongswan", "libreswan", "racoon"]),
            read_config=dict(type="bool", default=True),
            vici_socket=dict(type="path"),
            swanctl_conf=dict(type="path", default="/etc/swanctl/swanctl.conf"),
            ipsec_conf=dict(type="path", default="/etc/ipsec.conf"),
            ipsec_secrets=dict(type="path", default="/etc/ipsec.secrets"),
            racoon_conf=dict(type="path", default="/etc/racoon/racoon.conf"),
            timeout=dict(type="int", default=10),
            fingerprint_salt=dict(type="str", no_log=True),
        ),
        supports_check_mode=True,
    )
    salt = _fingerprint.module_salt(module)
    ctx = _ike_gather.Context(_command.CommandRunner(module), _ike_host.HostView("/"), module.params, salt)
    primary, records = _ike_gather.gather(ctx)
    module.exit_json(changed=False, ike=primary, daemons=records)


if __name__ == "__main__":
    main()
