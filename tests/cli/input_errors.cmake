# One ctest case per bad input of `lavr render` (tests/cli/input_errors.sh holds the table): each is refused
# before any weight loads with exit 2 and one line, leaving no stage directory.
if(LAVR_FFMPEG AND LAVR_SNDFILE)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env LAVR_BIN=- LAVR_TEST_TMP=- LAVR_RENDER_INPUTS=-
                          bash ${CMAKE_SOURCE_DIR}/tests/cli/input_errors.sh list
                  OUTPUT_VARIABLE input_error_cases OUTPUT_STRIP_TRAILING_WHITESPACE)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/cli/input_errors.sh)
  string(REPLACE "\n" ";" input_error_cases "${input_error_cases}")
  foreach(case ${input_error_cases})
    add_test(NAME cli_input_${case} COMMAND bash ${CMAKE_SOURCE_DIR}/tests/cli/input_errors.sh ${case})
    set_tests_properties(cli_input_${case} PROPERTIES
      ENVIRONMENT "${LAVR_TEST_ENV};${LAVR_MPI_ENV};LAVR_MPIEXEC=${MPIEXEC_EXECUTABLE};LAVR_RENDER_INPUTS=${CMAKE_BINARY_DIR}/test-tmp/cli_render/in"
      FIXTURES_REQUIRED "lavr_tiny_model;lavr_render_inputs" TIMEOUT 120)
  endforeach()
endif()
