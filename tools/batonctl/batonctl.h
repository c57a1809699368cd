/*
 * batonctl.h - what the operator tool's command files share.
 */
#ifndef BATONCTL_H
#define BATONCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "time.h"

struct ctl {
	const char *config_path;
	struct config *conf;	/* loaded on first use by ctl_config() */
};

/* A command: argv[0] is its name; returns the exit status. */
typedef int (*ctl_fn)(struct ctl *ctl, int argc, char **argv);

struct command {
	const char *name;
	ctl_fn fn;
	const char *args;	/* synopsis after the name */
	const char *help;	/* one line */
	const char *options;	/* its options, one per line, or NULL */
};

/* Print a command's usage, help line and options to stdout; returns 0. */
int ctl_help(const char *name);

/* The configuration, loaded on first use; NULL after printing why not. */
const struct config *ctl_config(struct ctl *ctl);

/* Print "batonctl: <message>" to stderr. */
void ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Usage error for cmd: one line, then the hint; returns exit status 2. */
int ctl_usage(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Parse an unsigned decimal; false when text is not one. */
bool ctl_parse_u64(const char *text, unsigned long long *ret);

struct store;
struct json_t;
struct msgpack_packer;

/* Open state_dir/<name> read-only; prints why not and returns NULL. */
struct store *ctl_open_store(struct ctl *ctl, const char *name);

/*
 * Pack JSON object o as a msgpack body: strings, integers, booleans and
 * null only. Returns 0, or -EINVAL with *bad naming the key that is not.
 */
int ctl_pack_json(struct msgpack_packer *pk, struct json_t *o,
		  const char **bad);

/* Print o as one compact JSON line and release it. */
void ctl_print_json(struct json_t *o);

/*
 * "in 3h20m" or "OVERDUE by 1h5m": instant due relative to now, as a
 * person reads it, into buf. Returns buf.
 */
const char *ctl_due_text(instant_t due, instant_t now, char *buf,
			 size_t size);

/*
 * Send body to intake's submit socket (ep, or [intake] submit when NULL)
 * and wait up to timeout ms for the answer, resending every 2 s (intake
 * answers a resent id with the first answer); print it ("accepted: ..." or
 * "refused (code): ...", or JSON). With auth = curve the connection uses
 * the key pair at key (NULL: [batonctl] key). Returns the exit status:
 * 0 acknowledged, 1 refused, a bad answer or no keys, 3 no answer.
 */
int ctl_send(struct ctl *ctl, const char *ep, const char *key,
	     const void *body, size_t len, int64_t timeout, bool json);

/*
 * With auth = curve, make zsock a CURVE client (before it connects) with
 * the pair at key (NULL: [batonctl] key) and the server's public key
 * ([baton] server_public, else server_key's). Prints why not.
 * Returns 1 (done), 0 (auth = none: nothing to do), -errno.
 */
int ctl_secure(const struct config *conf, const char *key, void *zsock);

/*
 * Who an operator command names as its sender: agency if given; else
 * nobody with auth = curve (the key decides), "office" with auth = none
 * (intake needs the field then).
 */
const char *ctl_operator(const struct config *conf, const char *agency);

/* A fresh report or command id, "ctl-<ms>-<random>"; malloc'd, or NULL. */
char *ctl_generated_id(void);

int cmd_submit(struct ctl *ctl, int argc, char **argv);
int cmd_queue(struct ctl *ctl, int argc, char **argv);
int cmd_task(struct ctl *ctl, int argc, char **argv);
int cmd_routes(struct ctl *ctl, int argc, char **argv);
int cmd_log(struct ctl *ctl, int argc, char **argv);
int cmd_verify(struct ctl *ctl, int argc, char **argv);
int cmd_status(struct ctl *ctl, int argc, char **argv);
int cmd_timers(struct ctl *ctl, int argc, char **argv);
int cmd_alerts(struct ctl *ctl, int argc, char **argv);
int cmd_deliveries(struct ctl *ctl, int argc, char **argv);
int cmd_retry(struct ctl *ctl, int argc, char **argv);
int cmd_watch(struct ctl *ctl, int argc, char **argv);
int cmd_operate(struct ctl *ctl, int argc, char **argv);
int cmd_keygen(struct ctl *ctl, int argc, char **argv);
int cmd_backup(struct ctl *ctl, int argc, char **argv);

#endif
