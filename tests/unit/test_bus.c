/*
 * test_bus.c - lib/bus: sequenced publish/subscribe with replay.
 *
 * Everything runs on real LMDB environments (one for the publisher, one per
 * subscriber, as in production where every daemon owns its own) and real
 * ZeroMQ sockets on ipc:// endpoints in a temporary directory, all in one
 * context. The publisher's side is also checked from raw ZeroMQ sockets, so
 * that the wire format of PROTOCOL.md section 2 is what is held to, not just
 * whatever bus.c agrees with itself on.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "bus.h"
#include "msg.h"
#include "store.h"
#include "testdir.h"
#include "time.h"

#define MAX_RAW		8
#define SMALL_MAP	(32 * 4096)

static const char *const topics[] = {
	"report.accepted", "task.created", "alert.overdue",
};

/* What a subscriber's handler saw: applied seqs, committed or not. */
struct recorder {
	store_table_t effects;	/* in the subscriber's store: seq -> body */
	uint64_t *seqs;		/* committed, in order */
	size_t n, cap;
	uint64_t pending[4096];	/* applied in the open batch */
	size_t npending;
	unsigned applies;	/* calls to apply */
	unsigned done_ok, done_failed;
	unsigned bad_order;	/* apply called out of order */
	unsigned bad_content;	/* topic or body not what was published */
	uint64_t fail_at;	/* apply fails once at this seq (0: never) */
	int fail_with;
	bool failed;
	bool store_body;	/* keep the whole body as the effect */
};

struct fixture {
	char dir[PATH_MAX / 2];
	char pub_ep[PATH_MAX];
	char replay_ep[PATH_MAX];
	int gen;		/* endpoints of a restarted publisher are new */
	void *zctx;
	struct store *pst;	/* the publisher's environment */
	struct store *sst;	/* the subscriber's environment */
	struct bus_pub *pub;
	struct bus_sub *sub;
	void *raw[MAX_RAW];	/* raw test sockets, closed by teardown */
	struct store_txn *txn;	/* an open txn, aborted if a test fails */
	struct recorder *rec;	/* the subscriber's handler state */
};

/* ------------------------------------------------------------ helpers */

static void set_endpoints(struct fixture *fx)
{
	fx->gen++;
	snprintf(fx->pub_ep, sizeof fx->pub_ep, "ipc://%s/pub%d", fx->dir,
		 fx->gen);
	snprintf(fx->replay_ep, sizeof fx->replay_ep, "ipc://%s/replay%d",
		 fx->dir, fx->gen);
}

static struct store *open_store(struct fixture *fx, const char *name,
				uint64_t map_size)
{
	struct store_options opt = { .map_size = map_size, .create = true };
	char path[PATH_MAX];
	struct store *st = NULL;

	snprintf(path, sizeof path, "%s/%s", fx->dir, name);
	assert_int_equal(store_open(path, &opt, &st), 0);
	return st;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);

	if (!fx || testdir_make(fx->dir, sizeof fx->dir, "test_bus") < 0)
		return -1;
	set_endpoints(fx);
	fx->zctx = zmq_ctx_new();
	if (!fx->zctx)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	store_abort(fx->txn);
	bus_sub_free(fx->sub);
	if (fx->rec)
		free(fx->rec->seqs);
	free(fx->rec);
	bus_pub_free(fx->pub);
	for (int i = 0; i < MAX_RAW; i++)
		if (fx->raw[i])
			zmq_close(fx->raw[i]);
	zmq_ctx_term(fx->zctx);
	store_close(fx->sst);
	store_close(fx->pst);
	testdir_remove(fx->dir);
	free(fx);
	return 0;
}

static void new_pub(struct fixture *fx)
{
	if (!fx->pst)
		fx->pst = open_store(fx, "pub", 0);
	assert_int_equal(bus_pub_new(fx->zctx, fx->pst, fx->pub_ep,
				     fx->replay_ep, NULL, &fx->pub), 0);
}

/* A raw socket of the test, connected (or bound) to ep. */
static void *raw_socket(struct fixture *fx, int type, const char *ep,
			bool bind)
{
	int zero = 0;
	void *s = zmq_socket(fx->zctx, type);
	int i;

	assert_non_null(s);
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
	if (type == ZMQ_SUB)
		zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
	assert_int_equal(bind ? zmq_bind(s, ep) : zmq_connect(s, ep), 0);
	for (i = 0; i < MAX_RAW && fx->raw[i]; i++)
		;
	assert_true(i < MAX_RAW);
	fx->raw[i] = s;
	return s;
}

/*
 * Body of event i: msgpack {"n": i} or, with pad, {"n": i, "p": bin(pad)}.
 * n is at bytes 4..11 in both.
 */
static size_t make_body(uint64_t i, size_t pad, uint8_t *buf, size_t cap)
{
	size_t n = 0;

	assert_true(cap >= 12 + 7 + pad);
	buf[n++] = pad ? 0x82 : 0x81;
	buf[n++] = 0xa1;
	buf[n++] = 'n';
	buf[n++] = 0xcf;
	store_u64_key(i, buf + n);
	n += 8;
	if (pad) {
		buf[n++] = 0xa1;
		buf[n++] = 'p';
		buf[n++] = 0xc6;
		buf[n++] = (uint8_t)(pad >> 24);
		buf[n++] = (uint8_t)(pad >> 16);
		buf[n++] = (uint8_t)(pad >> 8);
		buf[n++] = (uint8_t)pad;
		memset(buf + n, (int)(i & 0xff), pad);
		n += pad;
	}
	return n;
}

