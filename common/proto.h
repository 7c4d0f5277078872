/* proto.h — the wire format between the learner (rank 0) and the actors (ranks 1..N).
 *
 * Every message is one msgpack array [version, kind, ...fields, checksum]; float arrays travel
 * as packed little-endian bytes in bin fields. Encoders append to a reusable proto_buf;
 * decoders never allocate, check every declared length against the bytes present, verify the
 * checksum, then validate values against the env's dimensions. The byte layout, MPI tags and
 * validation rules are in docs/protocol.md. No MPI here: comm sends the bytes.
 *
 *   // actor
 *   struct proto_buf out;  proto_buf_init(&out, 0);
 *   struct proto_batch b;  proto_batch_init(&b, O, A, 256, err, sizeof err);
 *   proto_batch_push(&b, obs, act, r, terminal, mask, next_obs, wver);   // per env step
 *   b.rank = rank; b.seq = seq++; b.env_steps = steps; b.wait_us = waited_us;
 *   proto_encode_transitions(&out, &b, err, sizeof err);  // send out.data[0, out.size)
 *   proto_batch_clear(&b);   // don't encode into `out` again before its MPI_Isend completed
 *                            // (keep two proto_bufs); the checksum catches that bug
 *
 *   // learner
 *   struct proto_dims d = {.obs_dim = O, .act_dim = A, .max_batch = 256, .wver_max = cur};
 *   struct proto_transitions t;
 *   enum proto_status st = proto_decode_transitions(&t, msg, len, &d, err, sizeof err);
 *   if (st != PROTO_OK) { proto_stats_count(&stats, st, src_rank, err); return; }  // dropped
 *   proto_transitions_copy(&t, 0, t.n, &replay_rows_at_slot);   // memcpy into the replay
 */
#ifndef FLOQ_PROTO_H
#define FLOQ_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "common/policy.h"

#define PROTO_VERSION     1u
#define PROTO_MAX_DIM     65536u     /* obs_dim, act_dim */
#define PROTO_MAX_BATCH   65536u     /* transitions per TRANSITIONS message */
#define PROTO_MAX_ENVS    65536u     /* num_envs in HELLO */
#define PROTO_MAX_PARAMS  (1u << 28) /* floats in WEIGHTS (1 GiB) */
#define PROTO_MAX_NAME    64         /* env name buffer, NUL included */
#define PROTO_MAX_TEXT    256        /* ERROR text buffer, NUL included */
#define PROTO_SMALL_BYTES 512        /* upper bound of HELLO, CONTROL, ERROR, BYE and SETUP */
#define PROTO_MAX_ABS     1e6f       /* |obs|, |act|, |rew|, |next_obs| in TRANSITIONS */
#define PROTO_MAX_RETURN  1e12f      /* |ep_return| in TRANSITIONS */

/* elements per message in this version (version, kind, ..., checksum), and the checksum field:
 * always 0xcf + 8 bytes big-endian, the message's last bytes */
enum proto_fields {
    PROTO_FIELDS_HELLO = 10,
    PROTO_FIELDS_TRANSITIONS = 21,
    PROTO_FIELDS_WEIGHTS = 6,
    PROTO_FIELDS_CONTROL = 6,
    PROTO_FIELDS_ERROR = 5,
    PROTO_FIELDS_BYE = 7,
    PROTO_FIELDS_SETUP = 13,
};
#define PROTO_CHECKSUM_BYTES 9

/* message kinds; the numbers are frozen across protocol versions */
enum proto_kind {
    PROTO_KIND_HELLO = 1,       /* actor → learner, first message */
    PROTO_KIND_TRANSITIONS = 2, /* actor → learner */
    PROTO_KIND_WEIGHTS = 3,     /* learner → actors */
    PROTO_KIND_CONTROL = 4,     /* learner → actor: accept, credits, stop */
    PROTO_KIND_ERROR = 5,       /* either way: fatal refusal with a reason (layout frozen) */
    PROTO_KIND_BYE = 6,         /* actor → learner, last message */
    PROTO_KIND_SETUP = 7,       /* learner → each actor, once: what to run */
};

