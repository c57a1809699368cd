/*
 * batonctl/alerts.c - baton-deadline's view: what will fire and when
 * (timers), and what fired (alerts).
 *
 * Both read the deadline daemon's LMDB read-only. The timer index is keyed
 * by instant, so "timers" prints in firing order by walking it; with
 * --task it reads the one plan row instead. The alerts that fired are the
 * daemon's published events, in the order it fired them, so "alerts" is a
 * walk of its bus.events table from the first one at or after --since.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batonctl.h"
#include "bus.h"
#include "store.h"
#include "timer.h"

static struct store *open_deadline(struct ctl *ctl, struct timer_store *ts)
{
	struct store *st = ctl_open_store(ctl, "deadline");
	int r;

	if (!st)
		return NULL;
	r = timer_store_open(st, ts);
	if (r < 0) {
		ctl_error("deadline store: %s", r == -ENOENT ?
			  "nothing planned yet" : strerror(-r));
		store_close(st);
		return NULL;
	}
	return st;
}

/* ---- timers ---- */

/* One pending step of task id (its plan row p, body decoded in m). */
static void print_timer(const char *id, const struct timer_plan *p,
			const struct msg *m, uint8_t step, instant_t at,
			bool json, instant_t now)
{
	char alert_id[MSG_ALERT_ID_MAX + 1], when[TIME_INSTANT_LEN];
	char rel[48];
	bool obligation = timer_is_obligation(m);
	enum msg_alert kind = timer_step_alert(step, obligation);

	timer_alert_id(id, p->plan, step, obligation, alert_id,
		       sizeof(alert_id));
	if (json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s}",
				      "alert_id", alert_id, "kind",
				      msg_alert_name(kind), "task", id,
				      "at", (json_int_t)at, "plan",
				      (json_int_t)p->plan, "agency", m->agency,
				      "title", m->title);

		if (kind == ALERT_ESCALATION) {
			size_t level = step - TIMER_STEP_ESCALATION;

			json_object_set_new(o, "level",
					    json_integer((json_int_t)level + 1));
			if (level < m->nescalation)
				json_object_set_new(o, "to", json_string(
					m->escalate_to[level]));
		}
		ctl_print_json(o);
		return;
	}
	printf("%s  %-16s %-14s %-12s %s\n",
	       time_format_instant(at, when, sizeof(when)),
	       at <= now ? "due now" :
	       ctl_due_text(at, now, rel, sizeof(rel)), msg_alert_name(kind),
	       m->agency, alert_id);
}

/* The pending steps of task id, in firing order. */
static int timers_of(const struct timer_store *ts, struct store_txn *t,
		     const char *id, bool json, instant_t now)
{
	struct timer_plan p;
	struct msg m = { 0 };
	size_t order[TIMER_STEPS];
	int r;

	r = timer_plan_get(ts, t, id, &p);
	if (r == 0)
		r = timer_plan_task(&p, &m);
	if (r < 0)
		return r;
	for (size_t i = 0; i < p.nsteps; i++) {
		size_t j = i;

		while (j > 0 && p.steps[order[j - 1]].at > p.steps[i].at) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	for (size_t i = 0; i < p.nsteps; i++)
		print_timer(id, &p, &m, p.steps[order[i]].step,
			    p.steps[order[i]].at, json, now);
	if (p.nsteps == 0 && !json)
		printf("%s: nothing pending%s\n", id,
		       m.state == STATE_WAITING ? " (waiting: its clock is "
		       "paused)" : "");
	msg_free(&m);
	return 0;
}

/* Every timer, in firing order, at most limit (0: all). */
static int timers_all(const struct timer_store *ts, struct store_txn *t,
		      unsigned long long limit, bool json, instant_t now)
{
	struct store_cursor *c;
	unsigned long long n = 0;
	int r;

	r = store_cursor_open(t, ts->timers, &c);
	if (r == 0)
		r = store_cursor_seek(c, NULL, 0);
	while (r == 0 && (limit == 0 || n < limit)) {
		char id[MSG_TASK_MAX + 1];
		struct timer_row row;
		struct timer_plan p;
		struct msg m = { 0 };
		const void *k, *v;
		size_t klen, vlen;

		r = store_cursor_next(c, &k, &klen, &v, &vlen);
		if (r < 0)
			break;
		if (timer_row_parse(k, klen, v, vlen, &row) < 0) {
			ctl_error("a timer row does not parse; skipped");
			continue;
		}
		snprintf(id, sizeof(id), "%.*s", (int)row.id_len, row.id);
		if (timer_plan_get(ts, t, id, &p) < 0 ||
		    timer_plan_task(&p, &m) < 0) {
			ctl_error("timer of %s: its plan does not read", id);
			continue;
		}
		print_timer(id, &p, &m, row.step, row.at, json, now);
		msg_free(&m);
		n++;
	}
	store_cursor_close(c);
	if (r == 0 && !json) {
		uint64_t total = 0;

		store_count(t, ts->timers, &total);
		if (n < total)
			printf("... %" PRIu64 " more (--limit)\n", total - (uint64_t)n);
	}
	if (r == 0 && n == 0 && !json)
		printf("no timers: nothing will fire\n");
	return r == -ENOENT ? 0 : r;
}

int cmd_timers(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "task", required_argument, NULL, 't' },
		{ "limit", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long limit = 0;
	const char *task = NULL;
	struct timer_store ts;
	struct store_txn *t;
	struct store *st;
	bool json = false;
	int ch, r;

	while ((ch = getopt_long(argc, argv, "t:n:h", opts, NULL)) != -1) {
		switch (ch) {
		case 't':
			task = optarg;
			break;
		case 'n':
			if (!ctl_parse_u64(optarg, &limit) || limit == 0)
				return ctl_usage("timers", "--limit: '%s' is "
						 "not a positive number",
						 optarg);
			break;
		case 'J':
			json = true;
			break;
		case 'h':
			return ctl_help("timers");
		default:
			return ctl_usage("timers", "unknown option");
		}
	}
	if (optind != argc)
		return ctl_usage("timers", "unexpected argument '%s'",
				 argv[optind]);
	st = open_deadline(ctl, &ts);
	if (!st)
		return 1;
	r = store_begin(st, false, &t);
	if (r == 0 && task)
		r = timers_of(&ts, t, task, json, time_now());
	else if (r == 0)
		r = timers_all(&ts, t, limit, json, time_now());
	store_abort(t);
	store_close(st);
	if (r == -ENOENT && task) {
		ctl_error("no open task %s is planned", task);
		return 1;
	}
	if (r < 0) {
		ctl_error("timers: %s", strerror(-r));
		return 1;
	}
	return 0;
}

/* ---- alerts ---- */

static json_t *alert_json(uint64_t seq, const struct msg *a)
{
	json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:b, s:b}",
			      "seq", (json_int_t)seq, "alert_id", a->alert_id,
			      "kind", msg_alert_name(a->alert), "agency",
			      a->agency, "title", a->title, "due_at",
			      (json_int_t)a->due_at, "fired_at",
			      (json_int_t)a->fired_at, "late", a->late,
			      "drill", a->drill);
	json_t *n = json_array();

	if (a->task)
		json_object_set_new(o, "task", json_string(a->task));
	if (a->planned_at)
		json_object_set_new(o, "planned_at",
				    json_integer((json_int_t)a->planned_at));
	if (a->level) {
		json_object_set_new(o, "level",
				    json_integer((json_int_t)a->level));
		json_object_set_new(o, "to", json_string(a->to));
	}
	if (a->plan)
		json_object_set_new(o, "plan", json_integer((json_int_t)a->plan));
	if (a->period)
		json_object_set_new(o, "period", json_string(a->period));
	for (size_t i = 0; i < a->nnotify; i++)
		json_array_append_new(n, json_string(a->notify[i]));
	json_object_set_new(o, "notify", n);
	return o;
}

