# SPDX-License-Identifier: GPL-3.0-or-later
# The Buffer Sink's zero-copy path (lib/blocks/ring_buffer.h) is a gr::buffer
# subclass that sets GNU Radio's protected buffer fields itself (d_base,
# d_bufsize, d_write_index, d_readers, d_last_min_items_read) and overrides
# index_add/index_sub, space_available, output_blkd_cb_ready and
# output_blocked_callback. Those are GNU Radio 3.10's (the custom-buffer
# rework of 3.10.0); another series may lay its buffer out differently, so
# the path is built only for 3.10.x and every other version builds the copy
# path alone (the sink then says why in its start() line and zero_copy() is
# False). DOPPLER_ZERO_COPY=OFF forces the copy path on 3.10 too.
if(Gnuradio_VERSION VERSION_GREATER_EQUAL 3.10 AND Gnuradio_VERSION VERSION_LESS 3.11)
  set(_doppler_zero_copy_default ON)
  set(_doppler_zero_copy_why "GNU Radio ${Gnuradio_VERSION} has the buffer fields it writes")
else()
  set(_doppler_zero_copy_default OFF)
  set(_doppler_zero_copy_why "GNU Radio ${Gnuradio_VERSION} is not 3.10.x, whose buffer "
                             "fields the zero-copy path writes; the copy path is used")
endif()
option(DOPPLER_ZERO_COPY "Build the Buffer Sink's zero-copy path (GNU Radio 3.10.x only)"
       ${_doppler_zero_copy_default})
if(DOPPLER_ZERO_COPY AND NOT _doppler_zero_copy_default)
  message(FATAL_ERROR "DOPPLER_ZERO_COPY=ON: ${_doppler_zero_copy_why}")
endif()
if(DOPPLER_ZERO_COPY)
  message(STATUS "Buffer Sink zero-copy path: built (${_doppler_zero_copy_why})")
  set(DOPPLER_ZERO_COPY_WHY "")
else()
  if(_doppler_zero_copy_default)
    set(_doppler_zero_copy_why "DOPPLER_ZERO_COPY=OFF was configured")
  endif()
  string(CONCAT DOPPLER_ZERO_COPY_WHY "this build has no zero-copy path: " ${_doppler_zero_copy_why})
  message(STATUS "Buffer Sink zero-copy path: not built (${_doppler_zero_copy_why})")
endif()
