# SPDX-License-Identifier: GPL-3.0-or-later
# CTest fuzz_attach_corpus: runs the fuzz target once on every file of the
# corpus directory (listed when the test runs, so a new corpus file needs no
# reconfigure) and fails unless each one was executed and none crashed.
#   cmake -DFUZZER=<fuzz_attach> -DCORPUS=<dir> -P replay.cmake
file(GLOB inputs LIST_DIRECTORIES false "${CORPUS}/*")
list(LENGTH inputs expected)
if(expected EQUAL 0)
  message(FATAL_ERROR "no corpus files in ${CORPUS}: regenerate them with make_corpus")
endif()
# Files given one by one: libFuzzer runs each exactly once ("Executed ...").
execute_process(COMMAND ${FUZZER} ${inputs}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
string(REGEX MATCHALL "Executed [^\n]+" executed "${out}")
list(LENGTH executed ran)
if(NOT rc EQUAL 0 OR NOT ran EQUAL expected)
  message(FATAL_ERROR "${out}\nfuzz replay: exit status ${rc}, ${ran} of ${expected} corpus files executed")
endif()
message(STATUS "fuzz replay: all ${ran} corpus files of ${CORPUS} executed")
