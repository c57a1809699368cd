/*
 * test_zap.c - lib/zap: the ZAP handler end to end, with real sockets in
 * one context. A ROUTER CURVE server (curve_server()) admits DEALER clients
 * (curve_client()) whose keys agencies.conf lists, each message carrying
 * its agency as "User-Id" and its role as "Role"; a key it does not list
 * never gets a message through; a second handler in the context is
 * refused; and requests made by hand, malformed or for another mechanism,
 * are answered with the status RFC 27 gives them.
 *
 * Nothing runs the handler but the test: every wait polls the ZAP socket
 * with the others and calls zap_on_readable(), as a daemon's loop does.
 * The servers listen on tcp://127.0.0.1 (over inproc:// no handshake runs,
 * so ZAP is never asked), which also makes the peer's address known.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "agency.h"
#include "curve.h"
#include "testdir.h"
#include "zap.h"

#define ZAP_ENDPOINT	"inproc://zeromq.zap.01"
#define MAX_SOCKETS	16
#define MAX_FRAMES	24

struct fixture {
	char dir[PATH_MAX / 2];		/* the temporary directory */
	char path[PATH_MAX];		/* its agencies.conf */
	void *zctx;
	struct zap *zap;
	struct agency_set *set;
	void *socks[MAX_SOCKETS];	/* closed by teardown */
	size_t nsocks;

	struct curve_keys server;
	struct curve_keys a05, a05_next;	/* mps-a05's two keys */
	struct curve_keys ops;			/* [agency ops], an operator */
	struct curve_keys office;		/* [agency office] */
	struct curve_keys stranger;		/* in no agency */

	/* What the callback was last asked, and how often. */
	int calls;
	char domain[256], address[128];
	uint8_t key[AGENCY_KEY_BYTES];

	/* The server monitor's last handshake failure. */
	void *monitor;
	int failed_events;
	uint32_t failed_status;
};

/* A message as frames. */
struct frames {
	size_t n;
	size_t len[MAX_FRAMES];
	char data[MAX_FRAMES][256];	/* each NUL-terminated as well */
};

/* ------------------------------------------------------------ the callback */

static const struct agency *decide(void *arg, const struct zap_request *req,
				   char *why, size_t size)
{
	struct fixture *fx = arg;
	const struct agency *a;

	fx->calls++;
	snprintf(fx->domain, sizeof fx->domain, "%s", req->domain);
	snprintf(fx->address, sizeof fx->address, "%s", req->address);
	memcpy(fx->key, req->key, AGENCY_KEY_BYTES);
	a = agency_by_key(fx->set, req->key);
	if (!a)
		snprintf(why, size, "no agency holds this key");
	return a;
}

/* ------------------------------------------------------------ fixture */

static void z85(const struct curve_keys *k, char out[CURVE_Z85_LEN + 1])
{
	curve_z85(k->public_key, out);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);
	char a[41], a2[41], o[41], f[41];
	struct config_error err;
	FILE *file;

	if (!fx || testdir_make(fx->dir, sizeof fx->dir, "test_zap") < 0)
		return -1;
	if (curve_generate(&fx->server) < 0 || curve_generate(&fx->a05) < 0 ||
	    curve_generate(&fx->a05_next) < 0 ||
	    curve_generate(&fx->ops) < 0 || curve_generate(&fx->office) < 0 ||
	    curve_generate(&fx->stranger) < 0)
		return -1;

	z85(&fx->a05, a);
	z85(&fx->a05_next, a2);
	z85(&fx->ops, o);
	z85(&fx->office, f);
	snprintf(fx->path, sizeof fx->path, "%s/agencies.conf", fx->dir);
	file = fopen(fx->path, "we");
	if (!file)
		return -1;
	fprintf(file, "[agency mps-a05]\nkey = %s, %s\n\n"
		"[agency ops]\nkey = %s\nrole = operator\n\n"
		"[agency office]\nrole = office\nkey = %s\n", a, a2, o, f);
	if (fclose(file) != 0 || agency_load(fx->path, &fx->set, &err) < 0)
		return -1;

	fx->zctx = zmq_ctx_new();
	if (!fx->zctx || zap_new(fx->zctx, decide, fx, &fx->zap) < 0)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	for (size_t i = 0; i < fx->nsocks; i++)
		zmq_close(fx->socks[i]);
	zap_free(fx->zap);
	zmq_ctx_term(fx->zctx);
	agency_free(fx->set);
	testdir_remove(fx->dir);
	free(fx);
	return 0;
}

