/*
 * batonctl/submit.c - `batonctl submit`: a report from options or JSON.
 *
 * The body is assembled as a JSON object (from --file, then the options fill
 * in what it lacks), packed to msgpack as it stands, and left to intake to
 * judge: the tool does not carry a second copy of the protocol's rules, so
 * what it prints on refusal is intake's own NACK. Without an answer it
 * resends the same body, which is safe because intake answers a resent id
 * with the first ACK.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "batonctl.h"
#include "curve.h"
#include "msg.h"
#include "time.h"

#define RESEND_MS	2000

/* ---- JSON to msgpack ---- */

int ctl_pack_json(msgpack_packer *pk, json_t *v, const char **bad)
{
	const char *key;
	json_t *val;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		msgpack_pack_map(pk, json_object_size(v));
		json_object_foreach(v, key, val) {
			msgpack_pack_str_with_body(pk, key, strlen(key));
			if (json_is_object(val) || json_is_array(val)) {
				*bad = key;
				return -EINVAL;
			}
			if (ctl_pack_json(pk, val, bad) < 0)
				return -EINVAL;
		}
		return 0;
	case JSON_STRING:
		return msgpack_pack_str_with_body(pk, json_string_value(v),
						  json_string_length(v));
	case JSON_INTEGER:
		return msgpack_pack_int64(pk, json_integer_value(v));
	case JSON_TRUE:
		return msgpack_pack_true(pk);
	case JSON_FALSE:
		return msgpack_pack_false(pk);
	case JSON_NULL:
		return msgpack_pack_nil(pk);
	default:	/* reals and nested containers have no place in a body */
		return -EINVAL;
	}
}

/* ---- talking to intake ---- */

int ctl_secure(const struct config *conf, const char *key, void *zsock)
{
	const char *server = conf->server_public ? conf->server_public :
			     conf->server_key;
	struct curve_keys own, srv;
	struct config_error err;
	char text[1024];
	int r;

	if (conf->auth == CONFIG_AUTH_NONE)
		return 0;
	if (!key)
		key = conf->batonctl.key;
	if (!key || !server) {
		ctl_error("auth = curve: give a key pair with --key FILE or "
			  "[batonctl] key, and the server's public key with "
			  "[baton] server_public (batonctl keygen makes both)");
		return -EINVAL;
	}
	r = curve_load(key, true, &own, &err);
	if (r == 0)
		r = curve_load(server, false, &srv, &err);
	if (r < 0)
		ctl_error("%s", config_error_text(&err, text, sizeof(text)));
	else if ((r = curve_client(zsock, &own, srv.public_key)) < 0)
		ctl_error("CURVE: %s", strerror(-r));
	sodium_memzero(&own, sizeof(own));
	return r < 0 ? r : 1;
}

/*
 * Send body on a DEALER socket and wait for the answer, resending every
 * RESEND_MS. Returns 0 with *ans decoded, -ETIMEDOUT, -EACCES (no keys:
 * said why), -errno.
 */
static int exchange(const struct config *conf, const char *key,
		    const char *ep, const void *body, size_t len,
		    int64_t timeout, struct msg *ans, struct msg_error *err)
{
	int64_t deadline = time_mono() + timeout, next_send = 0;
	int zero = 0, r = -ETIMEDOUT;
	void *ctx, *sock;
	zmq_msg_t in;

	ctx = zmq_ctx_new();
	sock = ctx ? zmq_socket(ctx, ZMQ_DEALER) : NULL;
	if (!sock) {
		r = -errno;
		goto out;
	}
	zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
	if (ctl_secure(conf, key, sock) < 0) {
		r = -EACCES;
		goto out;
	}
	if (zmq_connect(sock, ep) < 0) {
		r = -errno;
		goto out;
	}
	zmq_msg_init(&in);
	for (;;) {
		int64_t now = time_mono(), wait;
		zmq_pollitem_t it = { .socket = sock, .events = ZMQ_POLLIN };

		if (now >= deadline)
			break;
		if (now >= next_send) {
			zmq_send(sock, body, len, ZMQ_DONTWAIT);
			next_send = now + RESEND_MS;
		}
		wait = (next_send < deadline ? next_send : deadline) - now;
		if (zmq_poll(&it, 1, wait) <= 0 || !(it.revents & ZMQ_POLLIN))
			continue;
		if (zmq_msg_recv(&in, sock, ZMQ_DONTWAIT) < 0)
			continue;
		r = msg_decode(zmq_msg_data(&in), zmq_msg_size(&in),
			       MSG_CTX_ANSWER, ans, err);
		break;
	}
	zmq_msg_close(&in);
out:
	if (sock)
		zmq_close(sock);
	if (ctx)
		zmq_ctx_term(ctx);
	return r;
}

