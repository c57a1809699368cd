/*
 * notify/deliver.c - every delivery attempted until it is sent or dead.
 *
 * A round is one write transaction. It first records the attempts that
 * came back since the last round (sent; or retrying at a later instant; or
 * dead), then walks the due index from its first key and, for each row due
 * now:
 *  - feed and journal deliveries are marked sent, and the alert is
 *    published on the feed (or logged with its fields) once the round has
 *    committed: a round redone after the map grew, or cut short by a
 *    crash, must not announce an alert twice. The feed is at most once
 *    anyway (PUB sends later, from ZeroMQ's queue, and has no replay);
 *    doing it first made it at most once AND sometimes twice;
 *  - email and webhook deliveries get a lease (their next attempt moved past
 *    the attempt's timeout) and their request is built; the requests are
 *    handed to libcurl only after the round commits.
 * So a crash loses nothing: a row is sent only once its attempt succeeded
 * and that was committed; an attempt cut short by a crash is due again
 * when its lease runs out. The price is at-least-once: a crash between an
 * attempt and its commit sends it again, which is why every email carries
 * a Message-ID and every webhook an Idempotency-Key derived from the
 * alert id. A clean stop aborts attempts in flight before they are
 * recorded, so nothing recorded sent is ever sent again.
 *
 * Failing destinations: each destination (the SMTP server, a webhook's
 * scheme://host:port) has a circuit breaker. NOTIFY_BREAKER_FAILURES
 * failures in a row open it for retry_min, doubling each time it opens
 * again, up to retry_max; while it is open its rows wait without an
 * attempt counted against them; then one attempt probes it. At most
 * NOTIFY_DEST_INFLIGHT attempts go to one destination at once, so a slow
 * webhook never holds the slots the others need.
 *
 * Backoff: a failed attempt n is tried again after retry_min * 2^(n-1),
 * capped at retry_max, with "equal jitter" (half fixed, half random) so
 * that deliveries failed together do not come back together.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <zmq.h>

#include "log.h"
#include "notify.h"

/* A row as a round handles it, with its strings copied out of the map. */
struct due {
	char key[OUTBOX_KEY_MAX];
	size_t klen;
	struct outbox_key k;
	struct outbox_row row;
};

/*
 * A feed or journal delivery of the round, done after it commits: the
 * recipient, and a copy of the alert's topic (NUL-terminated) and body,
 * which point into the map only while the transaction lives.
 */
struct local {
	enum outbox_channel channel;
	char recipient[MSG_AGENCY_MAX + 1];
	size_t topic_len, body_len;
	char data[];
};

struct round {
	struct notify *n;
	struct store_txn *t;
	instant_t now;
	struct notify_request *start[NOTIFY_ROUND_MAX];
	size_t nstart;
	struct local *local[NOTIFY_ROUND_MAX];
	size_t nlocal;
	struct notify_counts counts;
	bool logged;			/* one line per delivery */
	bool full;			/* stopped at max_inflight */
	bool more;			/* a lane had more due than a round */
};

/* ------------------------------------------------------ destinations */

/* The destination (breaker) for key, found or added. */
static size_t dest_for(struct notify *n, const char *key)
{
	for (size_t i = 0; i < n->ndests; i++)
		if (strcmp(n->dests[i].key, key) == 0)
			return i;
	if (n->ndests == NOTIFY_MAX_DESTS)
		return NOTIFY_MAX_DESTS - 1;
	snprintf(n->dests[n->ndests].key, sizeof(n->dests[0].key), "%s", key);
	return n->ndests++;
}

/* A webhook URL's destination: scheme://host[:port], without the path. */
static size_t dest_of_url(struct notify *n, const char *url)
{
	char key[sizeof(n->dests[0].key)];
	const char *host = strstr(url, "://");
	size_t len = strlen(url);

	if (host) {
		const char *slash = strchr(host + 3, '/');

		if (slash)
			len = (size_t)(slash - url);
	}
	snprintf(key, sizeof(key), "%.*s", (int)len, url);
	return dest_for(n, key);
}

/* How long an opened breaker stays open: doubling, within the limits. */
static int64_t cooldown(const struct notify *n, uint32_t opens)
{
	int64_t ms = n->conf->notify.retry_min_ms;

	for (uint32_t i = 1; i < opens && ms < n->conf->notify.retry_max_ms;
	     i++)
		ms *= 2;
	return ms < n->conf->notify.retry_max_ms ? ms :
	       n->conf->notify.retry_max_ms;
}