/* MPI tags for comm: tag = PROTO_TAG_BASE + kind; WEIGHTS travel on the weights communicator,
 * every other kind on the messages communicator (comm.h) */
#define PROTO_TAG_BASE 1000
enum proto_tag {
    PROTO_TAG_HELLO = PROTO_TAG_BASE + PROTO_KIND_HELLO,
    PROTO_TAG_TRANSITIONS = PROTO_TAG_BASE + PROTO_KIND_TRANSITIONS,
    PROTO_TAG_WEIGHTS = PROTO_TAG_BASE + PROTO_KIND_WEIGHTS,
    PROTO_TAG_CONTROL = PROTO_TAG_BASE + PROTO_KIND_CONTROL,
    PROTO_TAG_ERROR = PROTO_TAG_BASE + PROTO_KIND_ERROR,
    PROTO_TAG_BYE = PROTO_TAG_BASE + PROTO_KIND_BYE,
    PROTO_TAG_SETUP = PROTO_TAG_BASE + PROTO_KIND_SETUP,
};

/* decode results; a learner counts dropped messages by this */
enum proto_status {
    PROTO_OK = 0,
    PROTO_ERR_TRUNCATED, /* a declared field runs past the end of the message */
    PROTO_ERR_FORMAT,    /* wrong msgpack type, field count or trailing bytes */
    PROTO_ERR_VERSION,   /* protocol version differs from PROTO_VERSION */
    PROTO_ERR_KIND,      /* unknown kind, or not the kind the decoder expects */
    PROTO_ERR_CHECKSUM,  /* bytes corrupted in transit or by buffer reuse */
    PROTO_ERR_SIZE,      /* a count outside its limit, or a bin length inconsistent with it */
    PROTO_ERR_DIMS,      /* dimensions differ from the env's (obs/act dims, n_params, env) */
    PROTO_ERR_NONFINITE, /* NaN or Inf in a float field */
    PROTO_ERR_FLAG,      /* terminal/mask/success not 0 or 1, or mask 0 with terminal 0 */
    PROTO_ERR_RANGE,     /* another value out of range (rank, weight version, name chars) */
    PROTO_ERR_MAGNITUDE, /* a finite value beyond PROTO_MAX_ABS / PROTO_MAX_RETURN */
    /* the learner's rules for a peer (decoders never return these): */
    PROTO_ERR_CREDIT,   /* more rows than the credits granted, or more env steps claimed */
    PROTO_ERR_SEQUENCE, /* a TRANSITIONS seq not above the last accepted one (a replay) */
    PROTO_ERR_STATE,    /* a kind the peer may not send now (HELLO again, TRANSITIONS first) */
    PROTO_ERR_CHANNEL,  /* a message on a communicator or tag that carries none from actors */
    PROTO_STATUS_COUNT
};

/* short lowercase name of a status ("checksum"), for logs and metrics columns */
const char *proto_status_name(enum proto_status st);
/* "HELLO", "TRANSITIONS", ..., or "?" */
const char *proto_kind_name(uint32_t kind);

/* ---- encoding ------------------------------------------------------------------------------ */

/* a growable output buffer (mem_alloc); each encode replaces its content, capacity is kept */
struct proto_buf {
    unsigned char *data; /* message bytes [0, size) */
    size_t size;
    size_t cap;
};

/* allocates `reserve` bytes up front (0: 4 KiB); size it with proto_*_max_bytes to never grow */
void proto_buf_init(struct proto_buf *b, size_t reserve);
/* NULL-safe, idempotent, works on a zeroed struct */
void proto_buf_free(struct proto_buf *b);

