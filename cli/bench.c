/* `lavr bench`: placeholder while its issue is in progress (replaced by the real command). */
#include "cli/commands.h"

lavr_status lavr_cmd_bench(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return LAVR_FAIL(LAVR_E_UNSUPPORTED, "lavr bench is not built yet");
}
