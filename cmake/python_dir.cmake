# SPDX-License-Identifier: GPL-3.0-or-later
# Where the Python packages install: GR_PYTHON_DIR, relative to
# CMAKE_INSTALL_PREFIX. Two packages go there: `doppler` (doppler.buffer and
# the ring tool, a top-level package of its own that needs no GNU Radio) and
# `gnuradio/doppler` (the blocks, found through gnuradio's extend_path).
#
# GrPython.cmake (included by find_package(Gnuradio)) computes GR_PYTHON_DIR
# with PYTHON_EXECUTABLE, the interpreter GNU Radio was built for, as for any
# gr_modtool module. That directory is kept when the interpreter searches it
# (e.g. /usr/local/lib/python3.11/dist-packages for the default prefix). With
# CMAKE_INSTALL_PREFIX=/usr on Debian it is lib/python3.X/site-packages, which
# Debian's interpreter never searches: then the site directory of that prefix
# holding the interpreter's own gnuradio package is used instead
# (/usr/lib/python3/dist-packages, where the Debian package puts it). A
# GR_PYTHON_DIR given on the command line is always kept.
if(DEFINED CACHE{GR_PYTHON_DIR})
  message(STATUS "Python modules: ${CMAKE_INSTALL_PREFIX}/${GR_PYTHON_DIR} (GR_PYTHON_DIR as given)")
  return()
endif()
execute_process(
  COMMAND ${PYTHON_EXECUTABLE} -c "
import os, site, sys
prefix, rel = sys.argv[1], sys.argv[2]
searched = [os.path.realpath(p) for p in sys.path if p]
def inside(p):
    return os.path.commonpath([os.path.realpath(p), os.path.realpath(prefix)]) == os.path.realpath(prefix)
if os.path.realpath(os.path.join(prefix, rel)) in searched:
    print(rel + ';the interpreter searches it')
    sys.exit()
try:
    import gnuradio
    gr_site = os.path.dirname(os.path.dirname(os.path.abspath(gnuradio.__file__)))
except ImportError:
    gr_site = None
if gr_site and inside(gr_site) and os.path.realpath(gr_site) in searched:
    print(os.path.relpath(gr_site, prefix) + ';' + rel + ' is not searched by the interpreter: this is the directory of its gnuradio package')
    sys.exit()
print(rel + ';NOT searched by the interpreter: add it to PYTHONPATH')
" ${CMAKE_INSTALL_PREFIX} ${GR_PYTHON_DIR}
  OUTPUT_VARIABLE _doppler_python_dir
  OUTPUT_STRIP_TRAILING_WHITESPACE
  RESULT_VARIABLE _doppler_python_rc)
if(NOT _doppler_python_rc EQUAL 0)
  message(FATAL_ERROR "${PYTHON_EXECUTABLE} could not tell where Python modules go: ${_doppler_python_rc}")
endif()
list(GET _doppler_python_dir 0 GR_PYTHON_DIR)
list(GET _doppler_python_dir 1 _doppler_python_why)
message(STATUS "Python: ${PYTHON_EXECUTABLE}; modules install to "
               "${CMAKE_INSTALL_PREFIX}/${GR_PYTHON_DIR} (${_doppler_python_why})")
