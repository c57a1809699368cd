/*
 * batonctl/tasks.c - the router's queues: `queue`, `task`, `routes test`.
 *
 * queue and task read the router's LMDB read-only, in one snapshot each.
 * routes test runs the same matcher the router runs (lib/route) on a
 * report given as JSON, so what it prints is what the router would do.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batonctl.h"
#include "route.h"
#include "task.h"
#include "time.h"

/* ---- one task, as a line and as JSON ---- */

static json_t *task_json(const struct msg *m)
{
	json_t *o = json_object(), *a;

#define S(k, v) do { if (v) json_object_set_new(o, k, json_string(v)); } while (0)
#define I(k, v) json_object_set_new(o, k, json_integer(v))
	S("task", m->task);
	S("state", msg_state_name(m->state));
	S("agency", m->agency);
	S("category", msg_category_name(m->category));
	S("severity", m->severity ? msg_severity_name(m->severity) : NULL);
	S("title", m->title);
	I("created_at", m->created_at);
	I("due_at", m->due_at);
	I("plan", (json_int_t)m->plan);
	S("rule", m->rule);
	json_object_set_new(o, "drill", json_boolean(m->drill));
	json_object_set_new(o, "business", json_boolean(m->business));
	json_object_set_new(o, "working_hours",
			    json_boolean(m->working_hours));
	if (m->changed_at)
		I("changed_at", m->changed_at);
	if (m->state == STATE_WAITING)
		I("waiting_since", m->waiting_since);
	a = json_array();
	for (size_t i = 0; i < m->nreminders; i++)
		json_array_append_new(a, json_integer(m->reminders[i]));
	json_object_set_new(o, "reminders", a);
	a = json_array();
	for (size_t i = 0; i < m->nescalation; i++)
		json_array_append_new(a, json_pack("{s:s, s:I}", "to",
			m->escalate_to[i], "after", (json_int_t)m->escalate_after[i]));
	json_object_set_new(o, "escalation", a);
	a = json_array();
	for (size_t i = 0; i < m->nnotify; i++)
		json_array_append_new(a, json_string(m->notify[i]));
	json_object_set_new(o, "notify", a);
	S("origin_agency", m->origin_agency);
	S("origin_id", m->origin_id);
	I("origin_seq", (json_int_t)m->origin_seq);
	S("change", msg_change_name(m->change));
	I("cause_seq", (json_int_t)m->cause_seq);
	S("by", m->by);
	S("note", m->note);
	S("reason", m->reason);
#undef S
#undef I
	return o;
}

