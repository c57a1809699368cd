/*
 * batonctl/inspect.c - read-only views of the daemons' stores: log, verify,
 * status.
 *
 * Each command opens the environment read-only and reads inside one short
 * snapshot, so it never blocks or slows the daemon that writes it, and sees
 * a consistent state even while intake is committing.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "batonctl.h"
#include "bus.h"
#include "ledger.h"
#include "msg.h"
#include "outbox.h"
#include "store.h"
#include "time.h"

struct store *ctl_open_store(struct ctl *ctl, const char *name)
{
	struct store_options so = { .read_only = true };
	const struct config *conf = ctl_config(ctl);
	struct store *st = NULL;
	char *dir;
	int r;

	if (!conf)
		return NULL;
	dir = config_state_path(conf, name);
	if (!dir)
		return NULL;
	r = store_open(dir, &so, &st);
	if (r == -ENOENT)
		ctl_error("%s: no store there (has baton-%s run yet?)", dir,
			  name);
	else if (r < 0)
		ctl_error("%s: %s", dir, strerror(-r));
	free(dir);
	return st;
}

/* ---- log ---- */

static json_t *event_json(const struct bus_event *ev, const struct msg *m)
{
	json_t *o = json_object();

#define S(k, v) do { if (v) json_object_set_new(o, k, json_string(v)); } while (0)
	json_object_set_new(o, "seq", json_integer(ev->seq));
	json_object_set_new(o, "topic",
			    json_stringn(ev->topic, ev->topic_len));
	json_object_set_new(o, "accepted_at", json_integer(m->accepted_at));
	S("agency", m->agency);
	S("id", m->id);
	S("type", m->type == MSG_REPORT_ACCEPTED ? "report" : "command");
	S("kind", m->kind ? msg_kind_name(m->kind) : NULL);
	S("category", m->category ? msg_category_name(m->category) : NULL);
	S("severity", m->severity ? msg_severity_name(m->severity) : NULL);
	S("title", m->title);
	S("body", m->body);
	S("locality", m->locality);
	S("task", m->task);
	S("period", m->period);
	S("op", m->op ? msg_op_name(m->op) : NULL);
	S("to", m->to);
	S("delivery", m->delivery);
	S("reason", m->reason);
	if (m->has_occurred_at)
		json_object_set_new(o, "occurred_at",
				    json_integer(m->occurred_at));
	if (m->has_until)
		json_object_set_new(o, "until", json_integer(m->until));
	json_object_set_new(o, "drill", json_boolean(m->drill));
#undef S
	return o;
}

static void print_event(const struct bus_event *ev, const struct msg *m)
{
	char when[TIME_INSTANT_LEN];

	time_format_instant(m->accepted_at, when, sizeof(when));
	if (m->type == MSG_REPORT_ACCEPTED)
		printf("%6" PRIu64 "  %s  %-16s %-10s %-20s %-8s %s%s: %s\n",
		       ev->seq, when, m->agency, msg_kind_name(m->kind),
		       msg_category_name(m->category),
		       m->severity ? msg_severity_name(m->severity) : "-",
		       m->drill ? "[drill] " : "", m->id, m->title);
	else
		printf("%6" PRIu64 "  %s  %-16s command    %-8s task %s: %s\n",
		       ev->seq, when, m->agency, msg_op_name(m->op), m->task,
		       m->reason);
}

