# SPDX-License-Identifier: GPL-3.0-or-later
"""Deprecated alias of :mod:`doppler.ring_tool`, the ``doppler-ring`` tool.

``doppler.ring`` was renamed ``doppler.ring_tool`` (it is the tool that lists
and removes rings, not a ring). This alias is kept for one release:
``import doppler.ring`` gives the ``doppler.ring_tool`` module (with a
DeprecationWarning) and ``python3 -m doppler.ring`` still runs the tool.
"""
import sys
import warnings

from . import ring_tool

if __name__ == "__main__":
    sys.exit(ring_tool.main())

warnings.warn("doppler.ring is deprecated: use doppler.ring_tool (the doppler-ring tool)",
              DeprecationWarning, stacklevel=2)
sys.modules[__name__] = ring_tool
