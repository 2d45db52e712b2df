# CLI cases of `lavr dit-run` on the tiny model (synthetic inputs): a 5-block render (clip 0 and the
# clip-1 re-prefill), the stage file layout, byte-identical /latents for the same seed, other seed
# differs, and the one-line errors for bad options.
set(LAVR_DR_DIR ${CMAKE_BINARY_DIR}/test-tmp)
find_program(LAVR_H5DUMP h5dump)
# P = 16 tokens per latent frame keeps each run to about a second
set(LAVR_DR_ARGS dit-run --model ${LAVR_DR_DIR}/tiny.h5 --blocks 5 --size 64*64)
string(REPLACE ";" " " LAVR_DR_RUN "$<TARGET_FILE:lavr> ${LAVR_DR_ARGS}")

add_test(NAME cli_dit_run_tiny COMMAND $<TARGET_FILE:lavr> ${LAVR_DR_ARGS} --seed 3 --out ${LAVR_DR_DIR}/dr_a.h5)
set_tests_properties(cli_dit_run_tiny PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" FIXTURES_REQUIRED lavr_tiny_model
  FIXTURES_SETUP lavr_dit_run_a
  PASS_REGULAR_EXPRESSION "latent block \\[16,3,8,8\\]: 48 tokens \\(P = 16\\), window 192, sink 40.*block 0 \\(clip 0, block 0\\): [0-9.]+ s.*block 4 \\(clip 1, block 0\\).*dit-run: 5 blocks in [0-9.]+ s: [0-9.]+ s per block, [0-9.]+ ms per block-step")

if(LAVR_H5DUMP)
  add_test(NAME cli_dit_run_stage_layout COMMAND ${LAVR_H5DUMP} -A ${LAVR_DR_DIR}/dr_a.h5)
  set_tests_properties(cli_dit_run_stage_layout PROPERTIES FIXTURES_REQUIRED lavr_dit_run_a
    PASS_REGULAR_EXPRESSION "\"fixed_sink_offset\".*\\(0\\): 0.*\"lavr-latents\".*\"format_version\".*\\(0\\): 1.*\"synthetic seed=3 size=64x64\".*\"dit-run\".*tiny.h5\".*\"seed\".*\\(0\\): 3.*DATASET \"latents\".*H5T_STD_U16LE.*\\( 5, 16, 3, 8, 8 \\) / \\( H5S_UNLIMITED, 16, 3, 8, 8 \\).*\"bfloat16\"")

  # /latents of two runs with the same seed, as raw bytes, compared with cmp; another seed differs
  set(dump "${LAVR_H5DUMP} -d /latents -b LE -o")
  add_test(NAME cli_dit_run_deterministic COMMAND sh -c
    "${LAVR_DR_RUN} --seed 3 --out ${LAVR_DR_DIR}/dr_b.h5 >/dev/null && ${LAVR_DR_RUN} --seed 4 --out ${LAVR_DR_DIR}/dr_c.h5 >/dev/null && ${dump} ${LAVR_DR_DIR}/dr_a.bin ${LAVR_DR_DIR}/dr_a.h5 >/dev/null && ${dump} ${LAVR_DR_DIR}/dr_b.bin ${LAVR_DR_DIR}/dr_b.h5 >/dev/null && ${dump} ${LAVR_DR_DIR}/dr_c.bin ${LAVR_DR_DIR}/dr_c.h5 >/dev/null && test -s ${LAVR_DR_DIR}/dr_a.bin && cmp ${LAVR_DR_DIR}/dr_a.bin ${LAVR_DR_DIR}/dr_b.bin && echo same-seed-identical; cmp -s ${LAVR_DR_DIR}/dr_a.bin ${LAVR_DR_DIR}/dr_c.bin; echo other-seed-exit=$?")
  set_tests_properties(cli_dit_run_deterministic PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" FIXTURES_REQUIRED "lavr_tiny_model;lavr_dit_run_a"
    PASS_REGULAR_EXPRESSION "same-seed-identical.*other-seed-exit=1")
