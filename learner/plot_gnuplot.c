/* plot_gnuplot.c — gnuplot plumbing for `floq plot`: quoting for the script, a private
 * temporary directory, running gnuplot (posix_spawn with an argv, never a shell), and installing
 * its PNG. */
#include "learner/plot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

void plot_gp_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            fputc('\\', f);
            fputc(*s, f);
        } else if (*s == '\n') {
            fputs("\\n", f);
        } else if ((unsigned char)*s < 32) {
            fputc(' ', f);
        } else {
            fputc(*s, f);
        }
    }
    fputc('"', f);
}

void plot_gp_file(FILE *f, const char *dir, const char *name) {
    char path[PLOT_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    plot_gp_str(f, path);
}

void plot_gp_num(FILE *f, double v) {
    if (isfinite(v)) {
        fprintf(f, "%.9g", v);
    } else {
        fputs("NaN", f);
    }
}

int plot_tmpdir_make(char *dir, size_t n, char *err, size_t errsz) {
    const char *base = getenv("TMPDIR");
    base = base && base[0] ? base : "/tmp";
    snprintf(dir, n, "%s/floq-plot-XXXXXX", base);
    if (strlen(dir) + 1 >= n || !mkdtemp(dir)) {
        snprintf(err, errsz, "cannot create a temporary directory in %s: %s (set TMPDIR)", base,
                 strerror(errno));
        dir[0] = 0;
        return -1;
    }
    return 0;
}

void plot_tmpdir_remove(const char *dir) {
    DIR *d = dir && dir[0] ? opendir(dir) : NULL;
    if (!d) {
        return;
    }
    struct dirent *e;
    char path[PLOT_PATH_MAX + 300];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
    rmdir(dir);
}

/* the first line of gnuplot's log that names an error, else its last non-empty line */
static void log_reason(const char *path, char *out, size_t n) {
    FILE *f = fopen(path, "r");
    char line[512];
    out[0] = 0;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || strspn(line, " ^") == strlen(line)) {
            continue;
        }
        if (!strstr(out, "rror")) {
            snprintf(out, n, "%s", line);
        }
    }
    if (f) {
        fclose(f);
    }
    if (!out[0]) {
        snprintf(out, n, "no message");
    }
}

int plot_gnuplot_run(const char *dir, const char *script, char *err, size_t errsz) {
    const char *gp = getenv("FLOQ_GNUPLOT");
    gp = gp && gp[0] ? gp : "gnuplot";
    char logpath[PLOT_PATH_MAX + 32], reason[512];
    snprintf(logpath, sizeof logpath, "%s/gnuplot.log", dir);
    /* stdin from /dev/null, stdout and stderr into the log */
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    char *argv[] = {(char *)gp, (char *)script, NULL};
    pid_t pid;
    int rc = strchr(gp, '/') ? posix_spawn(&pid, gp, &fa, NULL, argv, environ)
                             : posix_spawnp(&pid, gp, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    int status = 0;
    if (rc == 0) {
        while (waitpid(pid, &status, 0) < 0) {
            if (errno != EINTR) {
                rc = errno;
                break;
            }
        }
    }
    if (rc == ENOENT || rc == EACCES ||
        (rc == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 127)) {
        snprintf(err, errsz, "gnuplot not found (%s); install gnuplot-nox (make setup)", gp);
        return -1;
    }
    if (rc) {
        snprintf(err, errsz, "cannot run %s: %s", gp, strerror(rc));
        return -1;
    }
    if (WIFSIGNALED(status)) {
        snprintf(err, errsz, "%s was killed by signal %d", gp, WTERMSIG(status));
        return -1;
    }
    if (WEXITSTATUS(status) != 0) {
        log_reason(logpath, reason, sizeof reason);
        snprintf(err, errsz, "%s failed (exit %d): %s (--keep_tmp keeps the script)", gp,
                 WEXITSTATUS(status), reason);
        return -1;
    }
    return 0;
}

int plot_png_install(const char *src, const char *out, char *err, size_t errsz) {
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    char tmp[PLOT_PATH_MAX + 8], buf[65536];
    FILE *in = fopen(src, "rb");
    size_t got = in ? fread(buf, 1, sizeof buf, in) : 0;
    if (got < 8 || memcmp(buf, sig, 8) != 0) {
        snprintf(err, errsz, "gnuplot wrote no PNG (%s is missing or not a PNG)", src);
        if (in) {
            fclose(in);
        }
        return -1;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    FILE *o = fopen(tmp, "wb");
    if (!o) {
        snprintf(err, errsz, "cannot write %s: %s", tmp, strerror(errno));
        fclose(in);
        return -1;
    }
    int bad = 0;
    while (got > 0 && !bad) {
        bad = fwrite(buf, 1, got, o) != got;
        got = fread(buf, 1, sizeof buf, in);
    }
    bad |= ferror(in);
    fclose(in);
    bad |= fflush(o) != 0 || fsync(fileno(o)) != 0;
    bad |= fclose(o) != 0;
    if (bad || rename(tmp, out) != 0) {
        snprintf(err, errsz, "writing %s failed: %s", out, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}
