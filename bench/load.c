/*
 * bench/load.c - the clock, the latency histogram and the baton-intake
 * client that bench-intake and bench-compare share, and the running of N
 * of them (load.h says what).
 *
 * The client: each thread has its own DEALER socket on the caller's
 * ZeroMQ context and keeps K valid `report` bodies in flight, one new
 * report for every answer, matching every answer to its request by id.
 * The report is encoded once per client with msg_encode() and padded to
 * about 300 bytes; each request patches a fixed-width sequence number into
 * the encoded id in place, so the client spends its CPU on ZeroMQ and not
 * on msgpack (client and intake share the machine). Ids are
 * "c<client>-<12 digits>", agencies "<prefix>-<client>" (auth = none).
 * After the window, sending stops and outstanding answers are drained for
 * up to two seconds, so that a NACK or a lost answer is never missed.
 */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "load.h"
#include "msg.h"

#define ID_DIGITS	12
#define ID_MAX_SEQ	UINT64_C(999999999999)

int64_t load_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- latency histogram ---- */

unsigned load_hist_index(uint64_t v)
{
	unsigned e;

	if (v < LOAD_HIST_SUB)
		return (unsigned)v;
	e = 63 - (unsigned)__builtin_clzll(v);
	return (e - LOAD_HIST_SUB_BITS + 1) * LOAD_HIST_SUB +
	       (unsigned)((v >> (e - LOAD_HIST_SUB_BITS)) &
			  (LOAD_HIST_SUB - 1));
}

/* The middle of bucket i. */
static uint64_t hist_value(unsigned i)
{
	unsigned g = i / LOAD_HIST_SUB, sub = i % LOAD_HIST_SUB;
	uint64_t lower, width;

	if (g == 0)
		return i;
	lower = (uint64_t)(LOAD_HIST_SUB + sub) << (g - 1);
	width = UINT64_C(1) << (g - 1);
	return lower + (width - 1) / 2;
}

uint64_t load_hist_quantile(const uint64_t *h, uint64_t n, double q)
{
	uint64_t rank = (uint64_t)(q * (double)n + 0.999999), seen = 0;

	if (n == 0)
		return 0;
	if (rank < 1)
		rank = 1;
	for (unsigned i = 0; i < LOAD_HIST_BUCKETS; i++) {
		seen += h[i];
		if (seen >= rank)
			return hist_value(i);
	}
	return 0;
}

/* ---- counters ---- */

void load_window_set(struct load_window *w, int64_t start, double warmup,
		     double seconds)
{
	w->measure = start + (int64_t)(warmup * 1e9);
	w->end = w->measure + (int64_t)(seconds * 1e9);
	w->drain = w->end + LOAD_DRAIN_NS;
}

int load_stats_init(struct load_stats *s)
{
	s->hist = calloc(LOAD_HIST_BUCKETS, sizeof(*s->hist));
	return s->hist ? 0 : -ENOMEM;
}

void load_stats_ack(struct load_stats *s, const struct load_window *w,
		    int64_t t, int64_t lat)
{
	s->acks_total++;
	if (t >= w->measure && t < w->end) {
		s->acks++;
		s->hist[load_hist_index((uint64_t)lat)]++;
		if (lat > s->max_ns)
			s->max_ns = lat;
	}
}

void load_stats_add(struct load_stats *sum, const struct load_stats *s)
{
	sum->failed |= s->failed;
	sum->acks += s->acks;
	sum->acks_total += s->acks_total;
	sum->nacks += s->nacks;
	sum->bad += s->bad;
	sum->duplicates += s->duplicates;
	sum->sent += s->sent;
	sum->unanswered += s->unanswered;
	if (s->max_ns > sum->max_ns)
		sum->max_ns = s->max_ns;
	if (s->hist)
		for (unsigned b = 0; b < LOAD_HIST_BUCKETS; b++)
			sum->hist[b] += s->hist[b];
}

void load_stats_free(struct load_stats *s)
{
	free(s->hist);
	s->hist = NULL;
}

/* ---- one baton-intake client ---- */

/*
 * Encode this client's report, padded to LOAD_BODY_TARGET bytes, and find
 * where the id's digits are. Returns 0 or -errno.
 */