/* An attempt to d came back: close, count or open its breaker. */
static void dest_result(struct notify *n, size_t i, bool ok, instant_t now)
{
	struct notify_dest *d = &n->dests[i];
	char gap[32];

	if (d->inflight > 0)
		d->inflight--;
	if (ok) {
		if (d->open_until)
			log_info("%s answers again: its deliveries resume",
				 d->key);
		d->failures = d->opens = 0;
		d->open_until = 0;
		d->probing = false;
		return;
	}
	/* Attempts that were out when it opened say nothing new. */
	if (d->open_until && now < d->open_until && !d->probing)
		return;
	d->failures++;
	if (!d->probing && d->failures < NOTIFY_BREAKER_FAILURES)
		return;
	d->probing = false;
	d->opens++;
	d->open_until = now + cooldown(n, d->opens);
	log_warnx("%s failed %" PRIu32 " times in a row: no attempts to it "
		  "for %s", d->key, d->failures,
		  time_format_duration(d->open_until - now, gap, sizeof(gap)));
}

/*
 * Whether an attempt to destination i may start now; if not, *later is
 * when to look at the row again.
 */
static bool dest_admits(struct notify *n, size_t i, instant_t now,
			instant_t *later)
{
	struct notify_dest *d = &n->dests[i];

	if (d->open_until && now < d->open_until) {
		*later = d->open_until;
		return false;
	}
	if (d->open_until && d->probing) {
		*later = now + NOTIFY_PROBE_WAIT_MS;
		return false;
	}
	if (d->inflight >= NOTIFY_DEST_INFLIGHT) {
		*later = now + NOTIFY_BUSY_MS;
		return false;
	}
	if (d->open_until)
		d->probing = true;	/* half-open: this one probes */
	return true;
}

/* ------------------------------------------------------------ results */

/* When a delivery that failed attempts times is tried again. */
static instant_t backoff(const struct notify *n, uint32_t attempts,
			 instant_t now)
{
	int64_t ms = n->conf->notify.retry_min_ms;

	for (uint32_t i = 1; i < attempts && ms < n->conf->notify.retry_max_ms;
	     i++)
		ms *= 2;
	if (ms > n->conf->notify.retry_max_ms)
		ms = n->conf->notify.retry_max_ms;
	return now + ms / 2 + (int64_t)randombytes_uniform(
		(uint32_t)(ms / 2 < UINT32_MAX ? ms / 2 + 1 : UINT32_MAX));
}

/* Record what came back for one attempt. */
static int record(struct round *rd, const struct notify_result *res)
{
	const struct notify *n = rd->n;
	char id[OUTBOX_ID_MAX], gap[32];
	struct outbox_row row;
	int r;

	r = outbox_get(&n->ob, rd->t, res->key, res->klen, &row);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (!outbox_state_due(row.state))
		return 0;	/* revived or recorded meanwhile: keep it */
	if (!outbox_id_format(res->key, res->klen, id, sizeof(id)))
		return -EBADMSG;
	row.attempts++;
	row.updated_at = rd->now;
	row.target = res->target;
	row.target_len = strlen(res->target);
	row.error = res->error;
	row.error_len = strlen(res->error);
	if (res->ok) {
		row.state = OUTBOX_SENT;
		rd->counts.sent++;
		log_debug("delivery %s: sent to %s", id, res->target);
	} else if (res->permanent ||
		   row.attempts >= n->conf->notify.max_attempts ||
		   rd->now - row.created_at >= n->conf->notify.max_age_ms) {
		row.state = OUTBOX_DEAD;
		rd->counts.dead++;
		log_warnx("delivery %s: dead after %" PRIu32 " attempts: %s; "
			  "batonctl retry %s tries it again", id, row.attempts,
			  res->error, id);
	} else {
		instant_t open = n->dests[res->dest].open_until;

		row.state = OUTBOX_RETRYING;
		row.next_at = backoff(n, row.attempts, rd->now);
		if (open > row.next_at)
			row.next_at = open;
		rd->counts.retried++;
		if (rd->logged)
			log_info("delivery %s: attempt %" PRIu32 " failed: %s; "
				 "next in %s", id, row.attempts, res->error,
				 time_format_duration(row.next_at - rd->now,
						      gap, sizeof(gap)));
	}
	return outbox_put(&n->ob, rd->t, res->key, res->klen, &row);
}

/* ------------------------------------------------------------ delivery */

