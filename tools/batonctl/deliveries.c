/*
 * batonctl/deliveries.c - baton-notify's view: every delivery and its
 * state (deliveries), a dead one tried again (retry), and the office alert
 * feed as it happens (watch).
 *
 * "deliveries" reads the notify daemon's outbox read-only, in one short
 * snapshot. "retry" changes a delivery, so it goes through intake as an
 * operator command (op "retry"): intake's log records who asked and when,
 * and baton-notify, which subscribes to intake's events, acts on it. It
 * checks the outbox first, so that a typo or a delivery that is not dead
 * gets a clear error instead of a command that changes nothing. "watch"
 * subscribes to the feed like any office client.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "batonctl.h"
#include "msg.h"
#include "outbox.h"
#include "store.h"

static struct store *open_notify(struct ctl *ctl, struct outbox *ob)
{
	struct store *st = ctl_open_store(ctl, "notify");
	int r;

	if (!st)
		return NULL;
	r = outbox_open(st, ob);
	if (r < 0) {
		ctl_error("notify store: %s", r == -ENOENT ?
			  "no alert taken in yet" : strerror(-r));
		store_close(st);
		return NULL;
	}
	return st;
}

/* ---- deliveries ---- */

struct filter {
	int state;			/* -1: any */
	const char *agency;		/* the recipient; NULL: any */
	const char *alert;		/* NULL: any */
};

static void print_row(const char *id, const struct outbox_key *k,
		      const struct outbox_row *row, bool json, instant_t now)
{
	char when[TIME_INSTANT_LEN], rel[48];

	if (json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, "
				      "s:I, s:s#, s:s#}", "delivery", id,
				      "alert_id", k->alert_id, "recipient",
				      k->recipient, "channel",
				      outbox_channel_name(k->channel), "state",
				      outbox_state_name(row->state),
				      "attempts", (json_int_t)row->attempts,
				      "created_at", (json_int_t)row->created_at,
				      "updated_at", (json_int_t)row->updated_at,
				      "target", row->target,
				      (int)row->target_len, "error",
				      row->error, (int)row->error_len);

		if (outbox_state_due(row->state))
			json_object_set_new(o, "next_at",
					    json_integer(row->next_at));
		ctl_print_json(o);
		return;
	}
	if (outbox_state_due(row->state))
		snprintf(rel, sizeof(rel), "%s", row->next_at <= now ?
			 "due now" : ctl_due_text(row->next_at, now, when,
						  sizeof(when)));
	else
		time_format_instant(row->updated_at, rel, sizeof(rel));
	printf("%-8s %2" PRIu32 "  %-24s %s", outbox_state_name(row->state),
	       row->attempts, rel, id);
	if (row->error_len)
		printf("  (%.*s)", (int)row->error_len, row->error);
	putchar('\n');
}

static int walk(struct store_txn *t, const struct outbox *ob,
		const struct filter *f, bool json, uint64_t counts[])
{
	struct store_cursor *c;
	const void *k, *v;
	size_t klen, vlen;
	instant_t now = time_now();
	int r;

	r = store_cursor_open(t, ob->rows, &c);
	if (r < 0)
		return r;
	r = store_cursor_seek(c, f->alert, f->alert ? strlen(f->alert) : 0);
	while (r == 0 && (r = store_cursor_next(c, &k, &klen, &v, &vlen)) == 0) {
		char id[OUTBOX_ID_MAX];
		struct outbox_key key;
		struct outbox_row row;

		if (outbox_key_parse(k, klen, &key) < 0 ||
		    outbox_get(ob, t, k, klen, &row) < 0 ||
		    !outbox_id_format(k, klen, id, sizeof(id))) {
			r = -EBADMSG;
			break;
		}
		if (f->alert && strcmp(key.alert_id, f->alert) != 0)
			break;
		if ((f->state >= 0 && (int)row.state != f->state) ||
		    (f->agency && strcmp(key.recipient, f->agency) != 0))
			continue;
		counts[row.state]++;
		print_row(id, &key, &row, json, now);
	}
	store_cursor_close(c);
	return r == -ENOENT ? 0 : r;
}

