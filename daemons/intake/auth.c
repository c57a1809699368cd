/*
 * intake/auth.c - who is at the door: CurveZMQ keys and the ZAP decision.
 *
 * With auth = curve the submit socket is a CURVE server with the daemons'
 * key pair ([baton] server_key), and every handshake is decided here: a
 * public key listed in agencies.conf is that agency, with its role; any
 * other key never gets a message through. The decision is logged, refused
 * ones at warning level with the peer's address, so that a probe or a
 * forgotten key shows in the journal.
 *
 * A client that fails the handshake before ZAP is asked (no CURVE at all,
 * or the wrong server key) is seen through a socket monitor on the submit
 * socket and logged too, at most MONITOR_LOG_PER_S lines a second.
 *
 * SIGHUP reloads agencies.conf: a key taken out is refused from its next
 * connection on (ZeroMQ decides once per connection; one already open keeps
 * its agency until it closes). A file with a mistake keeps the set in force.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <zmq.h>

#include <sodium.h>

#include "curve.h"
#include "intake.h"
#include "log.h"

#define MONITOR_ENDPOINT	"inproc://baton-intake.monitor"
#define MONITOR_LOG_PER_S	10

/* The ZAP decision for one handshake. */
static const struct agency *decide(void *arg, const struct zap_request *req,
				   char *why, size_t size)
{
	struct intake *in = arg;
	const struct agency *a;
	char z85[CURVE_Z85_LEN + 1];

	curve_z85(req->key, z85);
	/* The bus to the other daemons, across hosts: their key only. */
	if (strcmp(req->domain, BUS_ZAP_DOMAIN) == 0) {
		a = zap_daemons(&in->server, req, why, size);
		if (!a)
			log_warnx("refused a bus subscriber from %s: key %s is "
				  "not the daemons'", req->address, z85);
		return a;
	}
	a = agency_by_key(in->agencies, req->key);
	if (!a) {
		snprintf(why, size, "unknown key");
		log_warnx("refused a connection from %s: key %s is in no "
			  "[agency] of %s", req->address, z85,
			  agency_path(in->agencies));
		return NULL;
	}
	log_debug("%s: %s connects as %s (%s)", __func__, req->address,
		  a->name, agency_role_name(a->role));
	return a;
}

/* Load agencies.conf; on error, say why (to the log or stderr). */
static int load_agencies(struct intake *in, struct agency_set **ret,
			 bool to_log)
{
	struct config_error err;
	int r;

	r = agency_load(in->conf->agencies, ret, &err);
	if (r < 0)
		log_config_error(&err, to_log);
	return r;
}

int auth_check(const struct config *conf)
{
	struct agency_set *set = NULL;
	struct config_error err;
	struct curve_keys k;
	int r;

	if (conf->auth == CONFIG_AUTH_NONE)
		return 0;
	if (!conf->server_key || !conf->agencies) {
		fprintf(stderr, "%s: auth = curve needs [baton] server_key "
			"(batonctl keygen --server makes it) and [baton] "
			"agencies (the agencies' keys)\n", conf->path);
		return -EINVAL;
	}
	r = curve_load(conf->server_key, true, &k, &err);
	sodium_memzero(&k, sizeof(k));
	if (r < 0) {
		log_config_error(&err, 0);
		return r;
	}
	r = agency_load(conf->agencies, &set, &err);
	if (r < 0)
		log_config_error(&err, 0);
	else
		printf("%s: OK, %zu agencies\n", agency_path(set),
		       agency_count(set));
	agency_free(set);
	return r;
}

int auth_open(struct intake *in)
{
	struct config_error err;
	size_t keys = 0;
	int r;

	if (in->conf->auth == CONFIG_AUTH_NONE) {
		log_warnx("authentication is off (auth = none): the agency "
			  "field is trusted; use on loopback only");
		return 0;
	}
	r = curve_load(in->conf->server_key, true, &in->server, &err);
	if (r < 0) {
		log_config_error(&err, 1);
		return r;
	}
	r = load_agencies(in, &in->agencies, true);
	if (r < 0)
		return r;
	for (size_t i = 0; i < agency_count(in->agencies); i++)
		keys += agency_at(in->agencies, i)->nkeys;
	if (keys == 0)
		log_warnx("no agency in %s has a key: nobody can submit",
			  agency_path(in->agencies));
	r = zap_new(in->zctx, decide, in, &in->zap);
	if (r < 0)
		log_warnx("ZAP handler: %s", strerror(-r));
	else
		log_info("CURVE on %s: %zu keys of %zu agencies from %s",
			 in->conf->intake.submit, keys,
			 agency_count(in->agencies), agency_path(in->agencies));
	return r;
}

void auth_reload(struct intake *in)
{
	struct agency_set *fresh;

	if (in->conf->auth == CONFIG_AUTH_NONE)
		return;
	if (load_agencies(in, &fresh, true) < 0) {
		log_warnx("keeping the agencies and keys in force");
		return;
	}
	agency_free(in->agencies);
	in->agencies = fresh;
	log_info("reloaded %zu agencies from %s: their keys decide new "
		 "connections", agency_count(fresh), agency_path(fresh));
}

void auth_close(struct intake *in)
{
	if (in->monitor)
		zmq_close(in->monitor);
	in->monitor = NULL;
	zap_free(in->zap);
	in->zap = NULL;
	agency_free(in->agencies);
	in->agencies = NULL;
	sodium_memzero(&in->server, sizeof(in->server));
}

int auth_monitor(struct intake *in)
{
	int zero = 0;

	if (in->conf->auth == CONFIG_AUTH_NONE)
		return 0;
	if (zmq_socket_monitor(in->submit, MONITOR_ENDPOINT,
			       ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
			       ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) < 0)
		return -errno;
	in->monitor = zmq_socket(in->zctx, ZMQ_PAIR);
	if (!in->monitor)
		return -errno;
	zmq_setsockopt(in->monitor, ZMQ_LINGER, &zero, sizeof(zero));
	if (zmq_connect(in->monitor, MONITOR_ENDPOINT) < 0)
		return -errno;
	return 0;
}

int auth_on_monitor(void *arg, short revents)
{
	struct intake *in = arg;
	zmq_msg_t ev, addr;
	int64_t now = time_mono();

	for (;;) {
		uint16_t event;

		zmq_msg_init(&ev);
		zmq_msg_init(&addr);
		if (zmq_msg_recv(&ev, in->monitor, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&ev);
			zmq_msg_close(&addr);
			return 0;
		}
		if (zmq_msg_more(&ev))
			zmq_msg_recv(&addr, in->monitor, 0);
		if (zmq_msg_size(&ev) >= 2) {
			memcpy(&event, zmq_msg_data(&ev), sizeof(event));
			if (now - in->monitor_window >= 1000) {
				if (in->monitor_suppressed)
					log_warnx("%u more failed handshakes "
						  "not logged",
						  in->monitor_suppressed);
				in->monitor_window = now;
				in->monitor_logged = 0;
				in->monitor_suppressed = 0;
			}
			if (in->monitor_logged++ < MONITOR_LOG_PER_S)
				log_warnx("a client failed the CURVE handshake "
					  "on %.*s (%s): it has no CURVE, or "
					  "not this server's public key",
					  (int)zmq_msg_size(&addr),
					  (const char *)zmq_msg_data(&addr),
					  event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ?
					  "protocol error" : "no detail");
			else
				in->monitor_suppressed++;
		}
		zmq_msg_close(&ev);
		zmq_msg_close(&addr);
	}
}