/* The office alert feed: topic alert.<kind>.<recipient>, then the body. */
static int publish(struct notify *n, const struct msg *a, const char *to,
		   const void *body, size_t len)
{
	char topic[MSG_TOPIC_MAX + MSG_AGENCY_MAX + 2];

	snprintf(topic, sizeof(topic), "%s.%s", msg_alert_topic(a->alert), to);
	if (zmq_send(n->feed, topic, strlen(topic), ZMQ_SNDMORE) < 0 ||
	    zmq_send(n->feed, body, len, 0) < 0)
		return -errno;
	return 0;
}

/* The journal: one entry per alert, with the fields to find it by. */
static void journal(const struct msg *a)
{
	struct log_field f[] = {
		{ "ALERT_ID", a->alert_id }, { "TASK_ID", a->task },
		{ "AGENCY", a->agency }, { "KIND", msg_alert_name(a->alert) },
	};

	log_fields(LOG_NOTICE, f, 4, "alert %s: %s for %s: %s%s",
		   a->alert_id, msg_alert_name(a->alert), a->agency, a->title,
		   a->late ? " (late)" : "");
}

/* Build the request for an email or webhook delivery. */
static int request(struct round *rd, struct due *d, const struct msg *a,
		   const struct agency *ag, size_t dest,
		   struct notify_request **ret)
{
	struct notify *n = rd->n;
	struct notify_request *req;
	char id[OUTBOX_ID_MAX];
	int r;

	if (!outbox_id_format(d->key, d->klen, id, sizeof(id)))
		return -EBADMSG;
	req = calloc(1, sizeof(*req));
	if (!req)
		return -ENOMEM;
	memcpy(req->key, d->key, d->klen);
	req->klen = d->klen;
	req->channel = d->k.channel;
	r = d->k.channel == OUTBOX_EMAIL ? notify_mail(n, a, ag, id, req) :
	    notify_webhook(n, a, ag, id, req);
	if (r < 0) {
		notify_request_free(req);
		return r;
	}
	req->dest = dest;
	*ret = req;
	return 0;
}

/* Give up on d at once: nothing can be sent to it. */
static int dead_now(struct round *rd, struct due *d, const char *why)
{
	char id[OUTBOX_ID_MAX] = "?";

	outbox_id_format(d->key, d->klen, id, sizeof(id));
	log_warnx("delivery %s: dead: %s", id, why);
	d->row.state = OUTBOX_DEAD;
	d->row.updated_at = rd->now;
	d->row.error = why;
	d->row.error_len = strlen(why);
	rd->counts.dead++;
	return outbox_put(&rd->n->ob, rd->t, d->key, d->klen, &d->row);
}

/* Keep a feed or journal delivery of d for after the commit. */
static int keep_local(struct round *rd, const struct due *d,
		      const char *topic, const void *body, size_t len)
{
	size_t tlen = strlen(topic);
	struct local *l;

	if (rd->nlocal == NOTIFY_ROUND_MAX)
		return -EOVERFLOW;	/* collect() takes no more than this */
	l = malloc(sizeof(*l) + tlen + 1 + len);
	if (!l)
		return -ENOMEM;
	l->channel = d->k.channel;
	snprintf(l->recipient, sizeof(l->recipient), "%s", d->k.recipient);
	l->topic_len = tlen;
	l->body_len = len;
	memcpy(l->data, topic, tlen + 1);
	memcpy(l->data + tlen + 1, body, len);
	rd->local[rd->nlocal++] = l;
	return 0;
}

/* The round committed: publish and log what it marked sent. */
static void do_local(struct round *rd)
{
	for (size_t i = 0; i < rd->nlocal; i++) {
		struct local *l = rd->local[i];
		const void *body = l->data + l->topic_len + 1;
		struct msg a = { 0 };
		struct msg_error err;
		int r;

		r = msg_decode_event(l->data, l->topic_len, body, l->body_len,
				     &a, &err);
		if (r == 0 && l->channel == OUTBOX_FEED)
			r = publish(rd->n, &a, l->recipient, body, l->body_len);
		else if (r == 0)
			journal(&a);
		if (r < 0)
			log_warnx("%s: %s of %s to %s: %s", __func__,
				  outbox_channel_name(l->channel),
				  a.alert_id ? a.alert_id : "?", l->recipient,
				  strerror(-r));
		msg_free(&a);
	}
}

static void free_local(struct round *rd)
{
	for (size_t i = 0; i < rd->nlocal; i++)
		free(rd->local[i]);
	rd->nlocal = 0;
}

/*
 * Attempt due row d. Returns 0, 1 when no more attempts can start in this
 * round, or -errno.
 */
