/*
 * notify/main.c - baton-notify: every alert delivered to the office and the
 * responsible unit, by feed, email, webhook and journal, with retries and
 * without duplicates.
 *
 * The daemon subscribes to the router (new and reassigned tasks,
 * refusals), the deadline daemon (reminders, overdue, escalations, missing
 * reports) and intake (operators' retry commands), and turns each alert
 * into outbox rows in the same transaction (ingest.c). The loop delivers
 * what is due in rounds (deliver.c), with email and webhook attempts
 * running concurrently under libcurl (transfer.c). This file is the life
 * cycle: options, configuration and agencies.conf, store, sockets, the
 * loop, SIGHUP (a new agencies.conf, or the old one kept if the new file is
 * wrong).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>
#include <zmq.h>

#include "curve.h"
#include "log.h"
#include "notify.h"

#define STATUS_EVERY_MS	1000
/* The feed's queue per subscriber: a slow one loses alerts past it (PUB),
 * so it is larger than the bus's default; batonctl deliveries has them. */
#define FEED_HWM	100000
/*
 * The first round waits this long after the feed is bound. A restarted
 * daemon has what came due while it was down to publish at once, and PUB
 * drops what it sends to no one: the subscribers of the process before it
 * reconnect first (ZeroMQ retries every 100-200 ms).
 */
#define FEED_JOIN_MS	500

static const char about[] =
"Deliver every alert to the office and the responsible unit: the office\n"
"alert feed (PUB, topic alert.<kind>.<agency>), email (SMTP), webhooks\n"
"(HTTP POST, signed) and the journal. Each delivery is an outbox row that\n"
"survives restarts; failed ones are retried with growing gaps, then kept\n"
"as dead for `batonctl deliveries` and `batonctl retry`. --check checks\n"
"agencies.conf too. SIGHUP reloads agencies.conf; if the new file is\n"
"wrong, the one in force stays and the error is logged.\n";

/* Load the agencies conf names, if any; on error, print or log why. */
static int load_agencies(const struct config *conf, struct agency_set **ret,
			 bool to_log)
{
	struct config_error err;
	int r;

	*ret = NULL;
	if (!conf->agencies)
		return 0;
	r = agency_load(conf->agencies, ret, &err);
	if (r < 0)
		log_config_error(&err, to_log);
	return r;
}

static void on_reload(void *arg)
{
	struct notify *n = arg;
	struct agency_set *fresh = NULL;

	if (load_agencies(n->conf, &fresh, true) < 0) {
		log_warnx("keeping the agencies in force");
		return;
	}
	agency_free(n->agencies);
	n->agencies = fresh;
	if (fresh)
		log_info("reloaded %zu agencies from %s; they apply to "
			 "alerts and attempts from now on", agency_count(fresh),
			 agency_path(fresh));
}

static void status(struct notify *n)
{
	struct bus_sub *subs[] = { n->intake, n->router, n->deadline };
	char why[256];

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (subs[i] && bus_sub_stale(subs[i], why, sizeof(why)))
			log_warnx("%s", why);
	service_status(n->svc,
		       "alerts %" PRIu64 ", delivered %" PRIu64 ", retried %"
		       PRIu64 ", dead %" PRIu64 ", in flight %zu; router seq %"
		       PRIu64 ", deadline seq %" PRIu64, n->total.alerts,
		       n->total.sent, n->total.retried, n->total.dead,
		       notify_curl_inflight(n->curl),
		       bus_sub_applied(n->router),
		       bus_sub_applied(n->deadline));
}

/* A round now, if anything is due or came back. */
static int64_t deliver(struct notify *n)
{
	instant_t wall = time_now();
	int r;

	if (n->next_due > wall && !n->results)
		return -1;
	r = notify_deliver(n, wall);
	if (r < 0) {
		log_warnx("delivering: %s; trying again in a second",
			  strerror(-r));
		n->next_due = wall + TIME_MS_PER_S;
		return TIME_MS_PER_S;
	}
	return r == 1 ? 0 : -1;	/* more due: after the sockets */
}

