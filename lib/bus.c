/*
 * bus.c - sequenced publish/subscribe with replay (see bus.h).
 *
 * Publisher: events are appended to BUS_EVENTS_TABLE in the caller's write
 * transaction and only sent once it has committed, so a subscriber can never
 * see an event that a crash then takes back (which would reuse its sequence
 * for something else). The newest sequence is found again on start from the
 * table's last key. Events committed but never sent before a crash are not
 * resent live: the first heartbeat tells every subscriber it is behind and
 * replay brings them.
 *
 * Subscriber: everything received, live or replayed, is sorted into "the
 * next event" (applied in order), "already applied" (dropped) and "ahead"
 * (kept in a bounded queue while a replay fills the gap, so that a busy
 * publisher does not send a subscriber into endless replay rounds).
 *
 * Wire: topic, 8-byte big-endian sequence, body; a replay stream ends with a
 * one-frame replay-end body, which is how a subscriber tells them apart.
 * Record in the table: one byte topic length, topic, body.
 */
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "bus.h"
#include "log.h"
#include "msg.h"
#include "time.h"

#define BUS_HEARTBEAT_MS	1000
/*
 * After a burst, the next heartbeat comes this soon: PUB drops what does
 * not fit a subscriber's queue (1000 messages), and when it drops the tail
 * of a burst there is no later event to show the gap; the heartbeat shows
 * it in 50 ms instead of a second.
 */
#define BUS_TAIL_HB_MS		50
#define BUS_MAX_SESSIONS	64
#define BUS_REPLAY_SLICE	512	/* events per session per tick */
#define BUS_REPLAY_RETRY_MS	2000	/* re-ask a replay nobody answers */
#define BUS_CONNECT_RETRY_MS	50	/* re-ask when not yet connected */
#define BUS_BATCH_MAX		1024	/* events applied per transaction */
#define BUS_AHEAD_MAX_BYTES	(16u << 20)
#define BUS_CURSOR_LAG		65536	/* unwanted events between saves */
#define BUS_CURSOR_IDLE_MS	1000	/* and a save once they pause */
#define BUS_ID_MAX		255

static const uint8_t empty_map = 0x80;	/* msgpack {} */

/* ---- records ---- */

int bus_record_parse(uint64_t seq, const void *rec, size_t len,
		     struct bus_event *ev)
{
	const uint8_t *p = rec;

	/* No publisher stores a longer topic (bus_pub_append()). */
	if (len < 1 || p[0] == 0 || p[0] > MSG_TOPIC_MAX ||
	    (size_t)p[0] + 1 > len)
		return -EBADMSG;
	ev->seq = seq;
	ev->topic = (const char *)p + 1;
	ev->topic_len = p[0];
	ev->body = p + 1 + p[0];
	ev->body_len = len - 1 - p[0];
	return 0;
}

static int send_frame(void *sock, const void *data, size_t len, int flags)
{
	return zmq_send(sock, data, len, flags | ZMQ_DONTWAIT) < 0 ? -errno : 0;
}

/* Send an event's three frames after whatever envelope is already out. */
static int send_event(void *sock, const struct bus_event *ev)
{
	uint8_t be[8];
	int r;

	store_u64_key(ev->seq, be);
	r = send_frame(sock, ev->topic, ev->topic_len, ZMQ_SNDMORE);
	if (!r)
		r = send_frame(sock, be, sizeof(be), ZMQ_SNDMORE);
	if (!r)
		r = send_frame(sock, ev->body, ev->body_len, 0);
	return r;
}

/* ==== publisher ==== */

struct replay_session {
	uint8_t id[BUS_ID_MAX];
	size_t idlen;
	uint64_t next;		/* next sequence to send */
};

struct bus_pub {
	struct store *st;
	store_table_t events;
	void *pub;
	void *replay;
	uint64_t committed;	/* newest sequence on disk */
	uint64_t pending;	/* newest appended in the open transaction */
	uint64_t sent;		/* newest sent live */
	int64_t last_send;	/* monotonic ms of the last live frame */
	bool tail;		/* events went out since the last heartbeat */
	bool stalled;		/* a session hit a full queue: retry soon */
	uint8_t *rec;		/* scratch for one record */
	size_t rec_cap;
	unsigned nsessions;
	struct replay_session sessions[BUS_MAX_SESSIONS];
};

