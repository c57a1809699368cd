/*
 * router/apply.c - what each event from intake does to the tasks.
 *
 * Everything here runs inside the subscriber's write transaction, together
 * with the position it records: a task, its history and the task.* event
 * announcing it are stored in the same commit as "intake event N applied",
 * so a crash can neither lose nor repeat a change. Nothing here looks at
 * the clock: every instant comes from the event (its accepted_at), which
 * is what makes replaying intake's log rebuild exactly the same tasks.
 *
 *   incident report     each matching rule makes a task (triage if none)
 *   progress report     the task goes in-progress, if the sender holds it
 *   completion report   the task is done, if the sender holds it
 *   periodic report     closes the obligations it answers (obligations.c)
 *   command             complete, extend, reassign, cancel, wait or
 *                       resume, with reason
 *
 * A report or command that may not change its task changes nothing: it
 * goes into the task's history (when there is a task) and out as
 * task.refused, which notify turns into an alert to the office.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "router.h"

/* Encode m, store it as task m->task with its history, publish it. */
int router_publish_task(struct router *rt, struct store_txn *t,
			const struct msg *m)
{
	uint64_t seq;
	void *body;
	size_t len;
	int r;

	r = msg_encode(m, &body, &len);
	if (r < 0)
		return r;
	r = bus_pub_append(rt->pub, t, msg_topic(m->type), body, len, &seq);
	if (r == 0)
		r = task_put(&rt->tasks, t, m, body, len, seq);
	free(body);
	return r;
}

/*
 * Record (in task id's history, when known: the task exists) and announce
 * that m, intake sequence seq, changed nothing, and why.
 */
