# Two-host cases (issue 21, tests/multinode/*.sh, label `multinode`): this machine plays node-a and
# node-b of hostfiles/two-node-example (a UTS namespace each, started by a launch agent in place of
# ssh; TCP between them): `lavr topo` with the transport of every pair of ranks, the steps=4,tp=2 render
# equal to the one-node render, the loss of each host in turn resumed to the same bytes, a stage
# directory on each host's own disk refused before the render starts; then the
# same through a private two-node Slurm (tests/slurm/multinode.sh: slurm/render-multinode.sbatch, a
# node crash, the job submitted again). Skipped (exit 77) where UTS namespaces cannot be made (not
# root) or without slurm-wlm and munge (the Slurm case). A failure prints its seed: rerun with
# LAVR_RESUME_SEED=<seed> ctest -R <name> to replay the same moments.
find_program(LAVR_MULTINODE_H5DUMP h5dump)
set(multinode_env "${LAVR_TEST_ENV};${LAVR_MPI_ENV};LAVR_MPIRUN=${MPIEXEC_EXECUTABLE};LAVR_MPIEXEC=${MPIEXEC_EXECUTABLE};LAVR_REF_DIR=${CMAKE_BINARY_DIR}/test-tmp/multinode-ref;LAVR_REF_LAYOUT=steps=4,tp=2,pp=1,aux=1")

add_test(NAME multinode_topo COMMAND bash ${CMAKE_SOURCE_DIR}/tests/multinode/topo.sh)
set_tests_properties(multinode_topo PROPERTIES ENVIRONMENT "${multinode_env}" TIMEOUT 180 LABELS multinode
  SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)

if(LAVR_FFMPEG AND LAVR_SNDFILE AND LAVR_MULTINODE_H5DUMP)
  # the one-node reference: the same render with all 9 ranks on this host
  add_test(NAME multinode_setup COMMAND bash ${CMAKE_SOURCE_DIR}/tests/resume/setup.sh)
  set_tests_properties(multinode_setup PROPERTIES ENVIRONMENT "${multinode_env}" TIMEOUT 180 LABELS multinode
    FIXTURES_REQUIRED lavr_tiny_model FIXTURES_SETUP lavr_multinode_ref SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
  foreach(case render kill_host stage_local)
    add_test(NAME multinode_${case} COMMAND bash ${CMAKE_SOURCE_DIR}/tests/multinode/${case}.sh)
    set_tests_properties(multinode_${case} PROPERTIES ENVIRONMENT "${multinode_env}" TIMEOUT 420 LABELS multinode
      FIXTURES_REQUIRED "lavr_tiny_model;lavr_multinode_ref" SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
  endforeach()
  add_test(NAME slurm_multinode COMMAND bash ${CMAKE_SOURCE_DIR}/tests/slurm/multinode.sh)
  set_tests_properties(slurm_multinode PROPERTIES ENVIRONMENT "${multinode_env}" TIMEOUT 420 LABELS "multinode;slurm"
    FIXTURES_REQUIRED "lavr_tiny_model;lavr_multinode_ref" SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
endif()
