# The render's output against the user's speech file, read by ffprobe (tests/cli/output.sh): `wav` (a
# 48 kHz stereo WAV: the video ends with the speech, its rate and channels, AAC at >= 192 kb/s), `aac`
# (an M4A: the same, with the file's own AAC packets), `tail` (--keep-tail keeps the whole clip; 0.1 s of
# speech refused with exit 2). One clip of the tiny model at 64*64 with steps=1 (2 ranks) each.
if(LAVR_FFMPEG AND LAVR_SNDFILE)
  list(JOIN LAVR_MPIRUN " " output_mpirun)
  foreach(case wav aac tail)
    add_test(NAME cli_output_${case} COMMAND bash ${CMAKE_SOURCE_DIR}/tests/cli/output.sh ${case} $<TARGET_FILE:lavr>
      ${CMAKE_BINARY_DIR}/test-tmp/tiny.h5 ${CMAKE_BINARY_DIR}/test-tmp/cli_render/in ${CMAKE_BINARY_DIR}/test-tmp/cli_output)
    set_tests_properties(cli_output_${case} PROPERTIES
      ENVIRONMENT "${LAVR_TEST_ENV};${LAVR_MPI_ENV};LAVR_MPIRUN=${output_mpirun}" TIMEOUT 300
      FIXTURES_REQUIRED "lavr_tiny_model;lavr_render_inputs" PASS_REGULAR_EXPRESSION "output-${case}-ok")
  endforeach()
endif()