static bool body_is(const void *body, size_t len, uint64_t i)
{
	return len >= 12 && store_u64_from((const uint8_t *)body + 4) == i;
}

static const char *topic_of(uint64_t i)
{
	return topics[i % 3];
}

/*
 * Publish events first..last (seq i gets topic_of(i) and body i), per
 * transactions of batch, committed and flushed.
 */
static void publish(struct fixture *fx, uint64_t first, uint64_t last,
		    size_t pad, uint64_t batch)
{
	size_t cap = 32 + pad;
	uint8_t *buf = malloc(cap);

	assert_non_null(buf);
	for (uint64_t lo = first; lo <= last; lo += batch) {
		assert_int_equal(store_begin(fx->pst, true, &fx->txn), 0);
		for (uint64_t i = lo; i < lo + batch && i <= last; i++) {
			size_t n = make_body(i, pad, buf, cap);
			uint64_t seq = 0;

			assert_int_equal(bus_pub_append(fx->pub, fx->txn,
							topic_of(i), buf, n,
							&seq), 0);
			assert_true(seq == i);
		}
		assert_int_equal(store_commit(fx->txn), 0);
		fx->txn = NULL;
		assert_int_equal(bus_pub_flush(fx->pub), 0);
	}
	free(buf);
}

/* One message received from a raw socket. */
struct rx {
	int nparts;
	char topic[128];
	size_t topic_len;
	size_t seq_len;
	uint64_t seq;
	uint8_t body[8192];
	size_t body_len;
	uint8_t first[256];	/* the first frame, for one-frame messages */
	size_t first_len;
};

/* Receive one message within timeout_ms. Returns its number of frames, 0 on timeout. */
static int recv_msg(void *sock, int timeout_ms, struct rx *rx)
{
	zmq_pollitem_t it = { sock, 0, ZMQ_POLLIN, 0 };
	int more = 1;
	size_t sz = sizeof more;

	memset(rx, 0, sizeof *rx);
	if (zmq_poll(&it, 1, timeout_ms) <= 0)
		return 0;
	while (more) {
		zmq_msg_t m;
		size_t len;

		zmq_msg_init(&m);
		assert_true(zmq_msg_recv(&m, sock, 0) >= 0);
		len = zmq_msg_size(&m);
		if (rx->nparts == 0) {
			rx->first_len = len;
			memcpy(rx->first, zmq_msg_data(&m),
			       len < sizeof rx->first ? len : sizeof rx->first);
			rx->topic_len = len;
			memcpy(rx->topic, zmq_msg_data(&m),
			       len < sizeof rx->topic ? len : sizeof rx->topic);
		} else if (rx->nparts == 1) {
			rx->seq_len = len;
			if (len == 8)
				rx->seq = store_u64_from(zmq_msg_data(&m));
		} else if (rx->nparts == 2) {
			rx->body_len = len;
			memcpy(rx->body, zmq_msg_data(&m),
			       len < sizeof rx->body ? len : sizeof rx->body);
		}
		rx->nparts++;
		zmq_msg_close(&m);
		zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz);
	}
	return rx->nparts;
}

/* Assert that rx is event i as publish() made it. */
static void expect_event(const struct rx *rx, uint64_t i)
{
	assert_int_equal(rx->nparts, 3);
	assert_int_equal(rx->topic_len, strlen(topic_of(i)));
	assert_memory_equal(rx->topic, topic_of(i), rx->topic_len);
	assert_int_equal(rx->seq_len, 8);
	assert_true(rx->seq == i);
	assert_true(body_is(rx->body, rx->body_len, i));
}

/* Assert that rx is a replay-end saying last. */
static void expect_replay_end(const struct rx *rx, uint64_t last)
{
	struct msg m;

	assert_int_equal(rx->nparts, 1);
	assert_int_equal(msg_decode(rx->first, rx->first_len,
				    MSG_CTX_REPLAY_END, &m, NULL), 0);
	assert_int_equal(m.type, MSG_REPLAY_END);
	assert_true(m.last == last);
	msg_free(&m);
}

/* Nothing arrives on sock within ms. */
static void expect_silence(void *sock, int ms)
{
	struct rx rx;

	assert_int_equal(recv_msg(sock, ms, &rx), 0);
}

static bool is_hb(const struct rx *rx)
{
	return rx->nparts == 3 && rx->topic_len == 2 &&
	       memcmp(rx->topic, "hb", 2) == 0;
}

/*
 * Wait until a raw SUB socket hears the publisher (heartbeats forced with
 * a clock ahead of real time), then drain it: from here on, nothing sent
 * live is dropped for want of a subscription.
 */
static void sync_sub(struct fixture *fx, void *sub)
{
	int64_t deadline = time_mono() + 5000, fake = time_mono();
	struct rx rx;

	for (;;) {
		fake += 1001;
		bus_pub_tick(fx->pub, fake);
		if (recv_msg(sub, 20, &rx) > 0 && is_hb(&rx))
			break;
		assert_true(time_mono() < deadline);
	}
	while (recv_msg(sub, 50, &rx) > 0)
		;
}