/* ------------------------------------------------------------ helpers */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *new_socket(struct fixture *fx, int type)
{
	int zero = 0;
	void *s;

	assert_true(fx->nsocks < MAX_SOCKETS);
	s = zmq_socket(fx->zctx, type);
	assert_non_null(s);
	assert_int_equal(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero), 0);
	fx->socks[fx->nsocks++] = s;
	return s;
}

/*
 * A ROUTER CURVE server with the fixture's pair under domain, on loopback,
 * watched by a monitor for failed authentications. The endpoint in ep.
 */
static void *new_server(struct fixture *fx, const char *domain, char *ep,
			size_t size)
{
	void *s = new_socket(fx, ZMQ_ROUTER);
	char mon[64];

	assert_int_equal(curve_server(s, &fx->server, domain), 0);
	assert_int_equal(zmq_bind(s, "tcp://127.0.0.1:*"), 0);
	assert_int_equal(zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &size), 0);

	snprintf(mon, sizeof mon, "inproc://monitor.%zu", fx->nsocks);
	assert_int_equal(zmq_socket_monitor(s, mon,
					    ZMQ_EVENT_HANDSHAKE_FAILED_AUTH),
			 0);
	fx->monitor = new_socket(fx, ZMQ_PAIR);
	assert_int_equal(zmq_connect(fx->monitor, mon), 0);
	return s;
}

/* A DEALER CURVE client of the fixture's server with k, connected to ep. */
static void *new_client(struct fixture *fx, const struct curve_keys *k,
			const char *ep)
{
	void *s = new_socket(fx, ZMQ_DEALER);

	assert_int_equal(curve_client(s, k, fx->server.public_key), 0);
	assert_int_equal(zmq_connect(s, ep), 0);
	return s;
}

/* Every frame of the next message on s, which must be waiting. */
static void recv_frames(void *s, struct frames *f)
{
	size_t size = sizeof(int);		/* of ZMQ_RCVMORE */
	int more = 1;

	memset(f, 0, sizeof *f);
	while (more) {
		int n;

		assert_true(f->n < MAX_FRAMES);
		n = zmq_recv(s, f->data[f->n], sizeof f->data[0] - 1, 0);
		assert_true(n >= 0);
		assert_true((size_t)n < sizeof f->data[0]);
		f->len[f->n] = (size_t)n;
		f->data[f->n][n] = '\0';
		f->n++;
		assert_int_equal(zmq_getsockopt(s, ZMQ_RCVMORE, &more, &size),
				 0);
	}
}

