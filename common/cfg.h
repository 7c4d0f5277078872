/* cfg.h — command-line flags from a table: `--key=value`, `--key value`, `--flag` (bool true),
 * `--flag=false`. Unknown flags and bad values get one line naming the flag, the closest valid
 * one or the accepted range, and the caller exits 2.
 *
 *   long steps = 1000; char env[128] = "tiny-v0"; int ln = 1;
 *   struct cfg_opt opts[] = {
 *       CFG_LONG("offline_steps", &steps, 0, 1L << 40, "gradient updates on the dataset"),
 *       CFG_STR("env_name", env, sizeof env, "environment name"),
 *       CFG_BOOL("agent.layer_norm", &ln, "LayerNorm in the critics"),
 *   };
 *   if (cfg_parse(opts, n, argc, argv, err, sizeof err)) { fprintf(stderr, "%s\n", err); exit(2); }
 */
#ifndef FLOQ_CFG_H
#define FLOQ_CFG_H

#include <stddef.h>
#include <stdio.h>

enum cfg_type { CFG_T_INT, CFG_T_LONG, CFG_T_U64, CFG_T_FLOAT, CFG_T_BOOL, CFG_T_STR,
                CFG_T_INTLIST, CFG_T_CHOICE, CFG_T_IGNORED, CFG_T_OFF };

struct cfg_opt {
    const char *name;
    int type;
    void *ptr;
    double lo, hi;        /* numeric range (inclusive) */
    size_t size;          /* STR: buffer size; INTLIST: max entries (count at ptr2) */
    int *count;           /* INTLIST: number of entries parsed */
    const char *choices;  /* CHOICE: "mean|min" -> index stored as int */
    const char *help;
    int set;              /* set to 1 when given on the command line */
};

#define CFG_INT(n, p, lo, hi, h) {n, CFG_T_INT, p, lo, hi, 0, NULL, NULL, h, 0}
#define CFG_LONG(n, p, lo, hi, h) {n, CFG_T_LONG, p, lo, hi, 0, NULL, NULL, h, 0}
#define CFG_U64(n, p, h) {n, CFG_T_U64, p, 0, 1.8e19, 0, NULL, NULL, h, 0}
#define CFG_FLOAT(n, p, lo, hi, h) {n, CFG_T_FLOAT, p, lo, hi, 0, NULL, NULL, h, 0}
#define CFG_BOOL(n, p, h) {n, CFG_T_BOOL, p, 0, 1, 0, NULL, NULL, h, 0}
#define CFG_STR(n, p, sz, h) {n, CFG_T_STR, p, 0, 0, sz, NULL, NULL, h, 0}
#define CFG_INTLIST(n, p, maxn, cnt, lo, hi, h) {n, CFG_T_INTLIST, p, lo, hi, maxn, cnt, NULL, h, 0}
#define CFG_CHOICE(n, p, ch, h) {n, CFG_T_CHOICE, p, 0, 0, 0, NULL, ch, h, 0}
/* another program's flag accepted for compatibility: any value (or none), stored nowhere */
#define CFG_IGNORED(n, h) {n, CFG_T_IGNORED, NULL, 0, 0, 0, NULL, NULL, h, 0}
/* a switch floq does not implement, accepted for compatibility only when off (false, 0, no,
 * off, None or empty); on, it fails with "--name=VALUE: <h>; drop the flag" */
#define CFG_OFF(n, h) {n, CFG_T_OFF, NULL, 0, 0, 0, NULL, NULL, h, 0}

/* parses argv[0..argc) (no program name); positional arguments are an error. 0 on success. */
int cfg_parse(struct cfg_opt *opts, int n, int argc, char **argv, char *err, size_t errsz);
/* sets one option from text; used by cfg_parse and for reading a saved config */
int cfg_set(struct cfg_opt *o, const char *val, char *err, size_t errsz);
/* finds an option by name */
struct cfg_opt *cfg_find(struct cfg_opt *opts, int n, const char *name);
/* the value as text (lists as "a,b,c") */
void cfg_format(const struct cfg_opt *o, char *buf, size_t n);
/* "  --name=VALUE   help (default ...)" for every option */
void cfg_help(FILE *f, const struct cfg_opt *opts, int n);
/* writes a flat JSON object {"name": "value", ...} of every option that holds a value */
int cfg_write_json(FILE *f, const struct cfg_opt *opts, int n);
/* reads what cfg_write_json wrote; keys not in opts are an error unless ignore_unknown */
int cfg_read_json(struct cfg_opt *opts, int n, const char *text, int ignore_unknown, char *err,
                  size_t errsz);
/* the value of key in such a flat JSON object, into out[n]; 0, or -1 when the key is absent,
 * the text malformed or the value longer than n - 1 */
int cfg_json_get(const char *text, const char *key, char *out, size_t n);
/* s as a JSON string, quoted and escaped */
void cfg_json_string(FILE *f, const char *s);
/* 1 if argv holds --help or -h */
int cfg_wants_help(int argc, char **argv);

/* a subcommand's flags in one call: with --help, prints usage and the flags to stdout and
 * returns 0; on a bad flag prints "floq <cmd>: <message>" to stderr and returns 2; otherwise
 * returns CFG_RUN and the command goes on */
#define CFG_RUN (-1)
int cfg_command(const char *cmd, const char *usage, struct cfg_opt *opts, int n, int argc,
                char **argv);

#endif