/*
 * A socket of the bus: no linger (a stopping daemon must not wait on
 * peers), ROUTER_MANDATORY on the replay ROUTER (a full peer says EAGAIN
 * instead of losing the rest of its replay), every topic on a SUB (the
 * sequence counts them all), and IMMEDIATE on the replay DEALER (no
 * requests queued for a publisher that is not there).
 */
static int open_socket(void *zctx, int type, const char *ep,
		       const struct curve_keys *keys, void **ret)
{
	bool server = type == ZMQ_PUB || type == ZMQ_ROUTER;
	int zero = 0, one = 1, r = 0;
	void *s;

	s = zmq_socket(zctx, type);
	if (!s)
		return -errno;
	/* Across hosts the daemons know each other by their one key pair. */
	if (keys && strncmp(ep, "tcp://", 6) == 0)
		r = server ? curve_server(s, keys, BUS_ZAP_DOMAIN) :
		    curve_client(s, keys, keys->public_key);
	if (r < 0) {
		zmq_close(s);
		return r;
	}
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	if (type == ZMQ_ROUTER)
		zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
	else if (type == ZMQ_SUB)
		zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
	else if (type == ZMQ_DEALER)
		zmq_setsockopt(s, ZMQ_IMMEDIATE, &one, sizeof(one));
	/* Publishers bind; subscribers connect. */
	r = server ? bus_bind(s, ep) : zmq_connect(s, ep) < 0 ? -errno : 0;
	if (r < 0) {
		zmq_close(s);
		return r;
	}
	*ret = s;
	return 0;
}

int bus_bind(void *zsock, const char *ep)
{
	if (zmq_bind(zsock, ep) < 0)
		return -errno;
	/* ZeroMQ makes the socket file with the umask: owner-only here. */
	if (strncmp(ep, "ipc://", 6) == 0 && ep[6] != '@' &&
	    chmod(ep + 6, 0600) < 0)
		return -errno;
	return 0;
}

int bus_pub_new(void *zctx, struct store *st, const char *pub_ep,
		const char *replay_ep, const struct curve_keys *keys,
		struct bus_pub **ret)
{
	struct bus_pub *p;
	struct store_txn *t;
	const void *k;
	size_t klen;
	int r;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->st = st;
	r = store_table(st, BUS_EVENTS_TABLE, &p->events);
	if (r < 0)
		goto fail;
	r = store_begin(st, false, &t);
	if (r < 0)
		goto fail;
	r = store_last(t, p->events, &k, &klen, NULL, NULL);
	if (r == 0 && klen == 8)
		p->committed = store_u64_from(k);
	store_abort(t);
	if (r < 0 && r != -ENOENT)
		goto fail;
	p->pending = p->sent = p->committed;

	r = open_socket(zctx, ZMQ_PUB, pub_ep, keys, &p->pub);
	if (r < 0)
		goto fail;
	r = open_socket(zctx, ZMQ_ROUTER, replay_ep, keys, &p->replay);
	if (r < 0)
		goto fail;
	p->last_send = time_mono();
	*ret = p;
	return 0;
fail:
	bus_pub_free(p);
	return r;
}

void bus_pub_free(struct bus_pub *p)
{
	if (!p)
		return;
	if (p->pub)
		zmq_close(p->pub);
	if (p->replay)
		zmq_close(p->replay);
	free(p->rec);
	free(p);
}