/* A monitor event: how often authentication failed, and the last status. */
static void read_monitor(struct fixture *fx)
{
	zmq_msg_t m;
	uint16_t event;
	uint32_t value;
	int more;

	zmq_msg_init(&m);
	assert_int_equal(zmq_msg_recv(&m, fx->monitor, 0), 6);
	memcpy(&event, zmq_msg_data(&m), 2);
	memcpy(&value, (uint8_t *)zmq_msg_data(&m) + 2, 4);
	more = zmq_msg_more(&m);
	while (more) {			/* the endpoint */
		assert_true(zmq_msg_recv(&m, fx->monitor, 0) >= 0);
		more = zmq_msg_more(&m);
	}
	zmq_msg_close(&m);
	assert_int_equal(event, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
	fx->failed_events++;
	fx->failed_status = value;
}

/*
 * Run the handler, and the monitor, for up to ms while waiting for a
 * message on s (NULL: none). Returns whether one came; it is left on s.
 */
static bool pump(struct fixture *fx, void *s, int64_t ms)
{
	int64_t deadline = now_ms() + ms;

	for (;;) {
		zmq_pollitem_t it[3] = {
			{ .socket = zap_socket(fx->zap), .events = ZMQ_POLLIN },
		};
		int n = 1, mon = -1, msg = -1, r;
		int64_t left = deadline - now_ms();

		if (fx->monitor) {
			mon = n;
			it[n++] = (zmq_pollitem_t){ .socket = fx->monitor,
						    .events = ZMQ_POLLIN };
		}
		if (s) {
			msg = n;
			it[n++] = (zmq_pollitem_t){ .socket = s,
						    .events = ZMQ_POLLIN };
		}
		if (left < 0)
			left = 0;
		assert_true(zmq_poll(it, n, (long)left) >= 0);
		if (it[0].revents & ZMQ_POLLIN) {
			r = zap_on_readable(fx->zap);
			if (r < 0)
				fail_msg("zap_on_readable: %s",
					 zmq_strerror(-r));
		}
		if (mon >= 0 && (it[mon].revents & ZMQ_POLLIN))
			read_monitor(fx);
		if (msg >= 0 && (it[msg].revents & ZMQ_POLLIN))
			return true;
		if (left == 0)
			return false;
	}
}

/*
 * The next message on the server, within 5 s: its body (the routing id
 * dropped) into body, and the agency and role it came with.
 */
static void recv_from(struct fixture *fx, void *server, char *body,
		      size_t size, char *user, char *role)
{
	zmq_msg_t id, m;
	const char *p;

	if (!pump(fx, server, 5000))
		fail_msg("no message within 5 s");
	zmq_msg_init(&id);
	zmq_msg_init(&m);
	assert_true(zmq_msg_recv(&id, server, 0) > 0);
	assert_true(zmq_msg_more(&id));
	assert_true(zmq_msg_recv(&m, server, 0) >= 0);
	assert_false(zmq_msg_more(&m));
	assert_true(zmq_msg_size(&m) < size);
	memcpy(body, zmq_msg_data(&m), zmq_msg_size(&m));
	body[zmq_msg_size(&m)] = '\0';

	p = zmq_msg_gets(&m, "User-Id");
	assert_non_null(p);
	snprintf(user, 80, "%s", p);
	p = zmq_msg_gets(&m, "Role");
	assert_non_null(p);
	snprintf(role, 80, "%s", p);
	zmq_msg_close(&m);
	zmq_msg_close(&id);
}

/* Send n frames (lengths from strlen() when len is NULL) on s. */
static void send_frames(void *s, const char *const *frame, const size_t *len,
			size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t l = len ? len[i] : strlen(frame[i]);

		assert_int_equal(zmq_send(s, frame[i], l,
					  i + 1 < n ? ZMQ_SNDMORE : 0),
				 (int)l);
	}
}

/*
 * A request made by hand, from a REQ socket of its own, and the handler's
 * reply in *reply (n is 0 when none came within ms).
 */
static void ask(struct fixture *fx, const char *const *frame,
		const size_t *len, size_t n, struct frames *reply, int64_t ms)
{
	void *req = new_socket(fx, ZMQ_REQ);

	assert_int_equal(zmq_connect(req, ZAP_ENDPOINT), 0);
	send_frames(req, frame, len, n);
	memset(reply, 0, sizeof *reply);
	if (pump(fx, req, ms))
		recv_frames(req, reply);
}

/* A reply of RFC 27's six frames, to request id, with status code. */
static void assert_reply(const struct frames *r, const char *id,
			 const char *code)
{
	if (r->n == 0)
		fail_msg("no reply to request '%s'", id);
	assert_int_equal(r->n, 6);
	assert_string_equal(r->data[0], "1.0");
	assert_string_equal(r->data[1], id);
	if (strcmp(r->data[2], code) != 0)
		fail_msg("request '%s': status %s '%s', expected %s", id,
			 r->data[2], r->data[3], code);
}

/* --------------------------------------------------------- handshakes */

/*
 * Every agency's key gets its messages through, each stamped with its
 * agency and role; both keys of an agency that is replacing one do.
 */