static void send_replay_request(void *dealer, uint64_t from)
{
	struct msg req = { .type = MSG_REPLAY, .from = from };
	void *buf = NULL;
	size_t len = 0;

	assert_int_equal(msg_encode(&req, &buf, &len), 0);
	assert_int_equal(zmq_send(dealer, buf, len, 0), (int)len);
	free(buf);
}

/* Serve the publisher's replay side for up to ms (or until told to stop). */
static void serve_pub(struct fixture *fx, int ms)
{
	int64_t end = time_mono() + ms;

	while (time_mono() < end) {
		zmq_pollitem_t it = { bus_pub_replay_socket(fx->pub), 0,
				      ZMQ_POLLIN, 0 };

		zmq_poll(&it, 1, 1);
		bus_pub_on_replay(fx->pub);
		bus_pub_tick(fx->pub, time_mono());
	}
}

/* ---- subscriber side ---- */

static int rec_apply(void *arg, struct store_txn *t,
		     const struct bus_event *ev)
{
	struct recorder *r = arg;
	uint64_t expect = (r->n ? r->seqs[r->n - 1] : 0) + r->npending + 1;
	uint8_t k[8];
	int rc;

	r->applies++;
	if (ev->seq != expect)
		r->bad_order++;
	if (ev->topic_len != strlen(topic_of(ev->seq)) ||
	    memcmp(ev->topic, topic_of(ev->seq), ev->topic_len) != 0 ||
	    !body_is(ev->body, ev->body_len, ev->seq))
		r->bad_content++;
	if (r->fail_at == ev->seq && !r->failed) {
		r->failed = true;
		return r->fail_with;
	}
	store_u64_key(ev->seq, k);
	rc = store_put(t, r->effects, k, 8, ev->body,
		       r->store_body ? ev->body_len : 12, 0);
	if (rc < 0)
		return rc;
	if (r->npending < sizeof r->pending / sizeof *r->pending)
		r->pending[r->npending++] = ev->seq;
	else
		r->bad_order++;
	return 0;
}

static void rec_done(void *arg, bool committed)
{
	struct recorder *r = arg;

	if (committed) {
		r->done_ok++;
		for (size_t i = 0; i < r->npending; i++) {
			if (r->n == r->cap) {
				r->cap = r->cap ? 2 * r->cap : 1024;
				r->seqs = realloc(r->seqs,
						  r->cap * sizeof *r->seqs);
				assert_non_null(r->seqs);
			}
			r->seqs[r->n++] = r->pending[i];
		}
	} else
		r->done_failed++;
	r->npending = 0;
}

/* The recorder of the test's subscriber, with its table in fx->sst. */
static struct recorder *new_recorder(struct fixture *fx)
{
	struct recorder *r = calloc(1, sizeof *r);

	assert_non_null(r);
	fx->rec = r;
	assert_int_equal(store_table(fx->sst, "effects", &r->effects), 0);
	return r;
}

/* Committed seqs are exactly 1..n, each once, and applied in order. */
static void expect_recorded(const struct recorder *r, uint64_t n)
{
	assert_true(r->n == n);
	for (size_t i = 0; i < r->n; i++)
		assert_true(r->seqs[i] == i + 1);
	assert_int_equal(r->bad_order, 0);
	assert_int_equal(r->bad_content, 0);
}

static void new_sub(struct fixture *fx, struct recorder *r, const char *pub_ep)
{
	struct bus_sub_handler h = {
		.apply = rec_apply, .done = rec_done, .arg = r,
	};

	assert_int_equal(bus_sub_new(fx->zctx, fx->sst, "intake",
				     pub_ep ? pub_ep : fx->pub_ep,
				     fx->replay_ep, NULL, &h, &fx->sub), 0);
}

/*
 * One turn of a daemon's loop with the publisher and the subscriber in it.
 * Returns what bus_sub_on_readable() returned (0 if not called).
 */
static int step(struct fixture *fx, int max_wait_ms)
{
	zmq_pollitem_t it[3];
	int64_t wait = max_wait_ms, w;
	int n = 0, r = 0;

	if (fx->pub) {
		w = bus_pub_tick(fx->pub, time_mono());
		if (w < wait)
			wait = w;
		it[n++] = (zmq_pollitem_t){ bus_pub_replay_socket(fx->pub), 0,
					    ZMQ_POLLIN, 0 };
	}
	if (fx->sub) {
		w = bus_sub_tick(fx->sub, time_mono());
		if (w >= 0 && w < wait)
			wait = w;
		it[n++] = (zmq_pollitem_t){ bus_sub_socket(fx->sub), 0,
					    ZMQ_POLLIN, 0 };
		it[n++] = (zmq_pollitem_t){ bus_sub_replay_socket(fx->sub), 0,
					    ZMQ_POLLIN, 0 };
	}
	if (wait < 0)
		wait = 0;
	assert_true(zmq_poll(it, n, (long)wait) >= 0);
	if (fx->pub && (it[0].revents & ZMQ_POLLIN))
		bus_pub_on_replay(fx->pub);
	if (fx->sub && ((it[n - 2].revents | it[n - 1].revents) & ZMQ_POLLIN))
		r = bus_sub_on_readable(fx->sub);
	return r;
}

/* Run the loop until the subscriber has applied want, asserting no errors. */
static void run_until_applied(struct fixture *fx, uint64_t want, int ms)
{
	int64_t deadline = time_mono() + ms;

	while (bus_sub_applied(fx->sub) < want) {
		assert_int_equal(step(fx, 10), 0);
		assert_true(time_mono() < deadline);
	}
	assert_true(bus_sub_applied(fx->sub) == want);
}