int cmd_deliveries(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "agency", required_argument, NULL, 'a' },
		{ "alert", required_argument, NULL, 'A' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct filter f = { .state = -1 };
	uint64_t counts[OUTBOX_STATES] = { 0 };
	struct store_txn *t = NULL;
	struct outbox ob;
	struct store *st;
	bool json = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "s:a:A:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			f.state = outbox_state_from(optarg);
			if (f.state < 0)
				return ctl_usage("deliveries", "--state: '%s' "
						 "is not pending, sent, "
						 "retrying or dead", optarg);
			break;
		case 'a':
			if (!msg_agency_valid(optarg))
				return ctl_usage("deliveries", "--agency: "
						 "'%s' is not an agency name",
						 optarg);
			f.agency = optarg;
			break;
		case 'A':
			f.alert = optarg;
			break;
		case 'J':
			json = true;
			break;
		case 'h':
			return ctl_help("deliveries");
		default:
			return ctl_usage("deliveries", "unknown option");
		}
	}
	if (optind != argc)
		return ctl_usage("deliveries", "unexpected argument '%s'",
				 argv[optind]);
	st = open_notify(ctl, &ob);
	if (!st)
		return 1;
	r = store_begin(st, false, &t);
	if (r == 0)
		r = walk(t, &ob, &f, json, counts);
	store_abort(t);
	store_close(st);
	if (r < 0) {
		ctl_error("notify store: %s", strerror(-r));
		return 1;
	}
	if (!json)
		printf("%" PRIu64 " sent, %" PRIu64 " pending, %" PRIu64
		       " retrying, %" PRIu64 " dead\n", counts[OUTBOX_SENT],
		       counts[OUTBOX_PENDING], counts[OUTBOX_RETRYING],
		       counts[OUTBOX_DEAD]);
	return 0;
}

/* ---- retry ---- */

/* The ids of the dead deliveries arg names: one delivery, or an alert's. */
static int dead_ids(struct ctl *ctl, const char *arg, char ***ret, size_t *n)
{
	char key[OUTBOX_KEY_MAX], id[OUTBOX_ID_MAX];
	struct store_txn *t = NULL;
	struct store_cursor *c = NULL;
	struct outbox_row row;
	struct outbox_key k;
	struct outbox ob;
	struct store *st;
	const void *kp, *vp;
	size_t kl, vl;
	char **ids = NULL;
	int klen, r;

	*n = 0;
	st = open_notify(ctl, &ob);
	if (!st)
		return -ENOENT;
	r = store_begin(st, false, &t);
	if (r < 0)
		goto out;
	klen = outbox_id_parse(arg, key, sizeof(key));
	if (klen > 0) {		/* a delivery id */
		r = outbox_get(&ob, t, key, (size_t)klen, &row);
		if (r == -ENOENT) {
			ctl_error("no delivery %s (batonctl deliveries lists "
				  "them)", arg);
			goto out;
		}
		if (r == 0 && row.state != OUTBOX_DEAD) {
			ctl_error("delivery %s is %s; only dead deliveries are "
				  "retried", arg, outbox_state_name(row.state));
			r = -EINVAL;
			goto out;
		}
		ids = calloc(1, sizeof(*ids));
		if (r == 0 && (!ids || !(ids[0] = strdup(arg))))
			r = -ENOMEM;
		*n = r == 0;
		goto out;
	}
	/* An alert id: each of its dead deliveries. */
	r = store_cursor_open(t, ob.rows, &c);
	if (r == 0)
		r = store_cursor_seek(c, arg, strlen(arg));
	while (r == 0 && (r = store_cursor_next(c, &kp, &kl, &vp, &vl)) == 0) {
		char **grown;

		if (outbox_key_parse(kp, kl, &k) < 0 ||
		    strcmp(k.alert_id, arg) != 0)
			break;
		if (outbox_get(&ob, t, kp, kl, &row) < 0 ||
		    row.state != OUTBOX_DEAD ||
		    !outbox_id_format(kp, kl, id, sizeof(id)))
			continue;
		grown = realloc(ids, (*n + 1) * sizeof(*ids));
		if (!grown || !(grown[*n] = strdup(id))) {
			ids = grown ? grown : ids;
			r = -ENOMEM;
			break;
		}
		ids = grown;
		(*n)++;
	}
	if (r == -ENOENT)
		r = 0;
	if (r == 0 && *n == 0) {
		ctl_error("'%s' names no dead delivery: give a delivery id "
			  "(ALERT:AGENCY:CHANNEL) or an alert id with dead "
			  "deliveries (batonctl deliveries --state dead)", arg);
		r = -ENOENT;
	}
out:
	store_cursor_close(c);
	store_abort(t);
	store_close(st);
	if (r < 0 && r != -ENOENT && r != -EINVAL)
		ctl_error("notify store: %s", strerror(-r));
	*ret = ids;
	return r;
}