static int refuse(struct router *rt, struct store_txn *t, const char *id,
		  bool known, const struct msg *m, uint64_t seq,
		  const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

static int refuse(struct router *rt, struct store_txn *t, const char *id,
		  bool known, const struct msg *m, uint64_t seq,
		  const char *fmt, ...)
{
	char reason[MSG_REASON_MAX];
	struct msg rf = {
		.type = MSG_TASK_REFUSED, .task = id, .agency = m->agency,
		.id = m->id, .cause_seq = seq, .reason = reason,
	};
	uint64_t event;
	char cause[24];
	struct log_field f[] = {
		{ "TASK_ID", id }, { "AGENCY", m->agency },
		{ "REPORT_ID", m->id }, { "SEQ", cause },
	};
	void *body;
	size_t len;
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	snprintf(cause, sizeof(cause), "%" PRIu64, seq);
	log_fields(LOG_NOTICE, f, 4, "refused %s from %s on %s: %s", m->id,
		   m->agency, id, reason);
	r = msg_encode(&rf, &body, &len);
	if (r < 0)
		return r;
	r = bus_pub_append(rt->pub, t, msg_topic(MSG_TASK_REFUSED), body, len,
			   &event);
	free(body);
	/* An unknown task gets no history of its own; the event still goes. */
	if (r == 0 && known)
		r = task_note_event(&rt->tasks, t, id, event);
	rt->pending.refused++;
	return r;
}

/* ---- incidents ---- */

static int create_tasks(struct router *rt, struct store_txn *t,
			const struct msg *m, uint64_t seq)
{
	const struct route_rule *rules[ROUTE_MAX_MATCHES];
	char id[TASK_ID_MAX + 1];
	size_t n;
	int r;

	n = route_match(rt->routes, m, rules, ROUTE_MAX_MATCHES);
	for (size_t i = 0; i < n; i++) {
		const struct route_rule *rule = rules[i];
		struct msg task = {
			.type = MSG_TASK_CREATED, .state = STATE_OPEN,
			.change = CHANGE_CREATED, .agency = rule->assign,
			.category = m->category, .severity = m->severity,
			.title = m->title, .drill = m->drill,
			.created_at = m->accepted_at,
			.changed_at = m->accepted_at,
			.business = rule->business,
			.working_hours = rule->working_hours,
			.plan = 1, .rule = rule->name,
			.origin_agency = m->agency, .origin_id = m->id,
			.origin_seq = seq, .cause_seq = seq, .by = m->agency,
		};
		struct msg old = { 0 };

		task.task = task_id(seq, (unsigned)i + 1, id, sizeof(id));
		/* Applied once per sequence; a rebuilt store has none yet. */
		r = task_get(&rt->tasks, t, id, &old);
		msg_free(&old);
		if (r == 0)
			continue;
		if (r != -ENOENT)
			return r;
		r = route_due(rule, rt->cal, m->accepted_at, &task.due_at);
		if (r < 0) {
			log_warnx("%s: rule %s: no working time after %" PRId64
				  " in the calendar; the deadline of %s counts "
				  "calendar time", __func__, rule->name,
				  m->accepted_at, id);
			task.due_at = m->accepted_at + rule->deadline_ms;
		}
		task.nreminders = rule->nreminders;
		memcpy(task.reminders, rule->reminders_ms,
		       rule->nreminders * sizeof(int64_t));
		task.nescalation = rule->nescalation;
		for (size_t k = 0; k < rule->nescalation; k++) {
			task.escalate_to[k] = rule->escalation[k].to;
			task.escalate_after[k] = rule->escalation[k].after_ms;
		}
		for (size_t k = 0; rule->notify && rule->notify[k]; k++)
			task.notify[task.nnotify++] = rule->notify[k];
		r = router_publish_task(rt, t, &task);
		if (r < 0)
			return r;
		rt->pending.created++;
	}
	return 0;
}

/* ---- changes to a task ---- */

static bool closed(const struct msg *task)
{
	return task->state == STATE_DONE || task->state == STATE_CANCELLED;
}

void router_transition(struct router *rt, struct msg *task,
		       enum msg_state state, enum msg_change change)
{
	task->state = state;
	task->change = change;
	if (closed(task)) {
		task->type = MSG_TASK_CLOSED;
		rt->pending.closed++;
	} else {
		task->type = MSG_TASK_UPDATED;
		rt->pending.updated++;
	}
}

/*
 * Load the open task m names into *task. Returns 0; 1 when there is no
 * such task or it is closed (m is refused, *task left empty); or a
 * negative errno.
 */
static int open_task(struct router *rt, struct store_txn *t,
		     const struct msg *m, uint64_t seq, struct msg *task)
{
	int r;

	r = task_get(&rt->tasks, t, m->task, task);
	if (r == -ENOENT)
		r = refuse(rt, t, m->task, false, m, seq, "no task %s",
			   m->task);
	else if (r == 0 && closed(task))
		r = refuse(rt, t, m->task, true, m, seq,
			   "task %s is already %s", m->task,
			   msg_state_name(task->state));
	else
		return r;
	msg_free(task);
	return r < 0 ? r : 1;
}

/* A progress or completion report from the agency that holds the task. */
static int report_on_task(struct router *rt, struct store_txn *t,
			  const struct msg *m, uint64_t seq)
{
	struct msg task = { 0 };
	int r;

	/* A delivery's, not a task's: baton-notify reads it from intake. */
	if (m->op == OP_RETRY)
		return 0;
	r = open_task(rt, t, m, seq, &task);
	if (r != 0)
		return r < 0 ? r : 0;
	if (strcmp(task.agency, m->agency) != 0)
		r = refuse(rt, t, m->task, true, m, seq, "task %s is assigned "
			   "to %s, not %s", m->task, task.agency, m->agency);
	else {
		/* Progress on a waiting task leaves its clock paused. */
		if (m->kind == KIND_COMPLETION)
			router_transition(rt, &task, STATE_DONE,
					  CHANGE_COMPLETED);
		else if (task.state == STATE_WAITING)
			router_transition(rt, &task, STATE_WAITING,
					  CHANGE_PROGRESS);
		else
			router_transition(rt, &task, STATE_IN_PROGRESS,
					  CHANGE_PROGRESS);
		task.changed_at = m->accepted_at;
		task.cause_seq = seq;
		task.by = m->agency;
		task.note = m->title;
		task.reason = NULL;
		r = router_publish_task(rt, t, &task);
	}
	msg_free(&task);
	return r;
}

/*
 * The deadline of a task that waited from task->waiting_since until now:
 * moved by the time it waited, counted as its deadline is (working time
 * for a business-time deadline).
 */
static instant_t resumed_due(const struct router *rt, const struct msg *task,
			     instant_t now)
{
	int64_t waited = now - task->waiting_since;
	instant_t due;

	if (waited <= 0)
		return task->due_at;
	if (task->business && rt->cal &&
	    calendar_add(rt->cal, task->due_at,
			 calendar_between(rt->cal, task->waiting_since, now),
			 &due) == 0)
		return due;
	return waited > INT64_MAX - task->due_at ? INT64_MAX :
	       task->due_at + waited;
}

/* An operator's command. */
static int command_on_task(struct router *rt, struct store_txn *t,
			   const struct msg *m, uint64_t seq)
{
	struct msg task = { 0 };
	int r;

	/* A delivery's, not a task's: baton-notify reads it from intake. */
	if (m->op == OP_RETRY)
		return 0;
	r = open_task(rt, t, m, seq, &task);
	if (r != 0)
		return r < 0 ? r : 0;
	switch (m->op) {
	case OP_COMPLETE:
		router_transition(rt, &task, STATE_DONE, CHANGE_COMPLETED);
		break;
	case OP_CANCEL:
		router_transition(rt, &task, STATE_CANCELLED,
				  CHANGE_CANCELLED);
		break;
	case OP_EXTEND:
		/* The command's own instant, not the clock: replay decides alike. */
		if (m->until <= m->accepted_at) {
			r = refuse(rt, t, m->task, true, m, seq, "extend %s: the "
				   "new deadline is not in the future", m->task);
			goto out;
		}
		/* A new plan: deadline downstream retires the old one's alerts. */
		task.due_at = m->until;
		task.plan++;
		router_transition(rt, &task, task.state, CHANGE_EXTENDED);
		break;
	case OP_REASSIGN:
		task.agency = m->to;
		task.plan++;
		router_transition(rt, &task, task.state, CHANGE_REASSIGNED);
		break;
	case OP_WAIT:
		if (task.state == STATE_WAITING) {
			r = refuse(rt, t, m->task, true, m, seq, "task %s is "
				   "already waiting", m->task);
			goto out;
		}
		/* Its clock stops: deadline downstream holds every step. */
		task.waiting_since = m->accepted_at;
		router_transition(rt, &task, STATE_WAITING, CHANGE_WAITING);
		break;
	case OP_RESUME:
		if (task.state != STATE_WAITING) {
			r = refuse(rt, t, m->task, true, m, seq, "task %s is "
				   "not waiting", m->task);
			goto out;
		}
		/* A new plan: the deadline moved by the time spent waiting. */
		task.due_at = resumed_due(rt, &task, m->accepted_at);
		task.plan++;
		router_transition(rt, &task, STATE_IN_PROGRESS,
				  CHANGE_RESUMED);
		break;
	default:
		r = -EINVAL;	/* intake let through an op we do not know */
		goto out;
	}
	task.changed_at = m->accepted_at;
	task.cause_seq = seq;
	task.by = m->agency;
	task.reason = m->reason;
	task.note = NULL;
	r = router_publish_task(rt, t, &task);
out:
	msg_free(&task);
	return r;
}

/* ---- the subscriber's callbacks ---- */

int router_apply(void *arg, struct store_txn *t, const struct bus_event *ev)
{
	struct router *rt = arg;
	struct msg_error err;
	struct msg m = { 0 };
	int r;

	r = msg_decode_event(ev->topic, ev->topic_len, ev->body, ev->body_len,
			     &m, &err);
	if (r < 0) {
		/* Intake stored it, so it decoded once; skip, don't wedge. */
		log_warnx("%s: intake event %" PRIu64 " (%.*s) does not decode: "
			  "%s", __func__, ev->seq, (int)ev->topic_len,
			  ev->topic, err.text);
		msg_free(&m);
		return r == -ENOMEM ? r : 0;
	}
	switch (m.type) {
	case MSG_REPORT_ACCEPTED:
		switch (m.kind) {
		case KIND_INCIDENT:
			r = create_tasks(rt, t, &m, ev->seq);
			break;
		case KIND_PROGRESS:
		case KIND_COMPLETION:
			r = report_on_task(rt, t, &m, ev->seq);
			break;
		case KIND_PERIODIC:
			r = router_periodic(rt, t, &m, ev->seq);
			break;
		default:
			break;
		}
		break;
	case MSG_COMMAND_ACCEPTED:
		r = command_on_task(rt, t, &m, ev->seq);
		break;
	default:
		break;
	}
	msg_free(&m);
	return r;
}

void router_done(void *arg, bool committed)
{
	struct router *rt = arg;
	int r;

	if (!committed) {
		bus_pub_rollback(rt->pub);
		rt->pending = (struct router_counts){ 0 };
		return;
	}
	rt->total.created += rt->pending.created;
	rt->total.updated += rt->pending.updated;
	rt->total.closed += rt->pending.closed;
	rt->total.refused += rt->pending.refused;
	rt->pending = (struct router_counts){ 0 };
	r = bus_pub_flush(rt->pub);
	if (r < 0)	/* stored; subscribers get it by replay */
		log_warnx("%s: publish: %s", __func__, strerror(-r));
}
