# `lavr render` refuses a layout the planner puts over --gpu-mem before anything loads: one line naming the GPU,
# the rank, the need and the cap, exit 2, no stage directory made. The tiny model at 2048*2048 needs several GiB
# (its step caches), over a 1 GiB cap. Runs without a GPU (the check needs a CUDA build, not a device).
if(LAVR_CUDA AND LAVR_FFMPEG AND LAVR_SNDFILE)
  list(JOIN LAVR_MPIRUN " " render_plan_mpirun)
  set(render_plan_in ${CMAKE_BINARY_DIR}/test-tmp/cli_render/in)
  set(render_plan_dir ${CMAKE_BINARY_DIR}/test-tmp/cli_render_plan)
  add_test(NAME cli_render_over_cap COMMAND sh -c
    "D=${render_plan_dir}; rm -rf $D && mkdir -p $D; \
${render_plan_mpirun} -np 2 $<TARGET_FILE:lavr> render --model ${CMAKE_BINARY_DIR}/test-tmp/tiny.h5 \
--image ${render_plan_in}/portrait.png --audio ${render_plan_in}/speech.wav --prompt 'a person talking' \
--layout steps=1 --backend cuda --gpu-mem 1GiB --size 2048*2048 --out $D/cap.mp4 2>&1; echo exit=$?; \
if [ -e $D/cap.stage ]; then echo stage-made; else echo no-stage; fi")
  set_tests_properties(cli_render_over_cap PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV};${LAVR_MPI_ENV}" TIMEOUT 120
    FIXTURES_REQUIRED "lavr_tiny_model;lavr_render_inputs"
    PASS_REGULAR_EXPRESSION "^lavr: error: layout steps=1,tp=1,pp=1,aux=1 needs [0-9.]+ GiB on GPU 0 \\(rank 0, dit s0 tp0 pp0, with the ranks sharing it\\), the cap is 1.00 GiB; [^\n]*\nexit=2\nno-stage\n$"
    FAIL_REGULAR_EXPRESSION "rendering|resuming|loading")
endif()
