# SPDX-License-Identifier: GPL-3.0-or-later
# `cpack -G DEB` in the build tree makes gr-doppler_<version>_<arch>.deb of
# everything `cmake --install` installs. A Debian package installs into the
# system prefix, so configure the tree it is made from with
# -DCMAKE_INSTALL_PREFIX=/usr: the libraries then go to lib/<multiarch>, the
# Python packages to /usr/lib/python3/dist-packages (cmake/python_dir.cmake)
# and pkg-config's prefix is /usr. README, "Debian package".
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME gr-doppler)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "GNU Radio blocks and lock-free shared-memory sample rings (gr-doppler)")
set(CPACK_PACKAGE_CONTACT "gr-doppler developers <gr-doppler@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # gr-doppler_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION hamradio)
# The GNU Radio libraries of the series it was built against (Debian names
# them by major.api.minor: libgnuradio-runtime3.10.5), the Python side of GNU
# Radio (package gnuradio: `from gnuradio import gr`, GRC), ZeroMQ for
# doppler-bridge, VOLK for the conversions, NumPy for doppler.buffer.
string(REGEX MATCH "^[0-9]+\\.[0-9]+\\.[0-9]+" _doppler_gr_series "${Gnuradio_VERSION}")
string(REGEX MATCH "^[0-9]+\\.[0-9]+" _doppler_gr_api "${Gnuradio_VERSION}")
math(EXPR _doppler_gr_next "${Gnuradio_VERSION_MINOR} + 1")
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libgnuradio-runtime${_doppler_gr_series}, libgnuradio-blocks${_doppler_gr_series}, \
libgnuradio-pmt${_doppler_gr_series}, \
gnuradio (>= ${_doppler_gr_api}), gnuradio (<< ${Gnuradio_VERSION_MAJOR}.${_doppler_gr_next}), \
libvolk2.5 | libvolk2.4 | libvolk3.0, libzmq5, python3-numpy, python3")
if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  message(STATUS "cpack -G DEB packs for ${CMAKE_INSTALL_PREFIX}; a Debian package for the "
                 "system wants a tree configured with -DCMAKE_INSTALL_PREFIX=/usr")
endif()
include(CPack)

# The package holds every installed part where a Debian system looks for it:
# cmake/check_deb.cmake makes it (from this tree when it is configured for
# /usr, else from a tree of its own configured for /usr: a full build),
# unpacks it with dpkg -x into a scratch root and checks the file list.
add_test(NAME the_debian_package_holds_every_installed_part
  COMMAND ${CMAKE_COMMAND} -DBUILD=${PROJECT_BINARY_DIR} -DSOURCE=${PROJECT_SOURCE_DIR}
          -DPREFIX=${CMAKE_INSTALL_PREFIX} -DVERSION=${PROJECT_VERSION}
          -DPYTHON=${PYTHON_EXECUTABLE}
          -P ${PROJECT_SOURCE_DIR}/cmake/check_deb.cmake)
set_tests_properties(the_debian_package_holds_every_installed_part PROPERTIES TIMEOUT 3600
  RUN_SERIAL TRUE)

# Another out-of-tree module finds the installed blocks with
# find_package(gnuradio-doppler) and links gnuradio::gnuradio-doppler
# (tests/oot: a module of one program that makes a Buffer Sink).
add_test(NAME an_oot_module_links_the_installed_blocks_through_find_package
  COMMAND ${CMAKE_COMMAND} -DBUILD=${PROJECT_BINARY_DIR} -DSOURCE=${PROJECT_SOURCE_DIR}
          -P ${PROJECT_SOURCE_DIR}/cmake/check_oot.cmake)
set_tests_properties(an_oot_module_links_the_installed_blocks_through_find_package
  PROPERTIES TIMEOUT 600)
