# CLI cases of the encoder commands and decode-latents on the tiny model: portrait, prompt (text and ids)
# and speech into one conditioning file, a 2-block dit-run decoded to MP4 with audio (checked with
# ffprobe), and the one-line errors (exit 2 for bad options, 1 for a missing file).
if(LAVR_FFMPEG AND LAVR_SNDFILE)
  set(enc_dir ${CMAKE_BINARY_DIR}/test-tmp/cli_encoders)
  set(enc_model ${CMAKE_BINARY_DIR}/test-tmp/tiny.h5)
  find_program(LAVR_H5DUMP h5dump)

  add_test(NAME cli_encoders_chain COMMAND sh -c
    "L=$<TARGET_FILE:lavr>; M=${enc_model}; D=${enc_dir}; rm -rf $D && mkdir -p $D && \
$L sample-inputs --out $D/in >/dev/null && \
$L encode-image --model $M --image $D/in/portrait.png --size 64*64 --out $D/cond.h5 && \
$L encode-text --model $M --prompt 'a person talking' --out $D/cond.h5 && \
$L encode-audio --model $M --audio $D/in/speech.wav --out $D/cond.h5 && \
$L encode-text --model $M --ids 5,6,1 --out $D/ids.h5")
  set_tests_properties(cli_encoders_chain PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" FIXTURES_REQUIRED lavr_tiny_model
    FIXTURES_SETUP lavr_enc_cond TIMEOUT 300
    PASS_REGULAR_EXPRESSION "portrait.png: 64x64 px \\(width x height\\) -> ref_latent float32\\[16,1,8,8\\], motion_latents float32\\[16,19,8,8\\] in [0-9.]+ s.*prompt: 4 tokens \\(EOS included\\) -> context float32\\[4,64\\].*speech.wav: [0-9]+ clips of 48 frames -> audio float32\\[[0-9]+,5,64\\].*ids: 3 tokens \\(EOS included\\) -> context float32\\[3,64\\]")

  if(LAVR_H5DUMP)
    add_test(NAME cli_encoders_file COMMAND ${LAVR_H5DUMP} -A ${enc_dir}/cond.h5)
    set_tests_properties(cli_encoders_file PROPERTIES FIXTURES_REQUIRED lavr_enc_cond
      PASS_REGULAR_EXPRESSION "audio_sha256.*\"[0-9a-f]+\".*\"clips\".*\"lavr-conditioning\".*\"height\".*\\(0\\): 64.*\"image_sha256\".*\"prompt_sha256\".*\"width\".*\\(0\\): 64.*DATASET \"audio\".*\"bfloat16\".*DATASET \"context\".*DATASET \"motion_latents\".*DATASET \"ref_latent\"")
  endif()

  # 2 blocks -> 9 + 12 = 21 frames; the speech is cut to them
  add_test(NAME cli_encoders_decode COMMAND sh -c
    "L=$<TARGET_FILE:lavr>; M=${enc_model}; D=${enc_dir}; \
$L dit-run --model $M --cond $D/cond.h5 --blocks 2 --out $D/latents.h5 >/dev/null && \
$L decode-latents --model $M --cond $D/cond.h5 --latents $D/latents.h5 --audio $D/in/speech.wav --out $D/video.mp4 --preset veryfast && \
ffprobe -v error -count_frames -show_entries stream=codec_name,nb_read_frames -of csv=p=0 $D/video.mp4 | tr '\\n' ' '")
  set_tests_properties(cli_encoders_decode PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" FIXTURES_REQUIRED "lavr_tiny_model;lavr_enc_cond"
    TIMEOUT 300
    PASS_REGULAR_EXPRESSION "2 blocks of \\[16,3,8,8\\] -> 21 frames of 64x64.*block 0: 9 frames.*block 1: 12 frames.*wrote .*video.mp4: 21 frames, 64x64, 25 fps.*h264,21 aac,")

  add_test(NAME cli_encoders_errors COMMAND sh -c
    "L=$<TARGET_FILE:lavr>; M=${enc_model}; D=${enc_dir}; \
$L encode-image --model $M --image $D/in/portrait.png --size 704x384 --out $D/e.h5; echo exit=$?; \
$L encode-image --model $M --image $D/in/no-such.png --out $D/e.h5; echo exit=$?; \
$L encode-text --model $M --out $D/e.h5; echo exit=$?; \
$L encode-text --model $M --ids 1,x --out $D/e.h5; echo exit=$?; \
$L encode-text --model $M --ids 7,512 --out $D/e.h5; echo exit=$?; \
$L encode-audio --model $M --out $D/e.h5; echo exit=$?; \
$L encode-audio --model $M --audio $D/in/speech.wav --out $D/e.h5 --backend gpu; echo exit=$?; \
$L encode-text --model $M --prompt hi --out $M; echo exit=$?; \
$L decode-latents --model $M --cond $D/ids.h5 --out $D/e.mp4; echo exit=$?; \
$L decode-latents --model $M --cond $D/ids.h5 --latents $D/latents.h5 --out $D/e.mp4; echo exit=$?")
  set_tests_properties(cli_encoders_errors PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}"
    FIXTURES_REQUIRED "lavr_tiny_model;lavr_enc_cond" DEPENDS cli_encoders_decode
    PASS_REGULAR_EXPRESSION "bad --size .704x384.: use .\\*. between width and height, e.g. 704\\*384[^\n]*\nexit=2\n.*no-such.png[^\n]*\nexit=1\n.*give either --prompt TEXT or --ids 1,2,3[^\n]*\nexit=2\n.*--ids expects comma-separated non-negative integers like 1,2,3, got '1,x'[^\n]*\nexit=2\n.*token id 512 \\(position 1\\) is outside the vocabulary of 512[^\n]*\nexit=2\n.*--model, --audio and --out are required[^\n]*\nexit=2\n.*--backend 'gpu': use cpu or cuda[^\n]*\nexit=2\n.*format is 'lavr-model', not 'lavr-conditioning'[^\n]*\nexit=1\n.*--model, --cond, --latents and --out are required[^\n]*\nexit=2\n.*ids.h5 has no motion latents: run lavr encode-image[^\n]*\nexit=2")
endif()