static int build_report(struct load_client *c)
{
	char id[64], agency[MSG_AGENCY_MAX + 1], pad[LOAD_BODY_TARGET + 1];
	struct msg m = {
		.type = MSG_REPORT,
		.id = id,
		.agency = agency,
		.kind = KIND_INCIDENT,
		.category = CATEGORY_CYBERSECURITY,
		.severity = SEVERITY_LOW,
		.title = "bench-intake: synthetic load report",
		.body = pad,
	};
	struct msg check = { 0 };
	struct msg_error err;
	uint8_t *at;
	void *buf = NULL;
	size_t len = 0;
	int r;

	c->prefix_len = (size_t)snprintf(c->prefix, sizeof(c->prefix), "c%u-",
					 c->index);
	snprintf(id, sizeof(id), "%s%0*u", c->prefix, ID_DIGITS, 0);
	if (snprintf(agency, sizeof(agency), "%s-%u", c->opt->agency,
		     c->index) >= (int)sizeof(agency) ||
	    !msg_agency_valid(agency)) {
		fprintf(stderr, "%s: agency '%s-%u' is not a valid "
			"agency name\n", c->opt->prog, c->opt->agency,
			c->index);
		return -EINVAL;
	}
	/* Grow the body until the encoded report reaches the target. */
	for (size_t p = 0; p <= LOAD_BODY_TARGET; p++) {
		memset(pad, 'x', p);
		pad[p] = '\0';
		free(buf);
		r = msg_encode(&m, &buf, &len);
		if (r < 0)
			return r;
		if (len >= LOAD_BODY_TARGET)
			break;
	}
	/* The id is a fixstr (under 32 bytes): its bytes are contiguous. */
	at = memmem(buf, len, id, strlen(id));
	if (!at) {
		free(buf);
		return -EINVAL;
	}
	r = msg_decode(buf, len, MSG_CTX_SUBMIT, &check, &err);
	msg_free(&check);
	if (r < 0) {
		fprintf(stderr, "%s: own report refused: %s\n", c->opt->prog,
			err.text);
		free(buf);
		return r;
	}
	c->body = buf;
	c->len = len;
	c->digits = (char *)at + c->prefix_len;
	return 0;
}

static void set_seq(struct load_client *c, uint64_t n)
{
	for (int i = ID_DIGITS - 1; i >= 0; i--) {
		c->digits[i] = (char)('0' + n % 10);
		n /= 10;
	}
}

/* Send request number ++sent in slot s. Returns 0 or -errno. */
static int send_one(struct load_client *c, void *sock, unsigned s)
{
	uint64_t n = ++c->st.sent;

	set_seq(c, n);
	c->slot_n[s] = n;
	c->slot_t[s] = load_now_ns();
	if (zmq_send(sock, c->body, c->len, 0) < 0) {
		c->slot_n[s] = 0;
		return -errno;
	}
	return 0;
}

