# CLI cases of `lavr init` and `lavr inspect`: a tiny checkpoint written, inspected and dumped,
# determinism across two runs (dataset contents via h5diff), the s2v-14b dry-run counts, errors.
set(LAVR_INIT_DIR ${CMAKE_BINARY_DIR}/test-tmp)
find_program(LAVR_H5DUMP h5dump)
find_program(LAVR_H5DIFF h5diff)

add_test(NAME cli_init_tiny COMMAND $<TARGET_FILE:lavr> init --config tiny --seed 7 -o ${LAVR_INIT_DIR}/tiny.h5)
set_tests_properties(cli_init_tiny PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" FIXTURES_SETUP lavr_tiny_model
  PASS_REGULAR_EXPRESSION "wrote .*tiny.h5: preset tiny, seed 7, 496 tensors, 7,353,456 params")

add_test(NAME cli_inspect_tiny COMMAND $<TARGET_FILE:lavr> inspect ${LAVR_INIT_DIR}/tiny.h5)
set_tests_properties(cli_inspect_tiny PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" FIXTURES_REQUIRED lavr_tiny_model
  PASS_REGULAR_EXPRESSION "format: lavr-model 1, preset tiny, seed 7.*== /dit.*\"audio_inject_layers\": \\[0, 2\\].*blocks\\.3\\.ffn\\.2\\.weight +bfloat16 +\\[256, 512\\].*/dit: 168 tensors, 6,067,461 params.*/wav2vec2: 102 tensors.*total: 496 tensors, 7,353,456 params, 16\\.14 MiB")

add_test(NAME cli_inspect_golden COMMAND $<TARGET_FILE:lavr> inspect --tensors=false ${LAVR_GOLDEN_DIR}/t5.h5)
set_tests_properties(cli_inspect_golden PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}"
  PASS_REGULAR_EXPRESSION "golden file.*\"vocab\": 300.*total: [0-9]+ tensors")

if(LAVR_H5DUMP)
  add_test(NAME cli_init_h5dump COMMAND ${LAVR_H5DUMP} -H ${LAVR_INIT_DIR}/tiny.h5)
  set_tests_properties(cli_init_h5dump PROPERTIES FIXTURES_REQUIRED lavr_tiny_model
    PASS_REGULAR_EXPRESSION "GROUP \"dit\".*DATASET \"blocks.0.self_attn.q.weight\".*H5T_STD_U16LE.*GROUP \"vae\".*H5T_IEEE_F32LE.*GROUP \"wav2vec2\"")
endif()

if(LAVR_H5DIFF)
  # same seed: identical datasets; another seed: different ones (h5diff exits 1)
  add_test(NAME cli_init_deterministic COMMAND sh -c
    "$<TARGET_FILE:lavr> init --config tiny --seed 7 --compress 3 -o ${LAVR_INIT_DIR}/tiny-again.h5 && ${LAVR_H5DIFF} ${LAVR_INIT_DIR}/tiny.h5 ${LAVR_INIT_DIR}/tiny-again.h5 && echo same-seed-identical && $<TARGET_FILE:lavr> init --config tiny --seed 8 -o ${LAVR_INIT_DIR}/tiny-seed8.h5 >/dev/null; ${LAVR_H5DIFF} -q ${LAVR_INIT_DIR}/tiny.h5 ${LAVR_INIT_DIR}/tiny-seed8.h5 /dit/blocks.0.ffn.0.weight /dit/blocks.0.ffn.0.weight; echo other-seed-exit=$?")
  set_tests_properties(cli_init_deterministic PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" FIXTURES_REQUIRED lavr_tiny_model
    PASS_REGULAR_EXPRESSION "same-seed-identical.*other-seed-exit=1")
endif()

add_test(NAME cli_init_dry_run_14b COMMAND $<TARGET_FILE:lavr> init --config s2v-14b --dry-run)
set_tests_properties(cli_init_dry_run_14b PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}"
  PASS_REGULAR_EXPRESSION "dit +1260 tensors +16,295,755,609 params.*transformer blocks +14,055,772,160.*audio injector +1,887,928,320.*t5 +242 tensors +5,680,910,336.*vae +194 tensors +126,892,531.*wav2vec2 +422 tensors +315,438,720")

add_test(NAME cli_init_dry_run_tiny COMMAND $<TARGET_FILE:lavr> init --config tiny --dry-run)
set_tests_properties(cli_init_dry_run_tiny PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}"
  PASS_REGULAR_EXPRESSION "preset tiny.*total +496 tensors +7,353,456 params")

add_test(NAME cli_init_unknown_preset COMMAND sh -c "$<TARGET_FILE:lavr> init --config huge -o ${LAVR_INIT_DIR}/huge.h5; echo exit=$?")
set_tests_properties(cli_init_unknown_preset PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}"
  PASS_REGULAR_EXPRESSION "unknown model preset 'huge' \\(presets: tiny, s2v-14b\\).*exit=2")

add_test(NAME cli_inspect_missing COMMAND sh -c "$<TARGET_FILE:lavr> inspect ${LAVR_INIT_DIR}/no-such-model.h5; echo exit=$?")
set_tests_properties(cli_inspect_missing PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}"
  PASS_REGULAR_EXPRESSION "cannot open '.*no-such-model.h5': No such file.*exit=1")

add_test(NAME cli_inspect_corrupt COMMAND sh -c "head -c 3000 /dev/zero > ${LAVR_INIT_DIR}/zeros.h5; $<TARGET_FILE:lavr> inspect ${LAVR_INIT_DIR}/zeros.h5; echo exit=$?")
set_tests_properties(cli_inspect_corrupt PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}"
  PASS_REGULAR_EXPRESSION "zeros.h5' is not an HDF5 file.*exit=1")
