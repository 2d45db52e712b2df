# Stop and resume across aux backends (issue 15, tests/resume/aux_backend.sh): a render stopped at block 6 with a
# checkpoint at block 4, continued with the aux rank on the same or the other backend, against the uninterrupted
# render: latents and WAV bit for bit, the Y4M up to the checkpoint byte for byte, after it byte for byte (same
# backend) or within rel L2 2e-2 per block (cuda <-> cpu). Y4M, PPM and 16 kHz WAV: no FFmpeg, libsndfile or
# h5dump needed, so it runs in every build, the GPU machine's included.
add_executable(resume_tool ${CMAKE_SOURCE_DIR}/tests/resume/resume_tool.c)
target_link_libraries(resume_tool PRIVATE lavr_runtime)
set(aux_backend_env "${LAVR_TEST_ENV};${LAVR_MPI_ENV};LAVR_MPIEXEC=${MPIEXEC_EXECUTABLE}")
# cpu -> cpu: the Y4M render resumed whole (the MP4 resume tests need FFmpeg and libsndfile)
add_test(NAME cli_resume_aux_cpu_cpu COMMAND bash ${CMAKE_SOURCE_DIR}/tests/resume/aux_backend.sh cpu cpu
  $<TARGET_FILE:resume_tool>)
set_tests_properties(cli_resume_aux_cpu_cpu PROPERTIES ENVIRONMENT "${aux_backend_env}" TIMEOUT 600 LABELS resume
  RUN_SERIAL TRUE)
if(LAVR_CUDA)
  # the DiT on the GPU, the aux switching backends at the checkpoint, both ways (skipped without a GPU)
  foreach(pair cuda_cpu cpu_cuda)
    string(REPLACE "_" ";" sides ${pair})
    add_test(NAME cli_resume_aux_${pair} COMMAND bash ${CMAKE_SOURCE_DIR}/tests/resume/aux_backend.sh ${sides}
      $<TARGET_FILE:resume_tool>)
    set_tests_properties(cli_resume_aux_${pair} PROPERTIES ENVIRONMENT "${aux_backend_env}" TIMEOUT 600
      SKIP_RETURN_CODE 77 LABELS gpu RESOURCE_LOCK lavr_gpu)
  endforeach()
endif()
