#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static int g_rank;
static int g_level = -1;
static double g_t0;

static void init_once(void) {
    if (g_level >= 0) {
        return;
    }
    g_t0 = now_sec();
    g_level = LOG_INFO;
    const char *e = getenv("FLOQ_LOG");
    if (e && strcmp(e, "debug") == 0) {
        g_level = LOG_DEBUG;
    } else if (e && strcmp(e, "warn") == 0) {
        g_level = LOG_WARN;
    } else if (e && strcmp(e, "quiet") == 0) {
        g_level = LOG_QUIET;
    }
}

void log_set_rank(int rank) {
    init_once();
    g_rank = rank;
}

void log_set_level(enum log_level lvl) {
    init_once();
    g_level = (int)lvl;
}

enum log_level log_get_level(void) {
    init_once();
    return (enum log_level)g_level;
}

void log_msg(enum log_level lvl, const char *fmt, ...) {
    init_once();
    if ((int)lvl < g_level) {
        return;
    }
    static const char *tag[] = {"debug: ", "", "warning: ", "error: "};
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "[r%d %.1fs] %s%s\n", g_rank, now_sec() - g_t0, tag[lvl], buf);
}
