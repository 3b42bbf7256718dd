# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""``/proc/net/xfrm_stat``: the kernel's xfrm error counters (``XfrmInNoStates 0`` per line)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

XFRM_STAT_PATH = "/proc/net/xfrm_stat"


def parse_xfrm_stat(text):
    """(counters dict name -> int, lines that are not ``Name <int>``)."""
    counters, unparsed = {}, []
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        if len(fields) == 2 and fields[1].isdigit() and fields[0].startswith("Xfrm"):
            counters[fields[0]] = int(fields[1])
        else:
            unparsed.append(line.strip())
    return counters, unparsed
