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
 * a NACK or a lost answer is never missed. The client and the histogram are
 * in bench/load.c, shared with bench-compare. Output is one line, for grep:
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
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

#include "load.h"

#define PROG		"bench-intake"
#define MAX_CLIENTS	1024
#define MAX_INFLIGHT	4096
#define MAX_IO_THREADS	16

struct options {
	struct load_opts load;
	unsigned clients;
	unsigned io_threads;
};

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
	int c, r = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			o->load.endpoint = optarg;
			break;
		case 'n':
			r = load_parse_uint(PROG, "clients", optarg, 1,
					    MAX_CLIENTS, &o->clients);
			break;
		case 'k':
			r = load_parse_uint(PROG, "inflight", optarg, 1,
					    MAX_INFLIGHT, &o->load.inflight);
			break;
		case 's':
			r = load_parse_seconds(PROG, "seconds", optarg, 0.01,
					       600, &o->load.seconds);
			break;
		case 'w':
			r = load_parse_seconds(PROG, "warmup", optarg, 0, 60,
					       &o->load.warmup);
			break;
		case 'a':
			o->load.agency = optarg;
			break;
		case 'i':
			r = load_parse_uint(PROG, "io-threads", optarg, 1,
					    MAX_IO_THREADS, &o->io_threads);
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
	return load_check_endpoint(PROG, o->load.endpoint);
}

int main(int argc, char **argv)
{
	struct options opt = {
		.load = {
			.prog = PROG,
			.endpoint = "tcp://127.0.0.1:7400",
			.agency = "bench",
			.inflight = 1,
			.seconds = 5,
			.warmup = 1,
		},
		.clients = 1,
		.io_threads = 1,
	};
	struct load_stats sum = { 0 };
	size_t body_len = 0;
	void *zctx;

	if (parse_options(argc, argv, &opt) < 0)
		return 2;
	zctx = load_zctx(PROG, opt.io_threads);
	if (!zctx)
		return 1;
	if (load_stats_init(&sum) < 0 ||
	    load_run(&opt.load, zctx, opt.clients, &sum, &body_len) < 0) {
		fprintf(stderr, "bench-intake: out of memory\n");
		return 1;
	}
	zmq_ctx_term(zctx);

	printf("intake clients=%u inflight=%u acks_per_s=%.0f p50_us=%.0f "
	       "p99_us=%.0f max_us=%.0f errors=%" PRIu64 " seconds=%g "
	       "warmup=%g io_threads=%u body_bytes=%zu acks=%" PRIu64
	       " sent=%" PRIu64 " duplicates=%" PRIu64
	       " unanswered=%" PRIu64 "\n",
	       opt.clients, opt.load.inflight,
	       (double)sum.acks / opt.load.seconds,
	       (double)load_hist_quantile(sum.hist, sum.acks, 0.50) / 1e3,
	       (double)load_hist_quantile(sum.hist, sum.acks, 0.99) / 1e3,
	       (double)sum.max_ns / 1e3, sum.nacks + sum.bad,
	       opt.load.seconds, opt.load.warmup, opt.io_threads, body_len,
	       sum.acks_total, sum.sent, sum.duplicates, sum.unanswered);
	load_stats_free(&sum);
	return (sum.failed || sum.acks_total == 0 || sum.nacks + sum.bad > 0 ||
		sum.unanswered > 0) ? 1 : 0;
}