int bus_pub_append(struct bus_pub *p, struct store_txn *t, const char *topic,
		   const void *body, size_t len, uint64_t *ret_seq)
{
	size_t tlen = strlen(topic), need = 1 + tlen + len;
	uint8_t key[8];
	int r;

	if (tlen == 0 || tlen > MSG_TOPIC_MAX)
		return -EINVAL;
	if (need > p->rec_cap) {
		uint8_t *n = realloc(p->rec, need);

		if (!n)
			return -ENOMEM;
		p->rec = n;
		p->rec_cap = need;
	}
	p->rec[0] = (uint8_t)tlen;
	memcpy(p->rec + 1, topic, tlen);
	memcpy(p->rec + 1 + tlen, body, len);
	store_u64_key(p->pending + 1, key);
	r = store_put(t, p->events, key, sizeof(key), p->rec, need,
		      STORE_APPEND);
	if (r < 0)
		return r;
	p->pending++;
	if (ret_seq)
		*ret_seq = p->pending;
	return 0;
}

void bus_pub_rollback(struct bus_pub *p)
{
	p->pending = p->committed;
}

uint64_t bus_pub_last(const struct bus_pub *p)
{
	return p->committed;
}

void *bus_pub_replay_socket(struct bus_pub *p)
{
	return p->replay;
}

int bus_pub_flush(struct bus_pub *p)
{
	struct store_cursor *c = NULL;
	struct store_txn *t = NULL;
	const void *k, *v;
	size_t klen, vlen;
	uint8_t key[8];
	int r;

	p->committed = p->pending;
	if (p->sent >= p->committed)
		return 0;
	r = store_begin(p->st, false, &t);
	if (r < 0)
		goto out;
	r = store_cursor_open(t, p->events, &c);
	if (r < 0)
		goto out;
	store_u64_key(p->sent + 1, key);
	r = store_cursor_seek(c, key, sizeof(key));
	while (r == 0 && p->sent < p->committed) {
		struct bus_event ev;

		r = store_cursor_next(c, &k, &klen, &v, &vlen);
		if (r < 0)
			break;
		r = bus_record_parse(store_u64_from(k), v, vlen, &ev);
		if (r < 0)
			break;
		/* PUB never blocks; what a slow subscriber misses, it replays. */
		send_event(p->pub, &ev);
		p->sent = ev.seq;
	}
	if (r == -ENOENT)
		r = 0;
	p->last_send = time_mono();
	p->tail = true;
out:
	store_cursor_close(c);
	store_abort(t);
	return r;
}

/* ---- replay sessions ---- */

int bus_pub_on_replay(struct bus_pub *p)
{
	uint8_t id[BUS_ID_MAX], body[256];
	struct msg_error err;
	struct msg m = { 0 };
	int more, idlen, blen;
	size_t sz = sizeof(more);

	for (;;) {
		idlen = zmq_recv(p->replay, id, sizeof(id), ZMQ_DONTWAIT);
		if (idlen < 0)
			return 0;
		zmq_getsockopt(p->replay, ZMQ_RCVMORE, &more, &sz);
		if (!more)
			continue;
		blen = zmq_recv(p->replay, body, sizeof(body), ZMQ_DONTWAIT);
		zmq_getsockopt(p->replay, ZMQ_RCVMORE, &more, &sz);
		while (more) {		/* drain anything unexpected */
			zmq_recv(p->replay, NULL, 0, ZMQ_DONTWAIT);
			zmq_getsockopt(p->replay, ZMQ_RCVMORE, &more, &sz);
		}
		if (blen < 0 || (size_t)blen > sizeof(body) ||
		    (size_t)idlen > sizeof(id))
			continue;
		if (msg_decode(body, blen, MSG_CTX_REPLAY, &m, &err) < 0) {
			log_debug("%s: bad request: %s", __func__, err.text);
			msg_free(&m);
			continue;
		}

		/* A peer asking again replaces its session. */
		unsigned i;
		for (i = 0; i < p->nsessions; i++)
			if (p->sessions[i].idlen == (size_t)idlen &&
			    memcmp(p->sessions[i].id, id, idlen) == 0)
				break;
		if (i == BUS_MAX_SESSIONS) {
			log_debug("%s: %u sessions, request dropped", __func__, i);
			msg_free(&m);
			continue;	/* the subscriber asks again later */
		}
		if (i == p->nsessions)
			p->nsessions++;
		memcpy(p->sessions[i].id, id, idlen);
		p->sessions[i].idlen = idlen;
		p->sessions[i].next = m.from ? m.from : 1;
		msg_free(&m);
	}
}