static int64_t on_tick(void *arg, int64_t now)
{
	struct notify *n = arg;
	int64_t next = STATUS_EVERY_MS, t;
	struct bus_sub *subs[] = { n->router, n->deadline, n->intake };

	for (size_t i = 0; i < 3; i++) {
		t = bus_sub_tick(subs[i], now);
		if (t >= 0 && t < next)
			next = t;
	}
	if (notify_curl_timeout(n->curl) == 0)
		notify_curl_run(n->curl, true);
	if (now - n->feed_bound < FEED_JOIN_MS) {
		t = n->feed_bound + FEED_JOIN_MS - now;
		return t < next ? t : next;
	}
	if (deliver(n) == 0)
		next = 0;
	t = notify_curl_timeout(n->curl);
	if (t >= 0 && t < next)
		next = t;
	if (n->next_due != INT64_MAX) {
		t = n->next_due - time_now();
		if (t < next)
			next = t < 0 ? 0 : t;
	}
	if (now - n->status_at >= STATUS_EVERY_MS) {
		status(n);
		n->status_at = now;
	}
	return next;
}

static int on_event(void *arg, short revents)
{
	struct bus_sub *s = arg;
	int r = bus_sub_on_readable(s);

	/* A batch that cannot be stored is retried on the next event. */
	if (r < 0)
		log_warnx("applying events: %s", strerror(-r));
	return 0;
}

static int on_curl(void *arg, short revents)
{
	struct notify *n = arg;
	int r = notify_curl_run(n->curl, false);

	if (r < 0)
		log_warnx("transfers: %s", strerror(-r));
	return 0;
}

static int on_zap(void *arg, short revents)
{
	struct notify *n = arg;
	int r = zap_on_readable(n->zap);

	if (r < 0)
		log_warnx("ZAP: %s", zmq_strerror(-r));
	return 0;
}

/* Subscribe to one publisher and watch its two sockets. */
static int subscribe(struct notify *n, const char *name, const char *pub,
		     const char *replay, struct bus_sub **ret)
{
	struct bus_sub_handler h = {
		.apply = notify_apply, .done = notify_done,
		.wants = notify_wants, .arg = n,
	};
	int r;

	r = bus_sub_new(n->zctx, n->store, name, pub, replay,
			n->keys.has_secret ? &n->keys : NULL, &h, ret);
	if (r < 0) {
		log_warnx("connect %s / %s: %s", pub, replay, strerror(-r));
		return r;
	}
	service_watch(n->svc, bus_sub_socket(*ret), -1, ZMQ_POLLIN, on_event,
		      *ret);
	service_watch(n->svc, bus_sub_replay_socket(*ret), -1, ZMQ_POLLIN,
		      on_event, *ret);
	return 0;
}

/*
 * The feed's ZAP decision: the office's and the operators' keys subscribe.
 * A PUB socket cannot tell one subscriber's topics from another's, so an
 * agency's key, which may see its own tasks only, is refused here; the
 * agencies hear of their alerts by email and webhook.
 */
static const struct agency *feed_decide(void *arg,
					const struct zap_request *req,
					char *why, size_t size)
{
	struct notify *n = arg;
	const struct agency *a = agency_by_key(n->agencies, req->key);
	char z85[CURVE_Z85_LEN + 1];

	if (a && a->role != AGENCY_ROLE_AGENCY)
		return a;
	snprintf(why, size, a ? "the feed is the office's" : "unknown key");
	log_warnx("refused a feed subscriber from %s: key %s %s%s",
		  req->address, curve_z85(req->key, z85),
		  a ? "is an agency key, of " : "is in no [agency]",
		  a ? a->name : "");
	return NULL;
}

/* With auth = curve, the feed is a CURVE server and ZAP decides. */
static int secure_feed(struct notify *n)
{
	int r;

	if (!n->keys.has_secret)
		return 0;
	if (!n->agencies) {
		log_warnx("auth = curve needs [baton] agencies for the feed's "
			  "subscribers");
		return -EINVAL;
	}
	r = zap_new(n->zctx, feed_decide, n, &n->zap);
	if (r == 0)
		r = curve_server(n->feed, &n->keys, "feed");
	if (r == 0)
		service_watch(n->svc, zap_socket(n->zap), -1, ZMQ_POLLIN,
			      on_zap, n);
	return r;
}

