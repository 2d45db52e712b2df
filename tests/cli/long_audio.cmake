# Constant aux memory for any audio length (tests/long_audio/rss.sh): the aux's peak RSS for 4 min of
# speech within 10 % of that for 1 min (the wav2vec2 attention over the whole audio, quadratic in its
# length, makes 20 min take tens of minutes on two cores: -DLAVR_LONG_TESTS=ON adds that case, label long).
option(LAVR_LONG_TESTS "Add the long-running tests (20 min of audio through the tiny model)" OFF)
if(LAVR_FFMPEG AND LAVR_SNDFILE)
  set(long_audio_env "${LAVR_TEST_ENV};${LAVR_MPI_ENV};LAVR_MPIEXEC=${MPIEXEC_EXECUTABLE}")
  add_test(NAME cli_long_audio_rss COMMAND bash ${CMAKE_SOURCE_DIR}/tests/long_audio/rss.sh 1 4)
  set_tests_properties(cli_long_audio_rss PROPERTIES ENVIRONMENT "${long_audio_env}" TIMEOUT 1500 RUN_SERIAL TRUE
    FIXTURES_REQUIRED lavr_tiny_model SKIP_RETURN_CODE 77 PASS_REGULAR_EXPRESSION "within 10 %")
  if(LAVR_LONG_TESTS)
    add_test(NAME cli_long_audio_rss_20min COMMAND bash ${CMAKE_SOURCE_DIR}/tests/long_audio/rss.sh 1 20)
    set_tests_properties(cli_long_audio_rss_20min PROPERTIES ENVIRONMENT "${long_audio_env}" TIMEOUT 10800
      RUN_SERIAL TRUE LABELS long FIXTURES_REQUIRED lavr_tiny_model SKIP_RETURN_CODE 77
      PASS_REGULAR_EXPRESSION "within 10 %")
  endif()
endif()