static void session_drop(struct bus_pub *p, unsigned i)
{
	p->sessions[i] = p->sessions[--p->nsessions];
}

/*
 * Send the next slice of session s from snapshot t. Returns 1 when the
 * session is finished (replay-end sent, or the peer is gone), 0 when there
 * is more, -EAGAIN when the peer's queue is full.
 */
static int session_serve(struct bus_pub *p, struct store_txn *t,
			 struct replay_session *s)
{
	struct store_cursor *c = NULL;
	const void *k, *v;
	size_t klen, vlen;
	uint8_t key[8];
	int r, n = 0;

	r = store_cursor_open(t, p->events, &c);
	if (r < 0)
		return r;
	store_u64_key(s->next, key);
	r = store_cursor_seek(c, key, sizeof(key));
	while (r == 0 && s->next <= p->committed && n < BUS_REPLAY_SLICE) {
		struct bus_event ev;

		r = store_cursor_next(c, &k, &klen, &v, &vlen);
		if (r < 0)
			break;
		if (bus_record_parse(store_u64_from(k), v, vlen, &ev) < 0 ||
		    ev.seq > p->committed) {
			r = -ENOENT;
			break;
		}
		r = send_frame(p->replay, s->id, s->idlen, ZMQ_SNDMORE);
		if (r == 0)
			r = send_event(p->replay, &ev);
		if (r < 0)
			break;
		s->next = ev.seq + 1;
		n++;
	}
	store_cursor_close(c);
	if (r == -EHOSTUNREACH)
		return 1;
	if (r == -EAGAIN)
		return -EAGAIN;
	if (s->next <= p->committed && n == BUS_REPLAY_SLICE)
		return 0;

	/* Everything up to the newest committed event went out: say so. */
	struct msg end = { .type = MSG_REPLAY_END, .last = p->committed };
	void *buf;
	size_t len;

	r = msg_encode(&end, &buf, &len);
	if (r < 0)
		return r;
	r = send_frame(p->replay, s->id, s->idlen, ZMQ_SNDMORE);
	if (r == 0)
		r = send_frame(p->replay, buf, len, 0);
	free(buf);
	if (r == -EAGAIN)
		return -EAGAIN;
	return 1;
}

static void serve_sessions(struct bus_pub *p)
{
	struct store_txn *t;
	int r;

	p->stalled = false;
	if (p->nsessions == 0)
		return;
	/* One short snapshot per tick: never held across the loop. */
	if (store_begin(p->st, false, &t) < 0) {
		p->stalled = true;
		return;
	}
	for (unsigned i = 0; i < p->nsessions;) {
		r = session_serve(p, t, &p->sessions[i]);
		if (r == 1 || (r < 0 && r != -EAGAIN)) {
			if (r < 0)
				log_debug("%s: session dropped: %s", __func__,
					  strerror(-r));
			session_drop(p, i);
			continue;
		}
		if (r == -EAGAIN)
			p->stalled = true;
		i++;
	}
	store_abort(t);
}

int64_t bus_pub_tick(struct bus_pub *p, int64_t now)
{
	int64_t idle, every;

	serve_sessions(p);
	idle = now - p->last_send;
	every = p->tail ? BUS_TAIL_HB_MS : BUS_HEARTBEAT_MS;
	if (idle >= every) {
		struct bus_event hb = {
			.seq = p->committed, .topic = "hb", .topic_len = 2,
			.body = &empty_map, .body_len = 1,
		};

		send_event(p->pub, &hb);
		p->last_send = now;
		p->tail = false;
		idle = 0;
		every = BUS_HEARTBEAT_MS;
	}
	if (p->nsessions > 0)
		return p->stalled ? 5 : 0;
	return every - idle;
}

/* ==== subscriber ==== */

/* An event held by the subscriber: one allocation, topic then body. */
struct held {
	uint64_t seq;
	size_t topic_len, body_len;
	char data[];
};

