/*
 * task.c - tasks and their history in the router's LMDB (see task.h).
 *
 * History keys are the task id, a NUL and a big-endian counter, so one
 * task's entries sort together and in order; the next counter is one past
 * the last key under the id's prefix, found with a cursor seek. An entry
 * is 9 bytes when it points at a published event, which is nearly always.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task.h"

#define HKEY_MAX	(TASK_ID_MAX + 1 + 8)

int task_store_open(struct store *st, struct task_store *ts)
{
	int r;

	ts->st = st;
	r = store_table(st, TASK_TABLE, &ts->tasks);
	if (r == 0)
		r = store_table(st, TASK_HISTORY_TABLE, &ts->history);
	if (r == 0)
		r = store_table(st, BUS_EVENTS_TABLE, &ts->events);
	return r;
}

char *task_id(uint64_t seq, unsigned n, char *buf, size_t size)
{
	if (n <= 1)
		snprintf(buf, size, "T-%" PRIu64, seq);
	else
		snprintf(buf, size, "T-%" PRIu64 "-%u", seq, n);
	return buf;
}

int task_get(const struct task_store *ts, struct store_txn *t,
	     const char *id, struct msg *m)
{
	static const char topic[] = "task.updated";
	const void *v;
	size_t vlen;
	int r;

	r = store_get(t, ts->tasks, id, strlen(id), &v, &vlen);
	if (r < 0)
		return r;
	/* Any task topic will do to read the body; its state decides. */
	r = msg_decode_event(topic, sizeof(topic) - 1, v, vlen, m, NULL);
	if (r < 0) {
		msg_free(m);
		return r == -ENOMEM ? r : -EBADMSG;
	}
	return 0;
}

/* Key of history entry n of id into key; returns its length. */
static size_t history_key(const char *id, uint64_t n, uint8_t *key)
{
	size_t len = strlen(id);

	memcpy(key, id, len);
	key[len] = '\0';
	store_u64_key(n, key + len + 1);
	return len + 1 + 8;
}

/* One past the last history entry of id. */
static int history_next(const struct task_store *ts, struct store_txn *t,
			const char *id, uint64_t *ret)
{
	uint8_t key[HKEY_MAX];
	struct store_cursor *c;
	size_t plen = strlen(id) + 1, klen;
	const void *k;
	uint64_t n = 0;
	int r;

	r = store_cursor_open(t, ts->history, &c);
	if (r < 0)
		return r;
	history_key(id, 1, key);
	r = store_cursor_seek(c, key, plen + 8);
	while (r == 0 && (r = store_cursor_next(c, &k, &klen, NULL, NULL)) == 0
	       && klen == plen + 8 && memcmp(k, key, plen) == 0)
		n = store_u64_from((const uint8_t *)k + plen);
	store_cursor_close(c);
	if (r < 0 && r != -ENOENT)
		return r;
	*ret = n + 1;
	return 0;
}

/* Append history entry val (kind byte and what follows) to id. */
static int history_add(const struct task_store *ts, struct store_txn *t,
		       const char *id, const void *val, size_t len)
{
	uint8_t key[HKEY_MAX];
	uint64_t n;
	int r;

	if (strlen(id) > TASK_ID_MAX)
		return -EINVAL;
	r = history_next(ts, t, id, &n);
	if (r < 0)
		return r;
	return store_put(t, ts->history, key, history_key(id, n, key), val,
			 len, 0);
}

int task_note_event(const struct task_store *ts, struct store_txn *t,
		    const char *id, uint64_t seq)
{
	uint8_t val[9] = { 'e' };

	store_u64_key(seq, val + 1);
	return history_add(ts, t, id, val, sizeof(val));
}

int task_note(const struct task_store *ts, struct store_txn *t,
	      const char *id, const char *topic, const void *body, size_t len)
{
	size_t tlen = strlen(topic);
	uint8_t *val;
	int r;

	if (tlen == 0 || tlen > MSG_TOPIC_MAX)
		return -EINVAL;
	val = malloc(2 + tlen + len);
	if (!val)
		return -ENOMEM;
	val[0] = 'n';
	val[1] = (uint8_t)tlen;
	memcpy(val + 2, topic, tlen);
	memcpy(val + 2 + tlen, body, len);
	r = history_add(ts, t, id, val, 2 + tlen + len);
	free(val);
	return r;
}

int task_put(const struct task_store *ts, struct store_txn *t,
	     const struct msg *m, const void *body, size_t len, uint64_t seq)
{
	int r;

	r = store_put(t, ts->tasks, m->task, strlen(m->task), body, len, 0);
	if (r == 0)
		r = task_note_event(ts, t, m->task, seq);
	return r;
}

/* The record history entry v names: inline, or the event it points at. */
static int history_record(const struct task_store *ts, struct store_txn *t,
			  const uint8_t *v, size_t vlen, const void **rec,
			  size_t *rlen)
{
	uint8_t key[8];

	if (vlen >= 2 && v[0] == 'n') {
		*rec = v + 1;
		*rlen = vlen - 1;
		return 0;
	}
	if (vlen != 9 || v[0] != 'e')
		return -EBADMSG;
	memcpy(key, v + 1, 8);
	return store_get(t, ts->events, key, 8, rec, rlen) == 0 ? 0 : -EBADMSG;
}

int task_history(const struct task_store *ts, struct store_txn *t,
		 const char *id, task_history_fn fn, void *arg)
{
	uint8_t key[HKEY_MAX];
	struct store_cursor *c;
	size_t plen = strlen(id) + 1, klen, vlen;
	const void *k, *v;
	int r;

	if (plen - 1 > TASK_ID_MAX)
		return -ENOENT;
	r = store_cursor_open(t, ts->history, &c);
	if (r < 0)
		return r;
	history_key(id, 1, key);
	r = store_cursor_seek(c, key, plen + 8);
	while (r == 0 && (r = store_cursor_next(c, &k, &klen, &v, &vlen)) == 0
	       && klen == plen + 8 && memcmp(k, key, plen) == 0) {
		uint64_t n = store_u64_from((const uint8_t *)k + plen);
		struct bus_event ev;
		struct msg m = { 0 };
		const void *rec;
		size_t rlen;

		if (history_record(ts, t, v, vlen, &rec, &rlen) < 0 ||
		    bus_record_parse(n, rec, rlen, &ev) < 0 ||
		    msg_decode_event(ev.topic, ev.topic_len, ev.body,
				     ev.body_len, &m, NULL) < 0) {
			msg_free(&m);
			r = -EBADMSG;
			break;
		}
		r = fn(arg, n, &ev, &m);
		msg_free(&m);
		if (r != 0)
			break;
	}
	store_cursor_close(c);
	return r == -ENOENT ? 0 : r;
}