static void test_accepted(void **state)
{
	static const struct {
		const char *body, *agency, *role;
	} want[] = {
		{ "from a05", "mps-a05", "agency" },
		{ "from a05's next key", "mps-a05", "agency" },
		{ "from ops", "ops", "operator" },
		{ "from office", "office", "office" },
	};
	struct fixture *fx = *state;
	char ep[256], body[256], user[80], role[80];
	void *server = new_server(fx, "submit", ep, sizeof ep);
	void *client[4];
	size_t i, j;
	bool seen[4] = { false };

	client[0] = new_client(fx, &fx->a05, ep);
	client[1] = new_client(fx, &fx->a05_next, ep);
	client[2] = new_client(fx, &fx->ops, ep);
	client[3] = new_client(fx, &fx->office, ep);
	for (i = 0; i < 4; i++)
		assert_int_equal(zmq_send(client[i], want[i].body,
					  strlen(want[i].body), 0),
				 (int)strlen(want[i].body));

	for (i = 0; i < 4; i++) {
		recv_from(fx, server, body, sizeof body, user, role);
		for (j = 0; j < 4; j++)
			if (strcmp(body, want[j].body) == 0)
				break;
		if (j == 4)
			fail_msg("unexpected message '%s'", body);
		assert_false(seen[j]);
		seen[j] = true;
		assert_string_equal(user, want[j].agency);
		assert_string_equal(role, want[j].role);
	}
	/* One question per connection, under the server's domain. */
	assert_int_equal(fx->calls, 4);
	assert_string_equal(fx->domain, "submit");
	assert_string_equal(fx->address, "127.0.0.1");
	assert_int_equal(fx->failed_events, 0);

	/* The connection stays admitted: no question for the next message. */
	assert_int_equal(zmq_send(client[2], "again", 5, 0), 5);
	recv_from(fx, server, body, sizeof body, user, role);
	assert_string_equal(body, "again");
	assert_string_equal(user, "ops");
	assert_string_equal(role, "operator");
	assert_int_equal(fx->calls, 4);
}

/*
 * A key no agency holds never gets a message through; the callback was
 * asked about exactly that key, and the server saw the handshake fail with
 * status 400. Those admitted before and after are not disturbed.
 */
static void test_refused(void **state)
{
	struct fixture *fx = *state;
	char ep[256], body[256], user[80], role[80];
	void *server = new_server(fx, "feed", ep, sizeof ep);
	void *stranger, *known;

	stranger = new_client(fx, &fx->stranger, ep);
	assert_int_equal(zmq_send(stranger, "let me in", 9, ZMQ_DONTWAIT), 9);
	assert_false(pump(fx, server, 1000));
	assert_true(fx->calls >= 1);
	assert_string_equal(fx->domain, "feed");
	assert_string_equal(fx->address, "127.0.0.1");
	assert_memory_equal(fx->key, fx->stranger.public_key,
			    AGENCY_KEY_BYTES);
	assert_true(fx->failed_events >= 1);
	assert_int_equal(fx->failed_status, 400);

	/* A server's own pair is no agency's either. */
	fx->calls = 0;
	assert_int_equal(zmq_send(new_client(fx, &fx->server, ep), "me", 2,
				  ZMQ_DONTWAIT), 2);
	assert_false(pump(fx, server, 500));
	assert_true(fx->calls >= 1);
	assert_memory_equal(fx->key, fx->server.public_key, AGENCY_KEY_BYTES);

	known = new_client(fx, &fx->office, ep);
	assert_int_equal(zmq_send(known, "hello", 5, 0), 5);
	recv_from(fx, server, body, sizeof body, user, role);
	assert_string_equal(body, "hello");
	assert_string_equal(user, "office");
	assert_string_equal(role, "office");
	/* And the stranger's message is still not there. */
	assert_false(pump(fx, server, 300));
}

/*
 * A server without CURVE but with a ZAP domain: libzmq asks the handler
 * about NULL handshakes, and the handler refuses them: no fallback to
 * trusting everyone.
 */