struct bus_sub {
	struct store *st;
	store_table_t cursor;
	char *name;
	void *sub;
	void *dealer;
	struct bus_sub_handler h;
	uint64_t applied;	/* committed, or passed over unwanted */
	uint64_t saved;		/* the position stored in the cursor */
	int64_t passed_at;	/* monotonic ms events were last passed over */
	uint64_t known;		/* newest the publisher announced */
	uint64_t hb_last;	/* what the last heartbeat said */
	int hb_behind;		/* heartbeats in a row below applied */
	bool stale_told;	/* bus_sub_stale() said so already */
	bool heard;		/* a replay-end or heartbeat came */
	bool replaying;
	int64_t replay_activity;	/* monotonic ms: asked, or last frame */
	struct held *batch[BUS_BATCH_MAX];
	size_t nbatch;
	struct held **ahead;	/* FIFO of events past a gap */
	size_t ahead_head, ahead_n, ahead_cap, ahead_bytes;
};

static uint64_t sub_expect(const struct bus_sub *s)
{
	return s->applied + s->nbatch + 1;
}

static void ask_replay(struct bus_sub *s)
{
	struct msg req = { .type = MSG_REPLAY, .from = sub_expect(s) };
	void *buf;
	size_t len;

	s->replaying = true;
	s->replay_activity = time_mono();
	if (msg_encode(&req, &buf, &len) < 0)
		return;		/* retried by the tick */
	/*
	 * ZMQ_IMMEDIATE refuses the send until the connection is up (right
	 * after start, or while the publisher is down): ask again soon
	 * rather than queue requests that would all be answered at once.
	 */
	if (send_frame(s->dealer, buf, len, 0) < 0)
		s->replay_activity -= BUS_REPLAY_RETRY_MS - BUS_CONNECT_RETRY_MS;
	free(buf);
}

int bus_sub_new(void *zctx, struct store *st, const char *name,
		const char *pub_ep, const char *replay_ep,
		const struct curve_keys *keys, const struct bus_sub_handler *h,
		struct bus_sub **ret)
{
	struct bus_sub *s;
	struct store_txn *t;
	const void *v;
	size_t vlen;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->st = st;
	s->h = *h;
	s->name = strdup(name);
	if (!s->name) {
		r = -ENOMEM;
		goto fail;
	}
	r = store_table(st, BUS_CURSOR_TABLE, &s->cursor);
	if (r < 0)
		goto fail;
	r = store_begin(st, false, &t);
	if (r < 0)
		goto fail;
	r = store_get(t, s->cursor, name, strlen(name), &v, &vlen);
	if (r == 0 && vlen == 8)
		s->applied = store_u64_from(v);
	store_abort(t);
	if (r < 0 && r != -ENOENT)
		goto fail;
	s->known = s->saved = s->applied;

	r = open_socket(zctx, ZMQ_SUB, pub_ep, keys, &s->sub);
	if (r < 0)
		goto fail;
	r = open_socket(zctx, ZMQ_DEALER, replay_ep, keys, &s->dealer);
	if (r < 0)
		goto fail;
	ask_replay(s);
	*ret = s;
	return 0;
fail:
	bus_sub_free(s);
	return r;
}

static void held_free_all(struct bus_sub *s)
{
	for (size_t i = 0; i < s->nbatch; i++)
		free(s->batch[i]);
	s->nbatch = 0;
	for (size_t i = 0; i < s->ahead_n; i++)
		free(s->ahead[(s->ahead_head + i) % s->ahead_cap]);
	s->ahead_n = 0;
}

/* Store the position at seq in t. Returns store_put()'s. */
static int save_position(struct bus_sub *s, struct store_txn *t, uint64_t seq)
{
	uint8_t be[8];

	store_u64_key(seq, be);
	return store_put(t, s->cursor, s->name, strlen(s->name), be,
			 sizeof(be), 0);
}

/*
 * Store the in-memory position that passed-over events moved, in a
 * transaction of its own. Returns 0, or the store's error (the position
 * then waits for a later batch).
 */
