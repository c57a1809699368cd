/*
 * bus-tap.c - a test subscriber: applies every event of one publisher into
 * its own LMDB, through lib/bus.c exactly as a daemon would.
 *
 * Its "effect" is a row per event (seq -> topic, agency and id) written in
 * the same transaction as the subscriber's position, and the checks a test
 * needs are made at apply time: an event applied twice or out of order is
 * counted in the store, so a test can prove "every event exactly once, in
 * order" across kills and restarts by reading the store afterwards (--dump).
 *
 * It taps any publisher: --name is the publisher's name, under which the
 * subscriber keeps its position (default "intake"). Bodies are decoded by
 * topic (msg_decode_event), and a row reads
 *
 *   report.accepted, command.accepted   SEQ TOPIC AGENCY ID
 *   task.created/updated/closed         SEQ TOPIC AGENCY TASK  (assigned agency)
 *   task.refused                        SEQ TOPIC AGENCY TASK  (the sender)
 *   alert.<kind>                        SEQ TOPIC AGENCY ALERT_ID
 *
 * with "-" for what a body does not carry or when it does not decode.
 *
 *   bus-tap --state DIR --pub EP --replay EP [--name NAME] [--delay-us N]
 *   bus-tap --state DIR --dump                                 print and exit
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "log.h"
#include "msg.h"
#include "service.h"
#include "store.h"

struct tap {
	struct store *st;
	store_table_t seen, meta;
	struct bus_sub *sub;
	struct service *svc;
	unsigned delay_us;
};

static uint64_t meta_get(struct store_txn *t, store_table_t tab,
			 const char *key)
{
	const void *v;
	size_t len;

	if (store_get(t, tab, key, strlen(key), &v, &len) < 0 || len != 8)
		return 0;
	return store_u64_from(v);
}

static int meta_add(struct store_txn *t, store_table_t tab, const char *key,
		    uint64_t n)
{
	uint8_t be[8];

	store_u64_key(meta_get(t, tab, key) + n, be);
	return store_put(t, tab, key, strlen(key), be, 8, 0);
}

static int apply(void *arg, struct store_txn *t, const struct bus_event *ev)
{
	struct tap *tap = arg;
	uint8_t key[8];
	const void *v;
	size_t vlen;
	char row[512];
	struct msg m = { 0 };
	const char *what;
	int n, r;

	if (tap->delay_us)
		usleep(tap->delay_us);
	if (ev->seq != meta_get(t, tap->meta, "last") + 1) {
		r = meta_add(t, tap->meta, "disorder", 1);
		if (r < 0)
			return r;
	}
	store_u64_key(ev->seq, key);
	if (store_get(t, tap->seen, key, 8, &v, &vlen) == 0)
		return meta_add(t, tap->meta, "dups", 1);
	if (msg_decode_event(ev->topic, ev->topic_len, ev->body, ev->body_len,
			     &m, NULL) < 0 || m.type == MSG_REPORT_ACCEPTED ||
	    m.type == MSG_COMMAND_ACCEPTED)
		what = m.id;
	else if (m.type == MSG_ALERT)
		what = m.alert_id;
	else
		what = m.task;		/* a task event or a refusal */
	n = snprintf(row, sizeof(row), "%.*s %s %s", (int)ev->topic_len,
		     ev->topic, m.agency ? m.agency : "-", what ? what : "-");
	msg_free(&m);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= sizeof(row))
		n = sizeof(row) - 1;	/* bounded: topic, agency, alert id */
	r = store_put(t, tap->seen, key, 8, row, (size_t)n, 0);
	if (r == 0) {
		store_u64_key(ev->seq, key);
		r = store_put(t, tap->meta, "last", 4, key, 8, 0);
	}
	return r;
}

static int on_readable(void *arg, short revents)
{
	struct tap *tap = arg;
	int r = bus_sub_on_readable(tap->sub);

	if (r < 0)
		log_warnx("apply: %s", strerror(-r));
	return r;
}

static int64_t on_tick(void *arg, int64_t now)
{
	struct tap *tap = arg;

	return bus_sub_tick(tap->sub, now);
}

static int dump(struct tap *tap)
{
	struct store_cursor *c = NULL;
	struct store_txn *t = NULL;
	const void *k, *v;
	size_t klen, vlen;
	int r;

	r = store_begin(tap->st, false, &t);
	if (r == 0)
		r = store_cursor_open(t, tap->seen, &c);
	if (r < 0)
		return r;
	r = store_cursor_seek(c, NULL, 0);
	while (r == 0 && store_cursor_next(c, &k, &klen, &v, &vlen) == 0)
		printf("%" PRIu64 " %.*s\n", store_u64_from(k), (int)vlen,
		       (const char *)v);
	printf("dups %" PRIu64 "\ndisorder %" PRIu64 "\n",
	       meta_get(t, tap->meta, "dups"),
	       meta_get(t, tap->meta, "disorder"));
	store_cursor_close(c);
	store_abort(t);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "pub", required_argument, NULL, 'p' },
		{ "replay", required_argument, NULL, 'r' },
		{ "name", required_argument, NULL, 'n' },
		{ "delay-us", required_argument, NULL, 'd' },
		{ "dump", no_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 },
	};
	struct store_options so = { .create = true };
	const char *state = NULL, *pub = NULL, *replay = NULL;
	const char *name = "intake";
	struct tap tap = { 0 };
	void *zctx = NULL;
	int c, r, want_dump = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': state = optarg; break;
		case 'p': pub = optarg; break;
		case 'r': replay = optarg; break;
		case 'n': name = optarg; break;
		case 'd': tap.delay_us = (unsigned)atoi(optarg); break;
		case 'D': want_dump = 1; break;
		default: return 2;
		}
	}
	if (!state || (!want_dump && (!pub || !replay)) || !*name) {
		fprintf(stderr, "usage: bus-tap --state DIR (--dump | --pub EP "
			"--replay EP [--name NAME] [--delay-us N])\n");
		return 2;
	}
	log_init("bus-tap", 0);
	so.read_only = want_dump;
	so.create = !want_dump;
	r = store_open(state, &so, &tap.st);
	if (r == 0)
		r = store_table(tap.st, "tap.seen", &tap.seen);
	if (r == 0)
		r = store_table(tap.st, "tap.meta", &tap.meta);
	if (r < 0)
		fatalx("store %s: %s", state, strerror(-r));
	if (want_dump) {
		r = dump(&tap);
		store_close(tap.st);
		return r < 0 ? 1 : 0;
	}

	struct bus_sub_handler h = { .apply = apply, .arg = &tap };

	zctx = zmq_ctx_new();
	r = bus_sub_new(zctx, tap.st, name, pub, replay, NULL, &h, &tap.sub);
	if (r == 0)
		r = service_new(&tap.svc);
	if (r < 0)
		fatalx("start: %s", strerror(-r));
	service_watch(tap.svc, bus_sub_socket(tap.sub), -1, ZMQ_POLLIN,
		      on_readable, &tap);
	service_watch(tap.svc, bus_sub_replay_socket(tap.sub), -1,
		      ZMQ_POLLIN, on_readable, &tap);
	service_on_tick(tap.svc, on_tick, &tap);
	service_ready(tap.svc, "applied %" PRIu64, bus_sub_applied(tap.sub));
	r = service_run(tap.svc);
	bus_sub_free(tap.sub);
	service_free(tap.svc);
	zmq_ctx_term(zctx);
	store_close(tap.st);
	return r < 0 ? 1 : 0;
}
