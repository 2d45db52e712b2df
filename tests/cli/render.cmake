# CLI cases of `lavr render` on the tiny model at 64*64 (latent 8x8): an end-to-end render whose MP4
# ffprobe accepts (a whole clip of 45 frames + audio) with latents equal to `lavr dit-run` on the same conditioning
# for steps=4 and steps=1, failure injection (one line, every rank finalised within seconds), and one-line input
# errors.
list(JOIN LAVR_MPIRUN " " render_mpirun)
set(render_dir ${CMAKE_BINARY_DIR}/test-tmp/cli_render)
find_program(LAVR_RENDER_H5DUMP h5dump)
set(render_args "--model ${CMAKE_BINARY_DIR}/test-tmp/tiny.h5 --image ${render_dir}/in/portrait.png --audio ${render_dir}/in/speech.wav --prompt 'a person talking' --size 64*64")

if(LAVR_FFMPEG AND LAVR_SNDFILE)
  # one clip of speech (about a second)
  add_test(NAME cli_render_inputs COMMAND sh -c
    "rm -rf '${render_dir}' && mkdir -p '${render_dir}' && '$<TARGET_FILE:lavr>' sample-inputs --out '${render_dir}/in' --text 'Hello there.'")
  set_tests_properties(cli_render_inputs PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
    FIXTURES_SETUP lavr_render_inputs)

  # steps=4 (5 ranks) and steps=1 (2 ranks); --num-clip 3 is more than the audio gives (1 clip); --keep-tail
  # writes the whole clip (the video's end at the speech's: tests/cli/output.sh)
  if(LAVR_RENDER_H5DUMP)
    set(dump "${LAVR_RENDER_H5DUMP} -d /latents -b LE -o")
    add_test(NAME cli_render_e2e COMMAND sh -c
      "L=$<TARGET_FILE:lavr>; D=${render_dir}; M=${CMAKE_BINARY_DIR}/test-tmp/tiny.h5; \
${render_mpirun} -np 5 $L render ${render_args} --num-clip 3 --keep-tail --out $D/s4.mp4 >$D/s4.out 2>$D/s4.err; \
rc=$?; cat $D/s4.err $D/s4.out; test $rc -eq 0 && \
ffprobe -v error -count_frames -show_entries stream=codec_name,nb_read_frames -of csv=p=0 $D/s4.mp4 | tr '\\n' ' ' && echo && \
${render_mpirun} -np 2 $L render ${render_args} --layout steps=1 --out $D/s1.mp4 --stage-dir $D/s1_stage >/dev/null && \
$L encode-image --model $M --image $D/in/portrait.png --size 64*64 --out $D/cond.h5 >/dev/null && \
$L encode-text --model $M --prompt 'a person talking' --out $D/cond.h5 >/dev/null && \
$L encode-audio --model $M --audio $D/in/speech.wav --out $D/cond.h5 >/dev/null && \
$L dit-run --model $M --cond $D/cond.h5 --blocks 4 --out $D/dr.h5 >/dev/null && \
${dump} $D/s4.bin $D/s4.stage/latents.h5 >/dev/null && ${dump} $D/s1.bin $D/s1_stage/latents.h5 >/dev/null && \
${dump} $D/dr.bin $D/dr.h5 >/dev/null && test -s $D/dr.bin && \
cmp $D/s4.bin $D/dr.bin && cmp $D/s1.bin $D/dr.bin && echo latents-equal-dit-run")
    # the logs (stderr) and the summary (stdout) cross mpirun in two pipes, in either order: printed apart
    set_tests_properties(cli_render_e2e PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV};${LAVR_MPI_ENV}" TIMEOUT 600
      FIXTURES_REQUIRED "lavr_tiny_model;lavr_render_inputs"
      PASS_REGULAR_EXPRESSION "--num-clip 3: the audio gives only 1 clip.*rendering 1 clip \\(4 blocks, 45 frames\\) at 64x64 with layout steps=4,tp=1,pp=1,aux=1.*clip 1/1 done: blocks 4/4.*render: 45 frames \\(1.80 s of video\\).*rank +role +peak MiB.*4 +aux.*h264,45 aac,[0-9]+ \n.*latents-equal-dit-run")
  endif()

  # a DiT rank (2) fails at block 1, the aux rank (4) at block 2, and a tp rank (1 of steps=1,tp=2) as its forward
  # starts while its tp peer waits in the all-reduce: one line from rank 0 naming the failing rank, exit 1, no
  # MPI_ABORT, and every rank gone within 10 s of the failure (the failing rank's log line)
  set(render_fail_job "LOG=$D/fail.log; : >$LOG; \
${render_mpirun} -np $NP $<TARGET_FILE:lavr> render ${render_args} $LAYOUT --out $D/fail.mp4 >$LOG 2>&1 & \
pid=$!; while kill -0 $pid 2>/dev/null && ! grep -qs 'LAVR_FAIL_AT: failing now' $LOG; do sleep 0.1; done; t0=$(date +%s.%N); \
wait $pid; rc=$?; t1=$(date +%s.%N); grep -E 'lavr: error|MPI_ABORT' $LOG; echo exit=$rc; \
awk -v a=$t0 -v b=$t1 'BEGIN { d = b - a; printf \"ended %.1f s after the failure\\n\", d; if (d < 10) print \"within-limit\" }'")
  add_test(NAME cli_render_failure COMMAND sh -c
    "D=${render_dir}; NP=5; LAYOUT=; export LAVR_FAIL_AT=rank=2,block=1; ${render_fail_job}; \
export LAVR_FAIL_AT=rank=4,block=2; ${render_fail_job}; \
NP=3; LAYOUT='--layout steps=1,tp=2,pp=1'; export LAVR_FAIL_AT=rank=1,block=1,at=forward; ${render_fail_job}; \
export LAVR_FAIL_AT=rank=0,block=2,at=forward; ${render_fail_job}")
  set(render_fail_end "\nexit=1\nended [0-9.]+ s after the failure\nwithin-limit\n")
  set_tests_properties(cli_render_failure PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV};${LAVR_MPI_ENV}" TIMEOUT 300
    FIXTURES_REQUIRED "lavr_tiny_model;lavr_render_inputs"
    PASS_REGULAR_EXPRESSION "^lavr: error: rank 2 \\(dit s2 tp0 pp0\\): injected failure at block 1 \\(LAVR_FAIL_AT, a testing aid\\)${render_fail_end}lavr: error: rank 4 \\(aux\\): injected failure at block 2 [^\n]*${render_fail_end}lavr: error: rank 1 \\(dit s0 tp1 pp0\\): injected failure in the forward of block 1 [^\n]*${render_fail_end}lavr: error: rank 0 \\(dit s0 tp0 pp0\\): injected failure in the forward of block 2 [^\n]*${render_fail_end}$"
    FAIL_REGULAR_EXPRESSION "MPI_ABORT")

  # bad inputs: one line from rank 0, before any model is loaded
  add_test(NAME cli_render_errors COMMAND sh -c
    "L=$<TARGET_FILE:lavr>; D=${render_dir}; M=${CMAKE_BINARY_DIR}/test-tmp/tiny.h5; R='${render_mpirun}'; \
$R -np 2 $L render --model $M --image $D/in/nope.png --audio $D/in/speech.wav --prompt p --layout steps=1 --out $D/e.mp4 2>&1; echo exit=$?; \
$R -np 2 $L render --model $M --image $D/in/portrait.png --audio $D/in/speech.wav --prompt p --size 64-64 --layout steps=1 --out $D/e.mp4 2>&1; echo exit=$?; \
$R -np 2 $L render ${render_args} --out $D/e.mp4 2>&1; echo exit=$?; \
$R -np 2 $L render ${render_args} --layout steps=1 --sink-offset 3 --out $D/e.mp4 2>&1; echo exit=$?; \
$R -np 2 $L render ${render_args} --layout steps=1 --out /no/such/dir/e.mp4 2>&1; echo exit=$?; \
LAVR_FAIL_AT=rank2 $R -np 2 $L render ${render_args} --layout steps=1 --out $D/e.mp4 2>&1; echo exit=$?")
  set_tests_properties(cli_render_errors PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV};${LAVR_MPI_ENV}" TIMEOUT 300
    FIXTURES_REQUIRED "lavr_tiny_model;lavr_render_inputs"
    PASS_REGULAR_EXPRESSION "lavr: error: image '[^']*nope.png' does not exist or is not readable\n.*exit=2\nlavr: error: bad --size '64-64'[^\n]*\n.*exit=2\nlavr: error: layout steps=4,tp=1,pp=1,aux=1 needs 5 ranks but mpirun started 2[^\n]*\n.*exit=[1-9]\nlavr: error: --sink-offset 3: use 4..30[^\n]*\n.*exit=2\nlavr: error: --out '/no/such/dir/e.mp4': directory '/no/such/dir' does not exist[^\n]*\n.*exit=2\nlavr: error: LAVR_FAIL_AT='rank2': use rank=R,block=B or rank=R,block=B,at=forward[^\n]*\n.*exit=2\n"
    FAIL_REGULAR_EXPRESSION "nope.png' does not exist[^\n]*\n[^\n]*nope.png' does not exist;\\[r[0-9]")
