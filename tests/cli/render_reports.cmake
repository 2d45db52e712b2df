# `lavr render --summary-json` and `--trace` on the tiny model at 64*64, checked by
# tests/cli/check_render_reports.py: a finished render (frames = ffprobe's count, every rank in both files,
# trace slices ordered and nested, one forward slice per forward), a render stopped by SIGUSR1 (exit 75,
# "stopped" with its checkpoint message), and failures (a DiT rank's injected failure, a bad input: exit 2).
find_program(LAVR_REPORTS_PYTHON3 python3)
if(LAVR_FFMPEG AND LAVR_SNDFILE AND LAVR_REPORTS_PYTHON3)
  list(JOIN LAVR_MPIRUN " " reports_mpirun)
  set(reports_dir ${CMAKE_BINARY_DIR}/test-tmp/cli_render_reports)
  set(reports_check "${LAVR_REPORTS_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_render_reports.py")
  set(reports_common "--model ${CMAKE_BINARY_DIR}/test-tmp/tiny.h5 --audio ${reports_dir}/in/speech.wav --prompt 'a person talking' --size 64x64 --layout steps=2 --progress lines")
  set(reports_args "${reports_common} --image ${reports_dir}/in/portrait.png")
  # about 7 s of speech: 3 clips
  add_test(NAME cli_render_reports_inputs COMMAND sh -c
    "rm -rf '${reports_dir}' && mkdir -p '${reports_dir}' && '$<TARGET_FILE:lavr>' sample-inputs --out '${reports_dir}/in' --text 'This sentence is long enough to give the render three clips of speech to turn into video frames, one after another.'")
  set_tests_properties(cli_render_reports_inputs PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
    FIXTURES_SETUP lavr_reports_inputs)

  # (the DiT ranks load while the aux rank encodes: their lines interleave in any order, so the DiT's comes first here)
  add_test(NAME cli_render_reports COMMAND sh -c
    "D=${reports_dir}; ${reports_mpirun} -np 3 $<TARGET_FILE:lavr> render ${reports_args} --num-clip 1 --out $D/done.mp4 \
--summary-json $D/done.json --trace $D/done.trace.json >$D/done.log 2>&1 && grep -m1 'loading DiT weights: 0/' $D/done.log && \
grep -E 'encode of the|encoder:|features of the speech|clip 1/1 done' $D/done.log && \
n=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 $D/done.mp4) && \
echo frames=$n && test ! -e $D/done.json.partial && ${reports_check} $D/done.json finished 3 --frames $n --trace $D/done.trace.json")
  set_tests_properties(cli_render_reports PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV};${LAVR_MPI_ENV}" TIMEOUT 300
    FIXTURES_REQUIRED "lavr_tiny_model;lavr_reports_inputs"
    PASS_REGULAR_EXPRESSION "\\] loading DiT weights: 0/[0-9]+ layers \\(0%\\).*\\] VAE encode of the portrait: the reference frame, then the 73 motion frames.*\\] VAE encoder: 0/73 frames \\(0%\\).*\\] VAE encoder: 73/73 frames \\(100%\\).*umT5 encode of the prompt \\([0-9]+ tokens\\).*umT5 encoder: 0/[0-9]+ layers \\(0%\\).*umT5 encoder: [0-9]+/[0-9]+ layers \\(100%\\).*wav2vec2 features of the speech: [0-9]+/[0-9]+ frames \\(100%\\).*\\[[0-9-]+ [0-9:]+ r2 aux\\] clip 1/1 done: blocks 4/4 \\[#+\\] 100%, video 1.80 s, [0-9.]+ FPS, [0-9.]+x real time, elapsed [0-9:]+, ETA 0:00\nframes=45\nreports-ok finished")

  # SIGUSR1 to mpirun during the setup (the aux rank encoding the portrait, seconds before the first block
  # on any machine): the render stops at the first block boundary it can, with a checkpoint
  add_test(NAME cli_render_reports_stop COMMAND sh -c
    "D=${reports_dir}; rm -rf $D/stop.*; LOG=$D/stop.log; ${reports_mpirun} -np 3 $<TARGET_FILE:lavr> render ${reports_args} --num-clip 3 \
--out $D/stop.mp4 --summary-json $D/stop.json --trace $D/stop.trace.json >$LOG 2>&1 & pid=$!; \
while kill -0 $pid 2>/dev/null && ! grep -q 'VAE encode of the portrait' $LOG; do sleep 0.05; done; kill -USR1 $pid; \
wait $pid; echo exit=$?; ${reports_check} $D/stop.json stopped 3 --trace $D/stop.trace.json || cat $LOG")
  set_tests_properties(cli_render_reports_stop PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV};${LAVR_MPI_ENV}" TIMEOUT 300
    FIXTURES_REQUIRED "lavr_tiny_model;lavr_reports_inputs" DEPENDS cli_render_reports
    PASS_REGULAR_EXPRESSION "exit=75\nreports-ok stopped")

  # a failure on DiT rank 0 at block 1: the aux rank writes it (its message and origin); a bad input: rank 0, exit code 2
  add_test(NAME cli_render_reports_failed COMMAND sh -c
    "D=${reports_dir}; rm -f $D/fail*.json; L=$<TARGET_FILE:lavr>; \
LAVR_FAIL_AT=rank=0,block=1 ${reports_mpirun} -np 3 $L render ${reports_args} --num-clip 1 --out $D/fail.mp4 --summary-json $D/fail.json >/dev/null 2>&1; echo exit=$?; \
${reports_check} $D/fail.json failed 3 --message 'injected failure at block 1' && \
python3 -c \"import json; s = json.load(open('$D/fail.json')); print('writer', s['written_by_rank'], s['ranks'][0]['role'], s['origin'])\"; \
${reports_mpirun} -np 3 $L render ${reports_common} --image $D/in/nope.png --out $D/fail.mp4 --summary-json $D/fail2.json >/dev/null 2>&1; echo exit=$?; \
${reports_check} $D/fail2.json failed 3 --exit-code 2 --message \"nope.png' does not exist\"")
  set_tests_properties(cli_render_reports_failed PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV};${LAVR_MPI_ENV}" TIMEOUT 300
    FIXTURES_REQUIRED "lavr_tiny_model;lavr_reports_inputs" DEPENDS cli_render_reports_stop
    PASS_REGULAR_EXPRESSION "exit=[1-9][0-9]*\nreports-ok failed\nwriter 2 aux ranks/dit_stage.c:[0-9]+\nexit=2\nreports-ok failed")
endif()