struct proto_hello {
    uint32_t rank;                 /* actor's MPI rank, >= 1 */
    char env_name[PROTO_MAX_NAME]; /* NUL-terminated, printable ASCII */
    uint32_t obs_dim, act_dim;     /* O, A */
    uint32_t num_envs;             /* E envs stepped by this actor */
    uint32_t max_batch;            /* most transitions it will put in one message */
    uint64_t seed;                 /* the actor's seed, for the learner's log */
};

struct proto_episode {
    float ret;       /* undiscounted return */
    uint32_t length; /* env steps, >= 1 */
    uint8_t success; /* 0 or 1 */
};

/* an actor's outgoing batch of transitions (and the decoded form of one, see _read) */
struct proto_batch {
    uint32_t obs_dim, act_dim, cap; /* O, A, rows allocated */
    uint32_t n;                     /* rows filled */
    uint32_t rank;                  /* sender rank */
    uint64_t seq;                   /* per-actor message counter, from 0 */
    uint64_t env_steps;             /* actor's total env steps (all its envs) when sent */
    uint64_t wait_us;               /* actor's total time waiting for credits or weights, us */
    float *obs;                     /* (cap, O) */
    float *act;                     /* (cap, A) */
    float *rew;                     /* (cap) */
    uint8_t *terminal;              /* (cap) 1 = episode ended (terminated or truncated) */
    uint8_t *mask;                  /* (cap) 1 - terminated: 0 means no bootstrap */
    float *next_obs;                /* (cap, O) */
    uint32_t *wver;                 /* (cap) weight version that chose each action */
    uint32_t n_episodes;            /* finished-episode stats, <= number of terminal rows */
    struct proto_episode *episodes; /* (cap) */
};

/* allocates a batch of cap rows (1..PROTO_MAX_BATCH, dims 1..PROTO_MAX_DIM); 0 or -1 */
int proto_batch_init(struct proto_batch *b, uint32_t obs_dim, uint32_t act_dim, uint32_t cap,
                     char *err, size_t errsz);
/* NULL-safe, idempotent, works on a zeroed struct */
void proto_batch_free(struct proto_batch *b);
/* forgets the rows and episodes (n = n_episodes = 0); keeps the header fields */
void proto_batch_clear(struct proto_batch *b);
/* appends one transition; obs, next_obs (O), act (A); returns 0, or -1 when full */
int proto_batch_push(struct proto_batch *b, const float *obs, const float *act, float rew,
                     int terminal, int mask, const float *next_obs, uint32_t wver);
/* appends one finished-episode record; returns 0, or -1 when full */
int proto_batch_push_episode(struct proto_batch *b, float ret, uint32_t length, int success);

struct proto_control {
    uint32_t cmd;     /* enum proto_ctrl */
    uint32_t credits; /* ACCEPT/CREDIT: transitions the actor may send in addition */
    uint32_t wver;    /* newest weight version the learner has published */
};
enum proto_ctrl {
    PROTO_CTRL_ACCEPT = 1, /* reply to HELLO: start; credits = initial allowance */
    PROTO_CTRL_CREDIT = 2, /* grant more credits (backpressure is withholding them) */
    PROTO_CTRL_STOP = 3,   /* finish: the last TRANSITIONS, then BYE */
    PROTO_CTRL_END = 4,    /* nothing more follows: MPI_Finalize and exit */
};

struct proto_bye {
    uint32_t rank;
    uint64_t env_steps; /* total env steps */
    uint64_t sent;      /* transitions sent */
    uint64_t episodes;  /* episodes finished */
};

struct proto_error {
    uint32_t version;          /* the sender's protocol version (any: ERROR's layout is frozen) */
    uint32_t code;             /* an enum proto_status, or another code the sender documents */
    char text[PROTO_MAX_TEXT]; /* NUL-terminated, non-printable bytes replaced by '?' */
};

