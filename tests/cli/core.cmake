# CLI cases for the command table itself: help, version, unknown commands and options.
add_test(NAME cli_version COMMAND $<TARGET_FILE:lavr> version)
set_tests_properties(cli_version PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}"
  PASS_REGULAR_EXPRESSION "lavr [0-9]+\\.[0-9]+\\.[0-9]+.*cuda backend: .*ffmpeg.*libsndfile")
add_test(NAME cli_help COMMAND $<TARGET_FILE:lavr> --help)
set_tests_properties(cli_help PROPERTIES PASS_REGULAR_EXPRESSION "usage: lavr COMMAND.*init.*inspect.*topo")
add_test(NAME cli_unknown_command COMMAND sh -c "$<TARGET_FILE:lavr> frobnicate; echo exit=$?")
set_tests_properties(cli_unknown_command PROPERTIES PASS_REGULAR_EXPRESSION "unknown command 'frobnicate'.*exit=2")
add_test(NAME cli_unknown_option COMMAND sh -c "$<TARGET_FILE:lavr> init --frobnicate 3; echo exit=$?")
set_tests_properties(cli_unknown_option PROPERTIES PASS_REGULAR_EXPRESSION "unknown option '--frobnicate'.*exit=2")

# -h on every command, usage lines naming every option, metavars (FILE, W*H, N, ...) instead of VALUE
find_program(LAVR_PYTHON3 python3)
if(LAVR_PYTHON3)
  add_test(NAME cli_help_conventions COMMAND ${LAVR_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_help.py $<TARGET_FILE:lavr>)
  set_tests_properties(cli_help_conventions PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 120
    PASS_REGULAR_EXPRESSION "help-conventions-ok")
endif()

# LiveAvatar's flag names get one line naming the lavr equivalent (exit 2), not a bare "unknown option";
# the flags lavr spells alike (--size 704x384 too, --prompt, --image, --audio, --fp8) are accepted
add_test(NAME cli_official_flags COMMAND sh -c "L=$<TARGET_FILE:lavr>; \
for f in sample_steps infer_frames base_seed save_file ckpt_dir enable_online_decode num_clip sample_solver \
sample_guide_scale offload_model convert_model_dtype num_gpus_dit single_gpu lora_path_dmd t5_cpu; do \
out=$($L render --$f 4 2>&1); rc=$?; echo \"$f exit=$rc lines=$(printf '%s\\n' \"$out\" | wc -l): $out\"; done; \
$L render --size 704x384 --prompt p --image i.png --audio a.wav --fp8 -h >/dev/null; echo same-names-exit=$?; \
$L init --num_clip 3 2>&1; $L render --num_clip 3 2>&1; $L render --seeed 3 2>&1; echo exit=$?")
set_tests_properties(cli_official_flags PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "^sample_steps exit=2 lines=1: lavr: error: lavr render: --sample_steps is LiveAvatar's option: lavr always runs the 4 distilled steps[^\n]*--layout steps=S[^\n]*
infer_frames exit=2 lines=1: [^\n]*48 frames per clip[^\n]*--num-clip N[^\n]*
base_seed exit=2 lines=1: [^\n]*use --seed N[^\n]*
save_file exit=2 lines=1: [^\n]*use --out FILE.mp4
ckpt_dir exit=2 lines=1: [^\n]*lavr convert --wan DIR[^\n]*--model model.h5
enable_online_decode exit=2 lines=1: [^\n]*always on: the aux rank decodes[^\n]*
num_clip exit=2 lines=1: [^\n]*unknown option '--num_clip': lavr spells it --num-clip
sample_solver exit=2 lines=1: [^\n]*Euler[^\n]*
sample_guide_scale exit=2 lines=1: [^\n]*no classifier-free guidance[^\n]*
offload_model exit=2 lines=1: [^\n]*lavr plan --gpus N --gpu-mem M[^\n]*
convert_model_dtype exit=2 lines=1: [^\n]*bf16[^\n]*
num_gpus_dit exit=2 lines=1: [^\n]*--layout steps=S,tp=T,pp=P[^\n]*
single_gpu exit=2 lines=1: [^\n]*--layout steps=1[^\n]*
lora_path_dmd exit=2 lines=1: [^\n]*lavr convert --wan DIR --lora FILE[^\n]*
t5_cpu exit=2 lines=1: [^\n]*use --t5 host[^\n]*
same-names-exit=0
lavr: error: lavr init: --num_clip is LiveAvatar's option: use --num-clip N[^\n]*
lavr: error: lavr render: unknown option '--num_clip': lavr spells it --num-clip
lavr: error: lavr render: unknown option '--seeed': did you mean --seed\\? \\(see lavr render --help\\)
exit=2")

# the error line a user reads has no source location; LAVR_DEBUG=1 adds it, the debug log keeps it
add_test(NAME cli_error_origin COMMAND sh -c "L=$<TARGET_FILE:lavr>; \
$L inspect /no/such.h5 2>&1; echo exit=$?; LAVR_DEBUG=1 $L inspect /no/such.h5 2>&1; \
LAVR_LOG=debug $L inspect /no/such.h5 2>&1")
set_tests_properties(cli_error_origin PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "^lavr: error: [^\n(]*/no/such.h5[^\n(]*\nexit=1\nlavr: error: [^\n]*/no/such.h5[^\n]* \\([a-z]+/[a-z0-9_]+\\.c:[0-9]+\\)\n[^\n]*debug: inspect failed: [^\n]*/no/such.h5[^\n]* \\([a-z]+/[a-z0-9_]+\\.c:[0-9]+\\)\nlavr: error: [^\n(]*\n$")

# -o is --output or --out where the command has one; other one-dash arguments are refused
add_test(NAME cli_short_options COMMAND sh -c "L=$<TARGET_FILE:lavr>; $L init -o 2>&1; $L render -o 2>&1; \
$L render -x 2>&1; echo exit=$?")
set_tests_properties(cli_short_options PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "^lavr: error: lavr init: option '--output' needs a value \\(FILE\\)
lavr: error: lavr render: option '--out' needs a value \\(FILE\\)
lavr: error: lavr render: unknown option '-x' \\(options are --name; see lavr render --help\\)
exit=2")
