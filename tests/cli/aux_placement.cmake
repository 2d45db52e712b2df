# `lavr render` refusing a placement it cannot honour, with one line from rank 0 before any weight
# loads: the testing aid LAVR_FAKE_DEVICES, --aux-gpu beyond the aux's node, a CUDA aux (or DiT
# rank) without a GPU. Needs a machine without GPUs (CI); skipped where `lavr version` sees one.
if(LAVR_CUDA AND LAVR_FFMPEG AND LAVR_SNDFILE)
  list(JOIN LAVR_MPIRUN " " placement_mpirun)
  set(placement_dir ${CMAKE_BINARY_DIR}/test-tmp/cli_render)
  set(placement_args "--model ${CMAKE_BINARY_DIR}/test-tmp/tiny.h5 --image ${placement_dir}/in/portrait.png --audio ${placement_dir}/in/speech.wav --prompt p --size 64*64 --layout steps=1 --out ${placement_dir}/placement.mp4")
  add_test(NAME cli_render_placement_errors COMMAND sh -c
    "L=$<TARGET_FILE:lavr>; $L version | grep -q '(0 devices visible)' || { echo 'skipped: GPUs visible'; exit 77; }; \
R='${placement_mpirun} -np 2 '$L' render ${placement_args}'; \
LAVR_FAKE_DEVICES=4 $R 2>&1; echo exit=$?; \
$R --aux-gpu 3 2>&1; echo exit=$?; \
$R --aux-backend cuda 2>&1; echo exit=$?; \
$R --backend cuda --aux-backend cpu 2>&1; echo exit=$?; \
$R --backend cpu --aux-backend gpu 2>&1; echo exit=$?")
  set_tests_properties(cli_render_placement_errors PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV};${LAVR_MPI_ENV}" TIMEOUT 300
    FIXTURES_REQUIRED "lavr_tiny_model;lavr_render_inputs" SKIP_RETURN_CODE 77
    PASS_REGULAR_EXPRESSION "lavr: error: LAVR_FAKE_DEVICES is set: it is a testing aid for lavr topo[^\n]*\n.*exit=2\nlavr: error: --aux-gpu 3: the aux rank's node has 0 CUDA devices[^\n]*\n.*exit=2\nlavr: error: --aux-backend cuda: the aux rank \\(rank 1 on [^)]+\\) sees no CUDA device[^\n]*\n.*exit=2\nlavr: error: --backend cuda: this rank sees no CUDA device[^\n]*\n.*exit=2\nlavr: error: --aux-backend 'gpu': use auto, cpu or cuda[^\n]*\n.*exit=2\n"
    FAIL_REGULAR_EXPRESSION "error:[^\n]*\n[^\n]*error:[^\n]*\nexit")
endif()
