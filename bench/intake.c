/*
 * bench/intake.c - bench-intake: a load client for a running baton-intake.
 *
 * What an agency sees is the time from sending a report to holding its ACK,
 * which intake sends only once the report is durably in its log; how many
 * of those a second intake gives out depends on how many clients share a
 * group commit. So this measures exactly that: N client threads, each with
 * its own DEALER socket on one shared ZeroMQ context, each keeping K valid
 * `report` bodies in flight (one new report for every answer), matching
 * every answer to its request by id.
 *
 * The report is encoded once per client with msg_encode() and padded to
 * about 300 bytes; each request patches a fixed-width sequence number into
 * the encoded id in place, so the client spends its CPU on ZeroMQ and not on
 * msgpack (client and intake share the machine). Ids are
 * "c<client>-<12 digits>", agencies "<prefix>-<client>" (auth = none).
 *
 * Only answers received in the measured window (after the warm-up) count
 * toward the rate and the latency figures; latency is send -> ACK on
 * CLOCK_MONOTONIC, kept per thread in a log-linear histogram (under 1%
 * error, bounded memory) and merged at the end. After the window, sending
 * stops and outstanding answers are drained for up to two seconds, so that
 * a NACK or a lost answer is never missed. Output is one line, for grep:
 *
 *   intake clients=32 inflight=16 ... acks_per_s=123456 p50_us=250
 *          p99_us=900 max_us=4000 errors=0 ...
 *
 * Exit status 0 only if something was acknowledged, nothing was refused and
 * nothing is left unanswered: bench/run.sh uses a short run as its
 * readiness probe.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "msg.h"

#define BODY_TARGET	300		/* encoded bytes per report */
#define ID_DIGITS	12
#define ID_MAX_SEQ	UINT64_C(999999999999)
#define DRAIN_NS	INT64_C(2000000000)
#define RECV_TIMEOUT_MS	50
#define NACKS_SHOWN	5		/* per client */

#define MAX_CLIENTS	1024
#define MAX_INFLIGHT	4096
#define MAX_IO_THREADS	16

/* Log-linear histogram of nanoseconds: 128 linear steps per power of two. */
#define HIST_SUB_BITS	7
#define HIST_SUB	(1u << HIST_SUB_BITS)
#define HIST_BUCKETS	((64 - HIST_SUB_BITS + 1) * HIST_SUB)

struct options {
	const char *endpoint;
	const char *agency;	/* prefix */
	unsigned clients;
	unsigned inflight;
	unsigned io_threads;
	double seconds;
	double warmup;
};

struct client {
	pthread_t thread;
	unsigned index;
	const struct options *opt;
	void *zctx;
	pthread_barrier_t *barrier;
	const int64_t *start;	/* set by main() between the two barriers */

	/* the encoded report, its id patched in place per request */
	uint8_t *body;
	size_t len;
	char *digits;		/* points into body */
	char prefix[32];	/* "c<index>-" */
	size_t prefix_len;

	/* requests in flight: sequence number (0: free) and send time */
	uint64_t *slot_n;
	int64_t *slot_t;
	unsigned hint;

