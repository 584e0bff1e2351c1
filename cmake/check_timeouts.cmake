# SPDX-License-Identifier: GPL-3.0-or-later
# CTest every_test_has_a_timeout: fails naming each test of the build tree
# BUILD that has no TIMEOUT property (set one with set_tests_properties).
#   cmake -DBUILD=<build dir> -P check_timeouts.cmake
include(${CMAKE_CURRENT_LIST_DIR}/list_tests.cmake) # json, count
set(missing "")
math(EXPR last "${count} - 1")
foreach(i RANGE ${last})
  string(JSON name GET "${json}" tests ${i} name)
  set(found FALSE)
  string(JSON nprops ERROR_VARIABLE no_props LENGTH "${json}" tests ${i} properties)
  if(NOT no_props AND nprops GREATER 0)
    math(EXPR plast "${nprops} - 1")
    foreach(j RANGE ${plast})
      string(JSON pname GET "${json}" tests ${i} properties ${j} name)
      if(pname STREQUAL "TIMEOUT")
        set(found TRUE)
      endif()
    endforeach()
  endif()
  if(NOT found)
    list(APPEND missing ${name})
  endif()
endforeach()
if(missing)
  message(FATAL_ERROR "tests without a TIMEOUT property: ${missing}")
endif()
message(STATUS "all ${count} tests have a TIMEOUT")
