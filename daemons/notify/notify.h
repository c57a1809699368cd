/*
 * notify.h - baton-notify's context, shared by main.c (life cycle),
 * ingest.c (events become alerts and outbox rows), deliver.c (what is due
 * is attempted, and what came back is recorded), transfer.c (libcurl's
 * transfers on one epoll descriptor), mail.c and webhook.c (what an email
 * and a webhook request say).
 */
#ifndef BATON_NOTIFY_H
#define BATON_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agency.h"
#include "bus.h"
#include "config.h"
#include "msg.h"
#include "outbox.h"
#include "service.h"
#include "store.h"
#include "time.h"
#include "zap.h"

/* Deliveries looked at in one round (one transaction). */
#define NOTIFY_ROUND_MAX	256
/* Attempts in flight to one destination; more wait their turn. */
#define NOTIFY_DEST_INFLIGHT	8
/* Failures in a row that open a destination's circuit breaker. */
#define NOTIFY_BREAKER_FAILURES	5
/* An attempt's row is leased this long past its timeout: after a crash in
 * mid-attempt it is due again once the lease runs out. */
#define NOTIFY_LEASE_GRACE_MS	5000
/* A delivery whose destination is busy is looked at again this much later. */
#define NOTIFY_BUSY_MS		200
/* While one attempt probes a destination whose breaker was open, its other
 * deliveries are looked at again this much later. */
#define NOTIFY_PROBE_WAIT_MS	1000
/* A round delivering more than this logs one line, not one per delivery. */
#define NOTIFY_LOG_EACH		32
/* Destinations remembered for their breakers (webhook hosts, the SMTP
 * server); past this, new ones share the last slot's breaker. */
#define NOTIFY_MAX_DESTS	256

struct notify_curl;

/* A destination and its circuit breaker. */
struct notify_dest {
	char key[160];			/* "smtp", or "https://host:port" */
	uint32_t failures;		/* in a row */
	uint32_t opens;			/* breaker opened in a row */
	instant_t open_until;		/* 0: closed; then half-open */
	bool probing;			/* half-open: one attempt out */
	uint32_t inflight;
};

/* What came back from one attempt; kept until its round commits. */
struct notify_result {
	struct notify_result *next;
	char key[OUTBOX_KEY_MAX];
	size_t klen;
	bool ok;
	bool permanent;			/* no use trying again: dead now */
	size_t dest;
	char target[OUTBOX_TARGET_MAX];
	char error[OUTBOX_ERROR_MAX];
};

/* An attempt ready to go: what transfer.c sends. Owned by the caller until
 * notify_curl_start() takes it. */
struct notify_request {
	enum outbox_channel channel;	/* email or webhook */
	char key[OUTBOX_KEY_MAX];
	size_t klen;
	size_t dest;
	char target[OUTBOX_TARGET_MAX];	/* the URL or the addresses */
	char *url;			/* malloc'd */
	char *body;			/* malloc'd: message or JSON */
	size_t body_len;
	/* email: envelope; webhook: headers. NULL-terminated, malloc'd. */
	char **list;
};

struct notify {
	const struct config *conf;	/* owned by main() */
	struct agency_set *agencies;	/* NULL without [baton] agencies;
					   replaced whole on SIGHUP */
	void *zctx;
	struct store *store;
	struct outbox ob;
	struct bus_sub *router;		/* task.* and task.refused */
	struct bus_sub *deadline;	/* alert.* */
	struct bus_sub *intake;		/* command.accepted: retry */
	void *feed;			/* PUB: the office alert feed */
	struct zap *zap;		/* auth = curve: who may subscribe */
	struct curve_keys keys;		/* the daemons' pair; has_secret: CURVE */
	struct service *svc;
	struct notify_curl *curl;

	struct notify_dest dests[NOTIFY_MAX_DESTS];
	size_t ndests;
	struct notify_result *results;	/* came back, not yet recorded */

	instant_t next_due;		/* first due row, INT64_MAX: none;
					   may be early, never late */
	int64_t feed_bound;		/* monotonic ms the feed was bound */
	bool full;			/* max_inflight attempts out: the
					   remote lane waits for a result */
	int64_t status_at;

	/* Counters for STATUS= and the stop line; pending until commit. */
	struct notify_counts {
		uint64_t alerts, rows, sent, retried, dead, revived;
	} total, pending;
};

/* ---- ingest.c ---- */

/* bus_wants_fn: the events notify acts on (tasks, alerts, commands);
 * intake's reports are passed over without a transaction. */
bool notify_wants(void *arg, const struct bus_event *ev);

/* bus_apply_fn for the router's, the deadline daemon's and intake's
 * events: store each alert once and a row per delivery it needs. */
int notify_apply(void *arg, struct store_txn *t, const struct bus_event *ev);

/* bus_done_fn: count what a committed batch did, or forget it. */
void notify_done(void *arg, bool committed);

/* ---- deliver.c ---- */

/*
 * One round: record the results that came back, then attempt what is due
 * at now (at most NOTIFY_ROUND_MAX rows of each lane), in one transaction.
 * Feed and journal deliveries happen in the round; email and webhook
 * attempts start after it commits. Returns 1 when more is due than a round
 * takes (go again after the sockets), 0, or -errno.
 */
int notify_deliver(struct notify *n, instant_t now);

/* Read the first due row's instant into n->next_due. Returns 0, -errno. */
int notify_next_due(struct notify *n);

/*
 * An attempt came back (res is taken over): update its destination's
 * breaker now, and record it in the next round.
 */
void notify_result_add(struct notify *n, struct notify_result *res,
		       instant_t now);

/* ---- transfer.c ---- */

/*
 * Create the transfer engine: a libcurl multi handle whose sockets live in
 * one epoll descriptor, so the service loop watches a single fd.
 * Returns 0 and sets *ret, -ENOMEM, -errno.
 */
int notify_curl_new(struct notify *n, struct notify_curl **ret);

/* Abort every transfer and free. Takes NULL. */
void notify_curl_free(struct notify_curl *c);

/* The descriptor to watch for POLLIN. */
int notify_curl_fd(const struct notify_curl *c);

/* Start req (taken over: freed in every case). Returns 0, -errno. */
int notify_curl_start(struct notify_curl *c, struct notify_request *req);

/* Act on what is readable and on libcurl's timer; finished attempts are
 * put on n->results. Returns 0, -errno. */
int notify_curl_run(struct notify_curl *c, bool timeout);

/* Milliseconds until libcurl's timer wants notify_curl_run(c, true); -1. */
int64_t notify_curl_timeout(const struct notify_curl *c);

/* Attempts in flight, and whether key is one of them. */
size_t notify_curl_inflight(const struct notify_curl *c);
bool notify_curl_busy(const struct notify_curl *c, const void *key,
		      size_t klen);

/* Free a request and what it owns. Takes NULL. */
void notify_request_free(struct notify_request *req);

/* ---- mail.c, webhook.c ---- */

/*
 * Fill req (channel, url, body, list) for alert a, sent to agency ag as
 * delivery id. Returns 0, -ENOMEM, -EINVAL (nothing to send to).
 */
int notify_mail(const struct notify *n, const struct msg *a,
		const struct agency *ag, const char *id,
		struct notify_request *req);
int notify_webhook(const struct notify *n, const struct msg *a,
		   const struct agency *ag, const char *id,
		   struct notify_request *req);

#endif