	/* results */
	uint64_t *hist;
	uint64_t acks;		/* in the measured window */
	uint64_t acks_total;
	uint64_t nacks, bad, duplicates, sent, unanswered;
	int64_t max_ns;
	bool failed;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- latency histogram ---- */

static unsigned hist_index(uint64_t v)
{
	unsigned e;

	if (v < HIST_SUB)
		return (unsigned)v;
	e = 63 - (unsigned)__builtin_clzll(v);
	return (e - HIST_SUB_BITS + 1) * HIST_SUB +
	       (unsigned)((v >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

/* The middle of bucket i. */
static uint64_t hist_value(unsigned i)
{
	unsigned g = i / HIST_SUB, sub = i % HIST_SUB;
	uint64_t lower, width;

	if (g == 0)
		return i;
	lower = (uint64_t)(HIST_SUB + sub) << (g - 1);
	width = UINT64_C(1) << (g - 1);
	return lower + (width - 1) / 2;
}

/* The value at quantile q (0 < q <= 1) of n samples. */
static uint64_t hist_quantile(const uint64_t *h, uint64_t n, double q)
{
	uint64_t rank = (uint64_t)(q * (double)n + 0.999999), seen = 0;

	if (n == 0)
		return 0;
	if (rank < 1)
		rank = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h[i];
		if (seen >= rank)
			return hist_value(i);
	}
	return 0;
}

/* ---- one client ---- */

/*
 * Encode this client's report, padded to BODY_TARGET bytes, and find where
 * the id's digits are. Returns 0 or -errno.
 */
static int build_report(struct client *c)
{
	char id[64], agency[MSG_AGENCY_MAX + 1], pad[BODY_TARGET + 1];
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
		fprintf(stderr, "bench-intake: agency '%s-%u' is not a valid "
			"agency name\n", c->opt->agency, c->index);
		return -EINVAL;
	}
	/* Grow the body until the encoded report reaches the target. */
	for (size_t p = 0; p <= BODY_TARGET; p++) {
		memset(pad, 'x', p);
		pad[p] = '\0';
		free(buf);
		r = msg_encode(&m, &buf, &len);
		if (r < 0)
			return r;
		if (len >= BODY_TARGET)
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
		fprintf(stderr, "bench-intake: own report refused: %s\n",
			err.text);
		free(buf);
		return r;
	}
	c->body = buf;
	c->len = len;
	c->digits = (char *)at + c->prefix_len;
	return 0;
}

static void set_seq(struct client *c, uint64_t n)
{
	for (int i = ID_DIGITS - 1; i >= 0; i--) {
		c->digits[i] = (char)('0' + n % 10);
		n /= 10;
	}
}

/* Send request number ++sent in slot s. Returns 0 or -errno. */
static int send_one(struct client *c, void *sock, unsigned s)
{
	uint64_t n = ++c->sent;

	set_seq(c, n);
	c->slot_n[s] = n;
	c->slot_t[s] = now_ns();
	if (zmq_send(sock, c->body, c->len, 0) < 0) {
		c->slot_n[s] = 0;
		return -errno;
	}
	return 0;
}

/* The sequence number in an id of ours, 0 if it is not one. */
static uint64_t parse_id(const struct client *c, const char *id)
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
static int find_slot(struct client *c, uint64_t n)
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
static int on_answer(struct client *c, const void *data, size_t size,
		     int64_t t, int64_t t_measure, int64_t t_end)
{
	struct msg a = { 0 };
	struct msg_error err;
	uint64_t n;
	int s;

	if (msg_decode(data, size, MSG_CTX_ANSWER, &a, &err) < 0) {
		if (c->bad++ < NACKS_SHOWN)
			fprintf(stderr, "bench-intake: client %u: undecodable "
				"answer: %s\n", c->index, err.text);
		msg_free(&a);
		return -1;
	}
	n = parse_id(c, a.id);
	s = n ? find_slot(c, n) : -1;
	if (s < 0) {
		if (c->bad++ < NACKS_SHOWN)
			fprintf(stderr, "bench-intake: client %u: answer for "
				"unknown id %s\n", c->index,
				a.id ? a.id : "(nil)");
		msg_free(&a);
		return -1;
	}
	if (a.type == MSG_NACK) {
		if (c->nacks++ < NACKS_SHOWN)
			fprintf(stderr, "bench-intake: client %u: nack %s: "
				"%s: %s\n", c->index, a.id,
				msg_code_name(a.code), a.error);
	} else {
		int64_t lat = t - c->slot_t[s];

		c->acks_total++;
		if (a.duplicate)
			c->duplicates++;
		if (t >= t_measure && t < t_end) {
			c->acks++;
			c->hist[hist_index((uint64_t)lat)]++;
			if (lat > c->max_ns)
				c->max_ns = lat;
		}
	}
	c->slot_n[s] = 0;
	msg_free(&a);
	return s;
}

static void run_client(struct client *c, void *sock)
{
	int64_t t_measure = *c->start + (int64_t)(c->opt->warmup * 1e9);
	int64_t t_end = t_measure + (int64_t)(c->opt->seconds * 1e9);
	int64_t t_drain = t_end + DRAIN_NS, now;
	unsigned outstanding = 0;
	zmq_msg_t msg;
	int s, r;

	for (unsigned i = 0; i < c->opt->inflight; i++) {
		r = send_one(c, sock, i);
		if (r < 0) {
			fprintf(stderr, "bench-intake: client %u: send: %s\n",
				c->index, zmq_strerror(-r));
			c->failed = true;
			break;
		}
		outstanding++;
	}
	zmq_msg_init(&msg);
	for (;;) {
		now = now_ns();
		if (outstanding == 0 || now >= t_drain)
			break;
		if (zmq_msg_recv(&msg, sock, 0) < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			fprintf(stderr, "bench-intake: client %u: receive: "
				"%s\n", c->index, zmq_strerror(errno));
			c->failed = true;
			break;
		}
		now = now_ns();
		s = on_answer(c, zmq_msg_data(&msg), zmq_msg_size(&msg), now,
			      t_measure, t_end);
		if (s < 0)
			continue;
		outstanding--;
		if (now < t_end && c->sent < ID_MAX_SEQ) {
			r = send_one(c, sock, (unsigned)s);
			if (r < 0) {
				fprintf(stderr, "bench-intake: client %u: "
					"send: %s\n", c->index,
					zmq_strerror(-r));
				c->failed = true;
				break;
			}
			outstanding++;
		}
	}
	zmq_msg_close(&msg);
	c->unanswered = outstanding;
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	int zero = 0, rcvtimeo = RECV_TIMEOUT_MS, sndtimeo = 1000;
	void *sock = NULL;
	int r;

	c->slot_n = calloc(c->opt->inflight, sizeof(*c->slot_n));
	c->slot_t = calloc(c->opt->inflight, sizeof(*c->slot_t));
	c->hist = calloc(HIST_BUCKETS, sizeof(*c->hist));
	r = (c->slot_n && c->slot_t && c->hist) ? build_report(c) : -ENOMEM;
	if (r == 0) {
		sock = zmq_socket(c->zctx, ZMQ_DEALER);
		if (!sock ||
		    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero)) < 0 ||
		    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &rcvtimeo,
				   sizeof(rcvtimeo)) < 0 ||
		    zmq_setsockopt(sock, ZMQ_SNDTIMEO, &sndtimeo,
				   sizeof(sndtimeo)) < 0 ||
		    zmq_connect(sock, c->opt->endpoint) < 0) {
			fprintf(stderr, "bench-intake: client %u: %s: %s\n",
				c->index, c->opt->endpoint,
				zmq_strerror(errno));
			r = -EIO;
		}
	}
	if (r < 0)
		c->failed = true;
	/* Everyone is connected; main() sets the start; everyone goes. */
	pthread_barrier_wait(c->barrier);
	pthread_barrier_wait(c->barrier);
	if (r == 0)
		run_client(c, sock);
	if (sock)
		zmq_close(sock);
	return NULL;
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f,
"usage: bench-intake [--endpoint tcp://127.0.0.1:PORT] [--clients N]\n"
"                    [--inflight K] [--seconds S] [--warmup W]\n"
"                    [--agency PREFIX] [--io-threads T]\n"
"\n"
"Load a running baton-intake (auth = none) with valid reports of about\n"
"300 bytes: N client threads (default 1), each with its own DEALER socket\n"
"and K reports in flight (default 1). After W seconds of warm-up (default\n"
"1), count ACKs for S seconds (default 5) and print ACKs per second and\n"
"ACK latency (p50, p99, max) on one line. Agencies are PREFIX-<client>\n"
"(default bench), ids c<client>-<n>. T is the client's ZeroMQ I/O threads\n"
"(default 1). Only 127.0.0.1 endpoints are accepted.\n"
"\n"
"Exit status 0 if reports were acknowledged, none refused, none left\n"
"unanswered.\n");
}

