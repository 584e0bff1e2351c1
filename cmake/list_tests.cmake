# SPDX-License-Identifier: GPL-3.0-or-later
# Included by the check scripts (check_timeouts.cmake, check_registered.cmake):
# the tests of the build tree BUILD as CTest lists them (json-v1) in `json`,
# and how many there are in `count`.
execute_process(COMMAND ${CMAKE_CTEST_COMMAND} --test-dir ${BUILD} -N --show-only=json-v1
                OUTPUT_VARIABLE json RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cannot list the tests of ${BUILD}")
endif()
string(JSON count LENGTH "${json}" tests)
