/*
 * test_task.c - lib/task: task ids, a task's current body, and a history
 * that points at the published events (or holds what was only noted), in
 * order, read back decoded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task.h"
#include "testdir.h"

struct fixture {
	char dir[PATH_MAX];
	struct store *st;
	store_table_t events;
	struct task_store ts;
	struct store_txn *t;
};

static int setup(void **state)
{
	struct store_options opt = { .create = true };
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	if (testdir_make(fx->dir, sizeof(fx->dir), "test_task") < 0 ||
	    store_open(fx->dir, &opt, &fx->st) < 0 ||
	    store_table(fx->st, BUS_EVENTS_TABLE, &fx->events) < 0 ||
	    task_store_open(fx->st, &fx->ts) < 0 ||
	    store_begin(fx->st, true, &fx->t) < 0)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	store_abort(fx->t);
	store_close(fx->st);
	testdir_remove(fx->dir);
	free(fx);
	return 0;
}

/* A task of state st and change ch, as the router would publish it. */
static struct msg task(const char *id, enum msg_state st, enum msg_change ch)
{
	return (struct msg){
		.type = st == STATE_DONE ? MSG_TASK_CLOSED : MSG_TASK_UPDATED,
		.task = id, .state = st, .change = ch, .agency = "mps-a05",
		.category = CATEGORY_CYBERSECURITY, .title = "Portal DDoS",
		.created_at = 1000, .due_at = 2000, .plan = 1,
		.rule = "critical-cyber-incidents", .origin_seq = 1,
		.cause_seq = 1,
	};
}

/* Publish m the way the router does: event seq first, then the task. */
static void publish(struct fixture *fx, const struct msg *m, uint64_t seq)
{
	const char *topic = msg_topic(m->type);
	size_t tlen = strlen(topic), len;
	uint8_t key[8], *rec;
	void *body;

	assert_int_equal(msg_encode(m, &body, &len), 0);
	rec = malloc(1 + tlen + len);
	assert_non_null(rec);
	rec[0] = (uint8_t)tlen;
	memcpy(rec + 1, topic, tlen);
	memcpy(rec + 1 + tlen, body, len);
	store_u64_key(seq, key);
	assert_int_equal(store_put(fx->t, fx->events, key, 8, rec,
				   1 + tlen + len, 0), 0);
	assert_int_equal(task_put(&fx->ts, fx->t, m, body, len, seq), 0);
	free(rec);
	free(body);
}

struct seen {
	int n;
	enum msg_type type[8];
	enum msg_change change[8];
	uint64_t num[8];
};

static int collect(void *arg, uint64_t n, const struct bus_event *ev,
		   const struct msg *m)
{
	struct seen *s = arg;

	assert_true(s->n < 8);
	s->type[s->n] = m->type;
	s->change[s->n] = m->change;
	s->num[s->n] = n;
	s->n++;
	return 0;
}

/* Ids come from the intake sequence and the rule's place among matches. */
static void test_ids(void **state)
{
	char id[TASK_ID_MAX + 1];

	assert_string_equal(task_id(1042, 1, id, sizeof(id)), "T-1042");
	assert_string_equal(task_id(1042, 2, id, sizeof(id)), "T-1042-2");
}

/* The current body is the newest one; the history has every change. */
static void test_put_get_history(void **state)
{
	struct fixture *fx = *state;
	struct msg a = task("T-1", STATE_OPEN, CHANGE_CREATED);
	struct msg b = task("T-1", STATE_DONE, CHANGE_COMPLETED);
	struct msg refusal = {
		.type = MSG_TASK_REFUSED, .task = "T-1", .agency = "hanoi",
		.id = "r-9", .cause_seq = 7, .reason = "not hanoi's",
	};
	struct seen seen = { 0 };
	struct msg got = { 0 };
	void *body;
	size_t len;

	a.type = MSG_TASK_CREATED;
	publish(fx, &a, 1);
	assert_int_equal(task_note_event(&fx->ts, fx->t, "T-1", 1), 0);
	assert_int_equal(msg_encode(&refusal, &body, &len), 0);
	assert_int_equal(task_note(&fx->ts, fx->t, "T-1",
				   msg_topic(MSG_TASK_REFUSED), body, len), 0);
	free(body);
	publish(fx, &b, 2);

	assert_int_equal(task_get(&fx->ts, fx->t, "T-1", &got), 0);
	assert_int_equal(got.state, STATE_DONE);
	assert_string_equal(got.agency, "mps-a05");
	msg_free(&got);

	assert_int_equal(task_history(&fx->ts, fx->t, "T-1", collect, &seen),
			 0);
	assert_int_equal(seen.n, 4);
	assert_int_equal(seen.type[0], MSG_TASK_CREATED);
	assert_int_equal(seen.type[1], MSG_TASK_CREATED);	/* event 1 again */
	assert_int_equal(seen.type[2], MSG_TASK_REFUSED);	/* inline note */
	assert_int_equal(seen.type[3], MSG_TASK_CLOSED);
	assert_int_equal(seen.change[3], CHANGE_COMPLETED);
	for (int i = 0; i < 4; i++)
		assert_true(seen.num[i] == (uint64_t)i + 1);
}

/* Another task's entries, and a task with none, stay apart. */
static void test_history_is_per_task(void **state)
{
	struct fixture *fx = *state;
	struct msg a = task("T-1", STATE_OPEN, CHANGE_CREATED);
	struct msg b = task("T-10", STATE_OPEN, CHANGE_CREATED);
	struct seen seen = { 0 };
	struct msg got = { 0 };

	publish(fx, &a, 1);
	publish(fx, &b, 2);
	assert_int_equal(task_history(&fx->ts, fx->t, "T-1", collect, &seen),
			 0);
	assert_int_equal(seen.n, 1);
	seen.n = 0;
	assert_int_equal(task_history(&fx->ts, fx->t, "T-2", collect, &seen),
			 0);
	assert_int_equal(seen.n, 0);
	assert_int_equal(task_get(&fx->ts, fx->t, "T-2", &got), -ENOENT);
}

/* A history entry whose event is gone is reported, not skipped. */
static void test_missing_event(void **state)
{
	struct fixture *fx = *state;
	struct seen seen = { 0 };

	assert_int_equal(task_note_event(&fx->ts, fx->t, "T-5", 99), 0);
	assert_int_equal(task_history(&fx->ts, fx->t, "T-5", collect, &seen),
			 -EBADMSG);
	assert_int_equal(seen.n, 0);
}

/* An id longer than any task id is refused, not truncated. */
static void test_long_id(void **state)
{
	struct fixture *fx = *state;
	char id[TASK_ID_MAX + 2];

	memset(id, 'x', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	assert_int_equal(task_note_event(&fx->ts, fx->t, id, 1), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids),
		cmocka_unit_test_setup_teardown(test_put_get_history, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_history_is_per_task, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_missing_event, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_long_id, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
