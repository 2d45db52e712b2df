/* SIGTERM/SIGUSR1 handlers that record the first stop signal in a sig_atomic_t (the only thing a
 * handler may safely do here); the render reads it between blocks (core/signals.h). */
#include "core/signals.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

static volatile sig_atomic_t stop_signal;
static const int handled_signals[2] = {SIGTERM, SIGUSR1};
static struct sigaction previous[2];
static int installed;

static void on_stop_signal(int sig) {
    if (!stop_signal) stop_signal = sig;
}

lavr_status lavr_signals_install(void) {
    if (installed) TRY(lavr_signals_restore());
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    /* both handlers block each other, so "first signal wins" needs no atomics beyond sig_atomic_t */
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 2; i++) sigaddset(&sa.sa_mask, handled_signals[i]);
    stop_signal = 0;
    for (int i = 0; i < 2; i++) {
        if (sigaction(handled_signals[i], &sa, &previous[i]) != 0) {
            int err = errno;
            for (int j = 0; j < i; j++) sigaction(handled_signals[j], &previous[j], NULL);
            return LAVR_FAIL(LAVR_E_INTERNAL, "cannot install the handler for %s: %s", strsignal(handled_signals[i]),
                             strerror(err));
        }
    }
    installed = 1;
    return LAVR_OK;
}

lavr_status lavr_signals_restore(void) {
    if (!installed) return LAVR_OK;
    for (int i = 0; i < 2; i++)
        if (sigaction(handled_signals[i], &previous[i], NULL) != 0)
            return LAVR_FAIL(LAVR_E_INTERNAL, "cannot restore the handler for %s: %s", strsignal(handled_signals[i]),
                             strerror(errno));
    installed = 0;
    return LAVR_OK;
}

int lavr_signals_stop_requested(void) { return stop_signal; }
