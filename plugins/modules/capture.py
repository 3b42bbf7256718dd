#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: capture
short_description: Bounded packet capture of a tunnel's IKE, ESP and clear text, with probe traffic and a decoded summary
version_added: 0.1.0
description:
  - Captures, on the gateway, the traffic of one IPsec tunnel for a bounded time - IKE (UDP 500 and
    4500), ESP (plain and UDP-encapsulated), NAT-T keepalives, ICMP and IP fragments exchanged with
    the peer, traffic between the protected subnets, and ICMP errors.
  - Starts at a wall-clock instant given by the controller (O(start_at)), so that the two gateways of
    a tunnel capture the same window; the capture processes are started O(lead_time) ahead and the
    summary covers the window from that instant on.
  - Uses C(tcpdump) (C(-U --immediate-mode), one process and one file per interface) when it is
    installed, and otherwise a standard-library capture on Linux AF_PACKET sockets.
  - Optionally sends probe traffic inside the window from an inside source address to an inside
    destination (ICMP echo of several sizes with DF, and a TCP connect), as C(ping -I <inside src>)
    does by hand, to bring up traffic-triggered tunnels and expose MTU trouble.
  - Reads C(/proc/net/xfrm_stat) before and after the window and returns the counters that moved.
  - Decodes the capture on the gateway (standard library only) into the summary documented in
    RV(summary); the controller merges both gateways' summaries with the
    P(netdoctor.ipsec.pair_captures#filter) filter.
  - The capture never outlives its bound. tcpdump dies with the module (C(PR_SET_PDEATHSIG)); a
    forked janitor removes the files and stops the capture if the module is killed; when the
    controller goes away (its connection closes) or the module gets SIGTERM, SIGINT or SIGHUP, the
    capture stops and its files are removed.
  - Needs root (packet sockets, raw ICMP sockets).
extends_documentation_fragment:
  - netdoctor.ipsec._attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode nothing is captured or sent; the result says what would be done (RV(plan)).
  diff_mode:
    support: none
options:
  peer_addresses:
    description:
      - Outer (public) addresses of the peer gateway, as this gateway sees them. IKE and ESP to and
        from these addresses are captured.
    type: list
    elements: str
    required: true
  interfaces:
    description:
      - Interfaces that face the peer. Default is the interface of the route to each peer address
        (C(ip route get)).
    type: list
    elements: str
  inner_interfaces:
    description:
      - Inner (LAN) interfaces to capture as well; traffic between the protected subnets there is
        reported in RV(summary.cleartext.inner), not as a leak.
    type: list
    elements: str
    default: []
  local_subnets:
    description:
      - The protected subnets behind this gateway. With O(remote_subnets), clear text between the
        two is captured and classified.
    type: list
    elements: str
    default: []
  remote_subnets:
    description:
      - The protected subnets behind the peer.
    type: list
    elements: str
    default: []
  local_addresses:
    description:
      - Extra addresses of this gateway (for example a public address NATed to it), used to tell
        inbound from outbound packets when the link layer does not say.
    type: list
    elements: str
    default: []
  start_at:
    description:
      - When the capture window starts, as seconds since the epoch (V(1795843400.5)) or an ISO 8601
        UTC time (V(2026-11-28T05:30:00.500Z)). Default is now.
      - When the instant has already passed the capture starts at once and RV(window.late_ms) says
        by how much.
    type: raw
  lead_time:
    description:
      - Seconds before O(start_at) at which the capture processes are started, so that they are
        listening at the instant (starting tcpdump takes about a second on a slow or busy gateway).
        Packets before the instant are kept in the file but not in the summary.
    type: float
    default: 3.0
  duration:
    description:
      - Length of the capture window in seconds (at most 3600).
    type: float
    default: 10
  max_packets:
    description:
      - Stop when this many packets were captured on one interface.
    type: int
    default: 20000
  max_bytes:
    description:
      - Stop when the capture files together reach this size in bytes.
    type: int
    default: 20000000
  snaplen:
    description:
      - Bytes kept of each packet.
    type: int
    default: 262144
  backend:
    description:
      - V(auto) uses tcpdump when installed, else AF_PACKET.
    type: str
    choices: [auto, tcpdump, af_packet]
    default: auto
  dest_dir:
    description:
      - Directory for the capture files (one C(.pcap) per interface, mode C(0600)). Default is a
        new private temporary directory.
    type: path
  keep_pcap:
    description:
      - Keep the capture files on the gateway after the summary (to fetch them). When V(false) they
        are removed before the module returns.
    type: bool
    default: false
  max_events:
    description:
      - At most this many per-packet events in RV(summary.events) (used to pair the two sides).
    type: int
    default: 2000
  probe:
    description:
      - Probe traffic sent inside the window. Omit for no probe.
    type: dict
    suboptions:
      source:
        description: Inside source address on this gateway (as in C(ping -I)).
        type: str
        required: true
      destination:
        description: Inside destination behind the peer.
        type: str
        required: true
      icmp_sizes:
        description: ICMP echo payload sizes in bytes (as C(ping -s)); one probe per size.
        type: list
        elements: int
        default: [56, 1300]
      df:
        description: Set Don't Fragment (IPv4) / forbid fragmentation (IPv6) on the echo requests.
        type: bool
        default: true
      count:
        description: Echo requests per size.
        type: int
        default: 3
      interval:
        description: Seconds between echo requests.
        type: float
        default: 0.2
      timeout:
        description: Seconds to wait for each echo reply.
        type: float
        default: 1.0
      tcp_port:
        description: TCP port to connect to on the destination; omit for no TCP probe.
        type: int
      tcp_timeout:
        description: Seconds to wait for the TCP connection.
        type: float
        default: 3.0
      delay:
        description: Seconds after the window start before the first probe.
        type: float
        default: 1.0
notes:
  - Times are seconds since the epoch (floats with microseconds).
  - When the controller is killed outright (SIGKILL) while SSH multiplexing (C(ControlPersist)) keeps
    the session open, nothing reaches the gateway; the capture then ends at its bound and its files
    are removed unless O(keep_pcap=true). A Ctrl-C, a closed SSH session or a signal to the module
    stop it at once.
  - Linux shows the decapsulated copy of each inbound ESP packet on the outer interface again;
    these are reported as RV(summary.cleartext.inbound_decapsulated), not as leaks. Only clear text
    leaving the gateway toward the remote subnets is a leak (RV(summary.cleartext.outbound_leak)).
seealso:
  - plugin: netdoctor.ipsec.pair_captures
    plugin_type: filter
author:
  - netdoctor.ipsec contributors (@netdoctor-ipsec)
"""

EXAMPLES = r"""
- name: Capture 20 seconds on both gateways from the same instant, with probe traffic
  netdoctor.ipsec.capture:
    peer_addresses: ["{{ ipsec_peer_address }}"]
    local_subnets: [10.1.0.0/24]
    remote_subnets: [10.2.0.0/24]
    start_at: "{{ capture_start }}"   # drawn once on the controller, e.g. now + 15 s
    duration: 20
    probe:
      source: 10.1.0.1
      destination: 10.2.0.1
      icmp_sizes: [56, 1300]
      tcp_port: 22
  register: capture

- name: Keep the pcap for Wireshark and fetch it
  netdoctor.ipsec.capture:
    peer_addresses: [198.51.100.2]
    duration: 30
    keep_pcap: true
  register: kept

- name: Fetch the files
  ansible.builtin.fetch:
    src: "{{ item.path }}"
    dest: "captures/"
  loop: "{{ kept.files }}"
"""

RETURN = r"""
changed:
  description: V(true) when packets were captured (the gateway ran a capture and maybe sent probes).
  returned: always
  type: bool
plan:
  description: What the module does (or, in check mode, would do).
  returned: always
  type: dict
  contains:
    backend:
      description: "V(tcpdump) or V(af_packet)."
      type: str
      returned: always
      sample: tcpdump
    interfaces:
      description: "Interfaces captured, outer first."
      type: list
      elements: str
      returned: always
      sample: [wan0]
    roles:
      description: "Interface name to V(outer) or V(inner)."
      type: dict
      returned: always
      sample: {wan0: outer}
    filter:
      description: "The capture filter (tcpdump expression; the AF_PACKET capture applies the same choice)."
      type: str
      returned: always
      sample: "(host 203.0.113.2 and (udp port 500 or udp port 4500 or ip proto 50 or icmp or (ip[6:2] & 0x3fff != 0))) or ..."
    commands:
      description: "The tcpdump command lines."
      type: list
      elements: list
      returned: always
    start:
      description: "The window start (epoch seconds)."
      type: float
      returned: always
      sample: 1795843400.5
    duration:
      description: "Window length in seconds."
      type: float
      returned: always
      sample: 10.0
    probe:
      description: "The probe settings, or V(null)."
      type: dict
      returned: always
    local_addresses:
      description: "Addresses of this gateway used to tell directions."
      type: list
      elements: str
      returned: always
check_mode:
  description: V(true) when nothing was done (check mode).
  returned: always
  type: bool
backend:
  description: Capture backend used.
  returned: success and not check mode
  type: str
  sample: tcpdump
files:
  description: The capture files, one per interface.
  returned: success and not check mode
  type: list
  elements: dict
  contains:
    path:
      description: "Absolute path on the gateway."
      type: str
      returned: always
      sample: /tmp/netdoctor-capture-x1/netdoctor-gw-a-20261128T053000-wan0.pcap
    interface:
      description: "Interface captured."
      type: str
      returned: always
      sample: wan0
    size:
      description: "Size in bytes when the capture stopped."
      type: int
      returned: always
      sample: 4096
    mode:
      description: "File mode."
      type: str
      returned: always
      sample: "0600"
    state:
      description: "V(kept) (still on the gateway) or V(removed)."
      type: str
      returned: always
      sample: removed
directory:
  description: Directory of the files (a private temporary directory unless O(dest_dir) was given).
  returned: success and not check mode
  type: str
processes:
  description: Capture processes started and stopped by the module (none is left running).
  returned: success and not check mode
  type: list
  elements: dict
  contains:
    pid:
      description: "Process id (the module's own for AF_PACKET)."
      type: int
      returned: always
    interface:
      description: "Interface."
      type: str
      returned: always
    command:
      description: "Command line."
      type: list
      elements: str
      returned: always
    started_at:
      description: "When started."
      type: float
      returned: always
    listening_at:
      description: "When the capture was ready (tcpdump said \"listening on\")."
      type: float
      returned: always
    stopped_at:
      description: "When it ended."
      type: float
      returned: always
    exit_code:
      description: "Exit code."
      type: int
      returned: always
    killed:
      description: "V(true) when it had to be killed after SIGINT."
      type: bool
      returned: when killed
    stats:
      description: "Packet counts reported by the capture (C(captured), C(received_by_filter), C(dropped_by_kernel))"
      type: dict
      returned: always
    running:
      description: "Always V(false) on return."
      type: bool
      returned: always
window:
  description: The capture window actually covered.
  returned: success and not check mode
  type: dict
  contains:
    requested_start:
      description: "O(start_at) as epoch seconds."
      type: float
      returned: always
    duration:
      description: "Requested length."
      type: float
      returned: always
    listening_at:
      description: "When the last capture process was ready."
      type: float
      returned: always
    start:
      description: "Start of the summarised window (the later of the instant and listening_at)."
      type: float
      returned: always
    end:
      description: "End of the summarised window."
      type: float
      returned: always
    late_ms:
      description: "Milliseconds the capture was ready after the instant (0 when on time)."
      type: float
      returned: always
    stopped_at:
      description: "When the capture was stopped."
      type: float
      returned: always
stop_reason:
  description: Why the capture stopped - V(duration), V(packets), V(size), V(exited) (a capture process ended by itself).
  returned: success and not check mode
  type: str
  sample: duration
probe:
  description: Probe results, or V(null) without O(probe).
  returned: success and not check mode
  type: dict
  contains:
    started_at:
      description: "When the probes began."
      type: float
      returned: always
    ended_at:
      description: "When they ended."
      type: float
      returned: always
    results:
      description:
        - One entry per ICMP size, then the TCP connect.
        - ICMP C(status) is V(ok) (all replies), V(partial), V(no_reply), V(mtu_exceeded) (EMSGSIZE
          locally or an ICMP fragmentation-needed/packet-too-big), V(icmp_error) (an unreachable or
          time-exceeded came back), V(send_failed) or V(error).
        - TCP C(status) is V(connected), V(refused) (the path works, the port is closed),
          V(timeout), V(host_unreachable), V(net_unreachable), V(blocked_locally),
          V(source_not_local) or V(error); C(path_works) is V(true) for connected and refused.
      type: list
      elements: dict
      returned: always
      sample:
        - {type: icmp, source: 10.1.0.1, destination: 10.2.0.1, size: 56, df: true, ip_length: 84, sent: 3, received: 3,
           rtt_ms: [1.2, 0.9, 0.9], errors: [], status: ok, path_mtu: 1438,
           attempts: [{seq: 1, sent_at: 1795843401.5, result: reply, rtt_ms: 1.2}]}
        - {type: tcp, source: 10.1.0.1, destination: 10.2.0.1, port: 22, status: timeout, time_ms: 3001.2,
           path_works: false, errno: ETIMEDOUT, msg: Connection timed out, started_at: 1795843405.1}
xfrm_stat:
  description: C(/proc/net/xfrm_stat) before and after the window.
  returned: success and not check mode
  type: dict
  contains:
    available:
      description: "V(false) when the file could not be read (no xfrm in the kernel)."
      type: bool
      returned: always
    before:
      description: "Counters before."
      type: dict
      returned: always
      sample: {XfrmInNoStates: 0}
    after:
      description: "Counters after."
      type: dict
      returned: always
    delta:
      description: "Counters that changed, with the increase."
      type: dict
      returned: always
      sample: {XfrmInTmplMismatch: 3}
    error:
      description: "Why the counters are missing."
      type: str
      returned: always
summary:
  description: The capture decoded on the gateway.
  returned: success and not check mode
  type: dict
  contains:
    packets:
      description: >-
        Counters: C(total) read, C(in_window), C(outside_window), C(undecodable), C(truncated_frames),
        C(unknown_link_type), and per kind C(ike), C(esp), C(natt_keepalive), C(icmp_error), C(cleartext),
        C(fragments), C(other).
      type: dict
      returned: always
      sample: {total: 22, in_window: 20, ike: 4, esp: 12, cleartext: 3, other: 1}
    first_time:
      description: "Time of the first packet in the window."
      type: float
      returned: always
    last_time:
      description: "Time of the last packet in the window."
      type: float
      returned: always
    link_types:
      description: "Link type name to packet count."
      type: dict
      returned: always
      sample: {EN10MB: 20}
    interfaces:
      description: "Interface to packet count."
      type: dict
      returned: always
      sample: {wan0: 20}
    ike:
      description: IKE messages and SAs.
      type: dict
      returned: always
      contains:
        messages:
          description: Every IKE message in time order (at most 300; see C(messages_dropped)).
          type: list
          elements: dict
          returned: always
          contains:
            index:
              description: "Position in this list."
              type: int
              returned: always
            time:
              description: "Capture time."
              type: float
              returned: always
            direction:
              description: "V(out) (sent by this gateway), V(in), or V(unknown)."
              type: str
              returned: always
            interface:
              description: "Interface."
              type: str
              returned: always
            src:
              description: "Source address."
              type: str
              returned: always
            dst:
              description: "Destination address."
              type: str
              returned: always
            sport:
              description: "UDP source port."
              type: int
              returned: always
            dport:
              description: "UDP destination port."
              type: int
              returned: always
            non_esp_marker:
              description: "V(true) on UDP 4500 (NAT-T framing)."
              type: bool
              returned: always
            size:
              description: "IKE message bytes."
              type: int
              returned: always
            digest:
              description: "Truncated SHA-1 of the IKE message (same on both gateways, even through NAT)."
              type: str
              returned: always
            version:
              description: "IKE version V(2.0) or V(1.0)."
              type: str
              returned: when decodable
            major_version:
              description: "2 or 1."
              type: int
              returned: when decodable
            exchange:
              description: >-
                Exchange name: IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL, IKE_INTERMEDIATE; IKEv1
                MAIN_MODE, AGGRESSIVE, QUICK_MODE, INFORMATIONAL_V1, TRANSACTION; UNKNOWN_<n>.
              type: str
              returned: when decodable
              sample: IKE_SA_INIT
            exchange_type:
              description: "Exchange type number."
              type: int
              returned: when decodable
            initiator:
              description: "IKEv2 Initiator flag."
              type: bool
              returned: IKEv2
            response:
              description: "IKEv2 Response flag."
              type: bool
              returned: IKEv2
            commit:
              description: "IKEv1 commit flag."
              type: bool
              returned: IKEv1
            flags:
              description: "Raw flags octet."
              type: int
              returned: when decodable
            message_id:
              description: "Message ID."
              type: int
              returned: when decodable
            ispi:
              description: "Initiator SPI (cookie), 16 hex digits."
              type: str
              returned: when decodable
              sample: eacfc74111fb3341
            rspi:
              description: "Responder SPI, zeros in a first request."
              type: str
              returned: when decodable
            length:
              description: "Length field of the header."
              type: int
              returned: when decodable
            encrypted:
              description: "V(true) when the payloads are encrypted (IKEv2 SK/SKF, IKEv1 E flag)."
              type: bool
              returned: when decodable
            encrypted_first_payload:
              description: "Type of the first payload inside the encrypted part, as the header says."
              type: str
              returned: when encrypted
            payloads:
              description: "Payload types in clear, in order (SA, KE, NONCE, NOTIFY, VENDOR_ID, SK, ...)."
              type: list
              elements: str
              returned: always
            proposals:
              description: >-
                SA proposals of an unencrypted message, normalised like configured proposals: lists C(encryption), C(integrity),
                C(prf), C(dh), C(esn), a C(text) such as V(IKE:AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048),
                C(number), C(protocol) (IKE, ESP, AH), C(spi); IKEv2 adds C(transforms) ({type, id, name, key_length});
                IKEv1 gives one proposal per transform with C(transform_number), C(transform_id), C(auth_method), C(lifetime), C(mode).
              type: list
              elements: dict
              returned: always
            notifies:
              description: >-
                Notify payloads in clear, each {type (e.g. NO_PROPOSAL_CHOSEN, INVALID_KE_PAYLOAD, NAT_DETECTION_SOURCE_IP, COOKIE,
                AUTHENTICATION_FAILED), number, error (type < 16384), protocol, spi, and per type hash, accepted_group, cookie_length}.
              type: list
              elements: dict
              returned: always
            notify_types:
              description: "Just the notify type names."
              type: list
              elements: str
              returned: always
              sample: [NO_PROPOSAL_CHOSEN]
            ke_group:
              description: "IKEv2 KE payload group (MODP_2048, ...)."
              type: str
              returned: when a KE payload is in clear
            ke_group_number:
              description: "Its number."
              type: int
              returned: when a KE payload is in clear
            vendor_ids:
              description: "Vendor IDs: {id (hex), name or null}."
              type: list
              elements: dict
              returned: always
            nat_detection:
              description: >-
                NAT detection hashes: {kind (source, destination), hash, result}. C(result) is V(match) or V(mismatch) against the
                addresses and ports as captured here; an inbound mismatch means a NAT between the peer and this capture.
              type: list
              elements: dict
              returned: always
            retransmission:
              description: "V(true) when the same bytes were already seen in this direction."
              type: bool
              returned: always
            retransmission_of:
              description: "C(index) of the first copy."
              type: int
              returned: when a retransmission
            answered:
              description: "For requests: whether the other side answered in the capture; V(null) for responses and IKEv1 informational."
              type: bool
              returned: always
            errors:
              description: "Decoding problems (malformed or truncated payloads)."
              type: list
              elements: str
              returned: always
            truncated:
              description: "The message was cut short."
              type: bool
              returned: when cut short
        messages_dropped:
          description: "Messages beyond the list limit."
          type: int
          returned: always
        counts:
          description: "C(out), C(in), C(unknown), C(other), C(retransmissions), C(unanswered_requests)."
          type: dict
          returned: always
        sas:
          description: IKE SAs seen (by initiator SPI).
          type: list
          elements: dict
          returned: always
          contains:
            ispi:
              description: "Initiator SPI."
              type: str
              returned: always
            rspi:
              description: "Responder SPI once known, else V(null)."
              type: str
              returned: always
            version:
              description: "2 or 1."
              type: int
              returned: always
            initiator:
              description: "Address of the initiator."
              type: str
              returned: always
            responder:
              description: "Address of the responder."
              type: str
              returned: always
            initiated_here:
              description: "V(true) when this gateway initiated."
              type: bool
              returned: always
            exchanges:
              description: "Exchanges seen, in order."
              type: list
              elements: str
              returned: always
            messages:
              description: "Message count."
              type: int
              returned: always
            retransmissions:
              description: "Retransmitted messages."
              type: int
              returned: always
            unanswered_requests:
              description: "Requests never answered in the capture."
              type: int
              returned: always
            notifies:
              description: "Distinct notifies: {type, from (initiator or responder), exchange, error}."
              type: list
              elements: dict
              returned: always
            proposals_offered:
              description: "Proposals the initiator sent in clear."
              type: list
              elements: dict
              returned: always
            proposals_chosen:
              description: "Proposal(s) the responder sent back in clear."
              type: list
              elements: dict
              returned: always
            ke_groups:
              description: "KE groups seen."
              type: list
              elements: str
              returned: always
            nat:
              description: "C(initiator_behind_nat) and C(responder_behind_nat): true, false or null (not evaluable here)."
              type: dict
              returned: always
            first_time:
              description: "First message time."
              type: float
              returned: always
            last_time:
              description: "Last message time."
              type: float
              returned: always
    esp:
      description: ESP per SPI and direction.
      type: list
      elements: dict
      returned: always
      contains:
        spi:
          description: "SPI as V(0x) and 8 hex digits."
          type: str
          returned: always
          sample: "0xc8e2bf74"
        src:
          description: "Outer source."
          type: str
          returned: always
        dst:
          description: "Outer destination."
          type: str
          returned: always
        direction:
          description: "V(out), V(in) or V(unknown)."
          type: str
          returned: always
        interface:
          description: "Interface."
          type: str
          returned: always
        encapsulation:
          description: "V(udp) for ESP in UDP (NAT-T), else V(null)."
          type: str
          returned: always
        sport:
          description: "UDP source port when encapsulated."
          type: int
          returned: always
        dport:
          description: "UDP destination port when encapsulated."
          type: int
          returned: always
        packets:
          description: "Packets."
          type: int
          returned: always
        bytes:
          description: "Bytes on the wire."
          type: int
          returned: always
        first_time:
          description: "First packet time."
          type: float
          returned: always
        last_time:
          description: "Last packet time."
          type: float
          returned: always
        first_seq:
          description: "Lowest sequence number."
          type: int
          returned: always
        last_seq:
          description: "Highest sequence number."
          type: int
          returned: always
        gaps:
          description: "Sequence numbers missing between first and last."
          type: int
          returned: always
        gap_ranges:
          description: "Up to 10 missing ranges [from, to]."
          type: list
          elements: list
          returned: always
        replays:
          description: "Packets whose sequence number was already seen."
          type: int
          returned: always
        out_of_order:
          description: "Packets below the highest sequence number seen so far."
          type: int
          returned: always
    natt_keepalives:
      description: "NAT-T keepalive counts by direction (C(out), C(in), C(unknown), C(other))."
      type: dict
      returned: always
    cleartext:
      description: >-
        Traffic between the protected subnets in clear. On outer interfaces C(outbound_leak) is clear text leaving
        this gateway (a leak), C(inbound_decapsulated) the copies Linux shows after decrypting inbound ESP (normal),
        C(inbound_unprotected) clear text arriving without ESP before it (the peer leaks); C(inner) is the same traffic
        on inner interfaces. Each is {packets, flows: [{proto, src, dst, interface, direction, packets, bytes, first_time, last_time}]}.
      type: dict
      returned: always
      contains:
        subnets_known:
          description: "V(false) when O(local_subnets)/O(remote_subnets) were not given (nothing classified)."
          type: bool
          returned: always
        outbound_leak:
          description: "See above."
          type: dict
          returned: always
        inbound_decapsulated:
          description: "See above."
          type: dict
          returned: always
        inbound_unprotected:
          description: "See above."
          type: dict
          returned: always
        inner:
          description: "See above."
          type: dict
          returned: always
        leak_examples:
          description: "Up to 5 leaked packets: {time, src, dst, proto, interface, icmp, dport}."
          type: list
          elements: dict
          returned: always
    icmp:
      description: >-
        ICMP errors: C(errors) (at most 100) each {time, direction, interface, from, to, family, type, code, error
        (destination_unreachable, packet_too_big, time_exceeded, ...), reason (fragmentation_needed, port_unreachable, ...),
        mtu, about (the quoted packet: src, dst, proto, sport, dport, spi, ike)}; C(counts) by reason.
      type: dict
      returned: always
    fragments:
      description: >-
        IP fragments: C(packets), C(reassembled) datagrams, C(incomplete) datagrams, C(flows) [{src, dst,
        proto, fragments, datagrams}].
      type: dict
      returned: always
    flows:
      description: >-
        Per-flow counters of traffic with the peer: {proto, src, sport, dst, dport, direction, packets, bytes,
        first_time, last_time}.
      type: list
      elements: dict
      returned: always
    flows_dropped:
      description: "Packets of flows beyond the list limit (200 flows)."
      type: int
      returned: always
    events:
      description: >-
        Compact per-packet events for pairing with the other gateway: {t, dir, if, kind (ike, esp, icmp, clear), id, src, dst}
        plus C(exchange), C(response), C(message_id) for IKE and C(bucket) for clear text. C(id) is the same on both
        gateways for the same packet (IKE digest, ESP SPI and sequence number, ...).
      type: list
      elements: dict
      returned: always
    events_dropped:
      description: "Events beyond O(max_events)."
      type: int
      returned: always
    warnings:
      description: "Problems reading the files (truncated file, unknown format)."
      type: list
      elements: str
      returned: always
"""

import calendar
import re
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netdoctor.ipsec.plugins.module_utils import (
    _addr,
    _af_packet,
    _capture_filter,
    _capture_session,
    _command,
)

MAX_DURATION = 3600.0
ISO_RE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]00:?00)?$")


def parse_start(value, now):
    """Epoch seconds from ``start_at`` (number or ISO 8601 UTC); None when it cannot be read."""
    if value is None or value == "":
        return now
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    match = ISO_RE.match(text)
    if not match:
        return None
    fields = [int(part) for part in match.groups()[:6]]
    fraction = float(match.group(7)) if match.group(7) else 0.0
    return calendar.timegm(tuple(fields) + (0, 0, 0)) + fraction


def route_interface(runner, peer):
    """(interface, source address) of the route to ``peer``."""
    _rc, out, _err = runner.run("ip", ["-o", "route", "get", peer])
    dev = re.search(r"\bdev (\S+)", out)
    src = re.search(r"\bsrc (\S+)", out)
    return (dev.group(1) if dev else None), (src.group(1) if src else None)


def local_addresses(runner):
    _rc, out, _err = runner.run("ip", ["-o", "addr", "show"])
    return [match.group(1) for match in re.finditer(r"\binet6? ([0-9a-fA-F.:]+)/", out)]


def interface_mac(name):
    try:
        with open("/sys/class/net/%s/address" % name) as handle:
            return handle.read().strip().lower()
    except (IOError, OSError):
        return None


def _unique(names):
    """``names`` without repeats, in their order: one capture (one file) per interface."""
    seen = []
    for name in names:
        if name not in seen:
            seen.append(name)
    return seen


def build_plan(params, runner, now):
    """The plan dict for _capture_session.Session, or raises ValueError with a message."""
    warnings = []
    peers = [p.strip() for p in params["peer_addresses"]]
    for peer in peers:
        if _addr.address_family(peer) is None:
            raise ValueError("peer_addresses: %r is not an IP address" % peer)
    for key in ("local_subnets", "remote_subnets"):
        for net in params[key]:
            if _addr.parse_network(net) is None:
                raise ValueError("%s: %r is not an IP network" % (key, net))
    start = parse_start(params["start_at"], now)
    if start is None:
        raise ValueError("start_at: %r is neither epoch seconds nor an ISO 8601 UTC time" % (params["start_at"],))
    duration = float(params["duration"])
    if not 0 < duration <= MAX_DURATION:
        raise ValueError("duration must be more than 0 and at most %d seconds" % MAX_DURATION)
    if start < now:
        warnings.append("start_at is %.3f s in the past; starting now" % (now - start))
        start = now
    if start > now + 24 * 3600:
        raise ValueError("start_at is more than a day in the future")
    sources = []
    interfaces = _unique(params["interfaces"] or [])
    if not interfaces:
        for peer in peers:
            dev, src = route_interface(runner, peer)
            if not dev:
                raise ValueError("no route to the peer %s: give interfaces explicitly" % peer)
            if dev not in interfaces:
                interfaces.append(dev)
            if src:
                sources.append(src)
    inner = [name for name in _unique(params["inner_interfaces"]) if name not in interfaces]
    try:
        addresses = local_addresses(runner)
    except _command.CommandError as exc:
        addresses = []
        warnings.append("cannot list local addresses (%s); directions come from the peer addresses" % exc)
    addresses = sorted(set(addresses + sources + list(params["local_addresses"])))
    backend = params["backend"]
    if backend == "auto":
        backend = "tcpdump" if runner.has("tcpdump") else "af_packet"
    if backend == "tcpdump" and not runner.has("tcpdump"):
        raise ValueError("backend=tcpdump but tcpdump is not installed")
    if backend == "af_packet":
        reason = _af_packet.available()
        if reason:
            raise ValueError("no capture possible: tcpdump is not installed and %s" % reason)
    probe = _probe_spec(params["probe"])
    all_interfaces = interfaces + inner
    roles = dict((name, "outer") for name in interfaces)
    roles.update((name, "inner") for name in inner)
    plan = {
        "peers": peers,
        "interfaces": all_interfaces,
        "roles": roles,
        "local_subnets": list(params["local_subnets"]),
        "remote_subnets": list(params["remote_subnets"]),
        "filter": _capture_filter.bpf(peers, params["local_subnets"], params["remote_subnets"]),
        "start": start,
        "lead_time": max(0.0, float(params["lead_time"])),
        "duration": duration,
        "max_packets": params["max_packets"],
        "max_bytes": params["max_bytes"],
        "snaplen": params["snaplen"],
        "backend": backend,
        "dest_dir": params["dest_dir"],
        "keep_pcap": params["keep_pcap"],
        "probe": probe,
        "local_addresses": addresses,
        "warnings": warnings,
        "summary_context": {
            "peer_addresses": peers,
            "local_addresses": addresses,
            "local_subnets": list(params["local_subnets"]),
            "remote_subnets": list(params["remote_subnets"]),
            "interface_roles": roles,
            "interface_macs": dict((name, interface_mac(name)) for name in all_interfaces),
            "max_events": params["max_events"],
        },
    }
    if backend == "tcpdump":
        plan["immediate_mode"] = _capture_session.tcpdump_has_immediate_mode(runner)
        if not plan["immediate_mode"]:
            warnings.append("this tcpdump has no --immediate-mode; the last packets may be late")
    if probe:
        estimate = probe.get("delay", 1.0) + len(probe["icmp_sizes"]) * probe["count"] * (probe["timeout"] + probe["interval"])
        estimate += probe["tcp_timeout"] if probe.get("tcp_port") else 0
        if estimate > duration:
            warnings.append("the probes may need %.1f s, longer than the %.1f s window; the capture stops at its bound" % (estimate, duration))
    return plan


def _probe_spec(probe):
    if not probe:
        return None
    for key in ("source", "destination"):
        if _addr.address_family(probe[key]) is None:
            raise ValueError("probe.%s: %r is not an IP address" % (key, probe[key]))
    if _addr.address_family(probe["source"]) != _addr.address_family(probe["destination"]):
        raise ValueError("probe.source and probe.destination must be of one address family")
    if any(size < 0 or size > 65000 for size in probe["icmp_sizes"]):
        raise ValueError("probe.icmp_sizes must be between 0 and 65000")
    return dict(probe)


def plan_view(plan, session=None):
    backend = session.backend if session and session.backend else None
    commands = []
    if plan["backend"] == "tcpdump":
        commands = [["tcpdump", "-i", name, "-n", "-U", "-w", "<file>", plan["filter"]] for name in plan["interfaces"]]
    if backend is not None and backend.name == "tcpdump":
        commands = backend.commands()
    return {
        "backend": plan["backend"],
        "interfaces": plan["interfaces"],
        "roles": plan["roles"],
        "filter": plan["filter"],
        "commands": commands,
        "start": plan["start"],
        "duration": plan["duration"],
        "probe": plan["probe"],
        "local_addresses": plan["local_addresses"],
    }


def main():
    probe_options = dict(
        source=dict(type="str", required=True),
        destination=dict(type="str", required=True),
        icmp_sizes=dict(type="list", elements="int", default=[56, 1300]),
        df=dict(type="bool", default=True),
        count=dict(type="int", default=3),
        interval=dict(type="float", default=0.2),
        timeout=dict(type="float", default=1.0),
        tcp_port=dict(type="int"),
        tcp_timeout=dict(type="float", default=3.0),
        delay=dict(type="float", default=1.0),
    )
    module = AnsibleModule(
        argument_spec=dict(
            peer_addresses=dict(type="list", elements="str", required=True),
            interfaces=dict(type="list", elements="str"),
            inner_interfaces=dict(type="list", elements="str", default=[]),
            local_subnets=dict(type="list", elements="str", default=[]),
            remote_subnets=dict(type="list", elements="str", default=[]),
            local_addresses=dict(type="list", elements="str", default=[]),
            start_at=dict(type="raw"),
            lead_time=dict(type="float", default=3.0),
            duration=dict(type="float", default=10),
            max_packets=dict(type="int", default=20000),
            max_bytes=dict(type="int", default=20000000),
            snaplen=dict(type="int", default=262144),
            backend=dict(type="str", choices=["auto", "tcpdump", "af_packet"], default="auto"),
            dest_dir=dict(type="path"),
            keep_pcap=dict(type="bool", default=False),
            max_events=dict(type="int", default=2000),
            probe=dict(type="dict", options=probe_options),
        ),
        supports_check_mode=True,
    )
    runner = _command.CommandRunner(module)
    try:
        plan = build_plan(module.params, runner, time.time())
    except (ValueError, _command.CommandError) as exc:
        module.fail_json(msg="capture: %s" % exc)
    if module.check_mode:
        for warning in plan["warnings"]:
            module.warn(warning)
        module.exit_json(changed=True, check_mode=True, plan=plan_view(plan))
    session = _capture_session.Session(plan, runner)
    try:
        result = session.run()
    except _capture_session.Interrupted as exc:
        module.fail_json(msg="capture interrupted (%s); the capture was stopped and its files removed" % exc,
                         plan=plan_view(plan, session))
    except (OSError, IOError, _command.CommandError, _capture_session.CaptureError) as exc:
        module.fail_json(msg="capture failed: %s; nothing was left behind" % exc, plan=plan_view(plan, session))
    for warning in result.pop("warnings"):
        module.warn(warning)
    module.exit_json(changed=True, check_mode=False, plan=plan_view(plan, session), **result)


if __name__ == "__main__":
    main()