/* what every actor rank runs, sent to each once by the learner when the online phase starts */
struct proto_setup {
    char env_name[PROTO_MAX_NAME]; /* NUL-terminated, printable ASCII */
    uint32_t num_envs;             /* E envs per actor rank */
    uint64_t seed;                 /* the run's seed; each actor derives its own with its rank */
    uint32_t max_batch;            /* most transitions per TRANSITIONS message */
    uint32_t n_params;             /* floats of the policy block (what WEIGHTS carries) */
    struct policy_cfg policy;      /* the network the weights belong to */
};

/* Encoders replace out's content with one message. They check sizes (names, n <= cap, n >= 1,
 * k <= n), not values: NaN encodes, so tests can send it. Return 0, or -1 with err. */
int proto_encode_hello(struct proto_buf *out, const struct proto_hello *h, char *err, size_t errsz);
/* b->n rows and b->n_episodes episodes with b's rank, seq, env_steps and wait_us */
int proto_encode_transitions(struct proto_buf *out, const struct proto_batch *b, char *err,
                             size_t errsz);
/* params: (n_params) the flat policy block */
int proto_encode_weights(struct proto_buf *out, uint32_t wver, const float *params, size_t n_params,
                         char *err, size_t errsz);
int proto_encode_control(struct proto_buf *out, const struct proto_control *c, char *err,
                         size_t errsz);
/* code must not be PROTO_OK; text is truncated to PROTO_MAX_TEXT - 1 bytes */
int proto_encode_error(struct proto_buf *out, uint32_t code, const char *text, char *err,
                       size_t errsz);
/* the rank must be an actor's, 1..2^31-1 */
int proto_encode_bye(struct proto_buf *out, const struct proto_bye *b, char *err, size_t errsz);
/* fails on an env name of 0 or >= PROTO_MAX_NAME bytes or a policy depth outside 1..8 */
int proto_encode_setup(struct proto_buf *out, const struct proto_setup *s, char *err, size_t errsz);

/* upper bounds of message sizes, for receive buffers and MPI_Get_count refusals */
size_t proto_transitions_max_bytes(uint32_t obs_dim, uint32_t act_dim, uint32_t max_batch);
size_t proto_weights_bytes(size_t n_params);

/* ---- decoding ------------------------------------------------------------------------------ */

/* what the receiver expects; the decoders check messages against it */
struct proto_dims {
    uint32_t obs_dim, act_dim; /* the env's O and A */
    uint32_t max_batch;        /* most transitions accepted per message */
    uint32_t n_params;         /* policy parameter count, for WEIGHTS */
    uint32_t wver_max;         /* newest published weight version; newer claims are rejected
                                  (UINT32_MAX: unchecked) */
};

/* a validated TRANSITIONS message: header values plus borrowed, unaligned pointers into the
 * message bytes (valid while they are). Only proto_decode_transitions fills one. */
struct proto_transitions {
    uint32_t rank;
    uint64_t seq, env_steps;
    uint64_t wait_us; /* actor's total wait for credits or weights, us (any value) */
    uint32_t n, obs_dim, act_dim, n_episodes;
    uint32_t n_terminal;                               /* rows with terminal = 1 */
    uint32_t wver_min, wver_max;                       /* over the n rows */
    uint64_t wver_sum;                                 /* for mean policy lag */
    const unsigned char *obs, *act, *rew;              /* borrowed: f32 (n,O), (n,A), (n) */
    const unsigned char *terminal, *mask;              /* borrowed: u8 (n) */
    const unsigned char *next_obs;                     /* borrowed: f32 (n,O) */
    const unsigned char *wver;                         /* borrowed: u32 (n) */
    const unsigned char *ep_ret, *ep_len, *ep_success; /* borrowed: f32, u32, u8 (n_episodes) */
};

