/*
 * bench/sinks.h - what bench-sinks counts, as the file --stats maps.
 *
 * bench-sinks (bench/sinks.c) is the receiving end of baton-notify's email
 * and webhook deliveries in the benchmarks: an HTTP/1.1 server and an SMTP
 * server on 127.0.0.1. It keeps its counters in a small shared file so that
 * bench-notify can read them as often as it likes, without a request of its
 * own on the sockets it measures: the sink is the only writer, each field
 * an aligned 64-bit word stored whole (__atomic_store_n), read whole by the
 * reader (__atomic_load_n). Instants are CLOCK_MONOTONIC, in ns: the same
 * clock in every process of the machine.
 */
#ifndef BATON_BENCH_SINKS_H
#define BATON_BENCH_SINKS_H

#include <stdint.h>

#define SINKS_MAGIC	UINT64_C(0x3130534b4e495342)	/* "BSINKS01" */

struct sinks_stats {
	uint64_t magic;			/* SINKS_MAGIC once the sink runs */
	uint64_t http_requests;		/* POSTs answered with a 2xx */
	uint64_t http_refused;		/* requests answered 4xx/5xx */
	uint64_t http_bytes;		/* request bodies, in bytes */
	uint64_t smtp_messages;		/* DATA ended and accepted (250) */
	uint64_t smtp_recipients;	/* RCPT TO of accepted messages */
	uint64_t smtp_refused;		/* commands answered 5xx */
	uint64_t smtp_bytes;		/* message data, in bytes */
	uint64_t conns_http;		/* connections accepted, HTTP */
	uint64_t conns_smtp;		/* connections accepted, SMTP */
	uint64_t conns_refused;		/* closed at once: --max-conns */
	uint64_t conns_open;		/* now */
	int64_t http_first_ns;		/* first and last 2xx answer */
	int64_t http_last_ns;
	int64_t smtp_first_ns;		/* first and last accepted message */
	int64_t smtp_last_ns;
};

#endif
