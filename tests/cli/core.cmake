# CLI cases for the command table itself: help, version, unknown commands and options.
add_test(NAME cli_version COMMAND $<TARGET_FILE:lavr> version)
set_tests_properties(cli_version PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}"
  PASS_REGULAR_EXPRESSION "lavr [0-9]+\\.[0-9]+\\.[0-9]+.*cuda backend: .*ffmpeg.*libsndfile")
add_test(NAME cli_help COMMAND $<TARGET_FILE:lavr> --help)
set_tests_properties(cli_help PROPERTIES PASS_REGULAR_EXPRESSION "usage: lavr COMMAND.*init.*inspect.*topo")
add_test(NAME cli_unknown_command COMMAND sh -c "$<TARGET_FILE:lavr> frobnicate; echo exit=$?")
set_tests_properties(cli_unknown_command PROPERTIES PASS_REGULAR_EXPRESSION "unknown command 'frobnicate'.*exit=2")
add_test(NAME cli_unknown_option COMMAND sh -c "$<TARGET_FILE:lavr> init --frobnicate 3; echo exit=$?")
set_tests_properties(cli_unknown_option PROPERTIES PASS_REGULAR_EXPRESSION "unknown option '--frobnicate'.*exit=2")
