# Slurm case (label `slurm`): a private one-node Slurm started by the test runs the tiny render through
# slurm/render-1node.sbatch, requeued from outside (scontrol requeue) and then by the script itself
# (USR1 to the batch shell -> checkpoint, exit 75, requeue); each rerun resumes and the MP4 and latents
# equal an uninterrupted render's; slurm_requeue_srun does the same through the srun --mpi=pmix variant. Skipped (exit 77) without root or without Debian's slurm-wlm and munge.
if(LAVR_FFMPEG AND LAVR_SNDFILE)
  add_test(NAME slurm_requeue COMMAND bash ${CMAKE_SOURCE_DIR}/tests/slurm/requeue.sh)
  set_tests_properties(slurm_requeue PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV};${LAVR_MPI_ENV};LAVR_MPIEXEC=${MPIEXEC_EXECUTABLE}"
    SKIP_RETURN_CODE 77 LABELS slurm RUN_SERIAL TRUE TIMEOUT 300
    PASS_REGULAR_EXPRESSION "PASS: job [0-9]+ ran 3 times")
  # the same with slurm/render-1node-srun.sbatch: the ranks started by srun --mpi=pmix
  add_test(NAME slurm_requeue_srun COMMAND bash ${CMAKE_SOURCE_DIR}/tests/slurm/requeue.sh)
  set_tests_properties(slurm_requeue_srun PROPERTIES
    ENVIRONMENT "${LAVR_TEST_ENV};${LAVR_MPI_ENV};LAVR_MPIEXEC=${MPIEXEC_EXECUTABLE};LAVR_SBATCH_SCRIPT=render-1node-srun.sbatch"
    SKIP_RETURN_CODE 77 LABELS slurm RUN_SERIAL TRUE TIMEOUT 300
    PASS_REGULAR_EXPRESSION "PASS: job [0-9]+ ran 3 times")
endif()
