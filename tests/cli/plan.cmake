# CLI cases for `lavr plan`: the layout table of s2v-14b on 5 GPUs with a cap (LiveAvatar's layout fits
# 80 GB, the fastest is marked), a single-layout plan of the tiny model, and one-line argument errors.
add_test(NAME cli_plan_s2v_5gpu COMMAND $<TARGET_FILE:lavr> plan --config s2v-14b --size 704*384 --gpus 5 --gpu-mem 80GB)
set_tests_properties(cli_plan_s2v_5gpu PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION
  "plan: s2v-14b at 704x384 \\(latent 88x48\\), 5 GPUs, cap 74.51 GiB per GPU, bf16 DiT linear weights, fp32 text K/V, umT5 on the host\n.*layout steps=4,tp=1,pp=1,aux=1: 5 ranks on 5 GPUs, busiest GPU [0-9.]+ GiB \\(cuda:[0-4]\\), fits.*\n +0 +0 +dit s0 tp0 pp0 +30.35 +9.67 +2.01 +0.78 +0.00 .*\n +4 +4 +aux +1.65 +0.00 +0.00 +0.00 +2.38 .*fastest that fits: steps=")

add_test(NAME cli_plan_tiny_layout COMMAND $<TARGET_FILE:lavr> plan --config tiny --size 128*128 --gpus 2 --layout steps=1,tp=2,pp=1,aux=1 --text-kv bf16)
set_tests_properties(cli_plan_tiny_layout PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "layout steps=1,tp=2,pp=1,aux=1: 3 ranks on 2 GPUs.*\n +0 +0 +dit s0 tp0 pp0 .*\n +1 +1 +dit s0 tp1 pp0 .*\n +2 +0 +aux ")

add_test(NAME cli_plan_bad_mem COMMAND sh -c "$<TARGET_FILE:lavr> plan --gpus 4 --gpu-mem 24XB 2>&1; echo exit=$?")
set_tests_properties(cli_plan_bad_mem PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "lavr: error: .*24XB.*exit=2")

add_test(NAME cli_plan_bad_size COMMAND sh -c "$<TARGET_FILE:lavr> plan --size 700*384 2>&1; echo exit=$?")
set_tests_properties(cli_plan_bad_size PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "lavr: error: .*700x384 must be multiples of 16.*exit=2")

add_test(NAME cli_plan_t5_gpu COMMAND $<TARGET_FILE:lavr> plan --config s2v-14b --size 704*384 --gpus 5 --layout steps=4,tp=1,pp=1,aux=1 --t5 gpu)
set_tests_properties(cli_plan_t5_gpu PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "umT5 on the GPU\n.*\n +4 +4 +aux +12.23 +0.00")

# a cap nothing fits is an error after the table (exit 2, naming the smallest need); 0 is not a cap
add_test(NAME cli_plan_nothing_fits COMMAND sh -c "$<TARGET_FILE:lavr> plan --config tiny --gpus 2 --gpu-mem 1KB 2>&1; echo exit=$?")
set_tests_properties(cli_plan_nothing_fits PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "OVER THE CAP.*lavr: error: plan: no layout fits the cap of 1000 B per GPU; the smallest needs [0-9.]+ MiB \\(try --fp8\\)[^\n]*\nexit=2")
add_test(NAME cli_plan_zero_mem COMMAND sh -c "$<TARGET_FILE:lavr> plan --config tiny --gpus 2 --gpu-mem 0 2>&1; echo exit=$?")
set_tests_properties(cli_plan_zero_mem PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "^lavr: error: plan: --gpu-mem 0: give the memory per GPU[^\n]*\nexit=2\n$")
# an option given twice is refused, not silently the last
add_test(NAME cli_option_twice COMMAND sh -c "$<TARGET_FILE:lavr> plan --gpus 1 --gpus 2 2>&1; echo exit=$?; $<TARGET_FILE:lavr> plan --fp8 --gpus 1 --fp8 2>&1; echo exit=$?")
set_tests_properties(cli_option_twice PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "^lavr: error: lavr plan: option '--gpus' given twice \\(first '1'\\)[^\n]*\nexit=2\nlavr: error: lavr plan: option '--fp8' given twice[^\n]*\nexit=2\n$")
