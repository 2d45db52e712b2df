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
  PASS_REGULAR_EXPRESSION "lavr: error: layout 'steps=4,foo=1': unknown key 'foo' \\(keys: steps, tp, pp, aux\\).*exit=2"
  FAIL_REGULAR_EXPRESSION "unknown key.*unknown key")

# a layout that does not fit the model, without mpirun
add_test(NAME cli_topo_model_misfit COMMAND sh -c "$<TARGET_FILE:lavr> topo --layout steps=1,tp=3 2>&1; echo exit=$?")
set_tests_properties(cli_topo_model_misfit PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "tp=3 does not divide the model's 40 attention heads.*exit=2")

add_test(NAME cli_topo_help COMMAND $<TARGET_FILE:lavr> topo --help)
set_tests_properties(cli_topo_help PROPERTIES ENVIRONMENT "${LAVR_TEST_ENV}" TIMEOUT 60
  PASS_REGULAR_EXPRESSION "usage: mpirun -np N lavr topo.*--layout VALUE.*--config VALUE")