static int attempt(struct round *rd, struct due *d)
{
	struct notify *n = rd->n;
	const struct agency *ag = NULL;
	struct notify_request *req = NULL;
	struct msg a = { 0 };
	struct msg_error err;
	const char *topic;
	const void *body;
	size_t len;
	instant_t later;
	size_t dest;
	char why[OUTBOX_ERROR_MAX];
	int r;

	r = outbox_alert_get(&n->ob, rd->t, d->k.alert_id, &topic, &body,
			     &len);
	if (r == -ENOENT)
		return dead_now(rd, d, "the alert is not stored");
	if (r < 0)
		return r;
	/* Decoded before any write: body points into the map. */
	r = msg_decode_event(topic, strlen(topic), body, len, &a, &err);
	if (r < 0)
		goto out;

	switch (d->k.channel) {
	case OUTBOX_FEED:
	case OUTBOX_JOURNAL:
		r = keep_local(rd, d, topic, body, len);
		if (r < 0)
			goto out;
		d->row.state = OUTBOX_SENT;
		break;
	case OUTBOX_EMAIL:
	case OUTBOX_WEBHOOK:
		if (notify_curl_busy(n->curl, d->key, d->klen))
			goto out;
		if (notify_curl_inflight(n->curl) + rd->nstart >=
		    n->conf->notify.max_inflight) {
			r = 1;
			goto out;
		}
		ag = n->agencies ? agency_find(n->agencies, d->k.recipient) :
		     NULL;
		if (!ag || (d->k.channel == OUTBOX_EMAIL ?
			    ag->nemail == 0 || !n->conf->notify.smtp :
			    !ag->webhook)) {
			snprintf(why, sizeof(why), "no %s for %s in the "
				 "configuration", outbox_channel_name(
					 d->k.channel), d->k.recipient);
			r = dead_now(rd, d, why);
			goto out;
		}
		/* Whether it may go is known before anything is built. */
		dest = d->k.channel == OUTBOX_EMAIL ? dest_for(n, "smtp") :
		       dest_of_url(n, ag->webhook);
		if (!dest_admits(n, dest, rd->now, &later)) {
			d->row.next_at = later;
			r = outbox_put(&n->ob, rd->t, d->key, d->klen, &d->row);
			goto out;
		}
		r = request(rd, d, &a, ag, dest, &req);
		if (r < 0) {
			n->dests[dest].probing = false;
			goto out;
		}
		n->dests[dest].inflight++;
		rd->start[rd->nstart++] = req;
		d->row.next_at = rd->now + n->conf->notify.timeout_ms +
				 NOTIFY_LEASE_GRACE_MS;
		r = outbox_put(&n->ob, rd->t, d->key, d->klen, &d->row);
		goto out;
	default:
		r = -EBADMSG;
		goto out;
	}
	d->row.attempts++;
	d->row.updated_at = rd->now;
	d->row.error = "";
	d->row.error_len = 0;
	rd->counts.sent++;
	r = outbox_put(&n->ob, rd->t, d->key, d->klen, &d->row);
out:
	msg_free(&a);
	return r;
}

/* Read up to max rows of lane due at now (next_at <= now) into out. */
static int collect(struct round *rd, enum outbox_lane lane, struct due *out,
		   size_t max, size_t *ret_n)
{
	struct notify *n = rd->n;
	struct store_cursor *c;
	const void *dk, *dv, *key;
	size_t dlen, vlen, klen, i = 0;
	uint8_t first = (uint8_t)lane;
	enum outbox_lane got;
	instant_t at;
	int r;

	r = store_cursor_open(rd->t, n->ob.due, &c);
	if (r < 0)
		return r;
	r = store_cursor_seek(c, &first, 1);
	while (r == 0 && i < max &&
	       (r = store_cursor_next(c, &dk, &dlen, &dv, &vlen)) == 0) {
		r = outbox_due_parse(dk, dlen, &got, &at, &key, &klen);
		if (r < 0)
			break;
		if (got != lane || at > rd->now)
			break;
		memcpy(out[i].key, key, klen);
		out[i].klen = klen;
		i++;
	}
	store_cursor_close(c);
	*ret_n = i;
	return r == -ENOENT ? 0 : r;
}

/*
 * The round's work inside its transaction: the results, then what is due
 * in the local lane, then (while attempts can start) in the remote one.
 */
