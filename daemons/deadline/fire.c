/*
 * deadline/fire.c - what is due now becomes alerts.
 *
 * The timer index is keyed by instant, so what is due is a walk from the
 * table's first key to the first one in the future. Each due step is, in
 * one transaction: its timer row deleted, its plan marked done, and its
 * alert stored and numbered on the bus. A crash before the commit leaves
 * the step due (it fires after the restart, late); a crash after it leaves
 * the alert stored (subscribers get it by replay). Either way the alert id
 * is announced exactly once.
 *
 * A reminder whose deadline has passed by the time it fires is dropped
 * instead (marked done, nothing sent): after a long downtime the overdue
 * alert says all there is to say.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deadline.h"
#include "log.h"

struct due {
	instant_t at;
	uint8_t step;
	uint64_t plan;
	char id[MSG_TASK_MAX + 1];
};

/* Up to max due rows (at <= now), copied out of a short cursor walk. */
static int collect(struct deadline *dl, struct store_txn *t, instant_t now,
		   struct due *out, size_t max, size_t *ret_n)
{
	struct store_cursor *c;
	struct timer_row row;
	const void *k, *v;
	size_t klen, vlen, n = 0;
	int r;

	r = store_cursor_open(t, dl->timers.timers, &c);
	if (r < 0)
		return r;
	r = store_cursor_seek(c, NULL, 0);
	while (r == 0 && n < max &&
	       (r = store_cursor_next(c, &k, &klen, &v, &vlen)) == 0) {
		if (timer_row_parse(k, klen, v, vlen, &row) < 0) {
			r = -EBADMSG;
			break;
		}
		if (row.at > now)
			break;
		out[n].at = row.at;
		out[n].step = row.step;
		out[n].plan = row.plan;
		memcpy(out[n].id, row.id, row.id_len);
		out[n].id[row.id_len] = '\0';
		n++;
	}
	store_cursor_close(c);
	*ret_n = n;
	return r == -ENOENT ? 0 : r;
}

/* Store and number the alert for step d of task m. */
static int announce(struct deadline *dl, struct store_txn *t,
		    const struct due *d, const struct msg *m, instant_t now,
		    bool logged)
{
	char alert_id[MSG_ALERT_ID_MAX + 1];
	bool obligation = timer_is_obligation(m);
	struct msg a = {
		.type = MSG_ALERT, .alert = timer_step_alert(d->step, obligation),
		.alert_id = timer_alert_id(m->task, d->plan, d->step,
					   obligation, alert_id,
					   sizeof(alert_id)),
		.task = m->task, .agency = m->agency, .title = m->title,
		.due_at = m->due_at, .fired_at = now, .planned_at = d->at,
		.late = now - d->at > DEADLINE_LATE_MS, .drill = m->drill,
		.plan = d->plan, .category = m->category,
		.severity = m->severity, .period = m->period, .rule = m->rule,
		.nnotify = m->nnotify,
	};
	struct log_field f[] = {
		{ "ALERT_ID", alert_id }, { "TASK_ID", m->task },
		{ "AGENCY", m->agency }, { "KIND", msg_alert_name(a.alert) },
	};
	char late[48] = "";
	void *body;
	size_t len;
	int r;

	memcpy(a.notify, m->notify, sizeof(a.notify));
	if (a.alert == ALERT_ESCALATION) {
		size_t level = d->step - TIMER_STEP_ESCALATION;

		if (level >= m->nescalation)
			return -EBADMSG;
		a.level = level + 1;
		a.to = m->escalate_to[level];
	}
	r = msg_encode(&a, &body, &len);
	if (r < 0)
		return r;
	r = bus_pub_append(dl->pub, t, msg_alert_topic(a.alert), body, len,
			   NULL);
	free(body);
	if (r < 0)
		return r;
	if (a.late) {
		char gap[32];

		snprintf(late, sizeof(late), ", late by %s",
			 time_format_duration(now - d->at, gap, sizeof(gap)));
		dl->pending.late++;
	}
	log_fields(logged ? LOG_INFO : LOG_DEBUG, f, 4, "alert %s: %s for %s%s",
		   alert_id, msg_alert_name(a.alert), m->agency, late);
	dl->pending.fired++;
	return 0;
}

/* Fire (or drop) due step d, in t. */
static int fire_one(struct deadline *dl, struct store_txn *t,
		    const struct due *d, instant_t now, bool logged)
{
	struct timer_plan p;
	struct msg m = { 0 };
	bool found = false;
	int r;

	r = timer_del(&dl->timers, t, d->id, d->step, d->at);
	if (r < 0)
		return r;
	r = timer_plan_get(&dl->timers, t, d->id, &p);
	if (r == -ENOENT || (r == 0 && p.plan != d->plan)) {
		log_warnx("%s: timer of %s, step %u, plan %" PRIu64 " outlived "
			  "its plan; dropped", __func__, d->id, d->step,
			  d->plan);
		return 0;
	}
	if (r < 0)
		return r;
	/* The body points into the map: read it before anything is written. */
	r = timer_plan_task(&p, &m);
	if (r < 0)
		return r;
	for (size_t i = 0; i < p.nsteps; i++) {
		if (found)
			p.steps[i - 1] = p.steps[i];
		else if (p.steps[i].step == d->step && p.steps[i].at == d->at)
			found = true;
	}
	if (found)
		p.nsteps--;
	p.done |= UINT64_C(1) << d->step;
	r = timer_plan_put(&dl->timers, t, d->id, &p);
	if (r < 0)
		goto out;
	if (timer_step_alert(d->step, false) == ALERT_REMINDER &&
	    now >= m.due_at) {
		log_info("%s: reminder %u of %s not sent: its deadline has "
			 "passed", __func__, d->step, d->id);
		dl->pending.skipped++;
		goto out;
	}
	r = announce(dl, t, d, &m, now, logged);
out:
	msg_free(&m);
	return r;
}

int deadline_fire(struct deadline *dl, instant_t now)
{
	struct due *due;
	struct store_txn *t;
	size_t n = 0;
	int r;

	due = calloc(DEADLINE_FIRE_BATCH, sizeof(*due));
	if (!due)
		return -ENOMEM;
	for (int tries = 0;; tries++) {
		r = store_begin(dl->store, true, &t);
		if (r < 0)
			break;
		r = collect(dl, t, now, due, DEADLINE_FIRE_BATCH, &n);
		for (size_t i = 0; r == 0 && i < n; i++)
			r = fire_one(dl, t, &due[i], now,
				     n <= DEADLINE_LOG_EACH);
		if (r == 0)
			r = store_commit(t);
		else
			store_abort(t);
		deadline_done(dl, r == 0);
		if (r != -ENOSPC || tries == 16)
			break;
		r = store_grow(dl->store, 0);
		if (r < 0)
			break;
	}
	free(due);
	if (r < 0)
		return r;
	r = deadline_next_due(dl);
	return r < 0 ? r : (int)n;
}

int deadline_next_due(struct deadline *dl)
{
	struct store_txn *t;
	instant_t at;
	int r;

	r = store_begin(dl->store, false, &t);
	if (r < 0)
		return r;
	r = timer_first(&dl->timers, t, &at);
	store_abort(t);
	if (r == -ENOENT) {
		dl->next_due = INT64_MAX;
		return 0;
	}
	if (r < 0)
		return r;
	dl->next_due = at;
	return 0;
}