static int parse_uint(const char *name, const char *s, unsigned lo,
		      unsigned hi, unsigned *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "bench-intake: --%s: expected %u to %u\n",
			name, lo, hi);
		return -EINVAL;
	}
	*ret = (unsigned)v;
	return 0;
}

static int parse_seconds(const char *name, const char *s, double lo,
			 double hi, double *ret)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !(v >= lo && v <= hi)) {
		fprintf(stderr, "bench-intake: --%s: expected %g to %g "
			"seconds\n", name, lo, hi);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		{ "endpoint", required_argument, NULL, 'e' },
		{ "clients", required_argument, NULL, 'n' },
		{ "inflight", required_argument, NULL, 'k' },
		{ "seconds", required_argument, NULL, 's' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "agency", required_argument, NULL, 'a' },
		{ "io-threads", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char local[] = "tcp://127.0.0.1:";
	int c, r = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			o->endpoint = optarg;
			break;
		case 'n':
			r = parse_uint("clients", optarg, 1, MAX_CLIENTS,
				       &o->clients);
			break;
		case 'k':
			r = parse_uint("inflight", optarg, 1, MAX_INFLIGHT,
				       &o->inflight);
			break;
		case 's':
			r = parse_seconds("seconds", optarg, 0.01, 600,
					  &o->seconds);
			break;
		case 'w':
			r = parse_seconds("warmup", optarg, 0, 60, &o->warmup);
			break;
		case 'a':
			o->agency = optarg;
			break;
		case 'i':
			r = parse_uint("io-threads", optarg, 1, MAX_IO_THREADS,
				       &o->io_threads);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (r < 0)
			return r;
	}
	if (optind != argc) {
		usage(stderr);
		return -EINVAL;
	}
	/* A load generator must never be pointed at a real server by slip. */
	if (strncmp(o->endpoint, local, sizeof(local) - 1) != 0) {
		fprintf(stderr, "bench-intake: --endpoint must be %sPORT\n",
			local);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options opt = {
		.endpoint = "tcp://127.0.0.1:7400",
		.agency = "bench",
		.clients = 1,
		.inflight = 1,
		.io_threads = 1,
		.seconds = 5,
		.warmup = 1,
	};
	struct client *cl;
	pthread_barrier_t barrier;
	uint64_t *hist, acks = 0, acks_total = 0, nacks = 0, bad = 0;
	uint64_t dup = 0, sent = 0, unanswered = 0;
	int64_t start = 0, max_ns = 0;
	bool failed = false;
	size_t body_len = 0;
	void *zctx;
	int r;

	if (parse_options(argc, argv, &opt) < 0)
		return 2;
	zctx = zmq_ctx_new();
	if (!zctx || zmq_ctx_set(zctx, ZMQ_IO_THREADS,
				 (int)opt.io_threads) < 0) {
		fprintf(stderr, "bench-intake: zmq_ctx_new: %s\n",
			zmq_strerror(errno));
		return 1;
	}
	cl = calloc(opt.clients, sizeof(*cl));
	hist = calloc(HIST_BUCKETS, sizeof(*hist));
	if (!cl || !hist) {
		fprintf(stderr, "bench-intake: out of memory\n");
		return 1;
	}
	pthread_barrier_init(&barrier, NULL, opt.clients + 1);
	for (unsigned i = 0; i < opt.clients; i++) {
		cl[i].index = i;
		cl[i].opt = &opt;
		cl[i].zctx = zctx;
		cl[i].barrier = &barrier;
		cl[i].start = &start;
		r = pthread_create(&cl[i].thread, NULL, client_main, &cl[i]);
		if (r != 0) {
			/* The barrier counts on every thread: no way back. */
			fprintf(stderr, "bench-intake: pthread_create: %s\n",
				strerror(r));
			exit(1);
		}
	}
	pthread_barrier_wait(&barrier);
	start = now_ns();
	pthread_barrier_wait(&barrier);

	for (unsigned i = 0; i < opt.clients; i++) {
		struct client *c = &cl[i];

		pthread_join(c->thread, NULL);
		failed |= c->failed;
		acks += c->acks;
		acks_total += c->acks_total;
		nacks += c->nacks;
		bad += c->bad;
		dup += c->duplicates;
		sent += c->sent;
		unanswered += c->unanswered;
		if (c->max_ns > max_ns)
			max_ns = c->max_ns;
		if (c->len)
			body_len = c->len;
		if (c->hist)
			for (unsigned b = 0; b < HIST_BUCKETS; b++)
				hist[b] += c->hist[b];
		free(c->slot_n);
		free(c->slot_t);
		free(c->hist);
		free(c->body);
	}
	pthread_barrier_destroy(&barrier);
	zmq_ctx_term(zctx);

	printf("intake clients=%u inflight=%u acks_per_s=%.0f p50_us=%.0f "
	       "p99_us=%.0f max_us=%.0f errors=%" PRIu64 " seconds=%g "
	       "warmup=%g io_threads=%u body_bytes=%zu acks=%" PRIu64
	       " sent=%" PRIu64 " duplicates=%" PRIu64
	       " unanswered=%" PRIu64 "\n",
	       opt.clients, opt.inflight, (double)acks / opt.seconds,
	       (double)hist_quantile(hist, acks, 0.50) / 1e3,
	       (double)hist_quantile(hist, acks, 0.99) / 1e3,
	       (double)max_ns / 1e3, nacks + bad, opt.seconds, opt.warmup,
	       opt.io_threads, body_len, acks_total, sent, dup, unanswered);
	free(hist);
	free(cl);
	return (failed || acks_total == 0 || nacks + bad > 0 ||
		unanswered > 0) ? 1 : 0;
}
