/*
 * bench/compare.c - bench-compare: baton-intake and Redis Streams under the
 * same load, in turns.
 *
 * The aims compare intake with Redis Streams at `appendfsync
 * always`, the usual yardstick for "a durable append a client waits for".
 * A figure quoted from elsewhere says nothing about this machine, and this
 * machine's disk changes speed from one minute to the next, so both are
 * measured here by one program, with one clock, one histogram and the same
 * shape of load, one right after the other: for every cell of the matrix
 * (N clients x K in flight) a run against intake and a run against Redis,
 * the order alternating from cell to cell and round to round (A/B, B/A),
 * so that a slow spell of the disk does not always land on the same side.
 *
 * - baton-intake: the client of bench-intake (bench/load.c): a DEALER per
 *   client thread, a valid `report` body of 300 encoded bytes, the ACK
 *   (sent only after the group commit) is the acknowledgement. Each run
 *   uses its own agencies (<prefix><run>-<client>), so a run never resends
 *   an id an earlier run stored.
 * - Redis: one TCP connection per client thread to a redis-server on
 *   127.0.0.1 that must run with appendonly yes and appendfsync always
 *   (checked with CONFIG GET before anything is measured: Redis then
 *   fdatasyncs its AOF before it writes any reply). Each report is
 *   `XADD <stream> * r <300-byte payload>`, K pipelined on the connection,
 *   the reply is the acknowledgement. RESP is written and read here (a few
 *   dozen lines; no hiredis). Each run has its own stream, unlinked after
 *   the run so that memory stays bounded.
 *
 * Both sides count only acknowledgements received in the measured window
 * after the warm-up, keep latency (send -> acknowledgement,
 * CLOCK_MONOTONIC) in bench/load.c's histogram, stop sending at the end of
 * the window and wait up to two seconds for what is outstanding. A refusal
 * (NACK, Redis error reply), an answer matching no request, a duplicate
 * or anything left unanswered fails the run. On a machine this small the
 * client's CPU is part of the result, so each run also reports the
 * client's and (given --intake-pid / --redis-pid) the server's CPU, in
 * cores over the whole run. Output, for grep:
 *
 *   compare-run system=baton clients=32 inflight=1 round=1 acks_per_s=...
 *   compare clients=32 inflight=1 baton_acks_per_s=... redis_acks_per_s=...
 *           ratio=... (baton / redis) ...
 *   compare-aim cell=32x1 ratio=... target=2 verdict=met
 *
 * Exit status 0 if every run acknowledged something and nothing was
 * refused or left unanswered, whether or not the aims were met.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "load.h"

#define PROG		"bench-compare"
#define MAX_CELLS	8		/* values per list */
#define MAX_CLIENTS	256
#define MAX_INFLIGHT	1024
#define MAX_ROUNDS	20
#define PAYLOAD		300		/* bytes of each XADD's value */
#define RBUF_SIZE	65536
#define CTL_TIMEOUT_MS	5000

enum system { BATON, REDIS, SYSTEMS };
static const char *const system_name[SYSTEMS] = { "baton", "redis" };

struct options {
	const char *endpoint;
	const char *agency;		/* prefix */
	const char *stream;		/* prefix */
	unsigned redis_port;
	unsigned clients[MAX_CELLS], nclients;
	unsigned inflight[MAX_CELLS], ninflight;
	unsigned rounds;
	unsigned io_threads;
	double seconds;
	double warmup;
	int pid[SYSTEMS];		/* 0: server CPU not reported */
};

/* ---- RESP ---- */

/*
 * The length of the first complete reply in p[0..n), 0 if it is not
 * complete yet, -1 if it is not RESP.
 */
