/*
 * router/obligations.c - the periodic reports agencies owe.
 *
 * Each [schedule] in routes.conf names agencies that owe a report every
 * year, half, quarter, month, week, day or fixed length of time, due some
 * time after the period ends, and only within its from and until if set.
 * The router keeps one obligation task per agency for the period under way
 * and the next one, with an id made of schedule, agency and period
 * ("P-quarterly-key-areas-mic-2026-Q4"), so creating it again changes
 * nothing and a restart or a rebuilt store makes the same ids. The task's
 * instants come from the period, never from when the router ran. A
 * periodic report for the period closes the obligation; one that comes
 * before its obligation exists closes it at birth; a second report for a
 * closed period changes nothing and is only noted in the history. An
 * obligation still open when due is what the deadline daemon turns into a
 * missing-report alert.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "router.h"
#include "time.h"

#define GROW_TRIES	16

static bool owes(const struct route_schedule *sc, const char *agency)
{
	for (char **a = sc->rule.agencies; a && *a; a++)
		if (strcmp(*a, agency) == 0)
			return true;
	return false;
}

/* The obligation of agency for period (start..end) under sc, opened. */
static void obligation(const struct route_schedule *sc,
		       const struct calendar *cal, const char *agency,
		       const char *period, int64_t start, int64_t end,
		       char *id, size_t idsize, struct msg *task)
{
	const struct route_rule *rule = &sc->rule;

	*task = (struct msg){
		.type = MSG_TASK_CREATED, .state = STATE_OPEN,
		.change = CHANGE_CREATED, .agency = agency,
		.category = sc->category, .title = sc->title,
		.period = period, .created_at = start, .changed_at = start,
		.business = rule->business,
		.working_hours = rule->working_hours, .plan = 1,
		.rule = rule->name,
		.task = route_obligation_id(sc, agency, period, id, idsize),
	};
	if (route_due(rule, cal, end, &task->due_at) < 0)
		task->due_at = end + rule->deadline_ms;
	task->nreminders = rule->nreminders;
	memcpy(task->reminders, rule->reminders_ms,
	       rule->nreminders * sizeof(int64_t));
	task->nescalation = rule->nescalation;
	for (size_t k = 0; k < rule->nescalation; k++) {
		task->escalate_to[k] = rule->escalation[k].to;
		task->escalate_after[k] = rule->escalation[k].after_ms;
	}
	for (size_t k = 0; rule->notify && rule->notify[k]; k++)
		task->notify[task->nnotify++] = rule->notify[k];
}

/* ---- reports ---- */

/* A second report for a period already closed: noted, not announced. */
static int note_again(struct router *rt, struct store_txn *t,
		      const char *id, const struct msg *m, uint64_t seq)
{
	struct msg rf = {
		.type = MSG_TASK_REFUSED, .task = id, .agency = m->agency,
		.id = m->id, .cause_seq = seq,
		.reason = "the report for this period was already received",
	};
	void *body;
	size_t len;
	int r;

	r = msg_encode(&rf, &body, &len);
	if (r < 0)
		return r;
	r = task_note(&rt->tasks, t, id, msg_topic(MSG_TASK_REFUSED), body,
		      len);
	free(body);
	return r;
}

int router_periodic(struct router *rt, struct store_txn *t,
		    const struct msg *m, uint64_t seq)
{
	char id[TASK_ID_MAX + 1];
	int64_t start, end;
	size_t answered = 0;
	int r;

	for (size_t i = 0; i < rt->routes->nschedules; i++) {
		const struct route_schedule *sc = &rt->routes->schedules[i];
		struct msg task = { 0 };

		if (!owes(sc, m->agency) ||
		    !route_schedule_owes(sc, m->period, &start, &end))
			continue;
		answered++;
		route_obligation_id(sc, m->agency, m->period, id, sizeof(id));
		r = task_get(&rt->tasks, t, id, &task);
		if (r == 0 && (task.state == STATE_DONE ||
			       task.state == STATE_CANCELLED)) {
			msg_free(&task);
			r = note_again(rt, t, id, m, seq);
			if (r < 0)
				return r;
			continue;
		}
		if (r == -ENOENT)	/* early, or a rebuilt store */
			obligation(sc, rt->cal, m->agency, m->period, start,
				   end, id, sizeof(id), &task);
		else if (r < 0)
			return r;
		router_transition(rt, &task, STATE_DONE, CHANGE_COMPLETED);
		task.changed_at = m->accepted_at;
		task.cause_seq = seq;
		task.origin_agency = m->agency;
		task.origin_id = m->id;
		task.origin_seq = seq;
		task.by = m->agency;
		task.note = m->title;
		r = router_publish_task(rt, t, &task);
		msg_free(&task);
		if (r < 0)
			return r;
	}
	if (answered == 0)
		log_info("periodic report %s from %s for %s: no schedule asks "
			 "%s for it", m->id, m->agency, m->period, m->agency);
	return 0;
}

/* ---- the clock ---- */

/* Create the missing obligations of the periods holding now and after. */
static int ensure(struct router *rt, struct store_txn *t, int64_t now,
		  int64_t *next)
{
	char period[MSG_PERIOD_MAX + 1], id[TASK_ID_MAX + 1];
	int64_t start, end;
	int r;

	*next = INT64_MAX;
	for (size_t i = 0; i < rt->routes->nschedules; i++) {
		const struct route_schedule *sc = &rt->routes->schedules[i];
		int64_t at = now;

		for (int p = 0; p < 2; p++, at = end) {
			r = route_schedule_period(sc, at, period,
						  sizeof(period), &start, &end);
			if (r < 0)
				return r;
			if (p == 0 && end < *next)
				*next = end;
			if (start < sc->from || end > sc->until)
				continue;
			for (char **a = sc->rule.agencies; *a; a++) {
				struct msg task = { 0 };

				route_obligation_id(sc, *a, period, id,
						    sizeof(id));
				r = task_get(&rt->tasks, t, id, &task);
				msg_free(&task);
				if (r == 0)
					continue;
				if (r != -ENOENT)
					return r;
				obligation(sc, rt->cal, *a, period, start, end,
					   id, sizeof(id), &task);
				r = router_publish_task(rt, t, &task);
				if (r < 0)
					return r;
				rt->pending.created++;
			}
		}
	}
	return 0;
}

int64_t router_obligations(struct router *rt, int64_t now)
{
	struct store_txn *t;
	int64_t next;
	int r;

	for (int tries = 0;; tries++) {
		r = store_begin(rt->store, true, &t);
		if (r < 0)
			return r;
		r = ensure(rt, t, now, &next);
		if (r == 0)
			r = store_commit(t);
		else
			store_abort(t);
		router_done(rt, r == 0);
		if (r != -ENOSPC || tries == GROW_TRIES)
			break;
		r = store_grow(rt->store, 0);
		if (r < 0)
			return r;
	}
	return r < 0 ? r : next;
}
