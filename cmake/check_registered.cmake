# SPDX-License-Identifier: GPL-3.0-or-later
# CTest every_qa_program_is_run: fails naming each test program of the build
# tree BUILD (an executable named qa_*) that no CTest test runs, e.g. one whose
# add_test() was skipped by a variable its directory could not see.
#   cmake -DBUILD=<build dir> -P check_registered.cmake
cmake_minimum_required(VERSION 3.19) # IN_LIST, string(JSON)
include(${CMAKE_CURRENT_LIST_DIR}/list_tests.cmake) # json, count
set(run "")
math(EXPR last "${count} - 1")
foreach(i RANGE ${last})
  string(JSON program ERROR_VARIABLE none GET "${json}" tests ${i} command 0)
  if(NOT none)
    get_filename_component(program "${program}" REALPATH)
    list(APPEND run "${program}")
  endif()
endforeach()
file(GLOB_RECURSE built LIST_DIRECTORIES false "${BUILD}/qa_*")
set(missing "")
foreach(f ${built})
  get_filename_component(name "${f}" NAME)
  # check_deb/: the /usr tree the package test may build (cmake/check_deb.cmake).
  if(NOT name MATCHES "^qa_[A-Za-z0-9_]+$" OR f MATCHES "/CMakeFiles/" OR f MATCHES "/check_deb/")
    continue()
  endif()
  get_filename_component(f "${f}" REALPATH)
  if(NOT f IN_LIST run)
    list(APPEND missing "${f}")
  endif()
endforeach()
if(missing)
  message(FATAL_ERROR "test programs that no CTest test runs: ${missing} "
    "(register each with add_test, e.g. doppler_boost_test; or delete it if it "
    "is left over from an older build)")
endif()
message(STATUS "every test program of ${BUILD} is run by a test")
