# docs/cli.md must be exactly what `attnscope help --markdown` prints (cli.docs in CMakeLists.txt).
execute_process(COMMAND ${CLI} help --markdown OUTPUT_FILE ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "attnscope help --markdown failed (${rc})")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${DOC} ${OUT} RESULT_VARIABLE differ)
if(differ)
  execute_process(COMMAND diff -u ${DOC} ${OUT})
  message(FATAL_ERROR "docs/cli.md is stale: it differs from `attnscope help --markdown` (diff above).\n"
                      "Regenerate it: build/attnscope help --markdown > docs/cli.md")
endif()