/* The sequence number in an id of ours, 0 if it is not one. */
static uint64_t parse_id(const struct load_client *c, const char *id)
{
	uint64_t n = 0;

	if (!id || strncmp(id, c->prefix, c->prefix_len) != 0 ||
	    strlen(id) != c->prefix_len + ID_DIGITS)
		return 0;
	for (const char *p = id + c->prefix_len; *p; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	return n;
}

/* The slot holding request n; answers come nearly in order. */
static int find_slot(struct load_client *c, uint64_t n)
{
	unsigned k = c->opt->inflight;

	for (unsigned i = 0; i < k; i++) {
		unsigned s = (c->hint + i) % k;

		if (c->slot_n[s] == n) {
			c->hint = (s + 1) % k;
			return (int)s;
		}
	}
	return -1;
}

/*
 * Handle one answer received at time t. Returns the freed slot, or -1 when
 * the answer could not be matched to a request.
 */
static int on_answer(struct load_client *c, const void *data, size_t size,
		     int64_t t, const struct load_window *w)
{
	struct msg a = { 0 };
	struct msg_error err;
	uint64_t n;
	int s;

	if (msg_decode(data, size, MSG_CTX_ANSWER, &a, &err) < 0) {
		if (c->st.bad++ < LOAD_SHOWN)
			fprintf(stderr, "%s: client %u: undecodable "
				"answer: %s\n", c->opt->prog, c->index,
				err.text);
		msg_free(&a);
		return -1;
	}
	n = parse_id(c, a.id);
	s = n ? find_slot(c, n) : -1;
	if (s < 0) {
		if (c->st.bad++ < LOAD_SHOWN)
			fprintf(stderr, "%s: client %u: answer for "
				"unknown id %s\n", c->opt->prog, c->index,
				a.id ? a.id : "(nil)");
		msg_free(&a);
		return -1;
	}
	if (a.type == MSG_NACK) {
		if (c->st.nacks++ < LOAD_SHOWN)
			fprintf(stderr, "%s: client %u: nack %s: "
				"%s: %s\n", c->opt->prog, c->index, a.id,
				msg_code_name(a.code), a.error);
	} else {
		if (a.duplicate)
			c->st.duplicates++;
		load_stats_ack(&c->st, w, t, t - c->slot_t[s]);
	}
	c->slot_n[s] = 0;
	msg_free(&a);
	return s;
}

static void run_client(struct load_client *c, void *sock)
{
	struct load_window w;
	unsigned outstanding = 0;
	zmq_msg_t msg;
	int64_t now;
	int s, r;

	load_window_set(&w, *c->start, c->opt->warmup, c->opt->seconds);
	for (unsigned i = 0; i < c->opt->inflight; i++) {
		r = send_one(c, sock, i);
		if (r < 0) {
			fprintf(stderr, "%s: client %u: send: %s\n",
				c->opt->prog, c->index, zmq_strerror(-r));
			c->st.failed = true;
			break;
		}
		outstanding++;
	}
	zmq_msg_init(&msg);
	for (;;) {
		now = load_now_ns();
		if (outstanding == 0 || now >= w.drain)
			break;
		if (zmq_msg_recv(&msg, sock, 0) < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			fprintf(stderr, "%s: client %u: receive: %s\n",
				c->opt->prog, c->index, zmq_strerror(errno));
			c->st.failed = true;
			break;
		}
		now = load_now_ns();
		s = on_answer(c, zmq_msg_data(&msg), zmq_msg_size(&msg), now,
			      &w);
		if (s < 0)
			continue;
		outstanding--;
		if (now < w.end && c->st.sent < ID_MAX_SEQ) {
			r = send_one(c, sock, (unsigned)s);
			if (r < 0) {
				fprintf(stderr, "%s: client %u: send: %s\n",
					c->opt->prog, c->index,
					zmq_strerror(-r));
				c->st.failed = true;
				break;
			}
			outstanding++;
		}
	}
	zmq_msg_close(&msg);
	c->st.unanswered = outstanding;
}

void *load_client_main(void *arg)
{
	struct load_client *c = arg;
	int zero = 0, rcvtimeo = LOAD_RECV_TIMEOUT_MS, sndtimeo = 1000;
	void *sock = NULL;
	int r;

	c->slot_n = calloc(c->opt->inflight, sizeof(*c->slot_n));
	c->slot_t = calloc(c->opt->inflight, sizeof(*c->slot_t));
	r = load_stats_init(&c->st);
	r = (c->slot_n && c->slot_t && r == 0) ? build_report(c) : -ENOMEM;
	if (r == 0) {
		sock = zmq_socket(c->zctx, ZMQ_DEALER);
		if (!sock ||
		    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero)) < 0 ||
		    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &rcvtimeo,
				   sizeof(rcvtimeo)) < 0 ||
		    zmq_setsockopt(sock, ZMQ_SNDTIMEO, &sndtimeo,
				   sizeof(sndtimeo)) < 0 ||
		    zmq_connect(sock, c->opt->endpoint) < 0) {
			fprintf(stderr, "%s: client %u: %s: %s\n",
				c->opt->prog, c->index, c->opt->endpoint,
				zmq_strerror(errno));
			r = -EIO;
		}
	}
	if (r < 0)
		c->st.failed = true;
	/* Everyone is connected; the caller sets the start; everyone goes. */
	pthread_barrier_wait(c->barrier);
	pthread_barrier_wait(c->barrier);
	if (r == 0)
		run_client(c, sock);
	if (sock)
		zmq_close(sock);
	return NULL;
}