/* destination rows, e.g. a replay at a slot; all borrowed; a NULL field is skipped */
struct proto_rows {
    float *obs;      /* (count, O) */
    float *act;      /* (count, A) */
    float *rew;      /* (count) */
    float *terminal; /* (count) 0.0f or 1.0f */
    float *mask;     /* (count) 0.0f or 1.0f */
    float *next_obs; /* (count, O) */
    uint32_t *wver;  /* (count) */
};

/* Decoders: msg/len is one whole message (untrusted). Nothing is allocated and nothing is
 * written to the outputs unless the result is PROTO_OK; otherwise err holds one line naming the
 * field. err may be NULL. */

/* reads the version and kind only (any values); PROTO_OK, _TRUNCATED or _FORMAT */
enum proto_status proto_peek(const void *msg, size_t len, uint32_t *version, uint32_t *kind);
/* structure, checksum and ranges; compare with the env afterwards with proto_check_hello */
enum proto_status proto_decode_hello(struct proto_hello *out, const void *msg, size_t len,
                                     char *err, size_t errsz);
/* PROTO_ERR_DIMS unless h matches env_name (NULL: unchecked), d's obs/act dims and max_batch */
enum proto_status proto_check_hello(const struct proto_hello *h, const struct proto_dims *d,
                                    const char *env_name, char *err, size_t errsz);
/* full validation against d; fills a view into msg (no copy) */
enum proto_status proto_decode_transitions(struct proto_transitions *out, const void *msg,
                                           size_t len, const struct proto_dims *d, char *err,
                                           size_t errsz);
/* copies rows [first, first + count) of a decoded message to dst (memcpy-speed) */
void proto_transitions_copy(const struct proto_transitions *t, uint32_t first, uint32_t count,
                            const struct proto_rows *dst);
/* episode i < t->n_episodes */
struct proto_episode proto_transitions_episode(const struct proto_transitions *t, uint32_t i);
/* copies a decoded message into b (same dims, cap >= t->n), header fields included */
void proto_transitions_read(const struct proto_transitions *t, struct proto_batch *b);
/* params: (d->n_params), written only on success */
enum proto_status proto_decode_weights(uint32_t *wver, float *params, const void *msg, size_t len,
                                       const struct proto_dims *d, char *err, size_t errsz);
enum proto_status proto_decode_control(struct proto_control *out, const void *msg, size_t len,
                                       char *err, size_t errsz);
/* accepts any protocol version, so a mismatched peer can still read why it was refused */
enum proto_status proto_decode_error(struct proto_error *out, const void *msg, size_t len,
                                     char *err, size_t errsz);
enum proto_status proto_decode_bye(struct proto_bye *out, const void *msg, size_t len, char *err,
                                   size_t errsz);
/* structure, checksum and ranges (policy_check's ranges included); the actor compares the
 * policy's parameter count with n_params itself */
enum proto_status proto_decode_setup(struct proto_setup *out, const void *msg, size_t len,
                                     char *err, size_t errsz);

/* the message checksum: XXH64 with seed 0 of n bytes (data may be NULL when n == 0) */
uint64_t proto_checksum(const void *data, size_t n);

/* ---- bad-message accounting ---------------------------------------------------------------- */

/* zero-initialise; one per learner (or per actor rank) */
struct proto_stats {
    uint64_t ok;                      /* messages accepted */
    uint64_t bad[PROTO_STATUS_COUNT]; /* dropped, by reason (bad[PROTO_OK] stays 0) */
    uint64_t bad_total;
    uint64_t suppressed; /* drops not logged since the last log line */
    double last_log;     /* now_sec() of the last line; 0 = never */
    double log_interval; /* seconds between lines; 0 means 2 s */
};

/* counts st (PROTO_OK counts as accepted); a drop logs one warn line with the sender's rank and
 * err, at most one line per log_interval (later ones report how many were suppressed). Keep
 * one per peer, so one peer's drops cannot hide another's */
void proto_stats_count(struct proto_stats *s, enum proto_status st, int rank, const char *err);

#endif