static void test_null_refused(void **state)
{
	struct fixture *fx = *state;
	void *server = new_socket(fx, ZMQ_ROUTER);
	void *client = new_socket(fx, ZMQ_DEALER);
	char ep[256], mon[] = "inproc://monitor.null";
	size_t len = sizeof ep;

	assert_int_equal(zmq_setsockopt(server, ZMQ_ZAP_DOMAIN, "submit", 6),
			 0);
	assert_int_equal(zmq_bind(server, "tcp://127.0.0.1:*"), 0);
	assert_int_equal(zmq_getsockopt(server, ZMQ_LAST_ENDPOINT, ep, &len),
			 0);
	assert_int_equal(zmq_socket_monitor(server, mon,
					    ZMQ_EVENT_HANDSHAKE_FAILED_AUTH),
			 0);
	fx->monitor = new_socket(fx, ZMQ_PAIR);
	assert_int_equal(zmq_connect(fx->monitor, mon), 0);

	assert_int_equal(zmq_connect(client, ep), 0);
	assert_int_equal(zmq_send(client, "plain", 5, ZMQ_DONTWAIT), 5);
	assert_false(pump(fx, server, 1000));
	assert_int_equal(fx->calls, 0);		/* not the callback's to say */
	assert_true(fx->failed_events >= 1);
	/*
	 * Refused, but see test_malformed: the status is 500 ("malformed"),
	 * not 400, for a NULL request is six frames. Only refusal is checked
	 * here.
	 */
	assert_true(fx->failed_status == 400 || fx->failed_status == 500);
}

/* ------------------------------------------------------- the handler */

/* One handler per context: libzmq asks only one. */
static void test_second_handler(void **state)
{
	struct fixture *fx = *state;
	struct zap *second = (struct zap *)&second;	/* untouched on error */
	int r;

	r = zap_new(fx->zctx, decide, fx, &second);
	assert_true(r < 0);
	assert_int_equal(r, -EADDRINUSE);
	assert_ptr_equal(second, (struct zap *)&second);

	/* In another context there is room for one. */
	{
		void *other = zmq_ctx_new();

		assert_non_null(other);
		second = NULL;
		assert_int_equal(zap_new(other, decide, fx, &second), 0);
		assert_non_null(second);
		assert_non_null(zap_socket(second));
		zap_free(second);
		zmq_ctx_term(other);
	}
	zap_free(NULL);
}

