# CLI cases of `lavr check-golden`: every shipped golden file must pass on the CPU backend, and a
# missing file, a text file and a lavr model file (no /weights) are one-line errors with exit != 0.
foreach(net t5 w2v vae dit)
  add_test(NAME cli_check_golden_${net} COMMAND $<TARGET_FILE:lavr> check-golden ${LAVR_GOLDEN_DIR}/${net}.h5)
  set_tests_properties(cli_check_golden_${net} PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 600
    PASS_REGULAR_EXPRESSION "${net}\\.h5: [1-9][0-9]* passed, 0 failed")
endforeach()

add_test(NAME cli_check_golden_missing
  COMMAND sh -c "$<TARGET_FILE:lavr> check-golden ${CMAKE_BINARY_DIR}/test-tmp/no-such-golden.h5; echo exit=$?")
set_tests_properties(cli_check_golden_missing PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}"
  PASS_REGULAR_EXPRESSION "cannot open .*no-such-golden\\.h5.*exit=[1-9]")

add_test(NAME cli_check_golden_text_file
  COMMAND sh -c "echo not hdf5 > ${CMAKE_BINARY_DIR}/test-tmp/golden-text.h5; $<TARGET_FILE:lavr> check-golden ${CMAKE_BINARY_DIR}/test-tmp/golden-text.h5; echo exit=$?")
set_tests_properties(cli_check_golden_text_file PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}"
  PASS_REGULAR_EXPRESSION "golden-text\\.h5.* not an HDF5 file.*exit=[1-9]")

add_test(NAME cli_check_golden_model_file
  COMMAND sh -c "$<TARGET_FILE:lavr> init --config tiny -o ${CMAKE_BINARY_DIR}/test-tmp/golden-tiny.h5 >/dev/null && $<TARGET_FILE:lavr> check-golden ${CMAKE_BINARY_DIR}/test-tmp/golden-tiny.h5; echo exit=$?")
set_tests_properties(cli_check_golden_model_file PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}"
  PASS_REGULAR_EXPRESSION "golden-tiny\\.h5 is not a golden file.*exit=[1-9]")
