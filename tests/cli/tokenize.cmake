# CLI cases of `lavr tokenize` and of long prompts: ids against SentencePiece's own (python3-sentencepiece,
# skipped with 77 without it), the tiny model's prompt cut to its text length 32 with EOS kept and one
# warning, a render of such a prompt, and the one-line errors.
add_test(NAME cli_tokenize_sentencepiece COMMAND sh -c
  "for p in python3 /usr/bin/python3; do if $p -c 'import sentencepiece' 2>/dev/null; then \
exec $p '${CMAKE_CURRENT_SOURCE_DIR}/tokenizer/sp_compare.py' '$<TARGET_FILE:lavr>' '${CMAKE_BINARY_DIR}/test-tmp/cli_tokenize_sp'; \
fi; done; echo 'python3 sentencepiece is missing (apt-get install python3-sentencepiece): skipped'; exit 77")
set_tests_properties(cli_tokenize_sentencepiece PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 120
  SKIP_RETURN_CODE 77 PASS_REGULAR_EXPRESSION "byte fallback: [1-9][0-9]* prompts x 2 tokenizer files, [1-9][0-9]* byte pieces in the expectation\nuser-defined pieces: 5 prompts\n.*25 prompts x 2 tokenizer files and 40 random mixes, [1-9][0-9]* unknown pieces in the expectation, 0 mismatches")

# 40 words are 41 ids: cut to 31 times the word's id, then EOS (1), with the count dropped
add_test(NAME cli_tokenize_truncate COMMAND sh -c
  "L=$<TARGET_FILE:lavr>; M=${CMAKE_BINARY_DIR}/test-tmp/tiny.h5; \
one=$($L tokenize --model $M --prompt word) && w=\${one% 1} && want=$(for i in $(seq 31); do printf '%s ' $w; done)1 && \
long=$(for i in $(seq 40); do printf 'word '; done) && \
got=$($L tokenize --model $M --prompt \"$long\" 2>$M.tok.err) && cat $M.tok.err && \
test \"$got\" = \"$want\" && echo truncated-ids-ok")
set_tests_properties(cli_tokenize_truncate PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  FIXTURES_REQUIRED lavr_tiny_model
  PASS_REGULAR_EXPRESSION "warning: the prompt has 41 tokens; cut to the text length 32 \\(EOS kept\\): 9 dropped\ntruncated-ids-ok\n$")

add_test(NAME cli_tokenize_errors COMMAND sh -c
  "L=$<TARGET_FILE:lavr>; M=${CMAKE_BINARY_DIR}/test-tmp/tiny.h5; \
$L tokenize --prompt x 2>&1; echo exit=$?; \
$L tokenize --model $M --tokenizer $M --prompt x 2>&1; echo exit=$?; \
$L tokenize --model $M 2>&1; echo exit=$?; \
$L tokenize --tokenizer /no/such.json --prompt x 2>&1; echo exit=$?; \
$L tokenize --model $M --prompt \"$(printf 'bad \\377')\" 2>&1; echo exit=$?; \
$L encode-text --model $M --ids $(seq -s, 1 33) --out $M.ids.h5 2>&1; echo exit=$?")
set_tests_properties(cli_tokenize_errors PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  FIXTURES_REQUIRED lavr_tiny_model
  PASS_REGULAR_EXPRESSION "give either --model M.h5 or --tokenizer FILE[^\n]*\nexit=2\n[^\n]*give either[^\n]*\nexit=2\n[^\n]*--prompt TEXT is required[^\n]*\nexit=2\n[^\n]*tokenizer '/no/such.json' does not exist or is not readable[^\n]*\nexit=2\n[^\n]*not valid UTF-8 \\(byte 0xff at offset 4\\)[^\n]*\nexit=2\n[^\n]*a prompt has 1 to 32 token ids \\(the model's text length\\), got 33[^\n]*\nexit=2\n")

# a prompt longer than the tiny model's 32 ids renders, with one warning line before the weights load
if(LAVR_FFMPEG AND LAVR_SNDFILE)
  list(JOIN LAVR_MPIRUN " " tokenize_mpirun)
  set(tok_in ${CMAKE_BINARY_DIR}/test-tmp/cli_render/in)
  add_test(NAME cli_render_long_prompt COMMAND sh -c
    "L=$<TARGET_FILE:lavr>; D=${CMAKE_BINARY_DIR}/test-tmp/cli_long_prompt; rm -rf $D && mkdir -p $D && \
long=$(for i in $(seq 10); do printf 'the woman smiles while she speaks '; done) && \
${tokenize_mpirun} -np 2 $L render --model ${CMAKE_BINARY_DIR}/test-tmp/tiny.h5 --image ${tok_in}/portrait.png \
--audio ${tok_in}/speech.wav --prompt \"$long\" --size 64*64 --layout steps=1 --num-clip 1 --out $D/long.mp4 >$D/log 2>&1; \
echo exit=$?; grep 'warning' $D/log; echo warnings=$(grep -c warning $D/log); \
w=$(grep -n 'warning: --prompt' $D/log | cut -d: -f1); e=$(grep -n 'encoding' $D/log | head -1 | cut -d: -f1); \
test \"$w\" -lt \"$e\" && echo warned-before-encoding; test -s $D/long.mp4 && echo rendered")
  set_tests_properties(cli_render_long_prompt PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV};${LAVR_MPI_ENV}" TIMEOUT 300
    FIXTURES_REQUIRED "lavr_tiny_model;lavr_render_inputs"
    PASS_REGULAR_EXPRESSION "exit=0\n[^\n]*warning: --prompt has 131 tokens; cut to the model's text length 32 \\(EOS kept\\): 99 dropped\nwarnings=1\nwarned-before-encoding\nrendered\n")
endif()
