# SPDX-License-Identifier: GPL-3.0-or-later
"""gr-doppler: lock-free SPSC ring buffers with zero-copy NumPy views.

``doppler.buffer`` holds the ring classes (``F32Buffer``, ``F64Buffer``,
``I16Buffer``); ``doppler.ring_tool`` is the ``doppler-ring`` tool. The GNU
Radio blocks live in ``gnuradio.doppler``.
"""

__version__ = "0.1.0"
