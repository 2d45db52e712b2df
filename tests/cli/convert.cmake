# CLI cases of `lavr convert`: usage errors exit 2 with one line; a missing download file exits 1.
add_test(NAME cli_convert_no_wan COMMAND sh -c "$<TARGET_FILE:lavr> convert -o ${CMAKE_BINARY_DIR}/test-tmp/x.h5; echo exit=$?")
set_tests_properties(cli_convert_no_wan PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}"
  PASS_REGULAR_EXPRESSION "missing --wan DIR.*exit=2")
add_test(NAME cli_convert_empty_dir COMMAND sh -c "mkdir -p ${CMAKE_BINARY_DIR}/test-tmp/empty-wan && $<TARGET_FILE:lavr> convert --wan ${CMAKE_BINARY_DIR}/test-tmp/empty-wan -o ${CMAKE_BINARY_DIR}/test-tmp/x.h5; echo exit=$?")
set_tests_properties(cli_convert_empty_dir PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}"
  PASS_REGULAR_EXPRESSION "empty-wan/config.json' is missing: --wan must point at a directory laid out like ckpt/Wan2.2-S2V-14B.*exit=1")
