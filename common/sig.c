/* sig.c — stop requests by signal (sig.h) */
#include "common/sig.h"

#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

/* the first stop signal; taken by exchange: two signals handled at once on two threads (the
 * process's signals go to any thread that does not block them) must not both be the first */
static atomic_int g_stop;
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "atomic_int must be lock-free in a signal handler");
static volatile sig_atomic_t g_done = -1; /* sig_done's exit code, or -1 */

const char *sig_name(int sig) {
    return sig == SIGTERM   ? "SIGTERM"
           : sig == SIGUSR1 ? "SIGUSR1"
           : sig == SIGINT  ? "SIGINT"
                            : "signal";
}

static void say(const char *s) {
    if (write(2, s, strlen(s)) < 0) {
        return; /* nothing to do about a closed stderr */
    }
}

/* async-signal-safe: a flag, write(2) of fixed texts, _exit */
static void on_signal(int sig) {
    if (g_done >= 0) {
        _exit(g_done); /* finished: only exiting is left, with the code it already has */
    }
    int first = atomic_exchange(&g_stop, sig) == 0;
    say("floq: ");
    say(sig_name(sig));
    if (!first) {
        say(" received again: exiting at once\n");
        _exit(128 + sig);
    }
    say(" received: stopping after the current update with a checkpoint (send it again to exit "
        "at once)\n");
}

void sig_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

void sig_done(int code) {
    g_done = code;
}

int sig_stop_requested(void) {
    return atomic_load(&g_stop);
}
