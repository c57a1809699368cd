/*
 * bench/load.h - what the load clients share: bench-intake and
 * bench-compare.
 *
 * Both measure the same thing, the time from sending a request to holding
 * its durable acknowledgement, with N client threads keeping K requests in
 * flight, counting only answers received in a measured window after a
 * warm-up and keeping latencies in a log-linear histogram (under 1% error,
 * bounded memory) per thread, merged at the end. So both take from here:
 * the clock, the histogram and its counters (struct load_stats), option
 * parsing (which the other bench programs use too), and the baton-intake
 * client itself (struct load_client: one
 * DEALER per thread, valid `report` bodies of about 300 bytes, every answer
 * decoded and matched to its request by id).
 */
#ifndef BATON_BENCH_LOAD_H
#define BATON_BENCH_LOAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOAD_BODY_TARGET	300	/* encoded bytes per report */
#define LOAD_DRAIN_NS		INT64_C(2000000000)
#define LOAD_RECV_TIMEOUT_MS	50
#define LOAD_SHOWN		5	/* refusals printed per client */

/* Log-linear histogram of nanoseconds: 128 linear steps per power of two. */
#define LOAD_HIST_SUB_BITS	7
#define LOAD_HIST_SUB		(1u << LOAD_HIST_SUB_BITS)
#define LOAD_HIST_BUCKETS	((64 - LOAD_HIST_SUB_BITS + 1) * LOAD_HIST_SUB)

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t load_now_ns(void);

/* The histogram bucket of v nanoseconds. */
unsigned load_hist_index(uint64_t v);

/* The value at quantile q (0 < q <= 1) of the n samples in h; 0 if none. */
uint64_t load_hist_quantile(const uint64_t *h, uint64_t n, double q);

/* The measured window of a run that started at start (ns). */
struct load_window {
	int64_t measure;	/* answers from here ... */
	int64_t end;		/* ... to here count; no new request after */
	int64_t drain;		/* outstanding answers are awaited until here */
};

void load_window_set(struct load_window *w, int64_t start, double warmup,
		     double seconds);

/* One client's counters, or their sum. */
struct load_stats {
	uint64_t *hist;		/* LOAD_HIST_BUCKETS; NULL if never allocated */
	uint64_t acks;		/* in the measured window */
	uint64_t acks_total;
	uint64_t nacks;		/* refused by the server */
	uint64_t bad;		/* undecodable, or for no request of ours */
	uint64_t duplicates, sent, unanswered;
	int64_t max_ns;
	bool failed;		/* could not connect, send or receive */
};

/* Allocate the histogram. Returns 0 or -ENOMEM. */
int load_stats_init(struct load_stats *s);

/* An acknowledgement received at t, lat ns after its request was sent. */
void load_stats_ack(struct load_stats *s, const struct load_window *w,
		    int64_t t, int64_t lat);

/* Add s to sum (whose histogram must be allocated). */
void load_stats_add(struct load_stats *sum, const struct load_stats *s);

/* Free the histogram. */
void load_stats_free(struct load_stats *s);

/* What a baton-intake client is told. */
struct load_opts {
	const char *prog;	/* names the messages: "bench-intake" */
	const char *endpoint;	/* tcp://127.0.0.1:PORT */
	const char *agency;	/* agencies are <agency>-<client index> */
	unsigned inflight;
	double seconds;
	double warmup;
};

/*
 * One baton-intake client thread. The caller fills the first block, starts
 * load_client_main() on it, and meets every client twice at the barrier
 * (count: clients + 1): once when all are connected, then again after it
 * has set *start, the instant the warm-up begins.
 */
struct load_client {
	pthread_t thread;
	unsigned index;
	const struct load_opts *opt;
	void *zctx;
	pthread_barrier_t *barrier;
	const int64_t *start;

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

	struct load_stats st;
};

/* pthread entry: connect, meet at the barrier twice, run, close. */
void *load_client_main(void *arg);

/* Free what the run allocated (the stats too). */
void load_client_free(struct load_client *c);

/*
 * Start n threads running fn, one on each of the n structures of sz bytes
 * at base (each begins with its pthread_t), meet them at barrier (count
 * n + 1) once all are connected, set *start, and meet them again: the
 * warm-up begins. A thread that cannot be created ends the process, named
 * prog: the barrier counts on every thread.
 */
void load_start_threads(const char *prog, void *base, size_t sz, unsigned n,
			void *(*fn)(void *), pthread_barrier_t *barrier,
			int64_t *start);

/*
 * Run n baton-intake clients as lo says, on ZeroMQ context zctx, to the
 * end of their window, and add their counters to sum (its histogram
 * allocated). *body_len (may be NULL): the size of the report they sent.
 * Returns 0 or -ENOMEM.
 */
int load_run(const struct load_opts *lo, void *zctx, unsigned n,
	     struct load_stats *sum, size_t *body_len);

/*
 * A ZeroMQ context with io_threads I/O threads for the clients. NULL, with
 * a line naming prog on stderr, if it cannot be made.
 */
void *load_zctx(const char *prog, unsigned io_threads);

/*
 * 0 if endpoint is tcp://127.0.0.1:PORT, which is all a load generator may
 * be pointed at (never a real server by slip); else -EINVAL, with a line
 * naming prog on stderr.
 */
int load_check_endpoint(const char *prog, const char *endpoint);

/*
 * Parse --name's value s into *ret, lo to hi; print "prog: --name:
 * expected lo to hi" (load_parse_seconds: "... seconds") and return
 * -EINVAL if it is not one. Every bench program parses its numbers here.
 */
int load_parse_uint(const char *prog, const char *name, const char *s,
		    unsigned lo, unsigned hi, unsigned *ret);
int load_parse_u64(const char *prog, const char *name, const char *s,
		   uint64_t lo, uint64_t hi, uint64_t *ret);
int load_parse_number(const char *prog, const char *name, const char *s,
		      double lo, double hi, double *ret);
int load_parse_seconds(const char *prog, const char *name, const char *s,
		       double lo, double hi, double *ret);

#endif