int cmd_log(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long since = 1, limit = UINT64_MAX, shown = 0;
	struct store_cursor *cur = NULL;
	struct store_txn *t = NULL;
	struct store *st = NULL;
	store_table_t events;
	bool json = false;
	uint8_t key[8];
	int c, r, status = 1;

	while ((c = getopt_long(argc, argv, "s:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!ctl_parse_u64(optarg, &since))
				return ctl_usage("log", "--since: '%s' is not "
						 "a sequence number", optarg);
			break;
		case 'n':
			if (!ctl_parse_u64(optarg, &limit))
				return ctl_usage("log", "--limit: '%s' is not "
						 "a number", optarg);
			break;
		case 'J':
			json = true;
			break;
		case 'h':
			return ctl_help("log");
		default:
			return ctl_usage("log", "unknown option");
		}
	}
	if (optind != argc)
		return ctl_usage("log", "unexpected argument '%s'",
				 argv[optind]);

	st = ctl_open_store(ctl, "intake");
	if (!st)
		return 1;
	r = store_table(st, BUS_EVENTS_TABLE, &events);
	if (r == -ENOENT) {	/* intake never stored anything */
		status = 0;
		goto out;
	}
	if (r == 0)
		r = store_begin(st, false, &t);
	if (r == 0)
		r = store_cursor_open(t, events, &cur);
	if (r < 0)
		goto fail;
	store_u64_key(since, key);
	r = store_cursor_seek(cur, key, sizeof(key));
	while (r == 0 && shown < limit) {
		const void *k, *v;
		size_t klen, vlen;
		struct bus_event ev;
		struct msg m = { 0 };
		struct msg_error err;

		r = store_cursor_next(cur, &k, &klen, &v, &vlen);
		if (r < 0)
			break;
		if (bus_record_parse(store_u64_from(k), v, vlen, &ev) < 0 ||
		    msg_decode(ev.body, ev.body_len, MSG_CTX_EVENT, &m,
			       &err) < 0) {
			ctl_error("record %" PRIu64 " is malformed (run "
				  "'batonctl verify')", store_u64_from(k));
			msg_free(&m);
			goto out;
		}
		if (json) {
			json_t *o = event_json(&ev, &m);

			json_dumpf(o, stdout, JSON_COMPACT);
			putchar('\n');
			json_decref(o);
		} else
			print_event(&ev, &m);
		msg_free(&m);
		shown++;
	}
	if (r == 0 || r == -ENOENT) {
		status = 0;
		goto out;
	}
fail:
	ctl_error("reading the intake log: %s", strerror(-r));
out:
	store_cursor_close(cur);
	store_abort(t);
	store_close(st);
	return status;
}

/* ---- verify ---- */

static void progress(void *arg, uint64_t done, uint64_t total)
{
	fprintf(stderr, "\rverified %" PRIu64 " of %" PRIu64 " records",
		done, total);
}

int cmd_verify(struct ctl *ctl, int argc, char **argv)
{
	struct store *st;
	uint64_t count, bad;
	int r;

	if (argc > 1 && strcmp(argv[1], "--help") == 0)
		return ctl_help("verify");
	if (argc > 1)
		return ctl_usage("verify", "unexpected argument '%s'", argv[1]);
	st = ctl_open_store(ctl, "intake");
	if (!st)
		return 1;
	r = ledger_verify(st, progress, NULL, &count, &bad);
	store_close(st);
	if (count >= 100000)
		fputc('\n', stderr);
	if (r == -EBADMSG) {
		printf("record %" PRIu64 " breaks the hash chain: it, its link "
		       "or its place was changed (records 1..%" PRIu64
		       " verify)\n", bad, count);
		return 1;
	}
	if (r == -ENOENT) {
		printf("intake log is empty\n");
		return 0;
	}
	if (r < 0) {
		ctl_error("verify: %s", strerror(-r));
		return 1;
	}
	printf("intake log verified: %" PRIu64 " records, hash chain intact\n",
	       count);
	return 0;
}

/* ---- status ---- */

/*
 * What every daemon's store says: the events it has published, and for
 * each publisher it follows, how far it has applied. Generic because every
 * daemon keeps the same bus tables; a daemon that has not run yet has no
 * store and says so.
 */
static json_t *store_status(const struct config *conf, const char *name)
{
	struct store_options so = { .read_only = true };
	struct store_cursor *c = NULL;
	struct store_txn *t = NULL;
	struct store *st = NULL;
	store_table_t events, cursor, due;
	uint64_t records = 0, last = 0, map = 0, used = 0, ndue = 0;
	json_t *o = json_object(), *applied = json_object();
	const void *k, *v;
	size_t klen, vlen;
	char *dir = config_state_path(conf, name);
	bool has_events, has_cursor, has_due;
	int r;

	r = dir ? store_open(dir, &so, &st) : -ENOMEM;
	free(dir);
	if (r < 0) {
		json_object_set_new(o, "error", json_string(r == -ENOENT ?
				    "not run yet" : strerror(-r)));
		json_decref(applied);
		return o;
	}
	/* Tables first: a snapshot sees only handles opened before it. */
	has_events = store_table(st, BUS_EVENTS_TABLE, &events) == 0;
	has_cursor = store_table(st, BUS_CURSOR_TABLE, &cursor) == 0;
	has_due = store_table(st, OUTBOX_DUE, &due) == 0;
	r = store_begin(st, false, &t);
	if (r == 0 && has_due)
		store_count(t, due, &ndue);
	if (r == 0 && has_events) {
		store_count(t, events, &records);
		if (store_last(t, events, &k, &klen, NULL, NULL) == 0)
			last = store_u64_from(k);
	}
	if (r == 0 && has_cursor && store_cursor_open(t, cursor, &c) == 0 &&
	    store_cursor_seek(c, NULL, 0) == 0)
		while (store_cursor_next(c, &k, &klen, &v, &vlen) == 0) {
			char from[MSG_TOPIC_MAX + 1];

			if (vlen != 8 || klen > MSG_TOPIC_MAX)
				continue;
			snprintf(from, sizeof(from), "%.*s", (int)klen,
				 (const char *)k);
			json_object_set_new(applied, from, json_integer(
			    (json_int_t)store_u64_from(v)));
		}
	store_cursor_close(c);
	store_abort(t);
	store_usage(st, &map, &used);
	store_close(st);
	if (has_events) {
		json_object_set_new(o, "published",
				    json_integer((json_int_t)last));
		json_object_set_new(o, "events",
				    json_integer((json_int_t)records));
	}
	if (has_due)
		json_object_set_new(o, "deliveries_due",
				    json_integer((json_int_t)ndue));
	json_object_set_new(o, "applied", applied);
	json_object_set_new(o, "map_size", json_integer((json_int_t)map));
	json_object_set_new(o, "map_used", json_integer((json_int_t)used));
	return o;
}

int cmd_status(struct ctl *ctl, int argc, char **argv)
{
	static const char *const daemons[] = { "intake", "router",
						 "deadline", "notify" };
	const struct config *conf;
	bool json = argc > 1 && strcmp(argv[1], "--json") == 0;
	json_t *all;

	if (argc > 1 && strcmp(argv[1], "--help") == 0)
		return ctl_help("status");
	if (argc > 2 || (argc == 2 && !json))
		return ctl_usage("status", "unexpected argument '%s'", argv[1]);
	conf = ctl_config(ctl);
	if (!conf)
		return 1;
	all = json_object();
	for (size_t i = 0; i < sizeof(daemons) / sizeof(daemons[0]); i++)
		json_object_set_new(all, daemons[i],
				    store_status(conf, daemons[i]));
	if (json) {
		json_dumpf(all, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(all);
		return 0;
	}
	for (size_t i = 0; i < sizeof(daemons) / sizeof(daemons[0]); i++) {
		json_t *o = json_object_get(all, daemons[i]), *applied;
		const char *err = json_string_value(json_object_get(o, "error"));
		const char *from;
		json_t *seq;

		printf("%-8s", daemons[i]);
		if (err) {
			printf(" %s\n", err);
			continue;
		}
		if (json_object_get(o, "published"))
			printf(" published seq %" JSON_INTEGER_FORMAT ",",
			       json_integer_value(json_object_get(o,
								  "published")));
		applied = json_object_get(o, "applied");
		json_object_foreach(applied, from, seq)
			printf(" applied %s seq %" JSON_INTEGER_FORMAT ",", from,
			       json_integer_value(seq));
		if (json_object_get(o, "deliveries_due"))
			printf(" deliveries due %" JSON_INTEGER_FORMAT ",",
			       json_integer_value(json_object_get(o,
						  "deliveries_due")));
		printf(" store %.1f of %.1f MiB\n",
		       json_integer_value(json_object_get(o, "map_used")) /
		       1048576.0,
		       json_integer_value(json_object_get(o, "map_size")) /
		       1048576.0);
	}
	json_decref(all);
	return 0;
}

/* ---- backup ---- */

int cmd_backup(struct ctl *ctl, int argc, char **argv)
{
	/*
	 * Downstream first: a subscriber's copy then never holds an event its
	 * publisher's later copy lacks, and a restored set catches up by
	 * replay instead of a subscriber being ahead of its publisher.
	 */
	static const char *const daemons[] = { "notify", "deadline",
						 "router", "intake" };
	const struct config *conf;
	unsigned copied = 0;
	const char *dir;
	int status = 0;

	if (argc == 2 && strcmp(argv[1], "--help") == 0)
		return ctl_help("backup");
	if (argc != 2 || argv[1][0] == '-')
		return ctl_usage("backup", argc < 2 ? "give the directory to "
				 "copy into" : "unexpected argument '%s'",
				 argv[argc < 2 ? 0 : argc - 1]);
	dir = argv[1];
	conf = ctl_config(ctl);
	if (!conf)
		return 1;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		ctl_error("%s: %s", dir, strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < sizeof(daemons) / sizeof(daemons[0]); i++) {
		struct store_options so = { .read_only = true };
		struct store *st = NULL;
		uint64_t map = 0, used = 0;
		char *from = config_state_path(conf, daemons[i]), *to = NULL;
		int r;

		r = from ? store_open(from, &so, &st) : -ENOMEM;
		if (r == -ENOENT) {
			printf("%-8s no store (not run yet): skipped\n",
			       daemons[i]);
			free(from);
			continue;
		}
		if (r == 0 && asprintf(&to, "%s/%s", dir, daemons[i]) < 0)
			r = -ENOMEM;
		if (r == 0)
			r = store_copy(st, to);
		if (r == 0)
			store_usage(st, &map, &used);
		if (r == 0) {
			printf("%-8s %s -> %s (%.1f MiB)\n", daemons[i], from,
			       to, used / 1048576.0);
			copied++;
		} else {
			ctl_error("%s: %s%s", to ? to : from, strerror(-r),
				  r == -EEXIST ? " (back up into a new "
				  "directory)" : "");
			status = 1;
		}
		store_close(st);
		free(from);
		free(to);
	}
	if (status == 0)
		printf("%u stores copied, each a consistent snapshot; the "
		       "configuration (%s) is not included\n", copied,
		       conf->dir);
	return status;
}