/* Requests made by hand: each answered, with the status it deserves. */
static void test_malformed(void **state)
{
	static const char curve_key[AGENCY_KEY_BYTES];
	struct fixture *fx = *state;
	struct frames r;

	/* Another version of the protocol: malformed, to the request id. */
	{
		const char *f[] = { "2.0", "req-v", "submit", "10.0.0.9", "",
				    "CURVE", curve_key };
		size_t len[] = { 3, 5, 6, 8, 0, 5, AGENCY_KEY_BYTES };

		ask(fx, f, len, 7, &r, 2000);
		assert_reply(&r, "req-v", "500");
		assert_string_equal(r.data[3], "malformed ZAP request");
		assert_int_equal(r.len[4], 0);		/* no user id */
		assert_int_equal(r.len[5], 0);		/* no metadata */
	}
	/* Too few frames for any request. */
	{
		const char *f[] = { "1.0", "req-short", "submit" };

		ask(fx, f, NULL, 3, &r, 2000);
		assert_reply(&r, "req-short", "500");
		assert_string_equal(r.data[3], "malformed ZAP request");
	}
	{
		const char *f[] = { "1.0", "req-2" };

		ask(fx, f, NULL, 2, &r, 2000);
		assert_reply(&r, "req-2", "500");
	}
	/* PLAIN: a user name and a password. Only CURVE is accepted. */
	{
		const char *f[] = { "1.0", "req-plain", "submit", "10.0.0.9",
				    "", "PLAIN", "admin", "secret" };

		ask(fx, f, NULL, 8, &r, 2000);
		assert_reply(&r, "req-plain", "400");
		assert_string_equal(r.data[3], "CURVE required");
		assert_int_equal(r.len[4], 0);
		assert_int_equal(r.len[5], 0);
	}
	/* CURVE, but a key that is no key, or more than one credential. */
	{
		const char *f[] = { "1.0", "req-k31", "submit", "10.0.0.9", "",
				    "CURVE", curve_key };
		size_t len[] = { 3, 7, 6, 8, 0, 5, AGENCY_KEY_BYTES - 1 };

		ask(fx, f, len, 7, &r, 2000);
		assert_reply(&r, "req-k31", "400");
	}
	{
		const char *f[] = { "1.0", "req-k2", "submit", "10.0.0.9", "",
				    "CURVE", curve_key, curve_key };
		size_t len[] = { 3, 6, 6, 8, 0, 5, AGENCY_KEY_BYTES,
				 AGENCY_KEY_BYTES };

		ask(fx, f, len, 8, &r, 2000);
		assert_reply(&r, "req-k2", "400");
	}
	/* More frames than a request has: drained, and answered. */
	{
		const char *f[MAX_FRAMES] = { "1.0", "req-many", "submit",
					      "10.0.0.9", "", "CURVE" };
		size_t i;

		for (i = 6; i < 20; i++)
			f[i] = "x";
		ask(fx, f, NULL, 20, &r, 2000);
		assert_reply(&r, "req-many", "400");
	}
	assert_int_equal(fx->calls, 0);		/* none got to the callback */

	/*
	 * NULL: RFC 27 gives it no credentials frame, so a well-formed NULL
	 * request is six frames, and libzmq sends one for a NULL handshake on
	 * a socket with a ZAP domain (test_null_refused). It is not CURVE:
	 * 400, as for PLAIN, not 500 as for a malformed request.
	 */
	{
		const char *f[] = { "1.0", "req-null", "submit", "10.0.0.9",
				    "", "NULL" };

		ask(fx, f, NULL, 6, &r, 2000);
		assert_reply(&r, "req-null", "400");
		assert_string_equal(r.data[3], "CURVE required");
	}
}

/* A CURVE request by hand: the callback's answer, frame by frame. */
static void test_request_by_hand(void **state)
{
	struct fixture *fx = *state;
	struct frames r;
	static const char meta[] = "\x04" "Role" "\0\0\0\x08" "operator";

	{
		const char *f[] = { "1.0", "req-ops", "feed", "192.0.2.7",
				    "peer-id", "CURVE",
				    (const char *)fx->ops.public_key };
		size_t len[] = { 3, 7, 4, 9, 7, 5, AGENCY_KEY_BYTES };

		ask(fx, f, len, 7, &r, 2000);
		assert_reply(&r, "req-ops", "200");
		assert_string_equal(r.data[3], "OK");
		assert_string_equal(r.data[4], "ops");
		/* ZMTP metadata: name length, name, value length BE, value. */
		assert_int_equal(r.len[5], sizeof meta - 1);
		assert_memory_equal(r.data[5], meta, sizeof meta - 1);
		assert_int_equal(fx->calls, 1);
		assert_string_equal(fx->domain, "feed");
		assert_string_equal(fx->address, "192.0.2.7");
		assert_memory_equal(fx->key, fx->ops.public_key,
				    AGENCY_KEY_BYTES);
	}
	{
		const char *f[] = { "1.0", "req-a05", "submit", "192.0.2.8",
				    "", "CURVE",
				    (const char *)fx->a05_next.public_key };
		size_t len[] = { 3, 7, 6, 9, 0, 5, AGENCY_KEY_BYTES };

		ask(fx, f, len, 7, &r, 2000);
		assert_reply(&r, "req-a05", "200");
		assert_string_equal(r.data[4], "mps-a05");
		assert_int_equal(r.len[5], 1 + 4 + 4 + 6);
		assert_memory_equal(r.data[5], "\x04" "Role" "\0\0\0\x06"
				    "agency", r.len[5]);
	}
	/* Refused: the callback's sentence is the status text. */
	{
		const char *f[] = { "1.0", "req-who", "submit", "192.0.2.9",
				    "", "CURVE",
				    (const char *)fx->stranger.public_key };
		size_t len[] = { 3, 7, 6, 9, 0, 5, AGENCY_KEY_BYTES };

		ask(fx, f, len, 7, &r, 2000);
		assert_reply(&r, "req-who", "400");
		assert_string_equal(r.data[3], "no agency holds this key");
		assert_int_equal(r.len[4], 0);
		assert_int_equal(r.len[5], 0);
		assert_int_equal(fx->calls, 3);
		assert_string_equal(fx->address, "192.0.2.9");
		assert_memory_equal(fx->key, fx->stranger.public_key,
				    AGENCY_KEY_BYTES);
	}
	/* A binary request id comes back byte for byte. */
	{
		const char id[] = { 0, 1, 2, (char)0xff };
		const char *f[] = { "1.0", id, "submit", "192.0.2.9", "",
				    "CURVE", (const char *)fx->ops.public_key };
		size_t len[] = { 3, sizeof id, 6, 9, 0, 5, AGENCY_KEY_BYTES };

		ask(fx, f, len, 7, &r, 2000);
		assert_int_equal(r.n, 6);
		assert_int_equal(r.len[1], sizeof id);
		assert_memory_equal(r.data[1], id, sizeof id);
		assert_string_equal(r.data[2], "200");
	}
}

