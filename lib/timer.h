/*
 * timer.h - baton-deadline's timer index and task plans, as stored in its
 * LMDB, for the daemon that writes them and for batonctl that reads them.
 *
 *   deadline.timers  due instant (u64 BE) | task id | NUL | step (u8)
 *                    -> plan (u64 BE): one row per step still to fire
 *   deadline.plans   task id -> the task's plan record (below), then the
 *                    body of the newest task.* event about it
 *
 * The timer key starts with the instant, so the next step to fire is the
 * table's first key and "everything due by now" is one cursor walk from the
 * start: nothing is scanned to find what is due.
 *
 * A task's plan is its steps: each reminder before the deadline, the
 * deadline itself (overdue, or missing-report for an obligation) and each
 * escalation level after it. Step numbers are fixed by the task body: 0 is
 * the deadline, 1..16 the reminders in the body's order, 17..32 the
 * escalation levels 1..16. The plan record keeps which steps of the
 * current plan already fired (or were skipped) and which are pending at
 * which instant, so that re-planning deletes exactly the rows it made and
 * never brings back a step that fired.
 *
 * An alert's id is "<task>/<plan>/<step name>" ("T-1042/2/reminder-1"):
 * stable across restarts, and new for every plan, so an extension retires
 * the old plan's alerts without ever repeating an id.
 */
#ifndef BATON_TIMER_H
#define BATON_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "calendar.h"
#include "msg.h"
#include "store.h"

#define TIMER_TABLE		"deadline.timers"
#define TIMER_PLAN_TABLE	"deadline.plans"

#define TIMER_STEP_DUE		0
#define TIMER_STEP_REMINDER	1	/* + index, 0..MSG_LIST_MAX-1 */
#define TIMER_STEP_ESCALATION	(TIMER_STEP_REMINDER + MSG_LIST_MAX)
#define TIMER_STEPS		(TIMER_STEP_ESCALATION + MSG_LIST_MAX)
#define TIMER_STEP_NAME_MAX	16	/* "missing-report", "escalation-16" */

struct timer_store {
	struct store *st;
	store_table_t timers;
	store_table_t plans;
	store_table_t events;	/* the daemon's BUS_EVENTS_TABLE: its alerts */
};

/* A step still to fire, and when. */
struct timer_step {
	uint8_t step;
	instant_t at;
};

/*
 * A task's row in deadline.plans. body points into the transaction's map
 * when read (valid until it ends), and is only read when written.
 */
struct timer_plan {
	uint64_t plan;			/* the task's plan version */
	instant_t start;		/* when that version began */
	uint64_t done;			/* steps of it fired or skipped: 1 << step */
	size_t nsteps;
	struct timer_step steps[TIMER_STEPS];	/* pending, in step order */
	const void *body;
	size_t body_len;
};

/*
 * Open the tables (read-only stores: they must exist).
 * Returns 0, store errors.
 */
int timer_store_open(struct store *st, struct timer_store *ts);

/*
 * Read task id's plan into *p. Returns 0, -ENOENT, -EBADMSG (a malformed
 * row), store errors.
 */
int timer_plan_get(const struct timer_store *ts, struct store_txn *t,
		   const char *id, struct timer_plan *p);

/*
 * Decode the task body of plan p (as read by timer_plan_get(), before
 * anything else is written in its transaction) into *m (release with
 * msg_free()). Returns 0, -EBADMSG, -ENOMEM.
 */
int timer_plan_task(const struct timer_plan *p, struct msg *m);

/*
 * Write task id's plan (every pending step must have a timer row: see
 * timer_add()). Returns 0, -EINVAL (id too long), store errors.
 */
int timer_plan_put(const struct timer_store *ts, struct store_txn *t,
		   const char *id, const struct timer_plan *p);

/* Delete task id's plan row. Returns 0, -ENOENT, store errors. */
int timer_plan_del(const struct timer_store *ts, struct store_txn *t,
		   const char *id);

/*
 * Add or delete the timer row of task id's step at instant at (plan: its
 * plan version). Return 0, -EINVAL (id too long), -ENOENT (delete: no such
 * row), store errors.
 */
int timer_add(const struct timer_store *ts, struct store_txn *t,
	      const char *id, uint8_t step, instant_t at, uint64_t plan);
int timer_del(const struct timer_store *ts, struct store_txn *t,
	      const char *id, uint8_t step, instant_t at);

/* A timer row, decoded. id points into the key (not NUL-terminated). */
struct timer_row {
	instant_t at;
	const char *id;
	size_t id_len;
	uint8_t step;
	uint64_t plan;
};

/*
 * Decode a row of deadline.timers. Returns 0, -EBADMSG.
 */
int timer_row_parse(const void *key, size_t klen, const void *val,
		    size_t vlen, struct timer_row *row);

/*
 * The instant of the first timer. Returns 0 and sets *at, -ENOENT (none),
 * store errors.
 */
int timer_first(const struct timer_store *ts, struct store_txn *t,
		instant_t *at);

/*
 * Fill p->steps (p->nsteps) with the steps of task m still to fire under
 * plan p, whose start and done are set: each reminder, the deadline and
 * each escalation level, in step order, leaving out steps done, a reminder
 * the plan would put before p->start (it could never have gone on time),
 * every step of a waiting task (its clock is paused), and an escalation
 * past the end of time. With m->working_hours and a calendar, a reminder
 * outside working time moves to the next working moment if that is still
 * before the deadline, else to the end of the last working window before
 * it. A pure function of m, cal and p: no clock.
 */
void timer_plan_steps(const struct msg *m, const struct calendar *cal,
		      struct timer_plan *p);

/*
 * The alert a step announces: ALERT_REMINDER, ALERT_OVERDUE (or
 * ALERT_MISSING_REPORT when obligation), ALERT_ESCALATION; ALERT_NONE for
 * a step number out of range.
 */
enum msg_alert timer_step_alert(uint8_t step, bool obligation);

/*
 * The step's name: "reminder-1", "overdue" or "missing-report",
 * "escalation-2", into buf (TIMER_STEP_NAME_MAX + 1). Returns buf.
 */
char *timer_step_name(uint8_t step, bool obligation, char *buf, size_t size);

/*
 * The alert id of task id's step under plan version plan, into buf
 * (MSG_ALERT_ID_MAX + 1 bytes). Returns buf.
 */
char *timer_alert_id(const char *id, uint64_t plan, uint8_t step,
		     bool obligation, char *buf, size_t size);

/* Whether task m is an obligation (a periodic report owed). */
bool timer_is_obligation(const struct msg *m);

#endif