endif()

add_test(NAME cli_dit_run_errors COMMAND sh -c
  "L=$<TARGET_FILE:lavr>; M=${LAVR_DR_DIR}/tiny.h5; O=${LAVR_DR_DIR}/dr_err.h5; \
$L dit-run --model $M --out $O; echo exit=$?; \
$L dit-run --model $M --blocks 2 --out $O --sink-offset 31; echo exit=$?; \
$L dit-run --model $M --blocks 2 --out $O --size 100*100; echo exit=$?; \
$L dit-run --model $M --blocks 2 --out $O --size 128*128 --cond x.h5; echo exit=$?; \
$L dit-run --model $M --blocks 0 --out $O; echo exit=$?; \
$L dit-run --model ${LAVR_DR_DIR}/no-such-model.h5 --blocks 1 --out $O; echo exit=$?")
set_tests_properties(cli_dit_run_errors PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" FIXTURES_REQUIRED lavr_tiny_model
  PASS_REGULAR_EXPRESSION "missing --blocks N[^\n]*\nexit=2\n.*--sink-offset must be in \\[4, 30\\], got 31[^\n]*\nexit=2\n.*--size 100\\*100: both sides must be multiples of 16[^\n]*\nexit=2\n.*--size is for synthetic inputs[^\n]*\nexit=2\n.*--blocks must be in \\[1, [0-9]+\\], got 0[^\n]*\nexit=2\n.*cannot open '.*no-such-model.h5': No such file[^\n]*\nexit=1")

# with a conditioning file from the encode commands (portrait and speech from sample-inputs)
if(LAVR_FFMPEG AND LAVR_SNDFILE)
  set(dr_cond ${LAVR_DR_DIR}/dit_run_cond)
  add_test(NAME cli_dit_run_cond COMMAND sh -c
    "L=$<TARGET_FILE:lavr>; M=${LAVR_DR_DIR}/tiny.h5; D=${dr_cond}; rm -rf $D && mkdir -p $D && \
$L sample-inputs --out $D >/dev/null && \
$L encode-image --model $M --image $D/portrait.png --size 64*64 --out $D/cond.h5 >/dev/null && \
$L encode-text --model $M --prompt 'a person talking' --out $D/cond.h5 >/dev/null && \
$L encode-audio --model $M --audio $D/speech.wav --out $D/cond.h5 >/dev/null && \
$L dit-run --model $M --cond $D/cond.h5 --blocks 2 --out $D/latents.h5 && \
$L dit-run --model $M --cond $D/cond.h5 --blocks 1000 --out $D/latents.h5; echo exit=$?")
  set_tests_properties(cli_dit_run_cond PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" FIXTURES_REQUIRED lavr_tiny_model TIMEOUT 300
    PASS_REGULAR_EXPRESSION "latent block \\[16,3,8,8\\].*dit-run: 2 blocks in .*--blocks 1000 is more than the audio in .*cond.h5 gives \\([0-9]+ clips = [0-9]+ blocks\\)[^\n]*\nexit=2")
endif()

# a conditioning file with only the prompt context: the first missing part is named in one line
add_test(NAME cli_dit_run_cond_missing_part COMMAND sh -c
  "L=$<TARGET_FILE:lavr>; M=${LAVR_DR_DIR}/tiny.h5; C=${LAVR_DR_DIR}/dr_text_only.h5; rm -f $C && \
$L encode-text --model $M --ids 5,6,1 --out $C >/dev/null && \
$L dit-run --model $M --cond $C --blocks 1 --out ${LAVR_DR_DIR}/dr_missing.h5; echo exit=$?")
set_tests_properties(cli_dit_run_cond_missing_part PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" FIXTURES_REQUIRED lavr_tiny_model
  PASS_REGULAR_EXPRESSION "dit-run: [^\n]*dr_text_only.h5 has no reference latent \\(lavr encode-image\\)[^\n]*\nexit=2")