static long resp_reply_len(const char *p, size_t n)
{
	const char *nl;
	long len, count, at, sub;
	char *end;

	if (n == 0)
		return 0;
	nl = memchr(p, '\n', n);
	if (!nl)
		return n > 4096 ? -1 : 0;
	if (nl == p || nl[-1] != '\r')
		return -1;
	at = nl - p + 1;
	switch (p[0]) {
	case '+': case '-': case ':':
		return at;
	case '$':
		len = strtol(p + 1, &end, 10);
		if (end != nl - 1 || len < -1)
			return -1;
		if (len == -1)
			return at;
		if ((size_t)(at + len + 2) > n)
			return 0;
		return at + len + 2;
	case '*':
		count = strtol(p + 1, &end, 10);
		if (end != nl - 1 || count < -1)
			return -1;
		for (long i = 0; i < count; i++) {
			sub = resp_reply_len(p + at, n - (size_t)at);
			if (sub <= 0)
				return sub;
			at += sub;
		}
		return at;
	default:
		return -1;
	}
}

/* Append the command argv[0..argc) to buf (room enough). Returns bytes. */
static size_t resp_encode(char *buf, int argc, const char *const *argv,
			  const size_t *lens)
{
	size_t at = (size_t)sprintf(buf, "*%d\r\n", argc);

	for (int i = 0; i < argc; i++) {
		at += (size_t)sprintf(buf + at, "$%zu\r\n", lens[i]);
		memcpy(buf + at, argv[i], lens[i]);
		at += lens[i];
		buf[at++] = '\r';
		buf[at++] = '\n';
	}
	return at;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A TCP connection to 127.0.0.1:port, Nagle off, reads timing out. */
static int redis_connect(unsigned port, int rcvtimeo_ms)
{
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	struct timeval rt = { rcvtimeo_ms / 1000, (rcvtimeo_ms % 1000) * 1000 };
	struct timeval st = { 1, 0 };
	int one = 1, fd, r;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof(rt)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &st, sizeof(st)) < 0 ||
	    connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/*
 * One command on the control connection, its reply (NUL-terminated) in
 * out. Returns the reply's length, or -errno (-EPROTO: not RESP).
 */
static long redis_call(int fd, int argc, const char *const *argv,
		       char *out, size_t cap)
{
	char cmd[1024];
	size_t lens[8], n = 0;
	long len;
	ssize_t got;
	int r;

	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	r = write_all(fd, cmd, resp_encode(cmd, argc, argv, lens));
	if (r < 0)
		return r;
	for (;;) {
		len = resp_reply_len(out, n);
		if (len < 0)
			return -EPROTO;
		if (len > 0)
			break;
		if (n + 1 >= cap)
			return -EMSGSIZE;
		got = read(fd, out + n, cap - 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return got < 0 ? -errno : -ECONNRESET;
		n += (size_t)got;
	}
	out[len] = '\0';
	return len;
}

/* ---- one Redis client ---- */

struct redis_client {
	pthread_t thread;
	unsigned index;
	const struct options *opt;
	const char *key;		/* this run's stream */
	unsigned inflight;
	pthread_barrier_t *barrier;
	const int64_t *start;

	char *cmd;			/* one encoded XADD */
	size_t cmd_len;
	char *wbuf;			/* up to inflight commands */
	char *rbuf;
	size_t rlen;
	int64_t *ring;			/* send times, in order of sending */
	unsigned head, outstanding;

	struct load_stats st;
};

static int redis_build(struct redis_client *c)
{
	char payload[PAYLOAD];
	const char *argv[] = { "XADD", c->key, "*", "r", payload };
	size_t lens[] = { 4, strlen(c->key), 1, 1, PAYLOAD };
	int p = snprintf(payload, sizeof(payload), "bench-compare client %u ",
			 c->index);

	memset(payload + p, 'x', PAYLOAD - (size_t)p);
	c->cmd = malloc(64 + lens[1] + PAYLOAD + 64);
	c->wbuf = malloc((64 + lens[1] + PAYLOAD + 64) * c->inflight);
	c->rbuf = malloc(RBUF_SIZE);
	c->ring = calloc(c->inflight, sizeof(*c->ring));
	if (!c->cmd || !c->wbuf || !c->rbuf || !c->ring)
		return -ENOMEM;
	c->cmd_len = resp_encode(c->cmd, 5, argv, lens);
	return 0;
}

/* Send n more XADDs in one write. Returns 0 or -errno. */
static int redis_send(struct redis_client *c, int fd, unsigned n)
{
	int64_t now;

	for (unsigned i = 0; i < n; i++)
		memcpy(c->wbuf + i * c->cmd_len, c->cmd, c->cmd_len);
	now = load_now_ns();
	for (unsigned i = 0; i < n; i++)
		c->ring[(c->head + c->outstanding + i) % c->inflight] = now;
	c->outstanding += n;
	c->st.sent += n;
	return write_all(fd, c->wbuf, n * c->cmd_len);
}

static void redis_run(struct redis_client *c, int fd)
{
	struct load_window w;
	unsigned more;
	int64_t now;
	ssize_t got;
	long len;
	size_t at;
	int r;

	load_window_set(&w, *c->start, c->opt->warmup, c->opt->seconds);
	r = redis_send(c, fd, c->inflight);
	while (r == 0) {
		now = load_now_ns();
		if (c->outstanding == 0 || now >= w.drain)
			break;
		got = read(fd, c->rbuf + c->rlen, RBUF_SIZE - c->rlen);
		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (got <= 0) {
			r = got < 0 ? -errno : -ECONNRESET;
			break;
		}
		now = load_now_ns();
		c->rlen += (size_t)got;
		more = 0;
		at = 0;
		while ((len = resp_reply_len(c->rbuf + at, c->rlen - at)) > 0) {
			const char *p = c->rbuf + at;

			if (c->outstanding == 0) {
				c->st.bad++;
				r = -EPROTO;
				break;
			}
			if (p[0] == '$' && p[1] != '-') {
				load_stats_ack(&c->st, &w, now,
					       now - c->ring[c->head]);
			} else if (c->st.nacks++ < LOAD_SHOWN) {
				fprintf(stderr, "%s: redis client %u: %.*s\n",
					PROG, c->index, (int)len - 2, p);
			}
			c->head = (c->head + 1) % c->inflight;
			c->outstanding--;
			if (now < w.end)
				more++;
			at += (size_t)len;
		}
		if (len < 0 || (at == 0 && c->rlen == RBUF_SIZE)) {
			c->st.bad++;
			r = -EPROTO;
			break;
		}
		memmove(c->rbuf, c->rbuf + at, c->rlen - at);
		c->rlen -= at;
		if (r == 0 && more)
			r = redis_send(c, fd, more);
	}
	if (r < 0) {
		fprintf(stderr, "%s: redis client %u: %s\n", PROG, c->index,
			strerror(-r));
		c->st.failed = true;
	}
	c->st.unanswered = c->outstanding;
}

static void *redis_client_main(void *arg)
{
	struct redis_client *c = arg;
	int fd = -1, r;

	r = load_stats_init(&c->st);
	if (r == 0)
		r = redis_build(c);
	if (r == 0) {
		fd = redis_connect(c->opt->redis_port, LOAD_RECV_TIMEOUT_MS);
		if (fd < 0)
			fprintf(stderr, "%s: redis client %u: 127.0.0.1:%u: "
				"%s\n", PROG, c->index, c->opt->redis_port,
				strerror(-fd));
		r = fd < 0 ? fd : 0;
	}
	if (r < 0)
		c->st.failed = true;
	pthread_barrier_wait(c->barrier);
	pthread_barrier_wait(c->barrier);
	if (r == 0)
		redis_run(c, fd);
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void redis_client_free(struct redis_client *c)
{
	free(c->cmd);
	free(c->wbuf);
	free(c->rbuf);
	free(c->ring);
	load_stats_free(&c->st);
}

/* ---- one run: one system, one cell ---- */

struct run {
	enum system sys;
	unsigned clients, inflight, round, number;
	struct load_stats st;
	double client_cpu, server_cpu;	/* cores, over the whole run */
	double wall;
};

static double cpu_self(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* user + system seconds of process pid, -1 if unknown. */
static double cpu_of(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	ssize_t n;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = (ssize_t)fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');	/* the name may hold spaces */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void loadavg(char *out, size_t cap)
{
	double l[3];

	if (getloadavg(l, 3) == 3)
		snprintf(out, cap, "%.2f,%.2f,%.2f", l[0], l[1], l[2]);
	else
		snprintf(out, cap, "unknown");
}

_Static_assert(offsetof(struct redis_client, thread) == 0,
	       "load_start_threads() finds the pthread_t first");

static int run_baton(const struct options *o, void *zctx, struct run *run)
{
	char agency[64];
	struct load_opts lo = {
		.prog = PROG,
		.endpoint = o->endpoint,
		.agency = agency,
		.inflight = run->inflight,
		.seconds = o->seconds,
		.warmup = o->warmup,
	};

	snprintf(agency, sizeof(agency), "%s%u", o->agency, run->number);
	return load_run(&lo, zctx, run->clients, &run->st, NULL);
}

static int run_redis(const struct options *o, int ctl, struct run *run)
{
	char key[128], reply[256];
	const char *unlink_argv[] = { "UNLINK", key };
	struct redis_client *cl = calloc(run->clients, sizeof(*cl));
	pthread_barrier_t barrier;
	int64_t start = 0;
	long r;

	if (!cl)
		return -ENOMEM;
	snprintf(key, sizeof(key), "%s:%u", o->stream, run->number);
	pthread_barrier_init(&barrier, NULL, run->clients + 1);
	for (unsigned i = 0; i < run->clients; i++) {
		cl[i].index = i;
		cl[i].opt = o;
		cl[i].key = key;
		cl[i].inflight = run->inflight;
		cl[i].barrier = &barrier;
		cl[i].start = &start;
	}
	load_start_threads(PROG, cl, sizeof(*cl), run->clients,
			   redis_client_main, &barrier, &start);
	for (unsigned i = 0; i < run->clients; i++) {
		pthread_join(cl[i].thread, NULL);
		load_stats_add(&run->st, &cl[i].st);
		redis_client_free(&cl[i]);
	}
	pthread_barrier_destroy(&barrier);
	free(cl);
	/* Memory stays bounded: the stream goes (freed in the background). */
	r = redis_call(ctl, 2, unlink_argv, reply, sizeof(reply));
	if (r < 0 || reply[0] != ':') {
		fprintf(stderr, "%s: UNLINK %s: %s\n", PROG, key,
			r < 0 ? strerror((int)-r) : reply);
		return r < 0 ? (int)r : -EPROTO;
	}
	return 0;
}

static bool run_failed(const struct run *run)
{
	const struct load_stats *s = &run->st;

	return s->failed || s->acks_total == 0 || s->nacks || s->bad ||
	       s->duplicates || s->unanswered;
}

static int do_run(const struct options *o, void *zctx, int ctl,
		  struct run *run)
{
	double c0, s0, s1;
	int64_t t0;
	char la[64], scpu[16];
	int r;

	r = load_stats_init(&run->st);
	if (r < 0)
		return r;
	t0 = load_now_ns();
	c0 = cpu_self();
	s0 = cpu_of(o->pid[run->sys]);
	r = run->sys == BATON ? run_baton(o, zctx, run) :
				run_redis(o, ctl, run);
	s1 = cpu_of(o->pid[run->sys]);
	run->wall = (double)(load_now_ns() - t0) / 1e9;
	run->client_cpu = (cpu_self() - c0) / run->wall;
	run->server_cpu = s0 >= 0 && s1 >= 0 ? (s1 - s0) / run->wall : -1;
	loadavg(la, sizeof(la));
	if (run->server_cpu >= 0)
		snprintf(scpu, sizeof(scpu), "%.2f", run->server_cpu);
	else
		snprintf(scpu, sizeof(scpu), "n/a");
	printf("compare-run system=%s clients=%u inflight=%u round=%u "
	       "acks_per_s=%.0f p50_us=%.0f p99_us=%.0f max_us=%.0f "
	       "errors=%" PRIu64 " acks=%" PRIu64 " sent=%" PRIu64
	       " duplicates=%" PRIu64 " unanswered=%" PRIu64
	       " client_cpu=%.2f server_cpu=%s loadavg=%s\n",
	       system_name[run->sys], run->clients, run->inflight, run->round,
	       (double)run->st.acks / o->seconds,
	       (double)load_hist_quantile(run->st.hist, run->st.acks, 0.5) / 1e3,
	       (double)load_hist_quantile(run->st.hist, run->st.acks, 0.99) / 1e3,
	       (double)run->st.max_ns / 1e3, run->st.nacks + run->st.bad,
	       run->st.acks_total, run->st.sent, run->st.duplicates,
	       run->st.unanswered, run->client_cpu, scpu, la);
	fflush(stdout);
	return r;
}

/* ---- the matrix ---- */

/* Connect the control connection and check that Redis is durable. */
static int redis_check(const struct options *o, int *ret_fd)
{
	static const char *const ping[] = { "PING" };
	static const char *const aof[] = { "CONFIG", "GET", "appendonly" };
	static const char *const fsync[] = { "CONFIG", "GET", "appendfsync" };
	char reply[512];
	int fd = redis_connect(o->redis_port, CTL_TIMEOUT_MS);
	long r;

	if (fd < 0) {
		fprintf(stderr, "%s: redis at 127.0.0.1:%u: %s\n", PROG,
			o->redis_port, strerror(-fd));
		return fd;
	}
	r = redis_call(fd, 1, ping, reply, sizeof(reply));
	if (r > 0 && strcmp(reply, "+PONG\r\n") == 0)
		r = redis_call(fd, 3, aof, reply, sizeof(reply));
	if (r > 0 && strstr(reply, "\r\nyes\r\n"))
		r = redis_call(fd, 3, fsync, reply, sizeof(reply));
	if (r < 0 || !strstr(reply, "\r\nalways\r\n")) {
		fprintf(stderr, "%s: redis at 127.0.0.1:%u must run with "
			"appendonly yes and appendfsync always (%s)\n", PROG,
			o->redis_port, r < 0 ? strerror((int)-r) : "it does not");
		close(fd);
		return -EINVAL;
	}
	*ret_fd = fd;
	return 0;
}

static void print_cell(const struct options *o, unsigned n, unsigned k,
		       const struct load_stats *sum, double *ret_ratio)
{
	double rate[SYSTEMS], secs = o->seconds * o->rounds;
	char la[64];

	for (int s = 0; s < SYSTEMS; s++)
		rate[s] = (double)sum[s].acks / secs;
	*ret_ratio = rate[REDIS] > 0 ? rate[BATON] / rate[REDIS] : 0;
	loadavg(la, sizeof(la));
	printf("compare clients=%u inflight=%u rounds=%u", n, k, o->rounds);
	for (int s = 0; s < SYSTEMS; s++)
		printf(" %s_acks_per_s=%.0f %s_p50_us=%.0f %s_p99_us=%.0f",
		       system_name[s], rate[s], system_name[s],
		       (double)load_hist_quantile(sum[s].hist, sum[s].acks,
						  0.5) / 1e3,
		       system_name[s],
		       (double)load_hist_quantile(sum[s].hist, sum[s].acks,
						  0.99) / 1e3);
	printf(" ratio=%.2f loadavg=%s\n", *ret_ratio, la);
	fflush(stdout);
}

static int run_matrix(const struct options *o, void *zctx, int ctl)
{
	static const struct { unsigned n, k; double target; } aims[] = {
		{ 32, 1, 2.0 },
		{ 32, 16, 1.0 },
	};
	double ratio[MAX_CELLS][MAX_CELLS];
	unsigned number = 0, cell = 0;
	bool failed = false;
	char la[64];

	loadavg(la, sizeof(la));
	printf("compare-start endpoint=%s redis=127.0.0.1:%u seconds=%g "
	       "warmup=%g rounds=%u loadavg=%s\n", o->endpoint, o->redis_port,
	       o->seconds, o->warmup, o->rounds, la);
	for (unsigned i = 0; i < o->nclients; i++) {
		for (unsigned j = 0; j < o->ninflight; j++, cell++) {
			struct load_stats sum[SYSTEMS] = { { 0 } };

			for (int s = 0; s < SYSTEMS; s++)
				if (load_stats_init(&sum[s]) < 0)
					return -ENOMEM;
			for (unsigned r = 0; r < o->rounds; r++) {
				enum system first = (cell + r) % 2 ? REDIS :
								     BATON;

				for (int s = 0; s < SYSTEMS; s++) {
					struct run run = {
						.sys = (enum system)
							((first + s) % SYSTEMS),
						.clients = o->clients[i],
						.inflight = o->inflight[j],
						.round = r + 1,
						.number = ++number,
					};

					if (do_run(o, zctx, ctl, &run) < 0 ||
					    run_failed(&run))
						failed = true;
					load_stats_add(&sum[run.sys], &run.st);
					load_stats_free(&run.st);
				}
			}
			print_cell(o, o->clients[i], o->inflight[j], sum,
				   &ratio[i][j]);
			for (int s = 0; s < SYSTEMS; s++)
				load_stats_free(&sum[s]);
		}
	}
	for (size_t a = 0; a < sizeof(aims) / sizeof(aims[0]); a++)
		for (unsigned i = 0; i < o->nclients; i++)
			for (unsigned j = 0; j < o->ninflight; j++)
				if (o->clients[i] == aims[a].n &&
				    o->inflight[j] == aims[a].k)
					printf("compare-aim cell=%ux%u "
					       "ratio=%.2f target=%g "
					       "verdict=%s\n", aims[a].n,
					       aims[a].k, ratio[i][j],
					       aims[a].target,
					       ratio[i][j] >= aims[a].target ?
					       "met" : "not-met");
	return failed ? -EIO : 0;
}

/* ---- options and main ---- */

static void usage(FILE *f)
{
	fprintf(f,
"usage: bench-compare --endpoint tcp://127.0.0.1:PORT --redis-port PORT\n"
"                     [--clients 1,8,32] [--inflight 1,16] [--rounds R]\n"
"                     [--seconds S] [--warmup W] [--agency PREFIX]\n"
"                     [--stream PREFIX] [--io-threads T]\n"
"                     [--intake-pid PID] [--redis-pid PID]\n"
"\n"
"Load a running baton-intake (auth = none, [intake] rate = 0) and a running\n"
"redis-server (appendonly yes, appendfsync always; checked) with the same\n"
"work in turns: for each cell, N client threads each keeping K reports of\n"
"300 bytes in flight, a valid report to intake (the ACK acknowledges it)\n"
"or XADD PREFIX:<run> * r <300 bytes> to Redis (the reply acknowledges\n"
"it), R rounds per cell (default 1), the order alternating, each run W s\n"
"of warm-up (default 1) then S s measured (default 5). Prints a line per\n"
"run and per cell (ACKs/s, p50/p99 latency, ratio baton/redis) and the\n"
"aims (32x1 >= 2, 32x16 >= 1). Intake agencies are PREFIX<run>-<client>\n"
"(default cmp), Redis streams PREFIX:<run> (default bench-compare, unlinked\n"
"after each run). With the servers' pids, their CPU is printed too.\n"
"Only 127.0.0.1 is used.\n"
"\n"
"Exit status 0 if every run was acknowledged, nothing refused, nothing\n"
"left unanswered.\n");
}

static int parse_list(const char *name, const char *s, unsigned hi,
		      unsigned *out, unsigned *ret_n)
{
	char buf[128], *save = NULL, *tok;
	unsigned n = 0;

	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		goto bad;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (n == MAX_CELLS ||
		    load_parse_uint(PROG, name, tok, 1, hi, &out[n]) < 0)
			goto bad;
		n++;
	}
	if (n == 0)
		goto bad;
	*ret_n = n;
	return 0;
bad:
	fprintf(stderr, "%s: --%s: expected a list of 1 to %d numbers, 1 to "
		"%u, such as 1,8,32\n", PROG, name, MAX_CELLS, hi);
	return -EINVAL;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		{ "endpoint", required_argument, NULL, 'e' },
		{ "redis-port", required_argument, NULL, 'p' },
		{ "clients", required_argument, NULL, 'n' },
		{ "inflight", required_argument, NULL, 'k' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 's' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "agency", required_argument, NULL, 'a' },
		{ "stream", required_argument, NULL, 'S' },
		{ "io-threads", required_argument, NULL, 'i' },
		{ "intake-pid", required_argument, NULL, 'I' },
		{ "redis-pid", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned v;
	int c, r = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			o->endpoint = optarg;
			break;
		case 'p':
			r = load_parse_uint(PROG, "redis-port", optarg, 1,
					    65535, &o->redis_port);
			break;
		case 'n':
			r = parse_list("clients", optarg, MAX_CLIENTS,
				       o->clients, &o->nclients);
			break;
		case 'k':
			r = parse_list("inflight", optarg, MAX_INFLIGHT,
				       o->inflight, &o->ninflight);
			break;
		case 'r':
			r = load_parse_uint(PROG, "rounds", optarg, 1,
					    MAX_ROUNDS, &o->rounds);
			break;
		case 's':
			r = load_parse_seconds(PROG, "seconds", optarg, 0.01,
					       600, &o->seconds);
			break;
		case 'w':
			r = load_parse_seconds(PROG, "warmup", optarg, 0, 60,
					       &o->warmup);
			break;
		case 'a':
			o->agency = optarg;
			break;
		case 'S':
			if (strlen(optarg) > 64) {
				fprintf(stderr, "%s: --stream: at most 64 "
					"bytes\n", PROG);
				r = -EINVAL;
			}
			o->stream = optarg;
			break;
		case 'i':
			r = load_parse_uint(PROG, "io-threads", optarg, 1, 16,
					    &o->io_threads);
			break;
		case 'I':
		case 'R':
			r = load_parse_uint(PROG, c == 'I' ? "intake-pid" :
					    "redis-pid", optarg, 1, 1u << 30,
					    &v);
			o->pid[c == 'I' ? BATON : REDIS] = (int)v;
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
	if (optind != argc || !o->endpoint || !o->redis_port) {
		usage(stderr);
		return -EINVAL;
	}
	if (load_check_endpoint(PROG, o->endpoint) < 0)
		return -EINVAL;
	if (strlen(o->agency) > 32) {
		fprintf(stderr, "%s: --agency: at most 32 bytes\n", PROG);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options opt = {
		.agency = "cmp",
		.stream = "bench-compare",
		.clients = { 1, 8, 32 },
		.nclients = 3,
		.inflight = { 1, 16 },
		.ninflight = 2,
		.rounds = 1,
		.io_threads = 1,
		.seconds = 5,
		.warmup = 1,
	};
	void *zctx;
	int ctl = -1, r;

	if (parse_options(argc, argv, &opt) < 0)
		return 2;
	if (redis_check(&opt, &ctl) < 0)
		return 1;
	zctx = load_zctx(PROG, opt.io_threads);
	if (!zctx) {
		close(ctl);
		return 1;
	}
	r = run_matrix(&opt, zctx, ctl);
	zmq_ctx_term(zctx);
	close(ctl);
	return r < 0 ? 1 : 0;
}
