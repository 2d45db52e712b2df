# Checkpoint/resume cases of `lavr render` (issue 7, tests/resume/*.sh, label `resume`): an uninterrupted
# steps=2 reference render of 3 clips at 64*64, then kill -9 of one rank or of everything at seeded
# random moments, SIGUSR1/SIGTERM stops (exit 75), torn manifests, a layout change on resume and
# refused resumes; each ends by comparing the MP4 bytes and latents with the reference. A failure
# prints its seed: rerun with LAVR_RESUME_SEED=<seed> ctest -R <name> to replay the same moments.
find_program(LAVR_RESUME_H5DUMP h5dump)
if(LAVR_FFMPEG AND LAVR_SNDFILE AND LAVR_RESUME_H5DUMP)
  set(resume_env "${LAVR_TEST_ENV};${LAVR_MPI_ENV};LAVR_MPIEXEC=${MPIEXEC_EXECUTABLE}")
  add_test(NAME cli_resume_setup COMMAND bash ${CMAKE_SOURCE_DIR}/tests/resume/setup.sh)
  set_tests_properties(cli_resume_setup PROPERTIES ENVIRONMENT "${resume_env}" TIMEOUT 120 LABELS resume
    FIXTURES_REQUIRED lavr_tiny_model FIXTURES_SETUP lavr_resume_ref SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
  # the helpers' rank lookup on a fake job (no MPI, no reference)
  add_test(NAME cli_resume_rank_pid COMMAND bash ${CMAKE_SOURCE_DIR}/tests/resume/rank_pid.sh)
  set_tests_properties(cli_resume_rank_pid PROPERTIES ENVIRONMENT "${resume_env}" TIMEOUT 120 LABELS resume)
  foreach(case kill_one kill_all signal torn layout refuse disk_full concurrent model_swap clip0 rank_fault)
    add_test(NAME cli_resume_${case} COMMAND bash ${CMAKE_SOURCE_DIR}/tests/resume/${case}.sh)
    set_tests_properties(cli_resume_${case} PROPERTIES ENVIRONMENT "${resume_env}" TIMEOUT 300 LABELS resume
      FIXTURES_REQUIRED "lavr_tiny_model;lavr_resume_ref" SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
  endforeach()
endif()