static int open_feed(struct notify *n)
{
	int hwm = FEED_HWM, r;

	n->feed = zmq_socket(n->zctx, ZMQ_PUB);
	if (!n->feed)
		return -errno;
	zmq_setsockopt(n->feed, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	r = secure_feed(n);
	if (r < 0)
		return r;
	r = bus_bind(n->feed, n->conf->notify.feed);
	if (r < 0)
		log_warnx("bind %s: %s", n->conf->notify.feed, strerror(-r));
	n->feed_bound = time_mono();
	return r;
}

static int run(struct notify *n)
{
	struct config_error err;
	int r;

	r = service_store_open(n->conf, "notify", &n->store, &err);
	if (r < 0) {
		log_config_error(&err, 1);
		return r;
	}
	r = outbox_open(n->store, &n->ob);
	if (r == 0)
		r = notify_next_due(n);
	if (r < 0) {
		log_warnx("outbox: %s", strerror(-r));
		return r;
	}
	r = curve_load_server(n->conf, &n->keys, &err);
	if (r < 0) {
		log_config_error(&err, 1);
		return r;
	}
	n->zctx = zmq_ctx_new();
	if (!n->zctx)
		return -errno;
	r = service_new(&n->svc);
	if (r == 0)
		r = notify_curl_new(n, &n->curl);
	if (r == 0)
		r = open_feed(n);
	if (r == 0)
		r = subscribe(n, "router", n->conf->router.publish,
			      n->conf->router.replay, &n->router);
	if (r == 0)
		r = subscribe(n, "deadline", n->conf->deadline.publish,
			      n->conf->deadline.replay, &n->deadline);
	if (r == 0)
		r = subscribe(n, "intake", n->conf->intake.publish,
			      n->conf->intake.replay, &n->intake);
	if (r < 0)
		return r;
	service_watch(n->svc, NULL, notify_curl_fd(n->curl), ZMQ_POLLIN,
		      on_curl, n);
	service_on_tick(n->svc, on_tick, n);
	service_on_reload(n->svc, on_reload, n);

	if (n->agencies)
		log_info("%zu agencies from %s", agency_count(n->agencies),
			 agency_path(n->agencies));
	else
		log_info("no [baton] agencies: alerts go to the feed and "
			 "the journal only");
	if (!n->conf->notify.smtp)
		log_info("no [notify] smtp: no email is sent");
	log_info("feed on %s; router seq %" PRIu64 ", deadline seq %" PRIu64
		 " applied", n->conf->notify.feed, bus_sub_applied(n->router),
		 bus_sub_applied(n->deadline));
	service_ready(n->svc, "catching up from router seq %" PRIu64
		      ", deadline seq %" PRIu64, bus_sub_applied(n->router),
		      bus_sub_applied(n->deadline));
	r = service_run(n->svc);
	log_info("stopping: alerts %" PRIu64 ", delivered %" PRIu64
		 ", retried %" PRIu64 ", dead %" PRIu64 "; %zu attempts in "
		 "flight abandoned, due again after their lease",
		 n->total.alerts, n->total.sent, n->total.retried,
		 n->total.dead, notify_curl_inflight(n->curl));
	return r;
}

static void teardown(struct notify *n)
{
	notify_curl_free(n->curl);
	while (n->results) {
		struct notify_result *next = n->results->next;

		free(n->results);
		n->results = next;
	}
	bus_sub_free(n->intake);
	bus_sub_free(n->deadline);
	bus_sub_free(n->router);
	if (n->feed)
		zmq_close(n->feed);
	zap_free(n->zap);
	sodium_memzero(&n->keys, sizeof(n->keys));
	if (n->zctx)
		zmq_ctx_term(n->zctx);
	store_close(n->store);
	agency_free(n->agencies);
	service_free(n->svc);	/* last: it unblocks the stop signals */
}

int main(int argc, char **argv)
{
	struct service_args args;
	struct config *conf = NULL;
	struct notify n = { 0 };
	int r;

	r = service_init(argc, argv, "baton-notify", about, &args, &conf);
	if (r >= 0)
		return r;
	n.conf = conf;
	if (load_agencies(conf, &n.agencies, false) < 0) {
		config_free(conf);
		return 1;
	}
	/* Found unreadable now, not as every TLS attempt failing later. */
	if (conf->notify.ca && access(conf->notify.ca, R_OK) < 0) {
		fprintf(stderr, "baton-notify: %s: [notify] ca %s: %s\n",
			args.config, conf->notify.ca, strerror(errno));
		agency_free(n.agencies);
		config_free(conf);
		return 1;
	}
	if (args.check) {
		printf("%s: OK\n", args.config);
		if (n.agencies)
			printf("%s: OK, %zu agencies\n",
			       agency_path(n.agencies),
			       agency_count(n.agencies));
		agency_free(n.agencies);
		config_free(conf);
		return 0;
	}
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "baton-notify: cannot initialise libsodium "
			"or libcurl\n");
		agency_free(n.agencies);
		config_free(conf);
		return 1;
	}
	r = run(&n);
	teardown(&n);
	curl_global_cleanup();
	config_free(conf);
	return r < 0 ? 1 : 0;
}