void ctl_print_json(json_t *o)
{
	json_dumpf(o, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(o);
}

/*
 * "in 3h20m" or "OVERDUE by 1h5m", relative to now: to the second within
 * the hour, to the minute beyond it, since a person reads it.
 */
const char *ctl_due_text(instant_t due, instant_t now, char *buf,
			 size_t size)
{
	int64_t left = due >= now ? due - now : now - due;
	int64_t unit = left >= TIME_MS_PER_H ? TIME_MS_PER_M : TIME_MS_PER_S;
	char d[32];

	time_format_duration(left / unit * unit, d, sizeof(d));
	snprintf(buf, size, due >= now ? "in %s" : "OVERDUE by %s", d);
	return buf;
}

/* ---- queue ---- */

struct queue_filter {
	const char *agency;
	enum msg_category category;
	bool overdue;
};

struct queued {
	struct msg m;
};

static int by_due(const void *a, const void *b)
{
	const struct queued *x = a, *y = b;

	if (x->m.due_at != y->m.due_at)
		return x->m.due_at < y->m.due_at ? -1 : 1;
	return strcmp(x->m.task, y->m.task);
}

static struct store *open_router(struct ctl *ctl, struct task_store *ts)
{
	struct store *st = ctl_open_store(ctl, "router");
	int r;

	if (!st)
		return NULL;
	r = task_store_open(st, ts);
	if (r < 0) {
		ctl_error("router store: %s", r == -ENOENT ?
			  "no tasks yet" : strerror(-r));
		store_close(st);
		return NULL;
	}
	return st;
}

int cmd_queue(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "agency", required_argument, NULL, 'a' },
		{ "category", required_argument, NULL, 'C' },
		{ "overdue", no_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct queue_filter f = { 0 };
	struct store_cursor *c = NULL;
	struct store_txn *t = NULL;
	struct queued *q = NULL;
	struct task_store ts;
	struct store *st;
	size_t n = 0, cap = 0;
	instant_t now = time_now();
	bool json = false;
	int ch, r, status = 1;

	while ((ch = getopt_long(argc, argv, "a:C:oh", opts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			f.agency = optarg;
			break;
		case 'C':
			f.category = msg_category_from(optarg);
			if (!f.category)
				return ctl_usage("queue", "--category: '%s' is "
						 "not a category", optarg);
			break;
		case 'o':
			f.overdue = true;
			break;
		case 'J':
			json = true;
			break;
		case 'h':
			return ctl_help("queue");
		default:
			return ctl_usage("queue", "unknown option");
		}
	}
	if (optind != argc)
		return ctl_usage("queue", "unexpected argument '%s'",
				 argv[optind]);
	st = open_router(ctl, &ts);
	if (!st)
		return 1;
	r = store_begin(st, false, &t);
	if (r == 0)
		r = store_cursor_open(t, ts.tasks, &c);
	if (r == 0)
		r = store_cursor_seek(c, NULL, 0);
	while (r == 0) {
		const void *k, *v;
		size_t klen, vlen;
		struct msg m = { 0 };
		static const char topic[] = "task.updated";

		r = store_cursor_next(c, &k, &klen, &v, &vlen);
		if (r < 0)
			break;
		if (msg_decode_event(topic, sizeof(topic) - 1, v, vlen, &m,
				     NULL) < 0) {
			ctl_error("task %.*s does not decode", (int)klen,
				  (const char *)k);
			msg_free(&m);
			continue;
		}
		if (m.state == STATE_DONE || m.state == STATE_CANCELLED ||
		    (f.agency && strcmp(f.agency, m.agency) != 0) ||
		    (f.category && f.category != m.category) ||
		    (f.overdue && m.due_at >= now)) {
			msg_free(&m);
			continue;
		}
		if (n == cap) {
			struct queued *nq;

			cap = cap ? 2 * cap : 64;
			nq = realloc(q, cap * sizeof(*q));
			if (!nq) {
				msg_free(&m);
				r = -ENOMEM;
				break;
			}
			q = nq;
		}
		q[n++].m = m;
	}
	store_cursor_close(c);
	store_abort(t);
	if (r < 0 && r != -ENOENT) {
		ctl_error("reading tasks: %s", strerror(-r));
		goto out;
	}
	if (n > 0)	/* qsort(NULL, 0) is undefined */
		qsort(q, n, sizeof(*q), by_due);
	for (size_t i = 0; i < n; i++) {
		const struct msg *m = &q[i].m;
		char due[TIME_INSTANT_LEN], rel[48];

		if (json) {
			ctl_print_json(task_json(m));
			continue;
		}
		time_format_instant(m->due_at, due, sizeof(due));
		printf("%-12s %-11s %-14s %-20s %-8s due %s (%s)%s\n    %s\n",
		       m->task, msg_state_name(m->state), m->agency,
		       msg_category_name(m->category),
		       m->severity ? msg_severity_name(m->severity) : "-",
		       due, ctl_due_text(m->due_at, now, rel, sizeof(rel)),
		       m->drill ? " [drill]" : "", m->title);
	}
	if (!json)
		printf("%zu open task%s\n", n, n == 1 ? "" : "s");
	status = 0;
out:
	for (size_t i = 0; i < n; i++)
		msg_free(&q[i].m);
	free(q);
	store_close(st);
	return status;
}

/* ---- task ---- */

/* A history entry: printed as a line, or added to a JSON array. */
static int print_entry(void *arg, uint64_t n, const struct bus_event *ev,
		       const struct msg *m)
{
	json_t *history = arg;
	char when[TIME_INSTANT_LEN];

	if (history) {
		json_t *o = m->type == MSG_TASK_REFUSED ?
		    json_pack("{s:s, s:s, s:s, s:I, s:s}", "change", "refused",
			      "by", m->agency, "id", m->id, "cause_seq",
			      (json_int_t)m->cause_seq, "reason", m->reason) :
		    task_json(m);

		json_object_set_new(o, "n", json_integer((json_int_t)n));
		json_object_set_new(o, "topic",
				    json_stringn(ev->topic, ev->topic_len));
		json_array_append_new(history, o);
		return 0;
	}
	if (m->type == MSG_TASK_REFUSED) {
		printf("  %3" PRIu64 "  intake seq %-6" PRIu64 " refused     "
		       "%s (%s): %s\n", n, m->cause_seq, m->agency, m->id,
		       m->reason);
		return 0;
	}
	time_format_instant(m->due_at, when, sizeof(when));
	printf("  %3" PRIu64 "  intake seq %-6" PRIu64 " %-11s %-11s by %s; "
	       "assigned to %s, due %s, plan %" PRIu64 "\n", n, m->cause_seq,
	       msg_change_name(m->change), msg_state_name(m->state),
	       m->by ? m->by : "-", m->agency, when, m->plan);
	if (m->note)
		printf("       note: %s\n", m->note);
	if (m->reason)
		printf("       reason: %s\n", m->reason);
	return 0;
}

int cmd_task(struct ctl *ctl, int argc, char **argv)
{
	struct store_txn *t = NULL;
	struct msg m = { 0 };
	struct task_store ts;
	struct store *st;
	const char *id = NULL;
	bool json = false;
	int r, status = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return ctl_help("task");
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (argv[i][0] == '-')
			return ctl_usage("task", "unknown option '%s'", argv[i]);
		else if (id)
			return ctl_usage("task", "unexpected argument '%s'",
					 argv[i]);
		else
			id = argv[i];
	}
	if (!id)
		return ctl_usage("task", "which task? (e.g. T-42)");
	st = open_router(ctl, &ts);
	if (!st)
		return 1;
	r = store_begin(st, false, &t);
	if (r == 0)
		r = task_get(&ts, t, id, &m);
	if (r == -ENOENT) {
		ctl_error("no task %s", id);
		goto out;
	}
	if (r < 0) {
		ctl_error("task %s: %s", id, strerror(-r));
		goto out;
	}
	if (json) {
		json_t *o = task_json(&m), *history = json_array();

		r = task_history(&ts, t, id, print_entry, history);
		json_object_set_new(o, "history", history);
		if (r == 0)
			ctl_print_json(o);
		else
			json_decref(o);
	} else {
		char created[TIME_INSTANT_LEN], due[TIME_INSTANT_LEN], rel[48];

		time_format_instant(m.created_at, created, sizeof(created));
		time_format_instant(m.due_at, due, sizeof(due));
		printf("%s  %s%s\n  %s\n  assigned to %s by rule %s, %s %s\n"
		       "  created %s from %s's report %s (intake seq %" PRIu64
		       ")\n  due %s (%s)\n", m.task, msg_state_name(m.state),
		       m.drill ? " [drill]" : "", m.title, m.agency, m.rule,
		       msg_category_name(m.category),
		       m.severity ? msg_severity_name(m.severity) : "",
		       created, m.origin_agency ? m.origin_agency : "-",
		       m.origin_id ? m.origin_id : "-", m.origin_seq, due,
		       ctl_due_text(m.due_at, time_now(), rel, sizeof(rel)));
		printf("history:\n");
		r = task_history(&ts, t, id, print_entry, NULL);
	}
	if (r < 0)
		ctl_error("history of %s: %s", id, strerror(-r));
	else
		status = 0;
out:
	msg_free(&m);
	store_abort(t);
	store_close(st);
	return status;
}

/* ---- routes test ---- */

static void print_rule(const struct route_rule *r, size_t i)
{
	char d[32];

	printf("%zu. rule %s", i, r->name);
	if (r->line)
		printf(" (line %d)", r->line);
	if (r->business)
		printf("%s\n   assign to   %s\n   deadline    %s of working "
		       "time after acceptance\n", r->cont ? ", continue" : "",
		       r->assign,
		       time_format_duration(r->deadline_ms, d, sizeof(d)));
	else
		printf("%s\n   assign to   %s\n   deadline    %s after "
		       "acceptance\n", r->cont ? ", continue" : "", r->assign,
		       time_format_duration(r->deadline_ms, d, sizeof(d)));
	printf("   reminders  ");
	for (size_t k = 0; k < r->nreminders; k++)
		printf(" %s before", time_format_duration(r->reminders_ms[k], d,
							  sizeof(d)));
	printf("%s\n   escalation ", r->nreminders ? "" : " none");
	for (size_t k = 0; k < r->nescalation; k++)
		printf(" %s at +%s%s", r->escalation[k].to,
		       time_format_duration(r->escalation[k].after_ms, d,
					    sizeof(d)),
		       k + 1 < r->nescalation ? "," : "");
	printf("%s\n   notify     ", r->nescalation ? "" : " none");
	if (r->working_hours)
		printf(" (reminders in working hours only)");
	for (size_t k = 0; r->notify && r->notify[k]; k++)
		printf(" %s", r->notify[k]);
	printf("%s\n", r->notify ? "" : " nobody else");
}

int cmd_routes(struct ctl *ctl, int argc, char **argv)
{
	const struct route_rule *rules[ROUTE_MAX_MATCHES];
	struct route_table *table = NULL;
	struct calendar *cal = NULL;
	const struct config *conf;
	struct config_error err;
	struct msg_error merr;
	struct msg m = { 0 };
	msgpack_sbuffer sb;
	msgpack_packer pk;
	json_error_t jerr;
	const char *bad = NULL;
	char text[1024];
	json_t *o;
	size_t n;
	int status = 1;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
			 strcmp(argv[1], "-h") == 0))
		return ctl_help("routes");
	if (argc != 3 || strcmp(argv[1], "test") != 0)
		return ctl_usage("routes", "expected 'routes test FILE.json'");
	conf = ctl_config(ctl);
	if (!conf)
		return 1;
	if (!conf->routes) {
		ctl_error("%s: [baton] routes is not set", conf->path);
		return 1;
	}
	if ((conf->calendar && calendar_load(conf->calendar, &cal, &err) < 0) ||
	    route_load(conf->routes, cal, &table, &err) < 0) {
		ctl_error("%s", config_error_text(&err, text, sizeof(text)));
		calendar_free(cal);
		return 1;
	}
	o = strcmp(argv[2], "-") == 0 ?
	    json_loadf(stdin, JSON_REJECT_DUPLICATES, &jerr) :
	    json_load_file(argv[2], JSON_REJECT_DUPLICATES, &jerr);
	if (!o || !json_is_object(o)) {
		ctl_error("%s:%d: %s", argv[2], o ? 1 : jerr.line,
			  o ? "expected a JSON object" : jerr.text);
		json_decref(o);
		route_free(table);
		calendar_free(cal);
		return 1;
	}
	/* Fill in what a report needs but routing does not look at. */
	if (!json_object_get(o, "v"))
		json_object_set_new(o, "v", json_integer(MSG_VERSION));
	if (!json_object_get(o, "type"))
		json_object_set_new(o, "type", json_string("report"));
	if (!json_object_get(o, "id"))
		json_object_set_new(o, "id", json_string("routes-test"));
	if (!json_object_get(o, "kind"))
		json_object_set_new(o, "kind", json_string("incident"));
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (ctl_pack_json(&pk, o, &bad) < 0)
		ctl_error("%s: a report holds strings, integers and booleans "
			  "only", bad ? bad : argv[2]);
	else if (msg_decode(sb.data, sb.size, MSG_CTX_SUBMIT, &m, &merr) < 0)
		ctl_error("%s: intake would refuse it (%s): %s", argv[2],
			  msg_code_name(merr.code), merr.text);
	else if (m.type != MSG_REPORT || m.kind != KIND_INCIDENT)
		ctl_error("%s: only incident reports are routed; progress, "
			  "completion and periodic reports go to their task",
			  argv[2]);
	else if (!m.agency)
		ctl_error("%s: give the reporting agency (\"agency\")", argv[2]);
	else {
		n = route_match(table, &m, rules, ROUTE_MAX_MATCHES);
		printf("%s from %s matches %zu rule%s of %s:\n", m.id, m.agency,
		       n, n == 1 ? "" : "s", table->path);
		for (size_t i = 0; i < n; i++)
			print_rule(rules[i], i + 1);
		status = 0;
	}
	msg_free(&m);
	msgpack_sbuffer_destroy(&sb);
	json_decref(o);
	route_free(table);
	calendar_free(cal);
	return status;
}