static void run_for(struct fixture *fx, int ms)
{
	int64_t end = time_mono() + ms;

	while (time_mono() < end)
		assert_int_equal(step(fx, 10), 0);
}

/* The position stored in the subscriber's environment (0: none). */
static uint64_t stored_cursor(struct fixture *fx)
{
	store_table_t tab;
	struct store_txn *t;
	const void *v;
	size_t vlen;
	uint64_t pos = 0;
	int r;

	assert_int_equal(store_table(fx->sst, BUS_CURSOR_TABLE, &tab), 0);
	assert_int_equal(store_begin(fx->sst, false, &t), 0);
	r = store_get(t, tab, "intake", 6, &v, &vlen);
	if (r == 0) {
		assert_int_equal(vlen, 8);
		pos = store_u64_from(v);
	} else
		assert_int_equal(r, -ENOENT);
	store_abort(t);
	return pos;
}

static uint64_t effects_count(struct fixture *fx, const struct recorder *r)
{
	struct store_txn *t;
	uint64_t n = 0;

	assert_int_equal(store_begin(fx->sst, false, &t), 0);
	assert_int_equal(store_count(t, r->effects, &n), 0);
	store_abort(t);
	return n;
}

/* ============================================================ records */

/* A record is topic length, topic, body; malformed ones are -EBADMSG. */
static void test_record_parse(void **state)
{
	static const uint8_t ok[] = { 2, 'h', 'b', 0x80 };
	static const uint8_t bare[] = { 2, 'h', 'b' };
	static const uint8_t no_topic[] = { 0, 0x80 };
	static const uint8_t long_topic[] = { 5, 'a', 'b' };
	static const uint8_t just_past[] = { 3, 'a', 'b' };
	struct bus_event ev;

	assert_int_equal(bus_record_parse(7, ok, sizeof ok, &ev), 0);
	assert_true(ev.seq == 7);
	assert_int_equal(ev.topic_len, 2);
	assert_memory_equal(ev.topic, "hb", 2);
	assert_int_equal(ev.body_len, 1);
	assert_ptr_equal(ev.body, ok + 3);

	assert_int_equal(bus_record_parse(1, bare, sizeof bare, &ev), 0);
	assert_int_equal(ev.body_len, 0);

	assert_int_equal(bus_record_parse(1, ok, 0, &ev), -EBADMSG);
	assert_int_equal(bus_record_parse(1, no_topic, sizeof no_topic, &ev),
			 -EBADMSG);
	assert_int_equal(bus_record_parse(1, long_topic, sizeof long_topic,
					  &ev), -EBADMSG);
	assert_int_equal(bus_record_parse(1, just_past, sizeof just_past,
					  &ev), -EBADMSG);
}

/* ========================================================== publisher */

/* A topic must be 1..MSG_TOPIC_MAX bytes; nothing is stored otherwise. */
static void test_append_topic_limits(void **state)
{
	struct fixture *fx = *state;
	char topic[MSG_TOPIC_MAX + 2];
	uint64_t seq = 0;

	new_pub(fx);
	assert_int_equal(store_begin(fx->pst, true, &fx->txn), 0);
	assert_int_equal(bus_pub_append(fx->pub, fx->txn, "", "\x80", 1, &seq),
			 -EINVAL);
	memset(topic, 't', sizeof topic - 1);
	topic[MSG_TOPIC_MAX + 1] = '\0';
	assert_int_equal(bus_pub_append(fx->pub, fx->txn, topic, "\x80", 1,
					&seq), -EINVAL);
	topic[MSG_TOPIC_MAX] = '\0';
	assert_int_equal(bus_pub_append(fx->pub, fx->txn, topic, "\x80", 1,
					&seq), 0);
	assert_true(seq == 1);		/* the refused ones took no number */
	assert_int_equal(store_commit(fx->txn), 0);
	fx->txn = NULL;
	assert_int_equal(bus_pub_flush(fx->pub), 0);
	assert_true(bus_pub_last(fx->pub) == 1);
}

/*
 * Appended events go out only after commit and flush, as three frames:
 * topic, 8-byte big-endian seq 1, 2, 3, body.
 */
static void test_live_after_flush(void **state)
{
	struct fixture *fx = *state;
	uint8_t body[64];
	struct rx rx;
	void *sub;

	new_pub(fx);
	sub = raw_socket(fx, ZMQ_SUB, fx->pub_ep, false);
	sync_sub(fx, sub);
	assert_true(bus_pub_last(fx->pub) == 0);

	assert_int_equal(store_begin(fx->pst, true, &fx->txn), 0);
	for (uint64_t i = 1; i <= 3; i++) {
		size_t n = make_body(i, 0, body, sizeof body);
		uint64_t seq = 0;

		assert_int_equal(bus_pub_append(fx->pub, fx->txn, topic_of(i),
						body, n, &seq), 0);
		assert_true(seq == i);
	}
	expect_silence(sub, 100);		/* appended, not committed */
	assert_int_equal(store_commit(fx->txn), 0);
	fx->txn = NULL;
	expect_silence(sub, 100);		/* committed, not flushed */
	assert_int_equal(bus_pub_flush(fx->pub), 0);
	assert_true(bus_pub_last(fx->pub) == 3);

	for (uint64_t i = 1; i <= 3; i++) {
		assert_int_equal(recv_msg(sub, 2000, &rx), 3);
		expect_event(&rx, i);
	}
	expect_silence(sub, 100);
	/* A second flush with nothing new sends nothing. */
	assert_int_equal(bus_pub_flush(fx->pub), 0);
	expect_silence(sub, 100);
}

