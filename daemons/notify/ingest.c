/*
 * notify/ingest.c - events become alerts, and alerts become deliveries.
 *
 * Three publishers feed baton-notify: the deadline daemon's alert.* events
 * are alerts already; the router's task.created (and task.updated for a
 * reassignment) becomes a task-assigned alert for the agency now holding
 * the task, and its task.refused a refused alert for the office; intake's
 * command.accepted carries the operators' retry commands.
 *
 * Each alert is stored once under its id, and one outbox row is written
 * per (recipient, channel) it needs, in the subscriber's transaction, with
 * "event N applied": an event is taken in exactly once across crashes, and
 * an alert id already stored (a second path to the same alert) adds
 * nothing. Who hears of an alert is a table by kind (recipients()); how
 * each recipient is reached comes from agencies.conf as it is when the
 * alert is taken in.
 *
 * An alert id is stable and derived from the event, never from the clock:
 * "<task>/<plan>/assigned" and "<task>/refused/<intake seq>" here,
 * "<task>/<plan>/<step>" from the deadline daemon.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "notify.h"
#include "timer.h"

/* An alert's recipients: the responsible agency first, no one twice. */
struct recipients {
	const char *name[2 + MSG_LIST_MAX];
	size_t n;
};

static void add(struct recipients *rc, const char *name)
{
	if (!name || rc->n == sizeof(rc->name) / sizeof(rc->name[0]))
		return;
	for (size_t i = 0; i < rc->n; i++)
		if (strcmp(rc->name[i], name) == 0)
			return;
	rc->name[rc->n++] = name;
}

/*
 * Who hears of an alert, by kind. The responsible agency hears of every
 * alert on its task; the rule's notify list of the new task and of its
 * deadline passing; an escalation reaches the agency its level names
 * (routes.conf names the office and the committee there); the office hears
 * of refusals and of missing periodic reports.
 */
static void recipients(const struct notify *n, const struct msg *a,
		       struct recipients *rc)
{
	rc->n = 0;
	add(rc, a->agency);
	switch (a->alert) {
	case ALERT_TASK_ASSIGNED:
	case ALERT_OVERDUE:
		for (size_t i = 0; i < a->nnotify; i++)
			add(rc, a->notify[i]);
		break;
	case ALERT_ESCALATION:
		add(rc, a->to);
		break;
	case ALERT_MISSING_REPORT:
	case ALERT_REFUSED:
		add(rc, n->conf->notify.office);
		break;
	default:
		break;
	}
}

/* One pending row for (alert, recipient, channel). */
static int add_row(struct notify *n, struct store_txn *t, const char *id,
		   const char *recipient, enum outbox_channel ch,
		   instant_t now)
{
	char key[OUTBOX_KEY_MAX];
	struct outbox_row row = {
		.state = OUTBOX_PENDING, .created_at = now, .next_at = now,
		.updated_at = now, .target = "", .error = "",
	};
	int klen;

	klen = outbox_key_make(id, recipient, ch, key, sizeof(key));
	if (klen < 0)
		return klen;
	n->pending.rows++;
	return outbox_put(&n->ob, t, key, (size_t)klen, &row);
}

/*
 * Take alert a (its feed body: body, len) in: store it and write its rows.
 * An agency agencies.conf does not name still gets the feed.
 */
static int take(struct notify *n, struct store_txn *t, const struct msg *a,
		const void *body, size_t len)
{
	struct recipients rc;
	instant_t now = time_now();
	int r;

	r = outbox_alert_add(&n->ob, t, a->alert_id,
			     msg_alert_topic(a->alert), body, len);
	if (r == -EEXIST) {
		log_debug("%s: alert %s is known already", __func__,
			  a->alert_id);
		return 0;
	}
	if (r < 0)
		return r;
	n->pending.alerts++;
	r = add_row(n, t, a->alert_id, a->agency, OUTBOX_JOURNAL, now);
	recipients(n, a, &rc);
	for (size_t i = 0; r == 0 && i < rc.n; i++) {
		const struct agency *ag = n->agencies ?
			agency_find(n->agencies, rc.name[i]) : NULL;

		if (!ag || ag->feed)
			r = add_row(n, t, a->alert_id, rc.name[i],
				    OUTBOX_FEED, now);
		if (r == 0 && ag && ag->nemail > 0 && n->conf->notify.smtp)
			r = add_row(n, t, a->alert_id, rc.name[i],
				    OUTBOX_EMAIL, now);
		if (r == 0 && ag && ag->webhook)
			r = add_row(n, t, a->alert_id, rc.name[i],
				    OUTBOX_WEBHOOK, now);
	}
	if (r == 0 && n->pending.alerts <= NOTIFY_LOG_EACH)
		log_debug("%s: alert %s: %s for %s, %zu recipients", __func__,
			  a->alert_id, msg_alert_name(a->alert), a->agency,
			  rc.n);
	return r;
}

/* Encode alert a and take it in. */
static int take_new(struct notify *n, struct store_txn *t, const struct msg *a)
{
	void *body;
	size_t len;
	int r;

	r = msg_encode(a, &body, &len);
	if (r < 0)
		return r;
	r = take(n, t, a, body, len);
	free(body);
	return r;
}

