/*
 * router/main.c - baton-router: every report to the unit responsible.
 *
 * The router subscribes to intake's events and turns each incident into a
 * task through the routing rules, applies progress, completion and
 * operator commands to the tasks (apply.c), and publishes every change as
 * task.* events for the deadline and notify daemons. This file is the life
 * cycle: options, configuration and rules, store, sockets, the loop,
 * SIGHUP (new rules, or the old ones kept if the new file is wrong).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <zmq.h>

#include "log.h"
#include "router.h"
#include "time.h"

#define STATUS_EVERY_MS	1000

static const char about[] =
"Route every report accepted by baton-intake to the unit responsible,\n"
"turn it into a task with a deadline, apply progress, completion and\n"
"operator commands to the tasks, and publish every change. --check checks\n"
"the routing rules and the business calendar too. SIGHUP reloads both; if\n"
"either new file is wrong, both in force stay and the error is logged.\n";

/*
 * Load the business calendar (if conf names one) and the rules, which may
 * count in it; on error, print or log where, say why.
 */
static int load_routes(const struct config *conf, struct route_table **ret,
		       struct calendar **ret_cal, bool to_log)
{
	struct config_error err;
	char text[1024];
	int r = 0;

	*ret_cal = NULL;
	if (!conf->routes) {
		snprintf(text, sizeof(text), "%s: [baton] routes is not set",
			 conf->path);
		r = -EINVAL;
	}
	if (r == 0 && conf->calendar) {
		r = calendar_load(conf->calendar, ret_cal, &err);
		if (r < 0)
			config_error_text(&err, text, sizeof(text));
	}
	if (r == 0) {
		r = route_load(conf->routes, *ret_cal, ret, &err);
		if (r < 0) {
			config_error_text(&err, text, sizeof(text));
			calendar_free(*ret_cal);
			*ret_cal = NULL;
		}
	}
	if (r < 0) {
		if (to_log)
			log_warnx("%s", text);
		else
			fprintf(stderr, "%s\n", text);
	}
	return r;
}

static void on_reload(void *arg)
{
	struct router *rt = arg;
	struct route_table *fresh = NULL;
	struct calendar *cal = NULL;

	if (load_routes(rt->conf, &fresh, &cal, true) < 0) {
		log_warnx("keeping the %zu rules and the calendar in force",
			  rt->routes->nrules);
		return;
	}
	route_free(rt->routes);
	calendar_free(rt->cal);
	rt->routes = fresh;
	rt->cal = cal;
	rt->obligations_at = 0;		/* new schedules: look again now */
	log_info("reloaded %zu rules and %zu schedules from %s",
		 fresh->nrules, fresh->nschedules, fresh->path);
}

static int64_t on_tick(void *arg, int64_t now)
{
	struct router *rt = arg;
	int64_t next = bus_pub_tick(rt->pub, now), sub = bus_sub_tick(rt->sub,
								       now);

	if (sub >= 0 && sub < next)
		next = sub;
	if (time_now() >= rt->obligations_at) {
		int64_t at = router_obligations(rt, time_now());

		if (at < 0) {
			log_warnx("obligations: %s; trying again in a minute",
				  strerror((int)-at));
			at = time_now() + TIME_MS_PER_M;
		}
		rt->obligations_at = at;
	}
	if (now - rt->status_at >= STATUS_EVERY_MS) {
		char why[256];

		if (bus_sub_stale(rt->sub, why, sizeof(why)))
			log_warnx("%s", why);
		service_status(rt->svc,
			       "applied intake seq %" PRIu64 " of %" PRIu64
			       ", tasks created %" PRIu64 ", closed %" PRIu64
			       ", refused %" PRIu64,
			       bus_sub_applied(rt->sub), bus_sub_known(rt->sub),
			       rt->total.created, rt->total.closed,
			       rt->total.refused);
		rt->status_at = now;
	}
	return next < STATUS_EVERY_MS ? next : STATUS_EVERY_MS;
}

static int on_intake(void *arg, short revents)
{
	struct router *rt = arg;
	int r = bus_sub_on_readable(rt->sub);

	/* A batch that cannot be stored is retried on the next event. */
	if (r < 0)
		log_warnx("applying intake's events: %s", strerror(-r));
	return 0;
}

static int on_replay(void *arg, short revents)
{
	struct router *rt = arg;

	return bus_pub_on_replay(rt->pub);
}

