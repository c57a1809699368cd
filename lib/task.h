/*
 * task.h - the router's tasks as stored in its LMDB, for the router that
 * writes them and for batonctl that reads them.
 *
 *   router.tasks    task id -> the task's current body (msgpack, type
 *                   "task": the same body as its newest task.* event)
 *   router.history  task id NUL n (u64 BE, from 1) -> every task.* event
 *                   and task.refused the task ever had, in order: 'e' and
 *                   the event's sequence (u64 BE) in the router's own
 *                   bus.events; or, for what was noted but not published,
 *                   'n' and a record in the bus record layout (topic
 *                   length, topic, body)
 *
 * The history points at the published events rather than copying them: a
 * task, its history and what subscribers were told can never disagree,
 * and each change is written once (the event), not twice.
 *
 * Task ids derive from the intake sequence of the report that made them,
 * so that replaying intake's log can never make a second task: "T-1042"
 * for the first rule a report matched, "T-1042-2" for the second (a rule
 * that says continue).
 */
#ifndef BATON_TASK_H
#define BATON_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "bus.h"
#include "msg.h"
#include "store.h"

#define TASK_TABLE		"router.tasks"
#define TASK_HISTORY_TABLE	"router.history"
#define TASK_ID_MAX		MSG_TASK_MAX

struct task_store {
	struct store *st;
	store_table_t tasks;
	store_table_t history;
	store_table_t events;	/* the router's BUS_EVENTS_TABLE */
};

/*
 * Open the tables (read-only stores: they must exist).
 * Returns 0, store errors.
 */
int task_store_open(struct store *st, struct task_store *ts);

/*
 * The id of the n-th task (n from 1) made from intake sequence seq, into
 * buf (TASK_ID_MAX + 1 bytes). Returns buf.
 */
char *task_id(uint64_t seq, unsigned n, char *buf, size_t size);

/*
 * Read task id in t and decode it into *m (release with msg_free()).
 * Returns 0, -ENOENT, -EBADMSG (stored body does not decode), store errors.
 */
int task_get(const struct task_store *ts, struct store_txn *t,
	     const char *id, struct msg *m);

/*
 * Store task m (m->task is the key) as its current body (m encoded, as
 * published), and append the event it was published as (sequence seq of
 * the router's bus) to its history.
 * Returns 0, -EINVAL (id too long), store errors.
 */
int task_put(const struct task_store *ts, struct store_txn *t,
	     const struct msg *m, const void *body, size_t len, uint64_t seq);

/*
 * Append published event seq, which changed nothing (a refusal), to task
 * id's history. Returns 0, -EINVAL, store errors.
 */
int task_note_event(const struct task_store *ts, struct store_txn *t,
		    const char *id, uint64_t seq);

/*
 * Append what was noted but not published (topic, body) to task id's
 * history. Returns 0, -EINVAL, store errors.
 */
int task_note(const struct task_store *ts, struct store_txn *t,
	      const char *id, const char *topic, const void *body, size_t len);

/*
 * Call fn for each history entry of task id in order, with the entry's
 * event decoded (ev->seq is the entry's number n); stop early when fn
 * returns non-zero (returned as is).
 * Returns 0, -EBADMSG (an entry, or the event it names, is missing or
 * malformed), store errors.
 */
typedef int (*task_history_fn)(void *arg, uint64_t n, const struct bus_event *ev,
			       const struct msg *m);
int task_history(const struct task_store *ts, struct store_txn *t,
		 const char *id, task_history_fn fn, void *arg);

#endif
