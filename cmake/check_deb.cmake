# SPDX-License-Identifier: GPL-3.0-or-later
# CTest the_debian_package_holds_every_installed_part (cmake/package.cmake):
# makes the Debian package with cpack, unpacks it with dpkg -x into a scratch
# root and fails naming each expected file that is not in it.
#   cmake -DBUILD=<build dir> -DSOURCE=<source dir> -DPREFIX=<install prefix>
#         -DVERSION=<version> -DPYTHON=<interpreter> -P check_deb.cmake
# A tree configured for another prefix than /usr does not make the system
# package: then a tree of its own, configured for /usr, is built first.
cmake_minimum_required(VERSION 3.19)
set(work "${BUILD}/check_deb")
file(REMOVE_RECURSE "${work}/out" "${work}/root")
file(MAKE_DIRECTORY "${work}/out" "${work}/root")

include(${CMAKE_CURRENT_LIST_DIR}/run.cmake) # run()

if(PREFIX STREQUAL "/usr")
  set(tree "${BUILD}")
else()
  set(tree "${work}/tree")
  message(STATUS "${BUILD} installs into ${PREFIX}: building ${tree} for /usr")
  run(${CMAKE_COMMAND} -S "${SOURCE}" -B "${tree}" -DCMAKE_BUILD_TYPE=Release
      -DCMAKE_INSTALL_PREFIX=/usr)
  run(${CMAKE_COMMAND} --build "${tree}" -j2)
endif()
run(${CMAKE_COMMAND} -E chdir "${tree}" cpack -G DEB -B "${work}/out")
file(GLOB debs "${work}/out/*.deb")
list(LENGTH debs n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "cpack made ${n} .deb files in ${work}/out, expected 1: ${debs}")
endif()
get_filename_component(deb_name "${debs}" NAME)
execute_process(COMMAND dpkg --print-architecture OUTPUT_VARIABLE arch
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT deb_name STREQUAL "gr-doppler_${VERSION}_${arch}.deb")
  message(FATAL_ERROR "the package is ${deb_name}, expected gr-doppler_${VERSION}_${arch}.deb")
endif()
execute_process(COMMAND dpkg-deb --field "${debs}" Depends OUTPUT_VARIABLE depends)
foreach(dep libgnuradio-runtime3.10 libzmq5 python3-numpy)
  string(FIND "${depends}" "${dep}" at)
  if(at LESS 0)
    message(FATAL_ERROR "the package does not depend on ${dep}: Depends: ${depends}")
  endif()
endforeach()
run(dpkg -x "${debs}" "${work}/root")

# Where a Debian system looks: the multiarch library directory, the
# interpreter's dist-packages (where the gnuradio package is), GRC's blocks.
execute_process(COMMAND dpkg-architecture -qDEB_HOST_MULTIARCH OUTPUT_VARIABLE multiarch
                OUTPUT_STRIP_TRAILING_WHITESPACE)
set(lib "usr/lib/${multiarch}")
set(py "usr/lib/python3/dist-packages")
set(expected
  ${lib}/libdoppler-buffer.so.${VERSION}
  ${lib}/libgnuradio-doppler.so.${VERSION}
  ${lib}/pkgconfig/doppler-buffer.pc
  ${lib}/pkgconfig/gnuradio-doppler.pc
  ${lib}/cmake/doppler-buffer/doppler-bufferConfig.cmake
  ${lib}/cmake/doppler-buffer/doppler-bufferTargets.cmake
  ${lib}/cmake/gnuradio-doppler/gnuradio-dopplerConfig.cmake
  ${lib}/cmake/gnuradio-doppler/gnuradio-dopplerConfigVersion.cmake
  ${lib}/cmake/gnuradio-doppler/gnuradio-dopplerTargets.cmake
  usr/include/doppler/buffer.h
  usr/include/doppler/ring.hpp
  usr/include/doppler/layout.hpp
  usr/include/gnuradio/doppler/buffer_sink.h
  usr/include/gnuradio/doppler/buffer_source.h
  ${py}/doppler/__init__.py
  ${py}/doppler/_version.py
  ${py}/doppler/ring_tool.py
  ${py}/doppler/record.py
  ${py}/doppler/play.py
  ${py}/doppler/sigmf.py
  ${py}/gnuradio/doppler/__init__.py
  usr/share/gnuradio/grc/blocks/doppler_buffer_sink.block.yml
  usr/share/gnuradio/grc/blocks/doppler_buffer_source.block.yml
  usr/share/gr-doppler/examples/tone_to_ring.grc
  usr/bin/doppler-ring
  usr/bin/doppler-bridge
  usr/bin/doppler-demo
  usr/bin/doppler-soak
  usr/bin/doppler-record
  usr/bin/doppler-play)
# The extension modules carry the interpreter's suffix (buffer.cpython-311-...so).
file(GLOB_RECURSE ext RELATIVE "${work}/root" "${work}/root/${py}/*.so")
foreach(module doppler/buffer doppler/_ring_tool gnuradio/doppler/doppler_python)
  if(NOT ext MATCHES "${py}/${module}\\.[^;/]*so")
    list(APPEND missing "${py}/${module}*.so")
  endif()
endforeach()
foreach(f ${expected})
  if(NOT EXISTS "${work}/root/${f}")
    list(APPEND missing "${f}")
  endif()
endforeach()
file(GLOB_RECURSE held RELATIVE "${work}/root" "${work}/root/*")
foreach(f ${held})
  if(NOT f MATCHES "^usr/")
    list(APPEND stray "${f}")
  endif()
endforeach()
if(missing OR stray)
  string(REPLACE ";" "\n  " missing "${missing}")
  string(REPLACE ";" "\n  " stray "${stray}")
  message(FATAL_ERROR "${deb_name}:\nmissing:\n  ${missing}\noutside /usr:\n  ${stray}")
endif()

# The unpacked Python packages load (the extension modules with the unpacked
# libraries) and report the project's version; gnuradio's extend_path finds
# the unpacked gnuradio/doppler beside the system's gnuradio.
set(root "${work}/root")
execute_process(
  COMMAND ${CMAKE_COMMAND} -E env "PYTHONPATH=${root}/${py}" "LD_LIBRARY_PATH=${root}/${lib}"
          ${PYTHON} -c "import sys, doppler.buffer; from gnuradio import doppler as blocks
assert all(m.__file__.startswith(sys.argv[1]) for m in (doppler.buffer, blocks)), (doppler.buffer, blocks)
assert doppler.buffer.F32Buffer(512).capacity == 512
print(doppler.__version__)" "${root}/"
  OUTPUT_VARIABLE v ERROR_VARIABLE err OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT v STREQUAL VERSION)
  message(FATAL_ERROR "the unpacked Python packages: doppler.__version__ '${v}' (expected "
                      "${VERSION}), exit code ${rc}:\n${err}")
endif()
message(STATUS "${deb_name}: every expected file is in it")