/* ---- the command ---- */

static int set_str(json_t *o, const char *key, const char *val)
{
	if (!val || json_object_get(o, key))
		return 0;	/* the file's value stands */
	return json_object_set_new(o, key, json_string(val));
}

char *ctl_generated_id(void)
{
	char *id;

	if (asprintf(&id, "ctl-%" PRId64 "-%08" PRIx32, time_now(),
		     randombytes_random()) < 0)
		return NULL;
	return id;
}

static void print_answer(const struct msg *a, bool json)
{
	char when[TIME_INSTANT_LEN];

	if (json) {
		json_t *o = a->type == MSG_ACK ?
		    json_pack("{s:s, s:s, s:I, s:I, s:b}", "type", "ack",
			      "id", a->id, "seq", (json_int_t)a->seq,
			      "accepted_at", (json_int_t)a->accepted_at,
			      "duplicate", a->duplicate) :
		    json_pack("{s:s, s:s?, s:s, s:s}", "type", "nack",
			      "id", a->id, "code", msg_code_name(a->code),
			      "error", a->error);

		json_dumpf(o, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(o);
		return;
	}
	if (a->type == MSG_NACK) {
		printf("refused (%s): %s\n", msg_code_name(a->code), a->error);
		return;
	}
	time_format_instant(a->accepted_at, when, sizeof(when));
	printf("%s %s as seq %" PRIu64 " at %s\n",
	       a->duplicate ? "already accepted:" : "accepted:", a->id,
	       a->seq, when);
}

int ctl_send(struct ctl *ctl, const char *ep, const char *key,
	     const void *body, size_t len, int64_t timeout, bool json)
{
	const struct config *conf = ctl_config(ctl);
	struct msg_error err = { 0 };
	struct msg ans = { 0 };
	int r, status = 1;

	if (!conf)
		return 1;
	if (!ep)
		ep = conf->intake.submit;
	r = exchange(conf, key, ep, body, len, timeout, &ans, &err);
	if (r == -EACCES) {
		status = 1;
	} else if (r == -ETIMEDOUT) {
		ctl_error("no answer from %s within %" PRId64 " ms; resending "
			  "the same id later is safe%s", ep, timeout,
			  conf->auth == CONFIG_AUTH_CURVE ? " (with auth = "
			  "curve, an unknown key gets no answer either)" : "");
		status = 3;
	} else if (r < 0) {
		ctl_error("bad answer from %s: %s", ep,
			  err.text[0] ? err.text : strerror(-r));
	} else {
		print_answer(&ans, json);
		status = ans.type == MSG_ACK ? 0 : 1;
	}
	msg_free(&ans);
	return status;
}

int cmd_submit(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "agency", required_argument, NULL, 'a' },
		{ "id", required_argument, NULL, 'i' },
		{ "kind", required_argument, NULL, 'k' },
		{ "category", required_argument, NULL, 'C' },
		{ "severity", required_argument, NULL, 's' },
		{ "title", required_argument, NULL, 't' },
		{ "body", required_argument, NULL, 'b' },
		{ "locality", required_argument, NULL, 'l' },
		{ "task", required_argument, NULL, 'T' },
		{ "period", required_argument, NULL, 'p' },
		{ "occurred-at", required_argument, NULL, 'o' },
		{ "drill", no_argument, NULL, 'd' },
		{ "file", required_argument, NULL, 'f' },
		{ "endpoint", required_argument, NULL, 'e' },
		{ "key", required_argument, NULL, 'K' },
		{ "timeout", required_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *keys[128] = { 0 };	/* option letter -> value */
	const char *file = NULL, *ep = NULL, *key = NULL;
	int64_t timeout = 10 * TIME_MS_PER_S;
	instant_t occurred = 0;
	bool drill = false, json = false, has_occurred = false;
	msgpack_sbuffer sb = { 0 };
	msgpack_packer pk;
	json_t *o = NULL;
	const char *bad = NULL;
	char *id = NULL;
	int c, status = 1;

	while ((c = getopt_long(argc, argv, "a:i:k:C:s:t:b:l:T:p:o:df:e:K:w:h",
				opts, NULL)) != -1) {
		switch (c) {
		case 'a': case 'i': case 'k': case 'C': case 's': case 't':
		case 'b': case 'l': case 'T': case 'p':
			keys[c] = optarg;
			break;
		case 'o':
			if (time_parse_instant(optarg, &occurred) < 0)
				return ctl_usage("submit", "--occurred-at: "
						 "'%s' is not an instant",
						 optarg);
			has_occurred = true;
			break;
		case 'd':
			drill = true;
			break;
		case 'f':
			file = optarg;
			break;
		case 'e':
			ep = optarg;
			break;
		case 'K':
			key = optarg;
			break;
		case 'w':
			if (time_parse_duration(optarg, &timeout) < 0)
				return ctl_usage("submit", "--timeout: '%s' is "
						 "not a duration (e.g. 10s)",
						 optarg);
			break;
		case 'J':
			json = true;
			break;
		case 'h':
			return ctl_help("submit");
		default:
			return ctl_usage("submit", "unknown option");
		}
	}
	if (optind != argc)
		return ctl_usage("submit", "unexpected argument '%s'",
				 argv[optind]);
	if (!file && !keys['t'])
		return ctl_usage("submit", "give --title (and the rest) or "
				 "--file");

	if (file) {
		json_error_t jerr;

		o = strcmp(file, "-") == 0 ?
		    json_loadf(stdin, JSON_REJECT_DUPLICATES, &jerr) :
		    json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
		if (!o) {
			ctl_error("%s:%d: %s", file, jerr.line, jerr.text);
			return 1;
		}
		if (!json_is_object(o)) {
			ctl_error("%s: expected a JSON object", file);
			goto out;
		}
	} else
		o = json_object();
	if (!json_object_get(o, "v"))
		json_object_set_new(o, "v", json_integer(MSG_VERSION));
	if (!json_object_get(o, "type"))
		json_object_set_new(o, "type", json_string("report"));
	if (!keys['i'] && !json_object_get(o, "id")) {
		id = ctl_generated_id();
		keys['i'] = id;
	}
	set_str(o, "id", keys['i']);
	set_str(o, "agency", keys['a']);
	set_str(o, "kind", keys['k']);
	set_str(o, "category", keys['C']);
	set_str(o, "severity", keys['s']);
	set_str(o, "title", keys['t']);
	set_str(o, "body", keys['b']);
	set_str(o, "locality", keys['l']);
	set_str(o, "task", keys['T']);
	set_str(o, "period", keys['p']);
	if (has_occurred && !json_object_get(o, "occurred_at"))
		json_object_set_new(o, "occurred_at", json_integer(occurred));
	if (drill && !json_object_get(o, "drill"))
		json_object_set_new(o, "drill", json_true());

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (ctl_pack_json(&pk, o, &bad) < 0) {
		ctl_error("%s: a body holds strings, integers and booleans "
			  "only", bad ? bad : "value");
		goto out;
	}
	status = ctl_send(ctl, ep, key, sb.data, sb.size, timeout, json);
out:
	msgpack_sbuffer_destroy(&sb);
	json_decref(o);
	free(id);
	return status;
}
