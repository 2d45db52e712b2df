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

# `lavr bench --e2e` on the CPU with the tiny model (every role of the render, generated weights, 2 ranks): every
# field of its report, numbers that agree (frames, FPS, first frame after setup) and the MP4's frame count.
add_test(NAME cli_bench_e2e_cpu COMMAND sh ${CMAKE_SOURCE_DIR}/tests/cli/bench_e2e.sh cpu $<TARGET_FILE:lavr>
  ${CMAKE_BINARY_DIR}/test-tmp/bench_e2e ${LAVR_MPIRUN})
set_tests_properties(cli_bench_e2e_cpu PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV};${LAVR_MPI_ENV}" TIMEOUT 300
  PASS_REGULAR_EXPRESSION "bench-e2e-consistent frames=45")
if(LAVR_CUDA)
  # the same on one GPU, the aux beside the stage (label gpu; skipped without a GPU)
  add_test(NAME cli_bench_e2e_cuda COMMAND sh ${CMAKE_SOURCE_DIR}/tests/cli/bench_e2e.sh cuda $<TARGET_FILE:lavr>
    ${CMAKE_BINARY_DIR}/test-tmp/bench_e2e_cuda ${LAVR_MPIRUN})
  set_tests_properties(cli_bench_e2e_cuda PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV};${LAVR_MPI_ENV}" TIMEOUT 300
    SKIP_RETURN_CODE 77 LABELS gpu RESOURCE_LOCK lavr_gpu PASS_REGULAR_EXPRESSION "bench-e2e-consistent frames=45")
endif()

# one-line refusals: no aux rank, blocks that are not whole clips, a wrong rank count, the full model on the host,
# an output directory that is not there
add_test(NAME cli_bench_e2e_errors COMMAND sh -c "L=$<TARGET_FILE:lavr>; \
$L bench --e2e --config tiny --layout steps=1,aux=0 2>&1; echo exit=$?; \
$L bench --e2e --config tiny --layout steps=1 --blocks 6 2>&1; echo exit=$?; \
$L bench --e2e --config tiny --layout steps=1 2>&1; echo exit=$?; \
$L bench --e2e --backend cpu --layout steps=1 2>&1; echo exit=$?; \
$L bench --e2e --config tiny --backend cpu --layout steps=1 --out /nonexistent-dir/v.mp4 2>&1; echo exit=$?")
set_tests_properties(cli_bench_e2e_errors PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "layout 'steps=1,aux=0': aux=0 must be in \\[1, [0-9]+\\].*exit=2.*--blocks 6: the render works in clips of 4 blocks.*exit=2.*layout steps=1,tp=1,pp=1,aux=1 needs 2 ranks \\(mpirun -np 2\\), mpirun started 1.*exit=2.*the s2v-14b DiT on the CPU backend takes hours per block.*exit=2.*--out '/nonexistent-dir/v.mp4': directory '/nonexistent-dir' does not exist or is not writable.*exit=2")

# The bench renders what `lavr render` renders: the generated tiny model (seed 7) against `lavr init`'s file of the
# same seed, the same inputs, prompt and noise seed: the Y4M video and its WAV are the same bytes (whole clips: the
# bench writes every frame it computes, the render with --keep-tail).
if(LAVR_FFMPEG AND LAVR_SNDFILE)
  list(JOIN LAVR_MPIRUN " " bench_mpirun)
  set(bench_in ${CMAKE_BINARY_DIR}/test-tmp/cli_render/in)
  set(bench_same "--backend cpu --size 64*64 --layout steps=1 --seed 7 --image ${bench_in}/portrait.png --audio ${bench_in}/speech.wav --prompt 'a person talking'")
  add_test(NAME cli_bench_e2e_same_as_render COMMAND sh -c
    "L=$<TARGET_FILE:lavr>; D=${CMAKE_BINARY_DIR}/test-tmp/bench_e2e_same; rm -rf $D && mkdir -p $D && \
${bench_mpirun} -np 2 $L bench --e2e --config tiny --blocks 4 ${bench_same} --out $D/bench.y4m > $D/bench.txt && \
${bench_mpirun} -np 2 $L render --model ${CMAKE_BINARY_DIR}/test-tmp/tiny.h5 --num-clip 1 --keep-tail ${bench_same} --out $D/render.y4m > $D/render.txt && \
grep -q 'frames: 45 written' $D/bench.txt && cmp $D/bench.y4m $D/render.y4m && cmp $D/bench.wav $D/render.wav && echo same-video-bytes")
  set_tests_properties(cli_bench_e2e_same_as_render PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV};${LAVR_MPI_ENV}" TIMEOUT 300
    FIXTURES_REQUIRED "lavr_tiny_model;lavr_render_inputs" PASS_REGULAR_EXPRESSION "same-video-bytes")
endif()

# wav2vec2 in `lavr bench --encoders` on the CPU with the tiny model: two lengths, the fit and the derived cost of
# 1 h and 10,000 s; and a bad length.
add_test(NAME cli_bench_encoders_w2v_cpu COMMAND $<TARGET_FILE:lavr> bench --encoders --encoder w2v --backend cpu
  --config tiny --seconds 3,6 --repeat 1)
set_tests_properties(cli_bench_encoders_w2v_cpu PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 300
  PASS_REGULAR_EXPRESSION "wav2vec2 \\(hidden 64, 4 layers.*on cpu \\(fp32\\).*  3 s of audio \\(149 frames\\): mean [0-9.]+ s.*149 frames; whole-audio states in scratch files.*  6 s of audio \\(299 frames\\).*fit: t = .*  3600 s of audio \\(180000 frames\\): [0-9.]+ s derived.* 10000 s of audio \\(500000 frames\\): [0-9.]+ s derived")
add_test(NAME cli_bench_encoders_w2v_bad COMMAND sh -c "$<TARGET_FILE:lavr> bench --encoders --seconds 60,0 2>&1; echo exit=$?")
set_tests_properties(cli_bench_encoders_w2v_bad PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "lavr: error: bench: --seconds '60,0': up to 8 comma-separated audio lengths in \\[1, 36000\\] seconds.*exit=2")