void load_client_free(struct load_client *c)
{
	free(c->slot_n);
	free(c->slot_t);
	free(c->body);
	c->slot_n = NULL;
	c->slot_t = NULL;
	c->body = NULL;
	load_stats_free(&c->st);
}

/* ---- running clients ---- */

_Static_assert(offsetof(struct load_client, thread) == 0,
	       "load_start_threads() finds the pthread_t first");

void load_start_threads(const char *prog, void *base, size_t sz, unsigned n,
			void *(*fn)(void *), pthread_barrier_t *barrier,
			int64_t *start)
{
	for (unsigned i = 0; i < n; i++) {
		pthread_t *t = (pthread_t *)((char *)base + i * sz);
		int r = pthread_create(t, NULL, fn, (char *)base + i * sz);

		if (r != 0) {
			fprintf(stderr, "%s: pthread_create: %s\n", prog,
				strerror(r));
			exit(1);
		}
	}
	pthread_barrier_wait(barrier);
	*start = load_now_ns();
	pthread_barrier_wait(barrier);
}

int load_run(const struct load_opts *lo, void *zctx, unsigned n,
	     struct load_stats *sum, size_t *body_len)
{
	struct load_client *cl = calloc(n, sizeof(*cl));
	pthread_barrier_t barrier;
	int64_t start = 0;

	if (!cl)
		return -ENOMEM;
	pthread_barrier_init(&barrier, NULL, n + 1);
	for (unsigned i = 0; i < n; i++) {
		cl[i].index = i;
		cl[i].opt = lo;
		cl[i].zctx = zctx;
		cl[i].barrier = &barrier;
		cl[i].start = &start;
	}
	load_start_threads(lo->prog, cl, sizeof(*cl), n, load_client_main,
			   &barrier, &start);
	for (unsigned i = 0; i < n; i++) {
		pthread_join(cl[i].thread, NULL);
		load_stats_add(sum, &cl[i].st);
		if (body_len && cl[i].len)
			*body_len = cl[i].len;
		load_client_free(&cl[i]);
	}
	pthread_barrier_destroy(&barrier);
	free(cl);
	return 0;
}

void *load_zctx(const char *prog, unsigned io_threads)
{
	void *zctx = zmq_ctx_new();

	if (!zctx || zmq_ctx_set(zctx, ZMQ_IO_THREADS, (int)io_threads) < 0) {
		fprintf(stderr, "%s: zmq_ctx_new: %s\n", prog,
			zmq_strerror(errno));
		if (zctx)
			zmq_ctx_term(zctx);
		return NULL;
	}
	return zctx;
}

int load_check_endpoint(const char *prog, const char *endpoint)
{
	static const char local[] = "tcp://127.0.0.1:";

	if (strncmp(endpoint, local, sizeof(local) - 1) == 0)
		return 0;
	fprintf(stderr, "%s: --endpoint must be %sPORT\n", prog, local);
	return -EINVAL;
}

/* ---- options ---- */

int load_parse_u64(const char *prog, const char *name, const char *s,
		   uint64_t lo, uint64_t hi, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "%s: --%s: expected %" PRIu64 " to %" PRIu64
			"\n", prog, name, lo, hi);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

int load_parse_uint(const char *prog, const char *name, const char *s,
		    unsigned lo, unsigned hi, unsigned *ret)
{
	uint64_t v;
	int r = load_parse_u64(prog, name, s, lo, hi, &v);

	if (r == 0)
		*ret = (unsigned)v;
	return r;
}

/* A number lo to hi; unit ("" or " seconds") ends the message. */
static int parse_double(const char *prog, const char *name, const char *s,
			double lo, double hi, const char *unit, double *ret)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !(v >= lo && v <= hi)) {
		fprintf(stderr, "%s: --%s: expected %g to %g%s\n", prog, name,
			lo, hi, unit);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

int load_parse_number(const char *prog, const char *name, const char *s,
		      double lo, double hi, double *ret)
{
	return parse_double(prog, name, s, lo, hi, "", ret);
}

int load_parse_seconds(const char *prog, const char *name, const char *s,
		       double lo, double hi, double *ret)
{
	return parse_double(prog, name, s, lo, hi, " seconds", ret);
}