static int save_applied(struct bus_sub *s)
{
	struct store_txn *t;
	int r;

	r = store_begin(s->st, true, &t);
	if (r < 0)
		return r;
	r = save_position(s, t, s->applied);
	if (r == 0)
		r = store_commit(t);
	else
		store_abort(t);
	if (r == 0)
		s->saved = s->applied;
	return r;
}

void bus_sub_free(struct bus_sub *s)
{
	if (!s)
		return;
	/* Passed-over events need not be replayed after a clean stop. */
	if (s->saved < s->applied)
		save_applied(s);
	held_free_all(s);
	free(s->ahead);
	if (s->sub)
		zmq_close(s->sub);
	if (s->dealer)
		zmq_close(s->dealer);
	free(s->name);
	free(s);
}

void *bus_sub_socket(struct bus_sub *s)
{
	return s->sub;
}

void *bus_sub_replay_socket(struct bus_sub *s)
{
	return s->dealer;
}

uint64_t bus_sub_applied(const struct bus_sub *s)
{
	return s->applied;
}

uint64_t bus_sub_known(const struct bus_sub *s)
{
	return s->known;
}

bool bus_sub_synced(const struct bus_sub *s)
{
	return s->heard && !s->replaying && s->applied >= s->known;
}

/* ---- applying ---- */

/* The batch is done with (applied, or passed over): move past it. */
static void drop_batch(struct bus_sub *s)
{
	s->applied = s->batch[s->nbatch - 1]->seq;
	for (size_t i = 0; i < s->nbatch; i++)
		free(s->batch[i]);
	s->nbatch = 0;
}

/* A held event as the daemon's callbacks see it, pointing into e. */
static struct bus_event event_of(const struct held *e)
{
	return (struct bus_event){
		.seq = e->seq, .topic = e->data, .topic_len = e->topic_len,
		.body = e->data + e->topic_len, .body_len = e->body_len,
	};
}

/*
 * Apply the batch in one transaction with the new position, growing the
 * map as often as needed. A batch of events the daemon does not want
 * (h.wants) costs no transaction: the position moves in memory and is
 * stored with a later batch (at most BUS_CURSOR_LAG events on), by
 * save_idle(), or by bus_sub_free(). A crash in between replays those
 * events, which are not wanted again.
 */
