/*
 * deadline/plan.c - what each router event does to the timers.
 *
 * Every task.* event carries the task's whole plan: its deadline, reminder
 * offsets, escalation ladder and plan version. Applying one deletes the
 * task's pending timer rows and writes the rows of the plan as it now is,
 * in the subscriber's transaction, with "router event N applied": the
 * timers can never disagree with the last event applied. Steps that
 * already fired under the same plan version stay fired; a new version (an
 * extension, a reassignment, a resumed clock) starts with none fired, and
 * its alert ids are new.
 *
 * Nothing here looks at the clock: the steps are a pure function of the
 * task and the calendar (timer_plan_steps(), lib/timer.c). Steps that
 * should have fired while this daemon or the router was down are planned
 * like any other and fire at once, marked late (fire.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "deadline.h"
#include "log.h"

/* Apply task event m (its body: body, len) to the task's plan. */
static int replan(struct deadline *dl, struct store_txn *t,
		  const struct msg *m, const void *body, size_t len)
{
	struct timer_plan old, p = { 0 };
	bool had;
	int r;

	r = timer_plan_get(&dl->timers, t, m->task, &old);
	if (r < 0 && r != -ENOENT)
		return r;
	had = r == 0;
	for (size_t i = 0; had && i < old.nsteps; i++) {
		r = timer_del(&dl->timers, t, m->task, old.steps[i].step,
			      old.steps[i].at);
		if (r < 0 && r != -ENOENT)
			return r;
	}
	if (m->state == STATE_DONE || m->state == STATE_CANCELLED) {
		r = had ? timer_plan_del(&dl->timers, t, m->task) : 0;
		return r == -ENOENT ? 0 : r;
	}

	p.plan = m->plan;
	if (had && old.plan == m->plan) {
		p.start = old.start;
		p.done = old.done;
	} else {
		p.start = m->changed_at > 0 ? m->changed_at : m->created_at;
	}
	timer_plan_steps(m, dl->cal, &p);
	p.body = body;
	p.body_len = len;
	for (size_t i = 0; i < p.nsteps; i++) {
		r = timer_add(&dl->timers, t, m->task, p.steps[i].step,
			      p.steps[i].at, p.plan);
		if (r < 0)
			return r;
		if (p.steps[i].at < dl->pending_next)
			dl->pending_next = p.steps[i].at;
	}
	dl->pending.planned += p.nsteps;
	return timer_plan_put(&dl->timers, t, m->task, &p);
}

/* ---- the subscriber's callbacks ---- */

int deadline_apply(void *arg, struct store_txn *t, const struct bus_event *ev)
{
	struct deadline *dl = arg;
	struct msg_error err;
	struct msg m = { 0 };
	int r;

	r = msg_decode_event(ev->topic, ev->topic_len, ev->body, ev->body_len,
			     &m, &err);
	if (r < 0) {
		/* The router encoded it, so it decoded once; skip, don't wedge. */
		log_warnx("%s: router event %" PRIu64 " (%.*s) does not decode: "
			  "%s", __func__, ev->seq, (int)ev->topic_len,
			  ev->topic, err.text);
		msg_free(&m);
		return r == -ENOMEM ? r : 0;
	}
	switch (m.type) {
	case MSG_TASK_CREATED:
	case MSG_TASK_UPDATED:
	case MSG_TASK_CLOSED:
		r = replan(dl, t, &m, ev->body, ev->body_len);
		break;
	default:	/* refusals change no plan */
		r = 0;
		break;
	}
	msg_free(&m);
	return r;
}

void deadline_done(void *arg, bool committed)
{
	struct deadline *dl = arg;
	int r;

	if (committed && dl->pending.fired > DEADLINE_LOG_EACH)
		log_info("fired %" PRIu64 " alerts (late %" PRIu64 ") in one "
			 "round; batonctl alerts lists them", dl->pending.fired,
			 dl->pending.late);
	if (committed) {
		dl->total.planned += dl->pending.planned;
		dl->total.fired += dl->pending.fired;
		dl->total.late += dl->pending.late;
		dl->total.skipped += dl->pending.skipped;
		if (dl->pending_next < dl->next_due)
			dl->next_due = dl->pending_next;
	}
	dl->pending = (struct deadline_counts){ 0 };
	dl->pending_next = INT64_MAX;
	if (!committed) {
		bus_pub_rollback(dl->pub);
		return;
	}
	r = bus_pub_flush(dl->pub);
	if (r < 0)	/* stored; subscribers get it by replay */
		log_warnx("%s: publish: %s", __func__, strerror(-r));
}
