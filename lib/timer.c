/*
 * timer.c - the deadline daemon's timers and plans in LMDB (see timer.h).
 *
 * A plan row is small and fixed in layout so that firing a step, which
 * rewrites it, costs one short put: a version byte, the plan version, the
 * instant it began, the done mask, the pending steps (9 bytes each), then
 * the task body as the router published it. The body is kept whole
 * because an alert repeats what the task says (title, agency, drill,
 * notify list) and the task may be long gone from the router's mind by
 * the time its last escalation fires.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "timer.h"

#define PLAN_VERSION	1
#define PLAN_HEAD	(1 + 8 + 8 + 8 + 1)
#define STEP_BYTES	9
#define KEY_MAX		(8 + MSG_TASK_MAX + 1 + 1)

int timer_store_open(struct store *st, struct timer_store *ts)
{
	int r;

	ts->st = st;
	r = store_table(st, TIMER_TABLE, &ts->timers);
	if (r == 0)
		r = store_table(st, TIMER_PLAN_TABLE, &ts->plans);
	if (r == 0)
		r = store_table(st, BUS_EVENTS_TABLE, &ts->events);
	return r;
}

/* ---- plans ---- */

int timer_plan_get(const struct timer_store *ts, struct store_txn *t,
		   const char *id, struct timer_plan *p)
{
	const uint8_t *v;
	const void *raw;
	size_t vlen, need;
	int r;

	r = store_get(t, ts->plans, id, strlen(id), &raw, &vlen);
	if (r < 0)
		return r;
	v = raw;
	if (vlen < PLAN_HEAD || v[0] != PLAN_VERSION)
		return -EBADMSG;
	p->plan = store_u64_from(v + 1);
	p->start = (instant_t)store_u64_from(v + 9);
	p->done = store_u64_from(v + 17);
	p->nsteps = v[25];
	need = PLAN_HEAD + p->nsteps * STEP_BYTES;
	if (p->nsteps > TIMER_STEPS || vlen < need)
		return -EBADMSG;
	for (size_t i = 0; i < p->nsteps; i++) {
		const uint8_t *s = v + PLAN_HEAD + i * STEP_BYTES;

		p->steps[i].step = s[0];
		p->steps[i].at = (instant_t)store_u64_from(s + 1);
		if (s[0] >= TIMER_STEPS)
			return -EBADMSG;
	}
	p->body = v + need;
	p->body_len = vlen - need;
	return 0;
}

int timer_plan_task(const struct timer_plan *p, struct msg *m)
{
	/* Any task topic will do to read the body; its state decides. */
	static const char topic[] = "task.updated";
	int r;

	r = msg_decode_event(topic, sizeof(topic) - 1, p->body, p->body_len, m,
			     NULL);
	if (r < 0) {
		msg_free(m);
		return r == -ENOMEM ? r : -EBADMSG;
	}
	return 0;
}

int timer_plan_put(const struct timer_store *ts, struct store_txn *t,
		   const char *id, const struct timer_plan *p)
{
	size_t len, idlen = strlen(id);
	uint8_t *v;
	int r;

	if (idlen == 0 || idlen > MSG_TASK_MAX || p->nsteps > TIMER_STEPS)
		return -EINVAL;
	len = PLAN_HEAD + p->nsteps * STEP_BYTES + p->body_len;
	v = malloc(len);
	if (!v)
		return -ENOMEM;
	v[0] = PLAN_VERSION;
	store_u64_key(p->plan, v + 1);
	store_u64_key((uint64_t)p->start, v + 9);
	store_u64_key(p->done, v + 17);
	v[25] = (uint8_t)p->nsteps;
	for (size_t i = 0; i < p->nsteps; i++) {
		uint8_t *s = v + PLAN_HEAD + i * STEP_BYTES;

		s[0] = p->steps[i].step;
		store_u64_key((uint64_t)p->steps[i].at, s + 1);
	}
	/* body may point into the row being replaced: copy before the put. */
	if (p->body_len)
		memcpy(v + PLAN_HEAD + p->nsteps * STEP_BYTES, p->body,
		       p->body_len);
	r = store_put(t, ts->plans, id, idlen, v, len, 0);
	free(v);
	return r;
}

int timer_plan_del(const struct timer_store *ts, struct store_txn *t,
		   const char *id)
{
	return store_del(t, ts->plans, id, strlen(id));
}

/* ---- timers ---- */

/* The key of a timer row into key; returns its length, 0 if id is bad. */
static size_t timer_key(const char *id, uint8_t step, instant_t at,
			uint8_t key[KEY_MAX])
{
	size_t len = strlen(id);

	if (len == 0 || len > MSG_TASK_MAX || at < 0)
		return 0;
	store_u64_key((uint64_t)at, key);
	memcpy(key + 8, id, len);
	key[8 + len] = '\0';
	key[9 + len] = step;
	return 10 + len;
}

int timer_add(const struct timer_store *ts, struct store_txn *t,
	      const char *id, uint8_t step, instant_t at, uint64_t plan)
{
	uint8_t key[KEY_MAX], val[8];
	size_t klen = timer_key(id, step, at, key);

	if (!klen)
		return -EINVAL;
	store_u64_key(plan, val);
	return store_put(t, ts->timers, key, klen, val, sizeof(val), 0);
}

