# SPDX-License-Identifier: GPL-3.0-or-later
# run(<command> <args>...): for the cmake -P scripts of the tests. Runs the
# command; a failure ends the script naming the command, its exit code and
# its output. The output is left in `out` for the caller.
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "${cmd} failed (${rc}):\n${out}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()