static void print_alert(const struct msg *a)
{
	char when[TIME_INSTANT_LEN], gap[32], late[48] = "";

	if (a->late)
		snprintf(late, sizeof(late), "  late by %s",
			 time_format_duration(a->fired_at - a->planned_at, gap,
					      sizeof(gap)));
	printf("%s  %-14s %-12s %s", time_format_instant(a->fired_at, when,
							 sizeof(when)),
	       msg_alert_name(a->alert), a->agency, a->alert_id);
	if (a->level)
		printf("  level %" PRIu64 " to %s", a->level, a->to);
	printf("%s%s\n", late, a->drill ? "  (drill)" : "");
}

/* "--since": an instant, or a duration meaning that long ago. */
static int parse_since(const char *text, instant_t *ret)
{
	int64_t ago;

	if (time_parse_instant(text, ret) == 0)
		return 0;
	if (time_parse_duration(text, &ago) == 0) {
		*ret = time_now() - ago;
		return 0;
	}
	return -EINVAL;
}

int cmd_alerts(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct store_cursor *c = NULL;
	struct store_txn *t = NULL;
	struct timer_store ts;
	struct store *st;
	instant_t since = 0;
	uint64_t shown = 0;
	bool json = false;
	int ch, r;

	while ((ch = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (parse_since(optarg, &since) < 0)
				return ctl_usage("alerts", "--since: '%s' is "
						 "neither an instant "
						 "(2026-11-26T08:00:00Z) nor "
						 "a duration (2h)", optarg);
			break;
		case 'J':
			json = true;
			break;
		case 'h':
			return ctl_help("alerts");
		default:
			return ctl_usage("alerts", "unknown option");
		}
	}
	if (optind != argc)
		return ctl_usage("alerts", "unexpected argument '%s'",
				 argv[optind]);
	st = open_deadline(ctl, &ts);
	if (!st)
		return 1;
	r = store_begin(st, false, &t);
	if (r == 0)
		r = store_cursor_open(t, ts.events, &c);
	if (r == 0)
		r = store_cursor_seek(c, NULL, 0);
	while (r == 0) {
		struct bus_event ev;
		struct msg a = { 0 };
		const void *k, *v;
		size_t klen, vlen;

		r = store_cursor_next(c, &k, &klen, &v, &vlen);
		if (r < 0)
			break;
		if (klen != 8 ||
		    bus_record_parse(store_u64_from(k), v, vlen, &ev) < 0 ||
		    msg_decode_event(ev.topic, ev.topic_len, ev.body,
				     ev.body_len, &a, NULL) < 0 ||
		    a.type != MSG_ALERT) {
			ctl_error("alert record %" PRIu64 " does not decode",
				  klen == 8 ? store_u64_from(k) : 0);
			msg_free(&a);
			continue;
		}
		if (a.fired_at >= since) {
			if (json)
				ctl_print_json(alert_json(ev.seq, &a));
			else
				print_alert(&a);
			shown++;
		}
		msg_free(&a);
	}
	store_cursor_close(c);
	store_abort(t);
	store_close(st);
	if (r < 0 && r != -ENOENT) {
		ctl_error("alerts: %s", strerror(-r));
		return 1;
	}
	if (shown == 0 && !json)
		printf("no alerts%s\n", since ? " since then" : " yet");
	return 0;
}