/* Send one retry command for delivery id. Returns the exit status. */
static int send_retry(struct ctl *ctl, const char *id, const char *agency,
		      const char *reason, int64_t timeout, bool json)
{
	char task[MSG_TASK_MAX + 1];
	struct msg cmd = {
		.type = MSG_COMMAND, .op = OP_RETRY, .agency = agency,
		.delivery = id, .reason = reason, .task = task,
	};
	char *cid = ctl_generated_id();
	void *body = NULL;
	size_t len, tlen = strcspn(id, "/:");
	int status = 1;

	/* The command names the task the delivery is about. */
	snprintf(task, sizeof(task), "%.*s", (int)tlen, id);
	cmd.id = cid;
	if (!cid || msg_encode(&cmd, &body, &len) < 0) {
		ctl_error("retry %s: cannot build the command", id);
		goto out;
	}
	if (!json)
		printf("%s: ", id);
	fflush(stdout);
	status = ctl_send(ctl, NULL, NULL, body, len, timeout, json);
out:
	free(body);
	free(cid);
	return status;
}

int cmd_retry(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "agency", required_argument, NULL, 'a' },
		{ "reason", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *agency = NULL, *reason = "retried by an operator";
	int64_t timeout = 10 * TIME_MS_PER_S;
	const struct config *conf;
	bool json = false;
	char **ids = NULL;
	size_t n = 0;
	int c, status = 0;

	while ((c = getopt_long(argc, argv, "a:r:w:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			if (!msg_agency_valid(optarg))
				return ctl_usage("retry", "--agency: '%s' is "
						 "not an agency name", optarg);
			agency = optarg;
			break;
		case 'r':
			reason = optarg;
			break;
		case 'w':
			if (time_parse_duration(optarg, &timeout) < 0)
				return ctl_usage("retry", "--timeout: '%s' is "
						 "not a duration (e.g. 10s)",
						 optarg);
			break;
		case 'J':
			json = true;
			break;
		case 'h':
			return ctl_help("retry");
		default:
			return ctl_usage("retry", "unknown option");
		}
	}
	if (optind + 1 != argc)
		return ctl_usage("retry", optind == argc ? "give a delivery "
				 "id or an alert id" : "one id at a time");
	if (!*reason || strlen(reason) > MSG_REASON_MAX)
		return ctl_usage("retry", "--reason: 1 to %d bytes",
				 MSG_REASON_MAX);
	conf = ctl_config(ctl);
	if (!conf)
		return 1;
	agency = ctl_operator(conf, agency);
	if (dead_ids(ctl, argv[optind], &ids, &n) < 0)
		status = 1;
	for (size_t i = 0; i < n; i++) {
		int s = send_retry(ctl, ids[i], agency, reason, timeout,
				   json);

		if (s > status)
			status = s;
	}
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	return status;
}

/* ---- watch ---- */

static volatile sig_atomic_t stop_watch;

static void on_signal(int sig)
{
	stop_watch = 1;
}

static void print_alert(const char *topic, size_t tlen, const void *body,
			size_t len, bool json)
{
	char when[TIME_INSTANT_LEN], due[TIME_INSTANT_LEN];
	const char *dot = memrchr(topic, '.', tlen);
	struct msg_error err;
	struct msg a = { 0 };
	size_t kind_len = dot ? (size_t)(dot - topic) : tlen;

	/* The bus topic is the feed's without its recipient. */
	if (msg_decode_event(topic, kind_len, body, len, &a, &err) < 0) {
		fprintf(stderr, "batonctl: feed: %.*s: %s\n", (int)tlen, topic,
			err.text);
		msg_free(&a);
		return;
	}
	if (json) {
		json_t *o = json_pack("{s:s#, s:s, s:s, s:s?, s:s, s:s, s:I, "
				      "s:b, s:b}", "topic", topic, (int)tlen,
				      "alert_id", a.alert_id, "kind",
				      msg_alert_name(a.alert), "task", a.task,
				      "agency", a.agency, "title", a.title,
				      "fired_at", (json_int_t)a.fired_at,
				      "late", a.late, "drill", a.drill);

		if (a.alert != ALERT_REFUSED)
			json_object_set_new(o, "due_at",
					    json_integer(a.due_at));
		ctl_print_json(o);
	} else {
		int to_len = dot ? (int)(tlen - kind_len - 1) : 1;

		time_format_instant(a.fired_at, when, sizeof(when));
		printf("%s  %-14s to %-10.*s %s  %s%s%s%s\n", when,
		       msg_alert_name(a.alert), to_len, dot ? dot + 1 : "-",
		       a.alert_id, a.title,
		       a.alert == ALERT_REFUSED ? "" : ", due ",
		       a.alert == ALERT_REFUSED ? "" :
		       time_format_instant(a.due_at, due, sizeof(due)),
		       a.late ? " (late)" : "");
	}
	fflush(stdout);
	msg_free(&a);
}

int cmd_watch(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long count = 0, seen = 0;
	int64_t timeout = -1, end;
	const struct config *conf;
	struct sigaction sa = { .sa_handler = on_signal };
	bool json = false;
	void *zctx = NULL, *sub = NULL;
	int c, status = 1, zero = 0;

	while ((c = getopt_long(argc, argv, "n:w:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (!ctl_parse_u64(optarg, &count) || count == 0)
				return ctl_usage("watch", "--count: '%s' is "
						 "not a positive number",
						 optarg);
			break;
		case 'w':
			if (time_parse_duration(optarg, &timeout) < 0)
				return ctl_usage("watch", "--timeout: '%s' is "
						 "not a duration (e.g. 30s)",
						 optarg);
			break;
		case 'J':
			json = true;
			break;
		case 'h':
			return ctl_help("watch");
		default:
			return ctl_usage("watch", "unknown option");
		}
	}
	for (int i = optind; i < argc; i++)
		if (strncmp(argv[i], "alert.", 6) != 0)
			return ctl_usage("watch", "'%s' is not a feed prefix "
					 "(alert.KIND.AGENCY, e.g. "
					 "alert.overdue.)", argv[i]);
	conf = ctl_config(ctl);
	if (!conf)
		return 1;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	zctx = zmq_ctx_new();
	sub = zctx ? zmq_socket(zctx, ZMQ_SUB) : NULL;
	if (sub && ctl_secure(conf, NULL, sub) < 0)
		goto out;
	if (!sub || zmq_connect(sub, conf->notify.feed) < 0) {
		ctl_error("feed %s: %s", conf->notify.feed,
			  zmq_strerror(errno));
		goto out;
	}
	zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof(zero));
	if (optind == argc)
		zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "alert.", 6);
	for (int i = optind; i < argc; i++)
		zmq_setsockopt(sub, ZMQ_SUBSCRIBE, argv[i], strlen(argv[i]));
	if (!json)
		fprintf(stderr, "watching %s%s\n", conf->notify.feed,
			timeout > 0 ? "" : " (Ctrl-C ends)");
	end = timeout > 0 ? time_mono() + timeout : INT64_MAX;
	status = 0;
	while (!stop_watch && (!count || seen < count)) {
		zmq_pollitem_t it = { .socket = sub, .events = ZMQ_POLLIN };
		int64_t left = end - time_mono();
		zmq_msg_t topic, body;

		if (left <= 0)
			break;
		if (zmq_poll(&it, 1, left < 500 ? left : 500) <= 0)
			continue;
		zmq_msg_init(&topic);
		zmq_msg_init(&body);
		if (zmq_msg_recv(&topic, sub, 0) >= 0 &&
		    zmq_msg_more(&topic) && zmq_msg_recv(&body, sub, 0) >= 0) {
			print_alert(zmq_msg_data(&topic), zmq_msg_size(&topic),
				    zmq_msg_data(&body), zmq_msg_size(&body),
				    json);
			seen++;
		}
		zmq_msg_close(&topic);
		zmq_msg_close(&body);
	}
out:
	if (sub)
		zmq_close(sub);
	if (zctx)
		zmq_ctx_term(zctx);
	return status;
}