static int apply_batch(struct bus_sub *s)
{
	bool wanted[BUS_BATCH_MAX], any = false;
	uint64_t last;
	struct store_txn *t;
	int r;

	if (s->nbatch == 0)
		return 0;
	last = s->batch[s->nbatch - 1]->seq;
	for (size_t i = 0; i < s->nbatch; i++) {
		struct bus_event ev = event_of(s->batch[i]);

		wanted[i] = !s->h.wants || s->h.wants(s->h.arg, &ev);
		any |= wanted[i];
	}
	if (!any && last - s->saved < BUS_CURSOR_LAG) {
		s->passed_at = time_mono();
		drop_batch(s);
		return 0;
	}
	for (;;) {
		r = store_begin(s->st, true, &t);
		if (r < 0)
			return r;
		for (size_t i = 0; i < s->nbatch && r == 0; i++) {
			struct bus_event ev = event_of(s->batch[i]);

			if (wanted[i])
				r = s->h.apply(s->h.arg, t, &ev);
		}
		if (r == 0)
			r = save_position(s, t, last);
		if (r == 0)
			r = store_commit(t);
		else
			store_abort(t);
		if (s->h.done)
			s->h.done(s->h.arg, r == 0);
		if (r != -ENOSPC)
			break;
		r = store_grow(s->st, 0);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	s->saved = last;
	drop_batch(s);
	return 0;
}

/* Take an in-order event into the batch; a full batch is applied first. */
static int take(struct bus_sub *s, struct held *e)
{
	int r;

	if (s->nbatch == BUS_BATCH_MAX) {
		r = apply_batch(s);
		if (r < 0) {
			free(e);
			return r;
		}
	}
	s->batch[s->nbatch++] = e;
	return 0;
}

/* Move events from the ahead queue that have become next in order. */
static int pull_ahead(struct bus_sub *s)
{
	int r;

	while (s->ahead_n > 0) {
		struct held *e = s->ahead[s->ahead_head];

		if (e->seq > sub_expect(s))
			break;
		s->ahead_head = (s->ahead_head + 1) % s->ahead_cap;
		s->ahead_n--;
		s->ahead_bytes -= e->topic_len + e->body_len;
		if (e->seq < sub_expect(s)) {
			free(e);
			continue;
		}
		r = take(s, e);
		if (r < 0)
			return r;
	}
	return 0;
}

static void keep_ahead(struct bus_sub *s, struct held *e)
{
	size_t sz = e->topic_len + e->body_len;

	/* Only an increasing run is kept; replay covers everything else. */
	if (s->ahead_n > 0 &&
	    s->ahead[(s->ahead_head + s->ahead_n - 1) % s->ahead_cap]->seq >=
	    e->seq)
		goto drop;
	if (s->ahead_bytes + sz > BUS_AHEAD_MAX_BYTES)
		goto drop;
	if (s->ahead_n == s->ahead_cap) {
		size_t cap = s->ahead_cap ? 2 * s->ahead_cap : 64;
		struct held **n = malloc(cap * sizeof(*n));

		if (!n)
			goto drop;
		for (size_t i = 0; i < s->ahead_n; i++)
			n[i] = s->ahead[(s->ahead_head + i) % s->ahead_cap];
		free(s->ahead);
		s->ahead = n;
		s->ahead_head = 0;
		s->ahead_cap = cap;
	}
	s->ahead[(s->ahead_head + s->ahead_n) % s->ahead_cap] = e;
	s->ahead_n++;
	s->ahead_bytes += sz;
	return;
drop:
	free(e);
}

/* Sort one event, live or replayed. Takes ownership of e. */
static int on_event(struct bus_sub *s, struct held *e, bool live)
{
	uint64_t expect = sub_expect(s);

	if (e->seq > s->known)
		s->known = e->seq;
	if (e->seq < expect) {
		free(e);
		return 0;
	}
	if (e->seq == expect)
		return take(s, e);
	keep_ahead(s, e);
	if (live && !s->replaying) {
		log_debug("%s: %s: gap at %" PRIu64 ", got %" PRIu64,
			  __func__, s->name, expect, e->seq);
		ask_replay(s);
	}
	return 0;
}

/*
 * Read one multipart message from sock into parts (at most 3 kept; extra
 * parts are counted and discarded). Returns the number of parts, 0 when
 * nothing is waiting.
 */
static int recv_parts(void *sock, zmq_msg_t parts[3])
{
	int more = 1, n = 0;
	size_t sz = sizeof(more);

	while (more) {
		zmq_msg_t m;

		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, sock, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
			zmq_msg_close(&m);
			return n;
		}
		if (n < 3)
			parts[n] = m;
		else
			zmq_msg_close(&m);
		n++;
		zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz);
	}
	return n;
}

static void close_parts(zmq_msg_t parts[3], int n)
{
	for (int i = 0; i < n && i < 3; i++)
		zmq_msg_close(&parts[i]);
}

static struct held *held_from(zmq_msg_t parts[3])
{
	size_t tlen = zmq_msg_size(&parts[0]), blen = zmq_msg_size(&parts[2]);
	struct held *e;

	if (tlen == 0 || tlen > MSG_TOPIC_MAX || zmq_msg_size(&parts[1]) != 8)
		return NULL;
	e = malloc(sizeof(*e) + tlen + blen);
	if (!e)
		return NULL;
	e->seq = store_u64_from(zmq_msg_data(&parts[1]));
	e->topic_len = tlen;
	e->body_len = blen;
	memcpy(e->data, zmq_msg_data(&parts[0]), tlen);
	memcpy(e->data + tlen, zmq_msg_data(&parts[2]), blen);
	return e;
}