/*
 * An aborted transaction's events are forgotten: the next append reuses the
 * sequence, and the aborted event is never sent or stored.
 */
static void test_rollback_reuses_seq(void **state)
{
	struct fixture *fx = *state;
	store_table_t events;
	struct store_txn *t;
	const void *v;
	size_t vlen;
	uint64_t seq = 0;
	uint8_t k[8];
	struct rx rx;
	void *sub;

	new_pub(fx);
	sub = raw_socket(fx, ZMQ_SUB, fx->pub_ep, false);
	sync_sub(fx, sub);
	publish(fx, 1, 1, 0, 1);

	assert_int_equal(store_begin(fx->pst, true, &fx->txn), 0);
	assert_int_equal(bus_pub_append(fx->pub, fx->txn, "aborted.topic",
					"\x81\xa1x\xc3", 4, &seq), 0);
	assert_true(seq == 2);
	store_abort(fx->txn);
	fx->txn = NULL;
	bus_pub_rollback(fx->pub);
	assert_true(bus_pub_last(fx->pub) == 1);

	publish(fx, 2, 2, 0, 1);	/* asserts seq 2 again */

	assert_int_equal(recv_msg(sub, 2000, &rx), 3);
	expect_event(&rx, 1);
	assert_int_equal(recv_msg(sub, 2000, &rx), 3);
	expect_event(&rx, 2);
	expect_silence(sub, 100);

	assert_int_equal(store_table(fx->pst, BUS_EVENTS_TABLE, &events), 0);
	assert_int_equal(store_begin(fx->pst, false, &t), 0);
	store_u64_key(2, k);
	assert_int_equal(store_get(t, events, k, 8, &v, &vlen), 0);
	assert_int_equal(((const uint8_t *)v)[0], strlen(topic_of(2)));
	assert_memory_equal((const uint8_t *)v + 1, topic_of(2),
			    strlen(topic_of(2)));
	store_u64_key(3, k);
	assert_int_equal(store_get(t, events, k, 8, &v, &vlen), -ENOENT);
	store_abort(t);
}

/*
 * A publisher created on a store that holds events numbers on after the
 * last one, and its heartbeat says so.
 */
static void test_resume_numbering(void **state)
{
	struct fixture *fx = *state;
	struct rx rx;
	void *sub;

	new_pub(fx);
	publish(fx, 1, 5, 0, 5);
	bus_pub_free(fx->pub);
	fx->pub = NULL;

	set_endpoints(fx);
	new_pub(fx);
	assert_true(bus_pub_last(fx->pub) == 5);
	sub = raw_socket(fx, ZMQ_SUB, fx->pub_ep, false);
	sync_sub(fx, sub);
	bus_pub_tick(fx->pub, time_mono() + 5000);
	assert_int_equal(recv_msg(sub, 2000, &rx), 3);
	assert_true(is_hb(&rx));
	assert_true(rx.seq == 5);

	publish(fx, 6, 7, 0, 2);	/* asserts seqs 6, 7 */
	for (uint64_t i = 6; i <= 7; i++) {
		assert_int_equal(recv_msg(sub, 2000, &rx), 3);
		expect_event(&rx, i);
	}
}

/*
 * After a second with no event, a tick sends topic "hb" with the newest
 * seq and an empty map; before that second, it sends nothing.
 */
static void test_heartbeat(void **state)
{
	struct fixture *fx = *state;
	struct rx rx;
	int64_t wait;
	void *sub;

	new_pub(fx);
	sub = raw_socket(fx, ZMQ_SUB, fx->pub_ep, false);
	sync_sub(fx, sub);
	publish(fx, 1, 2, 0, 2);
	for (int i = 0; i < 2; i++)
		assert_int_equal(recv_msg(sub, 2000, &rx), 3);

	wait = bus_pub_tick(fx->pub, time_mono());	/* just sent: not idle */
	assert_true(wait > 0 && wait <= 1000);
	expect_silence(sub, 100);

	bus_pub_tick(fx->pub, time_mono() + 1100);
	assert_int_equal(recv_msg(sub, 2000, &rx), 3);
	assert_true(is_hb(&rx));
	assert_int_equal(rx.seq_len, 8);
	assert_true(rx.seq == 2);
	assert_int_equal(rx.body_len, 1);
	assert_int_equal(rx.body[0], 0x80);
	expect_silence(sub, 50);
}

