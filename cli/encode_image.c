/* `lavr encode-image`: placeholder while its issue is in progress (replaced by the real command). */
#include "cli/commands.h"

lavr_status lavr_cmd_encode_image(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return LAVR_FAIL(LAVR_E_UNSUPPORTED, "lavr encode-image is not built yet");
}
