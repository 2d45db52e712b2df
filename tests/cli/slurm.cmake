# Slurm case (label `slurm`): a private one-node Slurm started by the test requeues a batch job twice
# (scontrol requeue; USR1 to the batch shell -> save, exit 75, self-requeue) and the job resumes each
# time. Skipped (exit 77) without root or without Debian's slurm-wlm and munge.
add_test(NAME slurm_requeue COMMAND bash ${CMAKE_SOURCE_DIR}/tests/slurm/requeue.sh)
set_tests_properties(slurm_requeue PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" SKIP_RETURN_CODE 77 LABELS slurm
  TIMEOUT 180 PASS_REGULAR_EXPRESSION "PASS: job [0-9]+ ran 3 times")