/* A replay request from N gets events N..last as three frames, then replay-end(last). */
static void test_replay_range(void **state)
{
	struct fixture *fx = *state;
	struct rx rx;
	void *dealer;

	new_pub(fx);
	publish(fx, 1, 10, 0, 10);
	dealer = raw_socket(fx, ZMQ_DEALER, fx->replay_ep, false);

	send_replay_request(dealer, 4);
	serve_pub(fx, 200);
	for (uint64_t i = 4; i <= 10; i++) {
		assert_int_equal(recv_msg(dealer, 1000, &rx), 3);
		expect_event(&rx, i);
	}
	assert_int_equal(recv_msg(dealer, 1000, &rx), 1);
	expect_replay_end(&rx, 10);
	expect_silence(dealer, 50);

	/* From past the end: just the replay-end. */
	send_replay_request(dealer, 11);
	serve_pub(fx, 100);
	assert_int_equal(recv_msg(dealer, 1000, &rx), 1);
	expect_replay_end(&rx, 10);

	/* A malformed request gets nothing and breaks nothing. */
	assert_int_equal(zmq_send(dealer, "\x81\xa1v\x01", 4, 0), 4);
	assert_int_equal(zmq_send(dealer, "not msgpack", 11, 0), 11);
	serve_pub(fx, 100);
	expect_silence(dealer, 50);
	send_replay_request(dealer, 10);
	serve_pub(fx, 100);
	assert_int_equal(recv_msg(dealer, 1000, &rx), 3);
	expect_event(&rx, 10);
	assert_int_equal(recv_msg(dealer, 1000, &rx), 1);
	expect_replay_end(&rx, 10);
}

/*
 * A replay of 5000 events to a peer that reads only after a while: its
 * queue fills (the publisher must wait, not drop), and every event still
 * arrives, in order, then replay-end.
 */
static void test_replay_slow_reader(void **state)
{
	struct fixture *fx = *state;
	const uint64_t total = 5000;
	int64_t deadline;
	uint64_t next = 1;
	struct rx rx;
	void *dealer;

	new_pub(fx);
	publish(fx, 1, total, 256, 1000);
	dealer = raw_socket(fx, ZMQ_DEALER, fx->replay_ep, false);
	send_replay_request(dealer, 1);

	/*
	 * Serve without anyone reading. 5000 events of ~280 bytes are far
	 * more than the ROUTER's and the DEALER's queues (1000 messages each)
	 * and the socket buffer between them hold: the publisher meets a full
	 * queue and must come back to it.
	 */
	serve_pub(fx, 500);

	deadline = time_mono() + 10000;
	while (next <= total) {
		int n = recv_msg(dealer, 0, &rx);

		if (n == 0) {
			bus_pub_on_replay(fx->pub);
			bus_pub_tick(fx->pub, time_mono());
			assert_true(time_mono() < deadline);
			continue;
		}
		assert_int_equal(n, 3);
		expect_event(&rx, next);
		next++;
	}
	for (;;) {
		int n = recv_msg(dealer, 0, &rx);

		if (n > 0) {
			expect_replay_end(&rx, total);
			break;
		}
		bus_pub_on_replay(fx->pub);
		bus_pub_tick(fx->pub, time_mono());
		assert_true(time_mono() < deadline);
	}
	expect_silence(dealer, 50);
}

/* ========================================================= subscriber */

/*
 * A subscriber started after 3000 events catches up by replay, then takes
 * 2000 live ones; each is applied once, in order; its position survives a
 * restart, and nothing is applied twice.
 */
static void test_subscriber_end_to_end(void **state)
{
	struct fixture *fx = *state;
	struct recorder *r;
	unsigned applies;

	new_pub(fx);
	publish(fx, 1, 3000, 0, 500);
	fx->sst = open_store(fx, "sub", 0);
	r = new_recorder(fx);
	new_sub(fx, r, NULL);
	assert_true(bus_sub_applied(fx->sub) == 0);

	run_until_applied(fx, 3000, 8000);
	expect_recorded(r, 3000);
	assert_true(stored_cursor(fx) == 3000);

	for (uint64_t lo = 3001; lo <= 5000; lo += 100) {
		publish(fx, lo, lo + 99, 0, 100);
		for (int i = 0; i < 5; i++)
			assert_int_equal(step(fx, 0), 0);
	}
	run_until_applied(fx, 5000, 8000);
	expect_recorded(r, 5000);
	assert_true(bus_sub_known(fx->sub) == 5000);
	assert_true(stored_cursor(fx) == 5000);
	assert_true(effects_count(fx, r) == 5000);
	assert_int_equal(r->done_failed, 0);

	/* Restart: the position is read back, nothing is applied again. */
	bus_sub_free(fx->sub);
	fx->sub = NULL;
	applies = r->applies;
	new_sub(fx, r, NULL);
	assert_true(bus_sub_applied(fx->sub) == 5000);
	run_for(fx, 1500);
	assert_int_equal(r->applies, applies);
	assert_true(bus_sub_applied(fx->sub) == 5000);

	/* And it still takes what comes next. */
	publish(fx, 5001, 5010, 0, 10);
	run_until_applied(fx, 5010, 8000);
	expect_recorded(r, 5010);
}

/* A daemon that wants every tenth event only. */
struct picky {
	uint64_t seen[64];
	unsigned applies, commits;
};

static bool picky_wants(void *arg, const struct bus_event *ev)
{
	return ev->seq % 10 == 0;
}

static int picky_apply(void *arg, struct store_txn *t,
		       const struct bus_event *ev)
{
	struct picky *p = arg;

	if (p->applies < 64)
		p->seen[p->applies] = ev->seq;
	p->applies++;
	return 0;
}

static void picky_done(void *arg, bool committed)
{
	struct picky *p = arg;

	p->commits += committed;
}

static void new_picky(struct fixture *fx, struct picky *p)
{
	struct bus_sub_handler h = {
		.apply = picky_apply, .done = picky_done, .wants = picky_wants,
		.arg = p,
	};

	assert_int_equal(bus_sub_new(fx->zctx, fx->sst, "intake", fx->pub_ep,
				     fx->replay_ep, NULL, &h, &fx->sub), 0);
}

