# SPDX-License-Identifier: GPL-3.0-or-later
# CTest an_oot_module_links_the_installed_blocks_through_find_package
# (cmake/package.cmake): installs the build tree BUILD into a scratch prefix,
# then configures, builds and runs tests/oot, a module that finds the blocks
# with find_package(gnuradio-doppler) as any gr_modtool module would.
#   cmake -DBUILD=<build dir> -DSOURCE=<source dir> -P check_oot.cmake
cmake_minimum_required(VERSION 3.19)
set(work "${BUILD}/check_oot")
file(REMOVE_RECURSE "${work}")

include(${CMAKE_CURRENT_LIST_DIR}/run.cmake) # run()

run(${CMAKE_COMMAND} --install "${BUILD}" --prefix "${work}/prefix")
run(${CMAKE_COMMAND} -S "${SOURCE}/tests/oot" -B "${work}/build"
    "-DCMAKE_PREFIX_PATH=${work}/prefix")
run(${CMAKE_COMMAND} --build "${work}/build")
run(${CMAKE_COMMAND} -E env "LD_LIBRARY_PATH=${work}/prefix/lib:${work}/prefix/lib/x86_64-linux-gnu"
    "${work}/build/oot_sink")
if(NOT out MATCHES "buffer_sink")
  message(FATAL_ERROR "oot_sink did not make a Buffer Sink: ${out}")
endif()
