# The README's example commands, run as written where no GPU or real weights are needed (the render
# lines on the tiny model and the sample inputs), every option checked against the command's --help,
# and the layout table against `lavr plan` (tests/cli/readme_examples.sh).
if(LAVR_FFMPEG AND LAVR_SNDFILE)
  list(JOIN LAVR_MPIRUN " " readme_mpirun)
  add_test(NAME cli_readme_examples COMMAND bash ${CMAKE_SOURCE_DIR}/tests/cli/readme_examples.sh $<TARGET_FILE:lavr>
    ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_BINARY_DIR}/test-tmp/tiny.h5 ${CMAKE_BINARY_DIR}/test-tmp/cli_render/in
    ${CMAKE_BINARY_DIR}/test-tmp/cli_readme)
  set_tests_properties(cli_readme_examples PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV};${LAVR_MPI_ENV};LAVR_MPIRUN=${readme_mpirun}"
    TIMEOUT 600 FIXTURES_REQUIRED "lavr_tiny_model;lavr_render_inputs" PASS_REGULAR_EXPRESSION "readme-examples-ok")
endif()
