# CLI cases for `lavr topo`: the role table under mpirun, the plan without it, and the one-line
# errors (printed once, by rank 0) for a wrong rank count and a bad layout string.
list(JOIN LAVR_MPIRUN " " lavr_mpirun_line)
set(topo_device "(cpu|cuda:[0-9]+)")

# 5 ranks, LiveAvatar's layout: rank i runs denoising step i on all 40 layers, rank 4 is aux
add_test(NAME cli_topo_np5 COMMAND ${LAVR_MPIRUN} -np 5 $<TARGET_FILE:lavr> topo --layout steps=4,aux=1)
set_tests_properties(cli_topo_np5 PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV};${LAVR_MPI_ENV}" TIMEOUT 120
  PASS_REGULAR_EXPRESSION
  "layout steps=4,tp=1,pp=1,aux=1: 5 ranks \\(4 DiT, 1 aux\\), model s2v-14b \\(40 layers, 40 heads, ffn 13824\\)\nrank +host +local +role +stage +steps +tp +pp +layers +prev +next +device\n +0 +[^ \n]+ +0 +dit +0 +0 +0/1 +0/1 +0-39 +- +1 +${topo_device}\n +1 +[^ \n]+ +1 +dit +1 +1 +0/1 +0/1 +0-39 +0 +2 +${topo_device}\n +2 +[^ \n]+ +2 +dit +2 +2 +0/1 +0/1 +0-39 +1 +3 +${topo_device}\n +3 +[^ \n]+ +3 +dit +3 +3 +0/1 +0/1 +0-39 +2 +- +${topo_device}\n +4 +[^ \n]+ +4 +aux +- +- +- +- +- +- +- +${topo_device}\n")

# without mpirun: the plan of a layout with tp, pp and two stages (rank 5 = stage 0, pp 2, tp 1)
add_test(NAME cli_topo_plan COMMAND $<TARGET_FILE:lavr> topo --layout steps=2,tp=2,pp=3,aux=1)
set_tests_properties(cli_topo_plan PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION
  "plan only.*mpirun -np 13 lavr topo --layout steps=2,tp=2,pp=3,aux=1\n.*\n +5 +\\(this node\\) +5 +dit +0 +0-1 +1/2 +2/3 +27-39 +3 +7 +${topo_device}\n.*\n +12 +\\(this node\\) +12 +aux +- +- +- +- +- +- +- +${topo_device}\n")

# a wrong rank count: one line from rank 0 naming layouts that fit 4 ranks, non-zero exit
add_test(NAME cli_topo_wrong_count
  COMMAND sh -c "${lavr_mpirun_line} -np 4 $<TARGET_FILE:lavr> topo --layout steps=4,aux=1 2>&1; echo exit=$?")
set_tests_properties(cli_topo_wrong_count PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV};${LAVR_MPI_ENV}" TIMEOUT 120
  PASS_REGULAR_EXPRESSION "lavr: error: layout steps=4,tp=1,pp=1,aux=1 needs 5 ranks but mpirun started 4; with 4 ranks use e.g. steps=1,tp=1,pp=3,aux=1, steps=2,tp=1,pp=1,aux=2 or steps=1,tp=2,pp=1,aux=2; or run with mpirun -np 5.*exit=[1-9]"
  FAIL_REGULAR_EXPRESSION "needs 5 ranks.*needs 5 ranks;rank +host")

# a bad layout string under mpirun: reported once, exit code 2
add_test(NAME cli_topo_bad_layout
  COMMAND sh -c "${lavr_mpirun_line} -np 2 $<TARGET_FILE:lavr> topo --layout steps=4,foo=1 2>&1; echo exit=$?")
set_tests_properties(cli_topo_bad_layout PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV};${LAVR_MPI_ENV}" TIMEOUT 120
  PASS_REGULAR_EXPRESSION "lavr: error: layout 'steps=4,foo=1': unknown key 'foo' \\(keys: steps, tp, pp, aux, layers\\).*exit=2"
  FAIL_REGULAR_EXPRESSION "unknown key.*unknown key")

# a layout that does not fit the model, without mpirun
add_test(NAME cli_topo_model_misfit COMMAND sh -c "$<TARGET_FILE:lavr> topo --layout steps=1,tp=3 2>&1; echo exit=$?")
set_tests_properties(cli_topo_model_misfit PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "tp=3 does not divide the model's 40 attention heads.*exit=2")

add_test(NAME cli_topo_help COMMAND $<TARGET_FILE:lavr> topo --help)
set_tests_properties(cli_topo_help PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "usage: mpirun -np N lavr topo.*--layout VALUE.*--config VALUE")

