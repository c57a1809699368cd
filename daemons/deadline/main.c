/*
 * deadline/main.c - baton-deadline: every task tracked against its
 * deadline, alerted before and after it passes.
 *
 * The daemon subscribes to the router's task events and keeps one timer
 * per planned step of each open task (plan.c); the loop sleeps until the
 * first timer or the next event, and fires what is due as alert.* events
 * (fire.c). This file is the life cycle: options, configuration and the
 * business calendar, store, sockets, the loop, SIGHUP (a new calendar, or
 * the old one kept if the new file is wrong).
 *
 * After a start, nothing fires until the router has answered the replay
 * request (or stayed silent for SYNC_GRACE_MS): a task closed during the
 * downtime must be seen closed before its overdue step comes up.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <zmq.h>

#include "deadline.h"
#include "log.h"
#include "time.h"

#define STATUS_EVERY_MS	1000
#define SYNC_GRACE_MS	5000

static const char about[] =
"Track every open task against its deadline: send reminders before it,\n"
"an overdue (or missing-report) alert when it passes and each escalation\n"
"level after it, exactly once, as alert.* events. Steps that fell due\n"
"while the daemon was down fire on restart, in order, marked late.\n"
"--check checks the business calendar too. SIGHUP reloads the calendar;\n"
"if the new file is wrong, the one in force stays and the error is logged.\n";

/* Load the calendar conf names, if any; on error, print or log why. */
static int load_calendar(const struct config *conf, struct calendar **ret,
			 bool to_log)
{
	struct config_error err;
	int r;

	*ret = NULL;
	if (!conf->calendar)
		return 0;
	r = calendar_load(conf->calendar, ret, &err);
	if (r < 0)
		log_config_error(&err, to_log);
	return r;
}

static void on_reload(void *arg)
{
	struct deadline *dl = arg;
	struct calendar *fresh = NULL;

	if (load_calendar(dl->conf, &fresh, true) < 0) {
		log_warnx("keeping the calendar in force");
		return;
	}
	calendar_free(dl->cal);
	dl->cal = fresh;
	if (fresh)
		log_info("reloaded the calendar from %s (%s); it applies to "
			 "plans made from now on", calendar_path(fresh),
			 calendar_zone(fresh));
}

/* Whether what the router said is all in: firing may begin. */
static bool may_fire(struct deadline *dl, int64_t now)
{
	if (bus_sub_synced(dl->sub))
		return true;
	if (now - dl->started_mono < SYNC_GRACE_MS)
		return false;
	if (!dl->fired_unsynced) {
		log_warnx("the router has not answered in %d s: firing what "
			  "is due on what this daemon knows", SYNC_GRACE_MS /
			  1000);
		dl->fired_unsynced = true;
	}
	return true;
}

static void status(struct deadline *dl)
{
	char next[TIME_INSTANT_LEN] = "none";

	if (dl->next_due != INT64_MAX)
		time_format_instant(dl->next_due, next, sizeof(next));
	service_status(dl->svc,
		       "applied router seq %" PRIu64 " of %" PRIu64
		       ", alerts fired %" PRIu64 " (late %" PRIu64
		       "), next due %s", bus_sub_applied(dl->sub),
		       bus_sub_known(dl->sub), dl->total.fired, dl->total.late,
		       next);
}

static int64_t on_tick(void *arg, int64_t now)
{
	struct deadline *dl = arg;
	int64_t next = bus_pub_tick(dl->pub, now), sub = bus_sub_tick(dl->sub,
								       now);
	instant_t wall = time_now();

	if (sub >= 0 && sub < next)
		next = sub;
	if (dl->next_due <= wall && may_fire(dl, now)) {
		int r = deadline_fire(dl, wall);

		if (r < 0) {
			log_warnx("firing: %s; trying again in a second",
				  strerror(-r));
			dl->next_due = wall + TIME_MS_PER_S;
		} else if (r == DEADLINE_FIRE_BATCH) {
			next = 0;	/* more due: after the sockets */
		}
	}
	if (dl->next_due != INT64_MAX) {
		int64_t until = dl->next_due - time_now();

		if (!bus_sub_synced(dl->sub) && until < 100)
			until = 100;	/* waiting for the router, not spinning */
		if (until < 0)
			until = 0;
		if (until < next)
			next = until;
	}
	if (now - dl->status_at >= STATUS_EVERY_MS) {
		char why[256];

		if (bus_sub_stale(dl->sub, why, sizeof(why)))
			log_warnx("%s", why);
		status(dl);
		dl->status_at = now;
	}
	return next < STATUS_EVERY_MS ? next : STATUS_EVERY_MS;
}