static int run(struct router *rt)
{
	struct bus_sub_handler h = {
		.apply = router_apply, .done = router_done, .arg = rt,
	};
	const struct curve_keys *keys;
	struct config_error err;
	int r;

	if (rt->conf->auth == CONFIG_AUTH_NONE)
		log_warnx("authentication is off (auth = none): reports are "
			  "trusted to name their agency");
	r = service_store_open(rt->conf, "router", &rt->store, &err);
	if (r < 0) {
		log_config_error(&err, 1);
		return r;
	}
	r = task_store_open(rt->store, &rt->tasks);
	if (r < 0) {
		log_warnx("tasks: %s", strerror(-r));
		return r;
	}
	rt->zctx = zmq_ctx_new();
	if (!rt->zctx)
		return -errno;
	r = service_new(&rt->svc);
	if (r < 0)
		return r;
	r = service_bus_keys(rt->svc, rt->zctx, rt->conf, &rt->keys, &rt->zap,
			     &err);
	if (r < 0) {
		log_config_error(&err, 1);
		return r;
	}
	keys = r ? &rt->keys : NULL;
	r = bus_pub_new(rt->zctx, rt->store, rt->conf->router.publish,
			rt->conf->router.replay, keys, &rt->pub);
	if (r < 0) {
		log_warnx("bind %s / %s: %s", rt->conf->router.publish,
			  rt->conf->router.replay, strerror(-r));
		return r;
	}
	r = bus_sub_new(rt->zctx, rt->store, "intake",
			rt->conf->intake.publish, rt->conf->intake.replay, keys,
			&h, &rt->sub);
	if (r < 0) {
		log_warnx("connect %s / %s: %s", rt->conf->intake.publish,
			  rt->conf->intake.replay, strerror(-r));
		return r;
	}
	service_watch(rt->svc, bus_sub_socket(rt->sub), -1, ZMQ_POLLIN,
		      on_intake, rt);
	service_watch(rt->svc, bus_sub_replay_socket(rt->sub), -1, ZMQ_POLLIN,
		      on_intake, rt);
	service_watch(rt->svc, bus_pub_replay_socket(rt->pub), -1, ZMQ_POLLIN,
		      on_replay, rt);
	service_on_tick(rt->svc, on_tick, rt);
	service_on_reload(rt->svc, on_reload, rt);

	log_info("%zu rules from %s; intake seq %" PRIu64 " applied, task "
		 "events up to %" PRIu64, rt->routes->nrules,
		 rt->routes->path, bus_sub_applied(rt->sub),
		 bus_pub_last(rt->pub));
	service_ready(rt->svc, "catching up from intake seq %" PRIu64,
		      bus_sub_applied(rt->sub));
	r = service_run(rt->svc);
	log_info("stopping: intake seq %" PRIu64 " applied; tasks created %"
		 PRIu64 ", updated %" PRIu64 ", closed %" PRIu64 ", refused %"
		 PRIu64, bus_sub_applied(rt->sub), rt->total.created,
		 rt->total.updated, rt->total.closed, rt->total.refused);
	return r;
}

static void teardown(struct router *rt)
{
	bus_sub_free(rt->sub);
	bus_pub_free(rt->pub);
	zap_free(rt->zap);
	sodium_memzero(&rt->keys, sizeof(rt->keys));
	if (rt->zctx)
		zmq_ctx_term(rt->zctx);
	store_close(rt->store);
	route_free(rt->routes);
	calendar_free(rt->cal);
	service_free(rt->svc);	/* last: it unblocks the stop signals */
}

int main(int argc, char **argv)
{
	struct service_args args;
	struct config *conf = NULL;
	struct router rt = { 0 };
	int r;

	r = service_init(argc, argv, "baton-router", about, &args, &conf);
	if (r >= 0)
		return r;
	rt.conf = conf;
	if (load_routes(conf, &rt.routes, &rt.cal, false) < 0) {
		config_free(conf);
		return 1;
	}
	if (args.check) {
		printf("%s: OK\n%s: OK, %zu rules, %zu schedules\n",
		       args.config, rt.routes->path, rt.routes->nrules,
		       rt.routes->nschedules);
		if (rt.cal)
			printf("%s: OK, zone %s\n", calendar_path(rt.cal),
			       calendar_zone(rt.cal));
		route_free(rt.routes);
		calendar_free(rt.cal);
		config_free(conf);
		return 0;
	}
	r = run(&rt);
	teardown(&rt);
	config_free(conf);
	return r < 0 ? 1 : 0;
}
