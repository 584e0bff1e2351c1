# SPDX-License-Identifier: GPL-3.0-or-later
"""GNU Radio blocks of gr-doppler: buffer_sink and buffer_source.

    from gnuradio import doppler
    snk = doppler.buffer_sink("f32", "rx", 1 << 20, "drop")
    src = doppler.buffer_source("f32", "rx")

`name` is a ring name (shared between processes through /dev/shm); `buffer`
instead hands the block a doppler.buffer F32Buffer / F64Buffer / I16Buffer
object of the same process (`doppler.buffer` is re-exported here for that).
"""

from doppler import buffer  # noqa: F401

from .doppler_python import buffer_sink, buffer_source  # noqa: F401

__all__ = ["buffer", "buffer_sink", "buffer_source"]
