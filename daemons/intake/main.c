/*
 * intake/main.c - baton-intake: the door every report comes in by.
 *
 * Agencies and operators submit on a ROUTER socket; intake validates each
 * body, makes the accepted ones durable (a write-ahead file, then its
 * hash-chained log) before answering (submit.c), and publishes each as an
 * event numbered like the log, which is what the router and everyone after
 * it consume. This file is the life cycle: options, configuration, opening
 * the store, write-ahead file and sockets, the loop, and a clean stop.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "intake.h"
#include "log.h"

#define STATUS_EVERY_MS	1000

static const char about[] =
"Accept agency reports and operator commands on the submit socket, store\n"
"each durably in the hash-chained intake log before acknowledging it, and\n"
"publish it to the other Baton daemons. With auth = curve only keys listed\n"
"in agencies.conf may connect, and the key decides the agency. SIGHUP\n"
"reloads agencies.conf; if the new file is wrong, the one in force stays.\n";

static void on_reload(void *arg)
{
	auth_reload(arg);
}

static int on_zap(void *arg, short revents)
{
	struct intake *in = arg;
	int r = zap_on_readable(in->zap);

	if (r < 0)
		log_warnx("ZAP: %s", zmq_strerror(-r));
	return 0;
}

static int64_t on_tick(void *arg, int64_t now)
{
	struct intake *in = arg;
	int64_t next = bus_pub_tick(in->pub, now);
	int64_t cp = submit_tick(in, now);

	if (cp < next)
		next = cp;

	/* Once a second: each STATUS= is a blocking datagram to systemd. */
	if (now - in->status_at >= STATUS_EVERY_MS) {
		service_status(in->svc,
			       "accepted %" PRIu64 ", duplicates %" PRIu64
			       ", refused %" PRIu64 ", last seq %" PRIu64,
			       in->accepted, in->duplicates, in->refused,
			       bus_pub_last(in->pub));
		in->status_at = now;
	}
	return next < STATUS_EVERY_MS ? next : STATUS_EVERY_MS;
}

static int on_replay(void *arg, short revents)
{
	struct intake *in = arg;

	return bus_pub_on_replay(in->pub);
}

/*
 * Open the write-ahead file beside the store and commit what it holds that
 * the store lacks: the reports answered since the last checkpoint before a
 * crash.
 */
static int open_wal(struct intake *in)
{
	char *dir = config_state_path(in->conf, "intake"), *path = NULL;
	int64_t redone = 0;
	int r;

	if (!dir || asprintf(&path, "%s/%s", dir, INTAKE_WAL_NAME) < 0) {
		free(dir);
		return -ENOMEM;
	}
	r = wal_open(path, INTAKE_WAL_SIZE, &in->wal);
	if (r < 0) {
		log_warnx("%s: %s", path, strerror(-r));
		goto out;
	}
	ledger_set_wal(in->ledger, in->wal);
	r = submit_recover(in, &redone);
	if (r == -EBADMSG)
		log_warnx("%s: its records do not continue the log (last "
			  "seq %" PRIu64 "): was the store replaced or restored "
			  "alone? Move the file aside to start without it",
			  path, bus_pub_last(in->pub));
	else if (r < 0)
		log_warnx("%s: recovery: %s", path, strerror(-r));
	else if (redone > 0)
		log_info("%s: %" PRId64 " reports answered before a stop "
			 "committed to the log now", path, redone);
out:
	free(path);
	free(dir);
	return r;
}

static int run(struct intake *in)
{
	struct config_error err;
	int r, rr;

	r = service_store_open(in->conf, "intake", &in->store, &err);
	if (r < 0) {
		log_config_error(&err, 1);
		return r;
	}

	in->zctx = zmq_ctx_new();
	if (!in->zctx)
		return -errno;
	r = auth_open(in);
	if (r == 0)
		r = limit_new(in->conf->intake.rate, in->conf->intake.burst,
			      &in->limit);
	if (r < 0)
		return r;
	r = bus_pub_new(in->zctx, in->store, in->conf->intake.publish,
			in->conf->intake.replay,
			in->conf->auth == CONFIG_AUTH_CURVE ? &in->server : NULL,
			&in->pub);
	if (r < 0) {
		log_warnx("bind %s / %s: %s", in->conf->intake.publish,
			  in->conf->intake.replay, strerror(-r));
		return r;
	}
	r = ledger_open(in->store, in->pub, &in->ledger);
	if (r < 0) {
		log_warnx("log: %s", strerror(-r));
		return r;
	}
	r = open_wal(in);
	if (r < 0)
		return r;
	r = submit_open(in);
	if (r < 0) {
		log_warnx("bind %s: %s", in->conf->intake.submit, strerror(-r));
		return r;
	}
	r = auth_monitor(in);
	if (r < 0) {
		log_warnx("monitor of %s: %s", in->conf->intake.submit,
			  strerror(-r));
		return r;
	}
	r = service_new(&in->svc);
	if (r < 0)
		return r;
	service_watch(in->svc, in->submit, -1, ZMQ_POLLIN,
		      submit_on_readable, in);
	service_watch(in->svc, bus_pub_replay_socket(in->pub), -1,
		      ZMQ_POLLIN, on_replay, in);
	if (in->zap)
		service_watch(in->svc, zap_socket(in->zap), -1, ZMQ_POLLIN,
			      on_zap, in);
	if (in->monitor)
		service_watch(in->svc, in->monitor, -1, ZMQ_POLLIN,
			      auth_on_monitor, in);
	service_on_tick(in->svc, on_tick, in);
	service_on_reload(in->svc, on_reload, in);

	log_info("accepting on %s, log at seq %" PRIu64,
		 in->conf->intake.submit, bus_pub_last(in->pub));
	service_ready(in->svc, "accepting on %s, last seq %" PRIu64,
		      in->conf->intake.submit, bus_pub_last(in->pub));
	r = service_run(in->svc);
	rr = submit_checkpoint(in);
	if (rr < 0)
		log_warnx("last checkpoint: %s; the write-ahead file keeps "
			  "the reports for the next start", strerror(-rr));
	log_info("stopping: accepted %" PRIu64 ", duplicates %" PRIu64
		 ", refused %" PRIu64 ", last seq %" PRIu64 " in %" PRIu64
		 " commits and %" PRIu64 " write-ahead syncs, %" PRIu64
		 " answers undeliverable",
		 in->accepted, in->duplicates, in->refused,
		 bus_pub_last(in->pub), in->commits, in->wal_syncs,
		 in->dropped_answers);
	return r;
}

static void teardown(struct intake *in)
{
	submit_close(in);
	auth_close(in);
	limit_free(in->limit);
	ledger_free(in->ledger);
	wal_close(in->wal);
	bus_pub_free(in->pub);
	if (in->zctx)
		zmq_ctx_term(in->zctx);
	store_close(in->store);
	service_free(in->svc);	/* last: it unblocks the stop signals */
}

int main(int argc, char **argv)
{
	struct service_args args;
	struct intake in = { 0 };
	struct config *conf = NULL;
	int r;

	r = service_init(argc, argv, "baton-intake", about, &args, &conf);
	if (r >= 0)
		return r;
	if (args.check) {
		r = auth_check(conf);
		if (r == 0)
			printf("%s: OK\n", args.config);
		config_free(conf);
		return r < 0 ? 1 : 0;
	}
	in.conf = conf;
	r = run(&in);
	teardown(&in);
	config_free(conf);
	return r < 0 ? 1 : 0;
}
