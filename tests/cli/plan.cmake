# CLI cases for `lavr plan`: the layouts of 4 GPUs capped at 22 GiB (a full render layout with the aux rank fits,
# fastest first, and the command to run it), LiveAvatar's layout on 5 x 80 GB with its per-rank bytes, a
# single-layout plan of the tiny model, umT5 on the aux GPU (by default when the aux has its GPU alone), the "which layout" table and one-line errors.
add_test(NAME cli_plan_4x22 COMMAND $<TARGET_FILE:lavr> plan --gpus 4 --gpu-mem 22GiB --size 704*384)
set_tests_properties(cli_plan_4x22 PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION
  "plan: s2v-14b at 704x384 \\(latent 88x48\\), 4 GPUs, 22.00 GiB per GPU \\(whole device\\)\n.*layouts that fit, fastest first:\n1\\. steps=2,tp=1,pp=2,aux=1,layers=22\\+18 --fp8: 5 ranks on 4 GPUs, busiest GPU 3 needs (1[0-9]|2[01])\\.[0-9]+ GiB, fits, (2[5-9]|3[0-9])\\.[0-9] FPS predicted\n.*\n +4 +3 +aux +0.24 .*over the cap:.*fastest that fits: steps=.* --fp8 .*one shared sink per rank.*umT5 on the aux GPU when no DiT rank shares it, else on the host, aux encoders freed after the setup\\)\n +mpirun -np 5 lavr render --layout steps=2,tp=1,pp=2,aux=1,layers=22\\+18 --fp8 --gpu-mem 22GiB")

add_test(NAME cli_plan_s2v_5gpu COMMAND $<TARGET_FILE:lavr> plan --config s2v-14b --size 704*384 --gpus 5 --gpu-mem 80GB --bf16)
set_tests_properties(cli_plan_s2v_5gpu PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION
  "5 GPUs, 74.51 GiB per GPU.*\nmodel: bf16 DiT, one shared sink.*steps=4,tp=1,pp=1,aux=1: 5 ranks on 5 GPUs, busiest GPU [0-4] needs [0-9.]+ GiB, fits.*\n.*\n +0 +0 +dit s0 tp0 pp0 +30.01 +9.67 +2.01 +0.39 .*\n.*\n.*\n.*\n +4 +4 +aux +0.24 +0.00 +0.00 +0.00 +0.00 +2.14 +3.03 +3.26 +0.49 +0.00 +0.28 +8.78 +12.81 .*fastest that fits: steps=")

add_test(NAME cli_plan_tiny_layout COMMAND $<TARGET_FILE:lavr> plan --config tiny --size 128*128 --gpus 2 --layout steps=1,tp=2,pp=1,aux=1)
set_tests_properties(cli_plan_tiny_layout PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "steps=1,tp=2,pp=1,aux=1: 3 ranks on 2 GPUs.*\n.*\n +0 +0 +dit s0 tp0 pp0 .*\n +1 +1 +dit s0 tp1 pp0 .*\n +2 +0 +aux ")

add_test(NAME cli_plan_t5_gpu COMMAND $<TARGET_FILE:lavr> plan --config s2v-14b --size 704*384 --gpus 5 --layout steps=4,tp=1,pp=1,aux=1 --t5 gpu)
set_tests_properties(cli_plan_t5_gpu PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "umT5 on the aux GPU.*\n +4 +4 +aux +0.24 +0.00 +0.00 +0.00 +0.00 +2.14 +3.03 +3.26 +0.49 +0.00 +0.28 +8.78 +12.81 ")

add_test(NAME cli_plan_table COMMAND $<TARGET_FILE:lavr> plan --table)
set_tests_properties(cli_plan_table PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "\\| GPUs \\| card \\| --gpu-mem \\| FP8 \\(--fp8\\) \\| bf16 \\|\n.*\\| 1 \\| 80 GB \\| 80GB \\| `--layout steps=1,tp=1,pp=1,aux=1 --fp8`, -np 2: .*\n\\| 1 \\| 141 GB .*\n\\| 4 \\| 24 GB \\| 24GB \\| `--layout steps=2,tp=1,pp=2,aux=1,layers=22\\+18 --fp8`, -np 5: .* FPS \\| `--layout steps=[12],.*,layers=[0-9+]+`, -np [45]: .* FPS \\|\n\\| 4 \\| 80 GB .*\n\\| 8 \\| 80 GB ")

add_test(NAME cli_plan_bad_mem COMMAND sh -c "$<TARGET_FILE:lavr> plan --gpus 4 --gpu-mem 24XB 2>&1; echo exit=$?")
set_tests_properties(cli_plan_bad_mem PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "lavr: error: .*24XB.*exit=2")

add_test(NAME cli_plan_bad_size COMMAND sh -c "$<TARGET_FILE:lavr> plan --size 700*384 2>&1; echo exit=$?")
set_tests_properties(cli_plan_bad_size PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "lavr: error: .*700x384 must be multiples of 16.*exit=2")

add_test(NAME cli_plan_bad_aux_gpu COMMAND sh -c "$<TARGET_FILE:lavr> plan --gpus 4 --aux-gpu 4 2>&1; echo exit=$?")
set_tests_properties(cli_plan_bad_aux_gpu PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "lavr: error: .*aux-gpu.*exit=2")

# a cap nothing fits is an error after the table (exit 2, naming the smallest need); 0 is not a cap
add_test(NAME cli_plan_nothing_fits COMMAND sh -c "$<TARGET_FILE:lavr> plan --config tiny --gpus 2 --gpu-mem 1KB 2>&1; echo exit=$?")
set_tests_properties(cli_plan_nothing_fits PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "no layout fits the cap; the smallest first.*lavr: error: plan: no layout fits the cap of 1000 B per GPU; the smallest needs [0-9.]+ [KMG]iB[^\n]*\nexit=2")
add_test(NAME cli_plan_zero_mem COMMAND sh -c "$<TARGET_FILE:lavr> plan --config tiny --gpus 2 --gpu-mem 0 2>&1; echo exit=$?")
set_tests_properties(cli_plan_zero_mem PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "^lavr: error: plan: --gpu-mem 0: give the memory per GPU[^\n]*\nexit=2\n$")
# an option given twice is refused, not silently the last
add_test(NAME cli_option_twice COMMAND sh -c "$<TARGET_FILE:lavr> plan --gpus 1 --gpus 2 2>&1; echo exit=$?; $<TARGET_FILE:lavr> plan --fp8 --gpus 1 --fp8 2>&1; echo exit=$?")
set_tests_properties(cli_option_twice PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "^lavr: error: lavr plan: option '--gpus' given twice \\(first '1'\\)[^\n]*\nexit=2\nlavr: error: lavr plan: option '--fp8' given twice[^\n]*\nexit=2\n$")

add_test(NAME cli_plan_bad_t5 COMMAND sh -c "$<TARGET_FILE:lavr> plan --t5 cpu 2>&1; echo exit=$?")
set_tests_properties(cli_plan_bad_t5 PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "lavr: error: plan: --t5 must be auto, gpu or host, not 'cpu'.*exit=2")