static int work(struct round *rd, struct due *due, size_t *ret_n)
{
	size_t nd = 0, nr = 0;
	int r = 0;

	for (struct notify_result *res = rd->n->results; r == 0 && res;
	     res = res->next)
		r = record(rd, res);
	if (r == 0)
		r = collect(rd, OUTBOX_LANE_LOCAL, due, NOTIFY_ROUND_MAX, &nd);
	if (r == 0 && notify_curl_inflight(rd->n->curl) <
	    rd->n->conf->notify.max_inflight) {
		r = collect(rd, OUTBOX_LANE_REMOTE, due + nd,
			    NOTIFY_ROUND_MAX, &nr);
		rd->more = nr == NOTIFY_ROUND_MAX;
	} else if (r == 0) {
		rd->full = true;
	}
	rd->more |= nd == NOTIFY_ROUND_MAX;
	nd += nr;
	rd->logged = nd <= NOTIFY_LOG_EACH;
	for (size_t i = 0; r == 0 && i < nd; i++) {
		struct due *d = &due[i];

		r = outbox_key_parse(d->key, d->klen, &d->k);
		if (r == 0)
			r = outbox_get(&rd->n->ob, rd->t, d->key, d->klen,
				       &d->row);
		if (r == 0)
			r = attempt(rd, d);
		if (r == 1) {
			rd->full = true;
			r = 0;
			break;
		}
	}
	*ret_n = nd;
	return r;
}

/* Undo what a failed round did outside its transaction. */
static void unstart(struct round *rd)
{
	for (size_t i = 0; i < rd->nstart; i++) {
		struct notify_dest *d = &rd->n->dests[rd->start[i]->dest];

		if (d->inflight > 0)
			d->inflight--;
		d->probing = false;
		notify_request_free(rd->start[i]);
	}
	rd->nstart = 0;
}

int notify_deliver(struct notify *n, instant_t now)
{
	struct round rd = { .n = n, .now = now, .logged = true };
	struct due *due;
	size_t nd = 0;
	int r;

	due = calloc(OUTBOX_LANES * NOTIFY_ROUND_MAX, sizeof(*due));
	if (!due)
		return -ENOMEM;
	for (int tries = 0;; tries++) {
		rd.counts = (struct notify_counts){ 0 };
		rd.full = rd.more = false;
		r = store_begin(n->store, true, &rd.t);
		if (r < 0)
			break;
		r = work(&rd, due, &nd);
		if (r == 0)
			r = store_commit(rd.t);
		else
			store_abort(rd.t);
		if (r == 0 || r != -ENOSPC || tries == 16)
			break;
		unstart(&rd);
		free_local(&rd);
		r = store_grow(n->store, 0);
		if (r < 0)
			break;
	}
	free(due);
	if (r < 0) {
		unstart(&rd);
		free_local(&rd);
		return r;
	}
	do_local(&rd);
	free_local(&rd);
	while (n->results) {
		struct notify_result *next = n->results->next;

		free(n->results);
		n->results = next;
	}
	for (size_t i = 0; i < rd.nstart; i++) {
		int e = notify_curl_start(n->curl, rd.start[i]);

		/* Its lease runs out and it is tried again. */
		if (e < 0)
			log_warnx("%s: starting an attempt: %s", __func__,
				  strerror(-e));
	}
	if (!rd.logged && rd.counts.sent > 0)
		log_info("delivered %" PRIu64 " in one round", rd.counts.sent);
	n->full = rd.full;
	n->total.sent += rd.counts.sent;
	n->total.retried += rd.counts.retried;
	n->total.dead += rd.counts.dead;
	r = notify_next_due(n);
	return r < 0 ? r : rd.more;
}

int notify_next_due(struct notify *n)
{
	struct store_txn *t;
	const void *key;
	size_t klen;
	instant_t at, first = INT64_MAX;
	int r;

	r = store_begin(n->store, false, &t);
	if (r < 0)
		return r;
	/* While every slot is taken, the remote lane waits for a result. */
	for (int lane = 0; lane < OUTBOX_LANES; lane++) {
		if (lane == OUTBOX_LANE_REMOTE && n->full)
			break;
		r = outbox_first_due(&n->ob, t, lane, &at, &key, &klen);
		if (r == 0 && at < first)
			first = at;
		if (r < 0 && r != -ENOENT)
			break;
		r = 0;
	}
	store_abort(t);
	if (r < 0)
		return r;
	n->next_due = first;
	return 0;
}

void notify_result_add(struct notify *n, struct notify_result *res,
		       instant_t now)
{
	dest_result(n, res->dest, res->ok, now);
	n->full = false;
	res->next = n->results;
	n->results = res;
	n->next_due = 0;
}
