/*
 * intake.h - baton-intake's context, shared by its files: main.c (life
 * cycle), submit.c (the submit socket), auth.c (CurveZMQ keys and the ZAP
 * decision) and limit.c (each agency's rate).
 */
#ifndef BATON_INTAKE_H
#define BATON_INTAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "agency.h"
#include "bus.h"
#include "config.h"
#include "curve.h"
#include "ledger.h"
#include "msg.h"
#include "service.h"
#include "store.h"
#include "time.h"
#include "wal.h"
#include "zap.h"

/* The write-ahead file, state_dir/intake/wal, and how much a checkpoint
 * lets it hold: a round larger than the rest is committed directly. */
#define INTAKE_WAL_NAME		"wal"
#define INTAKE_WAL_SIZE		(8u << 20)
#define INTAKE_WAL_CHECKPOINT	(2u << 20)

struct submission;
struct limit;

struct intake {
	const struct config *conf;	/* owned by main() */
	void *zctx;
	void *submit;			/* ROUTER */
	struct store *store;
	struct bus_pub *pub;
	struct ledger *ledger;
	struct wal *wal;
	struct service *svc;

	/* The transaction rounds append to, made durable round by round in
	 * the WAL and committed at a checkpoint (submit.c). NULL: none open. */
	struct store_txn *txn;
	int64_t txn_since;		/* monotonic ms it was opened */

	/* auth = curve: the server's pair, who may connect, and the handler
	 * that asks. NULL and zero with auth = none. */
	struct curve_keys server;
	struct agency_set *agencies;	/* replaced whole on SIGHUP */
	struct zap *zap;
	void *monitor;			/* PAIR: failed handshakes */
	int64_t monitor_window;		/* and at most so many logged */
	unsigned monitor_logged, monitor_suppressed;
	struct limit *limit;		/* NULL: no rate limit */

	/* One poll round's submissions: decoded, committed, answered. */
	struct submission *batch;
	uint32_t batch_cap;

	/* Counters for STATUS= and batonctl status. */
	uint64_t accepted, duplicates, refused, dropped_answers, commits,
		 wal_syncs;
	int64_t status_at;		/* monotonic ms of the last STATUS= */

	/* Refusals are logged, but at most a few per second. */
	int64_t log_window;
	unsigned log_in_window;
	uint64_t log_suppressed;
};

/*
 * Bind the submit socket and allocate the batch.
 * Returns 0 or -errno (bind failures: the endpoint is in conf).
 */
int submit_open(struct intake *in);

/* Close the socket and free the batch. */
void submit_close(struct intake *in);

/* service_io_fn for the submit socket: one group-commit round. */
int submit_on_readable(void *arg, short revents);

/*
 * At start, after the ledger and WAL are open: append again what the WAL
 * holds that the store lacks, and commit it (*redone: how many).
 * Returns 0, ledger_redo()'s and the store's errors.
 */
int submit_recover(struct intake *in, int64_t *redone);

/* On every loop tick: a checkpoint if one is due. Returns ms until the
 * next one could be. */
int64_t submit_tick(struct intake *in, int64_t now);

/* Commit the open transaction now (at a stop). Returns 0 or store errors:
 * the WAL still has the records, for the next start. */
int submit_checkpoint(struct intake *in);

/* ---- auth.c ---- */

/*
 * For --check: with auth = curve, the server key file and the agencies
 * file are named and the key pair loads. Prints what is wrong on stderr.
 * Returns 0, -errno.
 */
int auth_check(const struct config *conf);

/* Load the key pair and agencies.conf and bind the ZAP handler (before
 * the submit socket). Nothing with auth = none. Returns 0, -errno. */
int auth_open(struct intake *in);

/* After submit_open(): watch the submit socket's failed handshakes (auth
 * = curve only; in->monitor stays NULL otherwise). Returns 0, -errno. */
int auth_monitor(struct intake *in);

/* service_io_fn for in->monitor: log them. */
int auth_on_monitor(void *arg, short revents);

/* SIGHUP: a new agencies.conf, or the old one kept if it is wrong. */
void auth_reload(struct intake *in);

void auth_close(struct intake *in);

/* ---- limit.c ---- */

/*
 * Token buckets of burst tokens refilled at rate a second, one per agency.
 * rate 0: no limit (*ret NULL). Returns 0, -ENOMEM.
 */
int limit_new(uint32_t rate, uint32_t burst, struct limit **ret);

/* Free. Takes NULL. */
void limit_free(struct limit *l);

/* Take a token for agency at monotonic now: false means busy. NULL l:
 * always true. */
bool limit_take(struct limit *l, const char *agency, int64_t now);

#endif