int timer_del(const struct timer_store *ts, struct store_txn *t,
	      const char *id, uint8_t step, instant_t at)
{
	uint8_t key[KEY_MAX];
	size_t klen = timer_key(id, step, at, key);

	if (!klen)
		return -EINVAL;
	return store_del(t, ts->timers, key, klen);
}

int timer_row_parse(const void *key, size_t klen, const void *val,
		    size_t vlen, struct timer_row *row)
{
	const uint8_t *k = key;

	if (klen < 11 || klen > KEY_MAX || vlen != 8 || k[klen - 2] != '\0')
		return -EBADMSG;
	row->at = (instant_t)store_u64_from(k);
	row->id = (const char *)k + 8;
	row->id_len = klen - 10;
	row->step = k[klen - 1];
	row->plan = store_u64_from(val);
	if (row->at < 0 || row->step >= TIMER_STEPS ||
	    memchr(row->id, '\0', row->id_len))
		return -EBADMSG;
	return 0;
}

int timer_first(const struct timer_store *ts, struct store_txn *t,
		instant_t *at)
{
	struct store_cursor *c;
	const void *k, *v;
	size_t klen, vlen;
	int r;

	r = store_cursor_open(t, ts->timers, &c);
	if (r < 0)
		return r;
	r = store_cursor_seek(c, NULL, 0);
	if (r == 0)
		r = store_cursor_next(c, &k, &klen, &v, &vlen);
	if (r == 0) {
		if (klen < 8)
			r = -EBADMSG;
		else
			*at = (instant_t)store_u64_from(k);
	}
	store_cursor_close(c);
	return r;
}

/* ---- planning ---- */

/*
 * When reminder at goes out under working-hours delivery: at itself in
 * working time, else the next working moment if that is still before the
 * deadline, else the end of the last working window before at. Returns
 * -1 when none of these is at or after the plan's start.
 */
static instant_t working_reminder(const struct calendar *cal, instant_t at,
				  instant_t due, instant_t start)
{
	instant_t moved;

	if (calendar_next_working(cal, at, &moved) == 0 && moved < due)
		return moved;
	if (calendar_prev_working(cal, at, &moved) == 0 && moved >= start)
		return moved;
	return -1;
}

void timer_plan_steps(const struct msg *m, const struct calendar *cal,
		      struct timer_plan *p)
{
	p->nsteps = 0;
	if (m->state == STATE_WAITING)	/* its clock is paused */
		return;
	for (size_t i = 0; i < m->nreminders; i++) {
		uint8_t step = (uint8_t)(TIMER_STEP_REMINDER + i);
		instant_t at = m->due_at - m->reminders[i];

		if (p->done & (UINT64_C(1) << step))
			continue;
		if (m->working_hours && cal)
			at = working_reminder(cal, at, m->due_at, p->start);
		if (at < p->start)
			continue;
		p->steps[p->nsteps++] = (struct timer_step){ step, at };
	}
	if (!(p->done & (UINT64_C(1) << TIMER_STEP_DUE)))
		p->steps[p->nsteps++] = (struct timer_step){ TIMER_STEP_DUE,
							     m->due_at };
	for (size_t i = 0; i < m->nescalation; i++) {
		uint8_t step = (uint8_t)(TIMER_STEP_ESCALATION + i);
		instant_t at = m->due_at;

		if (p->done & (UINT64_C(1) << step))
			continue;
		/* A ladder past the end of time is not worth a timer. */
		if (m->escalate_after[i] > INT64_MAX - at)
			continue;
		at += m->escalate_after[i];
		p->steps[p->nsteps++] = (struct timer_step){ step, at };
	}
}

/* ---- steps and alert ids ---- */

enum msg_alert timer_step_alert(uint8_t step, bool obligation)
{
	if (step == TIMER_STEP_DUE)
		return obligation ? ALERT_MISSING_REPORT : ALERT_OVERDUE;
	if (step < TIMER_STEP_ESCALATION)
		return ALERT_REMINDER;
	if (step < TIMER_STEPS)
		return ALERT_ESCALATION;
	return ALERT_NONE;
}

char *timer_step_name(uint8_t step, bool obligation, char *buf, size_t size)
{
	switch (timer_step_alert(step, obligation)) {
	case ALERT_REMINDER:
		snprintf(buf, size, "reminder-%u",
			 step - TIMER_STEP_REMINDER + 1);
		break;
	case ALERT_ESCALATION:
		snprintf(buf, size, "escalation-%u",
			 step - TIMER_STEP_ESCALATION + 1);
		break;
	case ALERT_OVERDUE:
	case ALERT_MISSING_REPORT:
		snprintf(buf, size, "%s",
			 msg_alert_name(timer_step_alert(step, obligation)));
		break;
	default:
		snprintf(buf, size, "step-%u", step);
		break;
	}
	return buf;
}

char *timer_alert_id(const char *id, uint64_t plan, uint8_t step,
		     bool obligation, char *buf, size_t size)
{
	char name[TIMER_STEP_NAME_MAX + 1];

	snprintf(buf, size, "%s/%" PRIu64 "/%s", id, plan,
		 timer_step_name(step, obligation, name, sizeof(name)));
	return buf;
}

bool timer_is_obligation(const struct msg *m)
{
	return m->period != NULL;
}
