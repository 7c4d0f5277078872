/* log.h — leveled logging to stderr, prefixed "[r<rank> <elapsed>s]".
 *
 *   log_set_rank(rank);
 *   log_info("loaded %zu transitions", n);
 *   log_warn("...");   log_error("...");   log_debug("...");  // debug only if FLOQ_LOG=debug
 */
#ifndef FLOQ_LOG_H
#define FLOQ_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3, LOG_QUIET = 4 };

void log_set_rank(int rank);
void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