/* A task now held by m->agency: task-assigned, for the plan it starts. */
static int assigned(struct notify *n, struct store_txn *t, const struct msg *m)
{
	char id[MSG_ALERT_ID_MAX + 1];
	struct msg a = {
		.type = MSG_ALERT, .alert = ALERT_TASK_ASSIGNED, .alert_id = id,
		.task = m->task, .agency = m->agency, .title = m->title,
		.due_at = m->due_at, .drill = m->drill, .plan = m->plan,
		.category = m->category, .severity = m->severity,
		.period = m->period, .rule = m->rule,
		.fired_at = m->changed_at > 0 ? m->changed_at : m->created_at,
		.nnotify = m->change == CHANGE_CREATED ? m->nnotify : 0,
	};

	if ((size_t)snprintf(id, sizeof(id), "%s/%" PRIu64 "/assigned",
			     m->task, m->plan) >= sizeof(id))
		return -ENAMETOOLONG;
	memcpy(a.notify, m->notify, sizeof(a.notify));
	return take_new(n, t, &a);
}

/* A report or command the router refused: the office is told. */
static int refused(struct notify *n, struct store_txn *t, const struct msg *m,
		   instant_t at)
{
	char id[MSG_ALERT_ID_MAX + 1], title[MSG_TITLE_MAX + 1];
	struct msg a = {
		.type = MSG_ALERT, .alert = ALERT_REFUSED, .alert_id = id,
		.task = m->task, .agency = m->agency, .title = title,
		.fired_at = at, .reason = m->reason,
	};

	if ((size_t)snprintf(id, sizeof(id), "%s/refused/%" PRIu64, m->task,
			     m->cause_seq) >= sizeof(id))
		return -ENAMETOOLONG;
	snprintf(title, sizeof(title), "%s's %s on %s changed nothing",
		 m->agency, m->id, m->task);
	return take_new(n, t, &a);
}

/* An operator's retry: a dead delivery back to pending, due now. */
static int retry(struct notify *n, struct store_txn *t, const struct msg *m,
		 uint64_t seq)
{
	char key[OUTBOX_KEY_MAX], why[OUTBOX_ERROR_MAX];
	struct outbox_row row;
	int klen, r;

	klen = outbox_id_parse(m->delivery, key, sizeof(key));
	if (klen < 0) {
		log_warnx("%s: command %s (intake seq %" PRIu64 "): '%s' is "
			  "not a delivery id", __func__, m->id, seq,
			  m->delivery);
		return 0;
	}
	r = outbox_get(&n->ob, t, key, (size_t)klen, &row);
	if (r == -ENOENT || (r == 0 && row.state != OUTBOX_DEAD)) {
		log_warnx("%s: command %s (intake seq %" PRIu64 "): delivery "
			  "%s is %s; nothing to retry", __func__, m->id, seq,
			  m->delivery, r < 0 ? "unknown" :
			  outbox_state_name(row.state));
		return 0;
	}
	if (r < 0)
		return r;
	snprintf(why, sizeof(why), "retried by %s, command %s: %.*s",
		 m->agency, m->id, (int)row.error_len, row.error);
	row.state = OUTBOX_PENDING;
	row.attempts = 0;
	row.created_at = row.next_at = row.updated_at = time_now();
	row.error = why;
	row.error_len = strlen(why);
	r = outbox_put(&n->ob, t, key, (size_t)klen, &row);
	if (r == 0) {
		log_info("delivery %s: back to pending (command %s by %s)",
			 m->delivery, m->id, m->agency);
		n->pending.revived++;
	}
	return r;
}

/* ---- the subscribers' callbacks ---- */

bool notify_wants(void *arg, const struct bus_event *ev)
{
	enum msg_type type = msg_topic_type(ev->topic, ev->topic_len);

	/* Intake's reports are the router's business: passed over, so a
	 * stream of them costs notify no commit of its own. */
	return type == MSG_COMMAND_ACCEPTED || type == MSG_TASK_CREATED ||
	       type == MSG_TASK_UPDATED || type == MSG_TASK_REFUSED ||
	       type == MSG_ALERT;
}

int notify_apply(void *arg, struct store_txn *t, const struct bus_event *ev)
{
	struct notify *n = arg;
	struct msg_error err;
	struct msg m = { 0 };
	int r;

	r = msg_decode_event(ev->topic, ev->topic_len, ev->body, ev->body_len,
			     &m, &err);
	if (r < 0) {
		/* A daemon encoded it, so it decoded once; skip, don't wedge. */
		log_warnx("%s: event %" PRIu64 " (%.*s) does not decode: %s",
			  __func__, ev->seq, (int)ev->topic_len, ev->topic,
			  err.text);
		msg_free(&m);
		return r == -ENOMEM ? r : 0;
	}
	switch (m.type) {
	case MSG_COMMAND_ACCEPTED:
		r = m.op == OP_RETRY ? retry(n, t, &m, ev->seq) : 0;
		break;
	case MSG_TASK_CREATED:
		/* The router opens obligations by the clock, for the period
		 * under way and the next, for every agency a schedule names:
		 * announcing each would mail every agency every period about
		 * what its reminders tell it in good time. */
		r = timer_is_obligation(&m) ? 0 : assigned(n, t, &m);
		break;
	case MSG_TASK_UPDATED:
		r = m.change == CHANGE_REASSIGNED ? assigned(n, t, &m) : 0;
		break;
	case MSG_TASK_REFUSED:
		r = refused(n, t, &m, time_now());
		break;
	case MSG_ALERT:
		r = take(n, t, &m, ev->body, ev->body_len);
		break;
	default:
		r = 0;
		break;
	}
	msg_free(&m);
	return r;
}

void notify_done(void *arg, bool committed)
{
	struct notify *n = arg;

	if (committed) {
		n->total.alerts += n->pending.alerts;
		n->total.rows += n->pending.rows;
		n->total.revived += n->pending.revived;
		if (n->pending.rows > 0 || n->pending.revived > 0)
			n->next_due = 0;	/* due now: the loop delivers */
	}
	n->pending = (struct notify_counts){ 0 };
}