# Device placement with 1, 4 and 5 GPUs per node (faked: LAVR_FAKE_DEVICES; CUDA builds, where auto
# means a GPU): the DiT ranks in pipeline order, the aux on the fifth GPU when there is one, else beside
# the last stage (rank 3), or where --aux-gpu puts it; --aux-backend cpu keeps it on the host.
if(LAVR_CUDA)
  set(topo_rows "rank +host +local +role +stage +steps +tp +pp +layers +prev +next +device\n +0 [^\n]+ cuda:0\n +1 [^\n]+ cuda:DEV1\n +2 [^\n]+ cuda:DEV2\n +3 [^\n]+ cuda:DEV3\n +4 [^\n]+ +aux [^\n]+ AUX\n")
  foreach(case "1;0;0;0;cuda:0;note: cuda:0 on [^ ]+ is shared by ranks 0 1 2 3 4\n"
               "4;1;2;3;cuda:3;note: cuda:3 on [^ ]+ is shared by ranks 3 4\n"
               "5;1;2;3;cuda:4;$")
    list(GET case 0 gpus)
    list(GET case 1 d1)
    list(GET case 2 d2)
    list(GET case 3 d3)
    list(GET case 4 aux)
    list(GET case 5 note)
    string(REPLACE "DEV1" ${d1} rows "${topo_rows}")
    string(REPLACE "DEV2" ${d2} rows "${rows}")
    string(REPLACE "DEV3" ${d3} rows "${rows}")
    string(REPLACE "AUX" ${aux} rows "${rows}")
    add_test(NAME cli_topo_gpus${gpus} COMMAND ${LAVR_MPIRUN} -x LAVR_FAKE_DEVICES -np 5 $<TARGET_FILE:lavr> topo)
    set_tests_properties(cli_topo_gpus${gpus} PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV};${LAVR_MPI_ENV};LAVR_FAKE_DEVICES=${gpus}"
      TIMEOUT 120 PASS_REGULAR_EXPRESSION "${rows}${note}")
  endforeach()
  string(REPLACE "DEV1" 1 rows "${topo_rows}")
  string(REPLACE "DEV2" 2 rows "${rows}")
  string(REPLACE "DEV3" 3 rows "${rows}")
  string(REPLACE "AUX" "cuda:1" rows_gpu1 "${rows}")
  string(REPLACE "AUX" "cpu" rows_cpu "${rows}")
  add_test(NAME cli_topo_aux_options COMMAND sh -c
    "${lavr_mpirun_line} -x LAVR_FAKE_DEVICES -np 5 $<TARGET_FILE:lavr> topo --aux-gpu 1 2>&1; \
${lavr_mpirun_line} -x LAVR_FAKE_DEVICES -np 5 $<TARGET_FILE:lavr> topo --aux-backend cpu 2>&1; \
${lavr_mpirun_line} -x LAVR_FAKE_DEVICES -np 5 $<TARGET_FILE:lavr> topo --aux-gpu 4 2>&1; echo exit=$?; \
$<TARGET_FILE:lavr> topo --aux-backend gpu 2>&1; echo exit=$?")
  set_tests_properties(cli_topo_aux_options PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV};${LAVR_MPI_ENV};LAVR_FAKE_DEVICES=4"
    TIMEOUT 120 PASS_REGULAR_EXPRESSION
    "${rows_gpu1}note: cuda:1 on [^ ]+ is shared by ranks 1 4\n.*${rows_cpu}.*lavr: error: --aux-gpu 4: the aux rank's node has 4 CUDA devices \\(0-3\\)[^\n]*\n.*exit=2\nlavr: error: --aux-backend 'gpu': use auto, cpu or cuda[^\n]*\nexit=2"
    FAIL_REGULAR_EXPRESSION "aux-gpu 4: the aux[^\n]*\n[^\n]*aux-gpu 4: the aux")

  # without mpirun: the plan for 8 GPUs (the aux on the fifth) and tp=2 on 4 (beside stage 1's tp 0)
  add_test(NAME cli_topo_plan_gpus COMMAND sh -c
    "LAVR_FAKE_DEVICES=8 $<TARGET_FILE:lavr> topo && LAVR_FAKE_DEVICES=4 $<TARGET_FILE:lavr> topo --layout steps=2,tp=2")
  set_tests_properties(cli_topo_plan_gpus PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
    PASS_REGULAR_EXPRESSION "with its 8 CUDA devices.*\n +4 +\\(this node\\) +4 +aux [^\n]+ cuda:4\n.*with its 4 CUDA devices.*\n +3 +\\(this node\\) [^\n]+ cuda:3\n +4 +\\(this node\\) +4 +aux [^\n]+ cuda:2\nnote: cuda:2 on \\(this node\\) is shared by ranks 2 4\n")
endif()