/*
 * A request of one frame has no request id to answer to. Whatever the
 * handler does with it, it must go on answering the next requests: libzmq
 * holds every CURVE handshake of the context until it does.
 *
 * A request of one frame still gets an answer: the handler is a REP socket,
 * which must send before it may receive again; without one every later
 * receive fails (EFSM) and no handshake in the context is answered again.
 */
static void test_one_frame_request(void **state)
{
	struct fixture *fx = *state;
	const char *lone[] = { "1.0" };
	const char *f[] = { "1.0", "req-next", "submit", "192.0.2.1", "",
			    "CURVE", (const char *)fx->office.public_key };
	size_t len[] = { 3, 8, 6, 9, 0, 5, AGENCY_KEY_BYTES };
	zmq_pollitem_t it = { .socket = zap_socket(fx->zap),
			      .events = ZMQ_POLLIN };
	struct frames reply;
	void *req = new_socket(fx, ZMQ_REQ);
	int r;

	assert_int_equal(zmq_connect(req, ZAP_ENDPOINT), 0);
	send_frames(req, lone, NULL, 1);
	assert_int_equal(zmq_poll(&it, 1, 2000), 1);
	r = zap_on_readable(fx->zap);
	if (r < 0)
		fail_msg("zap_on_readable() after a one-frame request: %s",
			 zmq_strerror(-r));

	ask(fx, f, len, 7, &reply, 2000);
	assert_reply(&reply, "req-next", "200");
	assert_string_equal(reply.data[4], "office");
}

/* zap_daemons(): the daemons' own key is "baton"; any other is refused. */
static void test_daemons(void **state)
{
	struct curve_keys own, other;
	struct zap_request req = { .domain = "bus", .address = "10.0.0.2" };
	const struct agency *a;
	char why[64] = "";

	assert_int_equal(curve_generate(&own), 0);
	assert_int_equal(curve_generate(&other), 0);
	req.key = own.public_key;
	a = zap_daemons(&own, &req, why, sizeof(why));
	assert_non_null(a);
	assert_string_equal(a->name, "baton");
	assert_string_equal(why, "");
	req.key = other.public_key;
	assert_null(zap_daemons(&own, &req, why, sizeof(why)));
	assert_string_equal(why, "not the daemons' key");
	/* The secret is not a key anybody connects with. */
	req.key = own.secret_key;
	assert_null(zap_daemons(&own, &req, why, sizeof(why)));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_daemons),
		T(test_accepted),
		T(test_refused),
		T(test_null_refused),
		T(test_second_handler),
		T(test_malformed),
		T(test_request_by_hand),
		T(test_one_frame_request),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