/*
 * Events the daemon does not want are never applied, and a batch of only
 * those is no transaction: the position moves in memory, and is stored
 * with the next batch that has a wanted event, a second after they stop
 * coming (bus_sub_tick()), or by bus_sub_free().
 */
static void test_unwanted_events(void **state)
{
	struct fixture *fx = *state;
	struct picky p = { 0 };
	unsigned commits;

	new_pub(fx);
	publish(fx, 1, 20, 0, 20);
	fx->sst = open_store(fx, "sub", 0);
	new_picky(fx, &p);
	run_until_applied(fx, 20, 8000);
	assert_int_equal(p.applies, 2);
	assert_true(p.seen[0] == 10 && p.seen[1] == 20);
	assert_true(stored_cursor(fx) == 20);

	/* Passed over: no transaction; stored once they pause a second. */
	commits = p.commits;
	publish(fx, 21, 25, 0, 5);
	run_until_applied(fx, 25, 8000);
	assert_int_equal(p.applies, 2);
	assert_int_equal(p.commits, commits);
	run_for(fx, 1500);
	assert_true(stored_cursor(fx) == 25);
	assert_int_equal(p.commits, commits);

	/* Freed before the pause is over: stored by bus_sub_free(). */
	publish(fx, 26, 29, 0, 4);
	run_until_applied(fx, 29, 8000);
	assert_true(stored_cursor(fx) == 25);
	bus_sub_free(fx->sub);
	fx->sub = NULL;
	assert_true(stored_cursor(fx) == 29);
	new_picky(fx, &p);
	assert_true(bus_sub_applied(fx->sub) == 29);

	publish(fx, 30, 30, 0, 1);
	run_until_applied(fx, 30, 8000);
	assert_int_equal(p.applies, 3);
	assert_true(p.seen[2] == 30 && stored_cursor(fx) == 30);
}

/*
 * "It asks for a replay at once": a subscriber that starts behind a running
 * publisher has caught up well within the 2 s after which an unanswered
 * request is repeated.
 */
static void test_subscriber_catches_up_at_once(void **state)
{
	struct fixture *fx = *state;
	struct recorder *r;
	int64_t start;

	new_pub(fx);
	publish(fx, 1, 10, 0, 10);
	fx->sst = open_store(fx, "sub", 0);
	r = new_recorder(fx);
	start = time_mono();
	new_sub(fx, r, NULL);
	while (bus_sub_applied(fx->sub) < 10 && time_mono() - start < 3000)
		assert_int_equal(step(fx, 10), 0);
	expect_recorded(r, 10);
	assert_true(time_mono() - start < 1000);
}

/*
 * A publisher with 10 events stored, and a subscriber that has applied
 * them by replay but listens live to a PUB socket of the test's own
 * (returned), which sends only what the test chooses. *r: its recorder.
 */
static void *fake_publisher(struct fixture *fx, struct recorder **r)
{
	char fake_ep[PATH_MAX];
	void *fake;

	new_pub(fx);
	publish(fx, 1, 10, 0, 10);
	snprintf(fake_ep, sizeof fake_ep, "ipc://%s/fake-pub", fx->dir);
	fake = raw_socket(fx, ZMQ_PUB, fake_ep, true);
	fx->sst = open_store(fx, "sub", 0);
	*r = new_recorder(fx);
	new_sub(fx, *r, fake_ep);
	run_until_applied(fx, 10, 8000);
	return fake;
}

/*
 * Events that never reached the subscriber live are fetched by replay as
 * soon as a later live event shows the gap, or a heartbeat shows it is
 * behind. The subscriber listens to a PUB socket of the test's own, which
 * sends only what the test chooses.
 */
static void test_gap_and_heartbeat_trigger_replay(void **state)
{
	struct fixture *fx = *state;
	struct recorder *r;
	uint8_t body[64], be[8];
	int64_t deadline;
	void *fake = fake_publisher(fx, &r);

	/* 11..15 are stored and sent on the real PUB: this one never hears. */
	publish(fx, 11, 15, 0, 5);
	run_for(fx, 300);
	assert_true(bus_sub_applied(fx->sub) == 10);

	/* Event 15 arrives live: 11..14 are missing, replay brings them. */
	deadline = time_mono() + 8000;
	while (bus_sub_applied(fx->sub) < 15) {
		size_t n = make_body(15, 0, body, sizeof body);

		store_u64_key(15, be);
		zmq_send(fake, topic_of(15), strlen(topic_of(15)), ZMQ_SNDMORE);
		zmq_send(fake, be, 8, ZMQ_SNDMORE);
		zmq_send(fake, body, n, 0);
		assert_int_equal(step(fx, 20), 0);
		assert_true(time_mono() < deadline);
	}
	expect_recorded(r, 15);

	/* 16..20 stored; a heartbeat saying 20 is the only news. */
	publish(fx, 16, 20, 0, 5);
	run_for(fx, 300);
	assert_true(bus_sub_applied(fx->sub) == 15);
	while (bus_sub_applied(fx->sub) < 20) {
		store_u64_key(20, be);
		zmq_send(fake, "hb", 2, ZMQ_SNDMORE);
		zmq_send(fake, be, 8, ZMQ_SNDMORE);
		zmq_send(fake, "\x80", 1, 0);
		assert_int_equal(step(fx, 20), 0);
		assert_true(time_mono() < deadline);
	}
	expect_recorded(r, 20);
	assert_true(stored_cursor(fx) == 20);
}