endif()

add_test(NAME cli_render_help COMMAND $<TARGET_FILE:lavr> render --help)
set_tests_properties(cli_render_help PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "usage: mpirun -np N lavr render.*LAVR_FAIL_AT=rank=R,block=B\\[,at=forward\\].*--layout LAYOUT.*--num-clip N.*--stage-dir DIR.*--resume auto\\|yes\\|no.*--backend auto\\|cpu\\|cuda")

# damaged model files at render time (tests/test_model_faults.c renders the tiny model under mpirun)
if(LAVR_FFMPEG AND LAVR_SNDFILE)
  set_tests_properties(test_model_faults PROPERTIES
    ENVIRONMENT "${LAVR_TEST_ENV};${LAVR_MPI_ENV};LAVR_MPIEXEC=${MPIEXEC_EXECUTABLE};LAVR_RENDER_INPUTS=${render_dir}/in"
    FIXTURES_REQUIRED "lavr_tiny_model;lavr_render_inputs")
endif()
# --t5 takes auto, gpu or host: anything else is one line and exit 2, found before any file is read.
add_test(NAME cli_render_bad_t5 COMMAND sh -c "$<TARGET_FILE:lavr> render --model m.h5 --image i.png --audio a.wav --prompt p --out o.mp4 --t5 gpu0 2>&1; echo exit=$?")
set_tests_properties(cli_render_bad_t5 PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV};${LAVR_MPI_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "lavr: error: --t5 'gpu0': use auto, gpu or host[^\n]*\nexit=2")