static int on_router(void *arg, short revents)
{
	struct deadline *dl = arg;
	int r = bus_sub_on_readable(dl->sub);

	/* A batch that cannot be stored is retried on the next event. */
	if (r < 0)
		log_warnx("applying the router's events: %s", strerror(-r));
	return 0;
}

static int on_replay(void *arg, short revents)
{
	struct deadline *dl = arg;

	return bus_pub_on_replay(dl->pub);
}

static int run(struct deadline *dl)
{
	struct bus_sub_handler h = {
		.apply = deadline_apply, .done = deadline_done, .arg = dl,
	};
	const struct curve_keys *keys;
	struct config_error err;
	int r;

	dl->next_due = INT64_MAX;
	dl->pending_next = INT64_MAX;
	r = service_store_open(dl->conf, "deadline", &dl->store, &err);
	if (r < 0) {
		log_config_error(&err, 1);
		return r;
	}
	r = timer_store_open(dl->store, &dl->timers);
	if (r == 0)
		r = deadline_next_due(dl);
	if (r < 0) {
		log_warnx("timers: %s", strerror(-r));
		return r;
	}
	dl->zctx = zmq_ctx_new();
	if (!dl->zctx)
		return -errno;
	r = service_new(&dl->svc);
	if (r < 0)
		return r;
	r = service_bus_keys(dl->svc, dl->zctx, dl->conf, &dl->keys, &dl->zap,
			     &err);
	if (r < 0) {
		log_config_error(&err, 1);
		return r;
	}
	keys = r ? &dl->keys : NULL;
	r = bus_pub_new(dl->zctx, dl->store, dl->conf->deadline.publish,
			dl->conf->deadline.replay, keys, &dl->pub);
	if (r < 0) {
		log_warnx("bind %s / %s: %s", dl->conf->deadline.publish,
			  dl->conf->deadline.replay, strerror(-r));
		return r;
	}
	r = bus_sub_new(dl->zctx, dl->store, "router",
			dl->conf->router.publish, dl->conf->router.replay, keys,
			&h, &dl->sub);
	if (r < 0) {
		log_warnx("connect %s / %s: %s", dl->conf->router.publish,
			  dl->conf->router.replay, strerror(-r));
		return r;
	}
	service_watch(dl->svc, bus_sub_socket(dl->sub), -1, ZMQ_POLLIN,
		      on_router, dl);
	service_watch(dl->svc, bus_sub_replay_socket(dl->sub), -1, ZMQ_POLLIN,
		      on_router, dl);
	service_watch(dl->svc, bus_pub_replay_socket(dl->pub), -1, ZMQ_POLLIN,
		      on_replay, dl);
	service_on_tick(dl->svc, on_tick, dl);
	service_on_reload(dl->svc, on_reload, dl);

	if (dl->cal)
		log_info("business calendar %s (%s)", calendar_path(dl->cal),
			 calendar_zone(dl->cal));
	else
		log_info("no business calendar: working-hours delivery is off");
	log_info("router seq %" PRIu64 " applied, alerts up to %" PRIu64,
		 bus_sub_applied(dl->sub), bus_pub_last(dl->pub));
	dl->started_mono = time_mono();
	service_ready(dl->svc, "catching up from router seq %" PRIu64,
		      bus_sub_applied(dl->sub));
	r = service_run(dl->svc);
	log_info("stopping: router seq %" PRIu64 " applied; alerts fired %"
		 PRIu64 " (late %" PRIu64 "), reminders dropped %" PRIu64,
		 bus_sub_applied(dl->sub), dl->total.fired, dl->total.late,
		 dl->total.skipped);
	return r;
}

static void teardown(struct deadline *dl)
{
	bus_sub_free(dl->sub);
	bus_pub_free(dl->pub);
	zap_free(dl->zap);
	sodium_memzero(&dl->keys, sizeof(dl->keys));
	if (dl->zctx)
		zmq_ctx_term(dl->zctx);
	store_close(dl->store);
	calendar_free(dl->cal);
	service_free(dl->svc);	/* last: it unblocks the stop signals */
}

int main(int argc, char **argv)
{
	struct service_args args;
	struct config *conf = NULL;
	struct deadline dl = { 0 };
	int r;

	r = service_init(argc, argv, "baton-deadline", about, &args, &conf);
	if (r >= 0)
		return r;
	dl.conf = conf;
	if (load_calendar(conf, &dl.cal, false) < 0) {
		config_free(conf);
		return 1;
	}
	if (args.check) {
		printf("%s: OK\n", args.config);
		if (dl.cal)
			printf("%s: OK, zone %s\n", calendar_path(dl.cal),
			       calendar_zone(dl.cal));
		calendar_free(dl.cal);
		config_free(conf);
		return 0;
	}
	r = run(&dl);
	teardown(&dl);
	config_free(conf);
	return r < 0 ? 1 : 0;
}
