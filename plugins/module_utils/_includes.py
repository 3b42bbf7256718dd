# -*- coding: utf-8 -*-
# Copyright (c) netdoctor.ipsec contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Following ``include`` in IKE daemon configuration files (ipsec.conf, ipsec.secrets, swanctl.conf,
racoon.conf).

The parsers stay pure: files are read by a *loader*, ``(pattern, base_dir) -> [(path, text)]``
(``_ike_host.HostView.loader`` on a gateway). Offline text has no loader, so its includes are
reported, not followed; a nesting deeper than ``MAX_DEPTH`` (an include loop) is reported too.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

MAX_DEPTH = 10


def included_files(pattern, path, loader, depth, problems, base_dir=None):
    """[(path, text)] of the files ``include pattern`` names, relative to ``base_dir`` (default: the
    directory of ``path``, the including file); [] with a problem when they cannot be followed."""
    if loader is None:
        problems.append("include '%s' not followed (no file access)" % pattern)
        return []
    if depth >= MAX_DEPTH:
        problems.append("include '%s' nested too deep; not followed" % pattern)
        return []
    return loader(pattern, base_dir or (os.path.dirname(path) if path else "."))