static int drain_replay(struct bus_sub *s, int *budget)
{
	zmq_msg_t parts[3];
	int n, r = 0;

	while (r == 0 && (*budget)-- > 0 &&
	       (n = recv_parts(s->dealer, parts)) > 0) {
		s->replay_activity = time_mono();
		if (n == 3) {
			struct held *e = held_from(parts);

			if (e)
				r = on_event(s, e, false);
		} else if (n == 1) {
			struct msg m = { 0 };

			if (msg_decode(zmq_msg_data(&parts[0]),
				       zmq_msg_size(&parts[0]),
				       MSG_CTX_REPLAY_END, &m, NULL) == 0) {
				if (m.last > s->known)
					s->known = m.last;
				s->replaying = false;
				s->heard = true;
			}
			msg_free(&m);
		}
		close_parts(parts, n);
		if (r == 0)
			r = pull_ahead(s);
	}
	return r;
}

static int drain_live(struct bus_sub *s, int *budget)
{
	zmq_msg_t parts[3];
	int n, r = 0;

	while (r == 0 && (*budget)-- > 0 &&
	       (n = recv_parts(s->sub, parts)) > 0) {
		if (n == 3 && zmq_msg_size(&parts[0]) == 2 &&
		    memcmp(zmq_msg_data(&parts[0]), "hb", 2) == 0 &&
		    zmq_msg_size(&parts[1]) == 8) {
			uint64_t seq = store_u64_from(zmq_msg_data(&parts[1]));

			if (seq > s->known)
				s->known = seq;
			s->heard = true;
			/* One heartbeat may be older than a replay answered
			 * after it; two in a row are the publisher's word. */
			s->hb_last = seq;
			if (seq < s->applied + s->nbatch)
				s->hb_behind++;
			else
				s->hb_behind = 0;
		} else if (n == 3) {
			struct held *e = held_from(parts);

			if (e)
				r = on_event(s, e, true);
		}
		close_parts(parts, n);
	}
	return r;
}

int bus_sub_on_readable(struct bus_sub *s)
{
	int r, budget;

	/* Bounded rounds keep the daemon's other sockets served. */
	for (int round = 0; round < 8; round++) {
		budget = BUS_BATCH_MAX;
		r = drain_replay(s, &budget);
		if (r == 0)
			r = drain_live(s, &budget);
		if (r == 0)
			r = apply_batch(s);
		if (r < 0)
			return r;
		if (budget > 0)
			break;
	}
	/* Behind with nothing in flight: a heartbeat or replay-end said so. */
	if (!s->replaying && s->known > sub_expect(s) - 1)
		ask_replay(s);
	return 0;
}

bool bus_sub_stale(struct bus_sub *s, char *buf, size_t size)
{
	if (s->hb_behind < 2) {
		s->stale_told = false;
		return false;
	}
	if (s->stale_told)
		return false;
	s->stale_told = true;
	snprintf(buf, size,
		 "publisher %s says its newest event is %" PRIu64 ", but %"
		 PRIu64 " were applied here: its store was replaced by an "
		 "older one (or removed); its events up to %" PRIu64
		 " are taken for ones already applied and ignored",
		 s->name, s->hb_last, s->applied, s->applied);
	return true;
}

/*
 * Store a position that passed-over events moved, once they have stopped
 * coming for BUS_CURSOR_IDLE_MS: so that what batonctl reads of it catches
 * up when the stream pauses. Returns ms until it should run again, -1 if
 * nothing waits.
 */
static int64_t save_idle(struct bus_sub *s, int64_t now)
{
	int64_t wait;

	if (s->saved >= s->applied)
		return -1;
	wait = s->passed_at + BUS_CURSOR_IDLE_MS - now;
	if (wait > 0)
		return wait;
	/* A full map: try again later, or the next batch stores it. */
	return save_applied(s) < 0 ? BUS_CURSOR_IDLE_MS : -1;
}

int64_t bus_sub_tick(struct bus_sub *s, int64_t now)
{
	int64_t wait, idle = save_idle(s, now);

	if (!s->replaying)
		return idle;
	wait = s->replay_activity + BUS_REPLAY_RETRY_MS - now;
	if (wait <= 0) {
		log_debug("%s: %s: replay unanswered, asking again", __func__,
			  s->name);
		ask_replay(s);
		wait = s->replay_activity + BUS_REPLAY_RETRY_MS - now;
	}
	return idle >= 0 && idle < wait ? idle : wait;
}
