/* Stop-signal flag (core/signals.h): SIGUSR1/SIGTERM raised in-process or sent by another process set
 * it, the first one wins, unrelated signals keep their own handlers, restore puts the old ones back. */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "core/signals.h"

static volatile sig_atomic_t usr2_seen, term_seen_by_test;
static void on_usr2(int sig) { usr2_seen = sig; }
static void on_test_term(int sig) { term_seen_by_test = sig; }

static void set_handler(int sig, void (*fn)(int)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(sig, &sa, NULL) == 0);
}

static void (*current_handler(int sig))(int) {
    struct sigaction sa;
    CHECK(sigaction(sig, NULL, &sa) == 0);
    return sa.sa_handler;
}

int main(void) {
    /* handlers a host program might have before lavr installs its own */
    set_handler(SIGUSR2, on_usr2);
    set_handler(SIGTERM, on_test_term);
    void (*int_before)(int) = current_handler(SIGINT);

    CHECK_OK(lavr_signals_install());
    CHECK(lavr_signals_stop_requested() == 0);
    CHECK(current_handler(SIGINT) == int_before);
    CHECK(current_handler(SIGUSR2) == on_usr2);

    /* an unrelated signal reaches its own handler and does not count as a stop request */
    CHECK(raise(SIGUSR2) == 0);
    CHECK(usr2_seen == SIGUSR2);
    CHECK(lavr_signals_stop_requested() == 0);

    /* the first stop signal wins; the previous SIGTERM handler is not called while installed */
    CHECK(raise(SIGUSR1) == 0);
    CHECK(lavr_signals_stop_requested() == SIGUSR1);
    CHECK(raise(SIGTERM) == 0);
    CHECK(lavr_signals_stop_requested() == SIGUSR1);
    CHECK(term_seen_by_test == 0);

    /* install again clears the flag; a SIGTERM sent by another process (as slurmd or mpirun does) */
    CHECK_OK(lavr_signals_install());
    CHECK(lavr_signals_stop_requested() == 0);
    pid_t self = getpid(), child = fork();
    CHECK(child >= 0);
    if (child == 0) _exit(kill(self, SIGTERM) == 0 ? 0 : 1);
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* delivery to this process is asynchronous: wait up to 5 s */
    for (int i = 0; i < 500 && !lavr_signals_stop_requested(); i++) nanosleep(&(struct timespec){0, 10000000}, NULL);
    CHECK(lavr_signals_stop_requested() == SIGTERM);

    /* restore: the host program's SIGTERM handler is back, SIGUSR1 is back to its default */
    CHECK_OK(lavr_signals_restore());
    CHECK(current_handler(SIGTERM) == on_test_term);
    CHECK(current_handler(SIGUSR1) == SIG_DFL);
    CHECK(raise(SIGTERM) == 0);
    CHECK(term_seen_by_test == SIGTERM);
    CHECK_OK(lavr_signals_restore()); /* not installed: no-op */
    return check_summary("test_signals");
}