/* Send a heartbeat saying seq on the test's own PUB socket fake. */
static void fake_hb(void *fake, uint64_t seq)
{
	uint8_t be[8];

	store_u64_key(seq, be);
	zmq_send(fake, "hb", 2, ZMQ_SNDMORE);
	zmq_send(fake, be, 8, ZMQ_SNDMORE);
	zmq_send(fake, "\x80", 1, 0);
}

/*
 * A publisher whose heartbeats say less than the subscriber applied has
 * gone back in time (an older store): said once per episode, only after two
 * heartbeats in a row, and again after it has caught up and gone back anew.
 */
static void test_publisher_gone_back(void **state)
{
	struct fixture *fx = *state;
	struct recorder *r;
	char why[256];
	void *fake = fake_publisher(fx, &r);

	run_for(fx, 200);	/* the SUB connection is up */

	fake_hb(fake, 3);
	run_for(fx, 100);
	assert_false(bus_sub_stale(fx->sub, why, sizeof why));
	fake_hb(fake, 4);
	run_for(fx, 100);
	assert_true(bus_sub_stale(fx->sub, why, sizeof why));
	assert_non_null(strstr(why, "says its newest event is 4, but 10 were "
				    "applied here"));
	fake_hb(fake, 5);
	run_for(fx, 100);
	assert_false(bus_sub_stale(fx->sub, why, sizeof why));

	fake_hb(fake, 10);
	run_for(fx, 100);
	assert_false(bus_sub_stale(fx->sub, why, sizeof why));
	fake_hb(fake, 1);
	fake_hb(fake, 2);
	run_for(fx, 100);
	assert_true(bus_sub_stale(fx->sub, why, sizeof why));
	assert_true(bus_sub_applied(fx->sub) == 10);
}

/*
 * An apply that fails aborts its whole batch: the error is returned,
 * done(false) is called, nothing of the batch is stored, the position does
 * not move. The batch is applied on a later turn.
 */
static void test_apply_error_aborts_batch(void **state)
{
	struct fixture *fx = *state;
	struct recorder *r;
	int64_t deadline;
	int errors = 0;

	new_pub(fx);
	publish(fx, 1, 20, 0, 20);
	fx->sst = open_store(fx, "sub", 0);
	r = new_recorder(fx);
	r->fail_at = 7;
	r->fail_with = -EIO;
	new_sub(fx, r, NULL);

	deadline = time_mono() + 10000;
	while (bus_sub_applied(fx->sub) < 20) {
		int rc = step(fx, 10);

		if (rc != 0) {
			assert_int_equal(rc, -EIO);
			errors++;
			assert_int_equal(r->done_failed, 1);
			assert_true(bus_sub_applied(fx->sub) < 7);
			assert_true(stored_cursor(fx) ==
				    bus_sub_applied(fx->sub));
			assert_true(effects_count(fx, r) ==
				    bus_sub_applied(fx->sub));
			assert_true(r->n == bus_sub_applied(fx->sub));
		}
		assert_true(time_mono() < deadline);
	}
	assert_int_equal(errors, 1);
	assert_true(r->failed);
	expect_recorded(r, 20);
	assert_true(effects_count(fx, r) == 20);
	assert_true(stored_cursor(fx) == 20);
}

/*
 * A subscriber whose small map fills up grows it and redoes the batch:
 * done(false) for the lost attempt, every event applied once in the end.
 */
static void test_apply_enospc_grows(void **state)
{
	struct fixture *fx = *state;
	struct recorder *r;
	uint64_t map0, map1, used;
	struct store_txn *t;

	new_pub(fx);
	publish(fx, 1, 200, 3000, 50);	/* 200 x 3 KiB = 600 KiB */
	fx->sst = open_store(fx, "sub", SMALL_MAP);
	assert_int_equal(store_usage(fx->sst, &map0, &used), 0);
	r = new_recorder(fx);
	r->store_body = true;
	new_sub(fx, r, NULL);

	run_until_applied(fx, 200, 10000);
	expect_recorded(r, 200);
	assert_true(r->done_failed >= 1);
	assert_int_equal(store_usage(fx->sst, &map1, &used), 0);
	assert_true(map1 > map0);
	assert_true(effects_count(fx, r) == 200);

	/* Every effect is the whole body of its event. */
	assert_int_equal(store_begin(fx->sst, false, &t), 0);
	for (uint64_t i = 1; i <= 200; i++) {
		uint8_t want[3100], k[8];
		size_t n = make_body(i, 3000, want, sizeof want);
		const void *v;
		size_t vlen;

		store_u64_key(i, k);
		assert_int_equal(store_get(t, r->effects, k, 8, &v, &vlen), 0);
		assert_int_equal(vlen, n);
		assert_memory_equal(v, want, n);
	}
	store_abort(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_record_parse),
		T(test_append_topic_limits),
		T(test_live_after_flush),
		T(test_rollback_reuses_seq),
		T(test_resume_numbering),
		T(test_heartbeat),
		T(test_replay_range),
		T(test_replay_slow_reader),
		T(test_subscriber_end_to_end),
		T(test_subscriber_catches_up_at_once),
		T(test_gap_and_heartbeat_trigger_replay),
		T(test_publisher_gone_back),
		T(test_unwanted_events),
		T(test_apply_error_aborts_batch),
		T(test_apply_enospc_grows),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
