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
add_test(NAME cli_bench_encoders_cpu COMMAND $<TARGET_FILE:lavr> bench --encoders --encoder t5 --backend cpu
  --config tiny --tokens 100,7 --repeat 1)
set_tests_properties(cli_bench_encoders_cpu PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 300
  PASS_REGULAR_EXPRESSION "umT5 \\(vocab 512, dim 64, 3 layers.*on cpu.* 100 tokens: mean [0-9.]+ ms.*   7 tokens: mean [0-9.]+ ms")
add_test(NAME cli_bench_encoders_bad COMMAND sh -c "$<TARGET_FILE:lavr> bench --encoders --tokens 512,600 2>&1; echo exit=$?")
set_tests_properties(cli_bench_encoders_bad PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "lavr: error: bench: --tokens '512,600': up to 8 comma-separated counts in \\[1, 512\\].*exit=2")

# wav2vec2 in `lavr bench --encoders` on the CPU with the tiny model: two lengths, the fit and the derived cost of
# 1 h and 10,000 s; and a bad length.
add_test(NAME cli_bench_encoders_w2v_cpu COMMAND $<TARGET_FILE:lavr> bench --encoders --encoder w2v --backend cpu
  --config tiny --seconds 3,6 --repeat 1)
set_tests_properties(cli_bench_encoders_w2v_cpu PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 300
  PASS_REGULAR_EXPRESSION "wav2vec2 \\(hidden 64, 4 layers.*on cpu \\(fp32\\).*  3 s of audio \\(149 frames\\): mean [0-9.]+ s.*149 frames; whole-audio states in scratch files.*  6 s of audio \\(299 frames\\).*fit: t = .*  3600 s of audio \\(180000 frames\\): [0-9.]+ s derived.* 10000 s of audio \\(500000 frames\\): [0-9.]+ s derived")
add_test(NAME cli_bench_encoders_w2v_bad COMMAND sh -c "$<TARGET_FILE:lavr> bench --encoders --seconds 60,0 2>&1; echo exit=$?")
set_tests_properties(cli_bench_encoders_w2v_bad PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "lavr: error: bench: --seconds '60,0': up to 8 comma-separated audio lengths in \\[1, 36000\\] seconds.*exit=2")
