# CLI cases for `lavr bench` that need no GPU: one-line argument errors (exit 2) for an aux rank, layer
# ranges without --only-rank, a wrong rank count, --only-rank out of range and layouts (or one rank of one) the
# planner puts over the --gpu-mem cap.
add_test(NAME cli_bench_aux COMMAND sh -c "$<TARGET_FILE:lavr> bench --layout steps=1,aux=1 2>&1; echo exit=$?")
set_tests_properties(cli_bench_aux PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "lavr: error: bench: layout 'steps=1,aux=1': the bench runs DiT ranks only, use aux=0.*exit=2")

add_test(NAME cli_bench_pp COMMAND sh -c "$<TARGET_FILE:lavr> bench --layout steps=1,pp=2,aux=0 2>&1; echo exit=$?")
set_tests_properties(cli_bench_pp PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "lavr: error: bench: .*pp > 1 \\(layer ranges\\) runs one rank at a time \\(--only-rank R\\).*exit=2")

add_test(NAME cli_bench_ranks COMMAND sh -c "$<TARGET_FILE:lavr> bench --layout steps=4,tp=1,pp=1,aux=0 2>&1; echo exit=$?")
set_tests_properties(cli_bench_ranks PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "lavr: error: bench: layout steps=4,tp=1,pp=1,aux=0 needs 4 ranks \\(one per GPU\\) but mpirun started 1.*exit=2")

add_test(NAME cli_bench_over_cap COMMAND sh -c "$<TARGET_FILE:lavr> bench --config s2v-14b --layout steps=1,tp=1,pp=1,aux=0 --gpu-mem 22GiB 2>&1; echo exit=$?")
set_tests_properties(cli_bench_over_cap PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "lavr: error: layout steps=1,tp=1,pp=1,aux=0 needs [0-9.]+ GiB on GPU 0 \\(rank 0, dit s0 tp0 pp0\\), the cap is 22.00 GiB.*exit=2")

# `lavr bench --vae` on the CPU backend with the tiny VAE (the same code path as on a GPU, minus the device), and
# its one-line errors.
add_test(NAME cli_bench_vae_cpu COMMAND $<TARGET_FILE:lavr> bench --vae --backend cpu --config tiny --size 64*64
  --blocks 2 --motion-frames 5)
set_tests_properties(cli_bench_vae_cpu PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 300
  PASS_REGULAR_EXPRESSION "encode: reference 1 frame [0-9.]+ ms, motion 5 frames.*decode: 1 blocks of 3 latents -> 12 frames: mean [0-9.]+ ms")

add_test(NAME cli_bench_vae_bad COMMAND sh -c "$<TARGET_FILE:lavr> bench --vae --motion-frames 8 2>&1; echo exit=$?")
set_tests_properties(cli_bench_vae_bad PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "lavr: error: bench: --motion-frames 8 is not 1 \\+ 4k.*exit=2")

add_test(NAME cli_bench_only_rank_range COMMAND sh -c "$<TARGET_FILE:lavr> bench --layout steps=1,tp=4,aux=0 --only-rank 4 2>&1; echo exit=$?")
set_tests_properties(cli_bench_only_rank_range PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "lavr: error: .*only-rank.*exit=2")

# rank 0 of steps=1,pp=2 in bf16: 20 layers and 4 step caches need about 37 GiB
add_test(NAME cli_bench_only_rank_over_cap COMMAND sh -c "$<TARGET_FILE:lavr> bench --layout steps=1,pp=2,aux=0 --only-rank 0 --gpu-mem 22GiB 2>&1; echo exit=$?")
set_tests_properties(cli_bench_only_rank_over_cap PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "lavr: error: layout steps=1,tp=1,pp=2,aux=0 needs 3[0-9].[0-9]+ GiB on rank 0 \\(dit s0 tp0 pp0\\) alone on its GPU, the cap is 22.00 GiB.*exit=2")

# `lavr bench --encoders` on the CPU backend with the tiny umT5 (the GPU's code path minus the device), and a
# one-line error.
add_test(NAME cli_bench_encoders_cpu COMMAND $<TARGET_FILE:lavr> bench --encoders --backend cpu --config tiny
  --tokens 100,7 --repeat 1)
set_tests_properties(cli_bench_encoders_cpu PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 300
  PASS_REGULAR_EXPRESSION "umT5 \\(vocab 512, dim 64, 3 layers.*on cpu.* 100 tokens: mean [0-9.]+ ms.*   7 tokens: mean [0-9.]+ ms")
add_test(NAME cli_bench_encoders_bad COMMAND sh -c "$<TARGET_FILE:lavr> bench --encoders --tokens 512,600 2>&1; echo exit=$?")
set_tests_properties(cli_bench_encoders_bad PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "lavr: error: bench: --tokens '512,600': up to 8 comma-separated counts in \\[1, 512\\].*exit=2")
