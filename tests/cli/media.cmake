# CLI tests of the media commands: sample inputs, --size (errors, 704x384 = 704*384), and PNG frames + speech -> MP4
# checked with ffprobe. Included by tests/CMakeLists.txt.
if(LAVR_FFMPEG AND LAVR_SNDFILE)
  set(media_tmp ${CMAKE_BINARY_DIR}/test-tmp/cli_media)
  add_test(NAME cli_media_sample_inputs
           COMMAND sh -c "rm -rf '${media_tmp}' && mkdir -p '${media_tmp}' && '$<TARGET_FILE:lavr>' sample-inputs --out '${media_tmp}/in' && test -s '${media_tmp}/in/portrait.png' && test -s '${media_tmp}/in/speech.wav'")
  add_test(NAME cli_media_bad_size
           COMMAND $<TARGET_FILE:lavr> prep-image --image nonexistent.png --size 704-384)
  set_tests_properties(cli_media_bad_size PROPERTIES PASS_REGULAR_EXPRESSION "write WIDTH\\*HEIGHT")
  add_test(NAME cli_media_encode
           COMMAND sh -c "'$<TARGET_FILE:lavr>' prep-image --image '${media_tmp}/in/portrait.png' --size 704*384 | grep -q '448x576' && mkdir -p '${media_tmp}/frames' && ffmpeg -v error -y -f lavfi -i testsrc=size=256x192:rate=25 -frames:v 30 -start_number 0 '${media_tmp}/frames/frame_%06d.png' && '$<TARGET_FILE:lavr>' encode --frames '${media_tmp}/frames' --audio '${media_tmp}/in/speech.wav' --out '${media_tmp}/out.mp4' --preset veryfast --audio-offset-frames 3 && ffprobe -v error -count_frames -show_entries stream=codec_name,nb_read_frames -of csv=p=0 '${media_tmp}/out.mp4' | tr '\\n' ' ' | grep -q 'h264,30 aac,'")
  # 704x384 is the same size as LiveAvatar's 704*384: the same line for the same portrait
  add_test(NAME cli_media_size_with_x
           COMMAND sh -c "L='$<TARGET_FILE:lavr>'; P='${media_tmp}/in/portrait.png'; a=$($L prep-image --image $P --size 704x384) && b=$($L prep-image --image $P --size 704*384) && echo \"$a\" && test \"$a\" = \"$b\" && echo same-as-star")
  set_tests_properties(cli_media_size_with_x PROPERTIES DEPENDS cli_media_sample_inputs
           PASS_REGULAR_EXPRESSION "448x576.*\nsame-as-star")
  set_tests_properties(cli_media_sample_inputs cli_media_bad_size cli_media_size_with_x cli_media_encode PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 120)
  set_tests_properties(cli_media_encode PROPERTIES DEPENDS cli_media_sample_inputs)
endif()
