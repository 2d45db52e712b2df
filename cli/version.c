/* `lavr version`: the version and what this build can do (backends, media libraries, devices
 * visible now), so users see at once why a command needing FFmpeg or CUDA is refused. */
#include <stdio.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "parallel/device.h"

lavr_status lavr_cmd_version(int argc, char **argv) {
    cli_option opts[] = {
        {"help", NULL, "show this help", NULL},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    /* `lavr --version` comes here with the flag itself as argv[1] */
    TRY(cli_parse("version", argc, argv, 2, opts, nopts, NULL, 0, NULL));
    if (cli_flag(opts, nopts, "help")) {
        cli_print_help("usage: lavr version", "Prints the version, the backends this build has and the CUDA devices "
                       "visible now.", opts, nopts);
        return LAVR_OK;
    }
    printf("lavr %s\n", LAVR_VERSION);
    int ndev = lavr_device_count();
    printf("cuda backend: %s", LAVR_HAVE_CUDA ? "built" : "not built (configure with -DLAVR_CUDA=ON)");
    if (LAVR_HAVE_CUDA) printf(" (%d device%s visible)", ndev, ndev == 1 ? "" : "s");
    printf("\nffmpeg (images, mp4): %s\n", LAVR_HAVE_FFMPEG ? "yes" : "no (configure with -DLAVR_FFMPEG=ON)");
    printf("libsndfile (audio): %s\n", LAVR_HAVE_SNDFILE ? "yes" : "no (configure with -DLAVR_SNDFILE=ON)");
    return LAVR_OK;
}
