/*
 * test_timer.c - lib/timer: baton-deadline's plan rows and timer index in
 * a real LMDB, and the names and ids of the alerts its steps announce.
 *
 * The daemon and batonctl both read these rows, and a restart reads what
 * an older run wrote, so the byte layout is a contract: the malformed-row
 * cases write rows by hand with store_put() and check that each kind of
 * damage is refused, not read. The timer key must sort by instant
 * numerically under LMDB's memcmp order, or the daemon fires in the wrong
 * order and "everything due by now" is no longer one walk from the start.
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

#include "bus.h"
#include "testdir.h"
#include "timer.h"

/* The row layout of timer.c, restated: what a hand-written row must be. */
#define PLAN_HEAD	26	/* version, plan, start, done, nsteps */
#define STEP_BYTES	9	/* step, instant */
#define KEY_MAX		(8 + MSG_TASK_MAX + 2)

struct fixture {
	char dir[PATH_MAX];
	struct store *st;
	struct timer_store ts;
	struct store_txn *t;
};

/* ------------------------------------------------------------ fixture */

static int setup(void **state)
{
	struct store_options opt = { .create = true };
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	if (testdir_make(fx->dir, sizeof(fx->dir), "test_timer") < 0 ||
	    store_open(fx->dir, &opt, &fx->st) < 0 ||
	    timer_store_open(fx->st, &fx->ts) < 0 ||
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

/* ------------------------------------------------------------ helpers */

/* An id of len bytes of 'x', in buf (len + 1 bytes). */
static char *long_id(char *buf, size_t len)
{
	memset(buf, 'x', len);
	buf[len] = '\0';
	return buf;
}

/* A plan row written the way timer.c documents it, into v. */
static size_t plan_row(uint8_t *v, uint8_t version, uint64_t plan,
		       instant_t start, uint64_t done,
		       const struct timer_step *steps, size_t nsteps,
		       const char *body)
{
	size_t blen = strlen(body);

	v[0] = version;
	store_u64_key(plan, v + 1);
	store_u64_key((uint64_t)start, v + 9);
	store_u64_key(done, v + 17);
	v[25] = (uint8_t)nsteps;
	for (size_t i = 0; i < nsteps; i++) {
		v[PLAN_HEAD + i * STEP_BYTES] = steps[i].step;
		store_u64_key((uint64_t)steps[i].at,
			      v + PLAN_HEAD + i * STEP_BYTES + 1);
	}
	memcpy(v + PLAN_HEAD + nsteps * STEP_BYTES, body, blen);
	return PLAN_HEAD + nsteps * STEP_BYTES + blen;
}

/* A timer key written the way timer.h documents it, into k. */
static size_t timer_key(uint8_t *k, uint64_t at, const char *id,
			size_t id_len, uint8_t step)
{
	store_u64_key(at, k);
	memcpy(k + 8, id, id_len);
	k[8 + id_len] = '\0';
	k[9 + id_len] = step;
	return 10 + id_len;
}

/* Every timer row, in table order, parsed. Returns how many. */
static size_t walk(struct fixture *fx, struct timer_row *rows, size_t max)
{
	struct store_cursor *c;
	const void *k, *v;
	size_t klen, vlen, n = 0;

	assert_int_equal(store_cursor_open(fx->t, fx->ts.timers, &c), 0);
	assert_int_equal(store_cursor_seek(c, NULL, 0), 0);
	while (store_cursor_next(c, &k, &klen, &v, &vlen) == 0) {
		assert_true(n < max);
		assert_int_equal(timer_row_parse(k, klen, v, vlen, &rows[n]),
				 0);
		n++;
	}
	store_cursor_close(c);
	return n;
}

/* Whether row is task id's step at instant at under plan. */
static void assert_row(const struct timer_row *row, instant_t at,
		       const char *id, uint8_t step, uint64_t plan)
{
	assert_int_equal(row->at, at);
	assert_int_equal(row->id_len, strlen(id));
	assert_memory_equal(row->id, id, row->id_len);
	assert_int_equal(row->step, step);
	assert_int_equal(row->plan, plan);
}

/* ------------------------------------------------------------ plans */

/* A plan reads back as written: version, start, done mask, steps, body. */
static void test_plan_round_trip(void **state)
{
	struct fixture *fx = *state;
	static const char body[] = "\x82\xa1v\x01\x00tail";	/* an inner NUL */
	struct timer_plan p = {
		.plan = UINT64_C(0x0102030405060708),
		.start = INT64_C(1790000000123),
		.done = (UINT64_C(1) << 1) | (UINT64_C(1) << 32),
		.nsteps = 3,
		.steps = {
			{ TIMER_STEP_REMINDER + 1, INT64_C(1790000100000) },
			{ TIMER_STEP_DUE, INT64_C(1790000200000) },
			{ TIMER_STEP_ESCALATION + 15, INT64_MAX },
		},
		.body = body, .body_len = sizeof(body) - 1,
	};
	struct timer_plan got;

	assert_int_equal(timer_plan_put(&fx->ts, fx->t, "T-1042", &p), 0);
	memset(&got, 0xa5, sizeof(got));
	assert_int_equal(timer_plan_get(&fx->ts, fx->t, "T-1042", &got), 0);
	assert_true(got.plan == UINT64_C(0x0102030405060708));
	assert_true(got.start == INT64_C(1790000000123));
	assert_true(got.done == ((UINT64_C(1) << 1) | (UINT64_C(1) << 32)));
	assert_int_equal(got.nsteps, 3);
	assert_int_equal(got.steps[0].step, 2);
	assert_true(got.steps[0].at == INT64_C(1790000100000));
	assert_int_equal(got.steps[1].step, 0);
	assert_true(got.steps[1].at == INT64_C(1790000200000));
	assert_int_equal(got.steps[2].step, 32);
	assert_true(got.steps[2].at == INT64_MAX);
	assert_int_equal(got.body_len, sizeof(body) - 1);
	assert_memory_equal(got.body, body, sizeof(body) - 1);
	/* Another task's plan is another row. */
	assert_int_equal(timer_plan_get(&fx->ts, fx->t, "T-104", &got),
			 -ENOENT);
}

/* A rewrite replaces the row whole: fewer steps, no body. */
static void test_plan_replace(void **state)
{
	struct fixture *fx = *state;
	struct timer_plan p = {
		.plan = 1, .start = 1000, .nsteps = 2,
		.steps = { { 1, 2000 }, { 0, 3000 } },
		.body = "body", .body_len = 4,
	};
	struct timer_plan got;

	assert_int_equal(timer_plan_put(&fx->ts, fx->t, "T-1", &p), 0);
	p.plan = 2;
	p.done = UINT64_C(1) << 1;
	p.nsteps = 0;
	p.body = NULL;
	p.body_len = 0;
	assert_int_equal(timer_plan_put(&fx->ts, fx->t, "T-1", &p), 0);
	assert_int_equal(timer_plan_get(&fx->ts, fx->t, "T-1", &got), 0);
	assert_int_equal(got.plan, 2);
	assert_int_equal(got.start, 1000);
	assert_int_equal(got.done, 2);
	assert_int_equal(got.nsteps, 0);
	assert_int_equal(got.body_len, 0);
}

/* The body may point into the row it replaces: the put copies it first. */
static void test_plan_body_from_own_row(void **state)
{
	struct fixture *fx = *state;
	struct timer_plan p = {
		.plan = 1, .start = 1000, .nsteps = 1, .steps = { { 0, 5000 } },
		.body = "the task body", .body_len = 13,
	};
	struct timer_plan got;

	assert_int_equal(timer_plan_put(&fx->ts, fx->t, "T-7", &p), 0);
	assert_int_equal(timer_plan_get(&fx->ts, fx->t, "T-7", &got), 0);
	got.nsteps = 0;			/* the step fired */
	got.done = 1;
	assert_int_equal(timer_plan_put(&fx->ts, fx->t, "T-7", &got), 0);
	assert_int_equal(timer_plan_get(&fx->ts, fx->t, "T-7", &got), 0);
	assert_int_equal(got.nsteps, 0);
	assert_int_equal(got.done, 1);
	assert_int_equal(got.body_len, 13);
	assert_memory_equal(got.body, "the task body", 13);
}

/* A missing plan is -ENOENT, to get and to delete; delete removes it. */
static void test_plan_missing_and_del(void **state)
{
	struct fixture *fx = *state;
	struct timer_plan p = { .plan = 1, .start = 1 }, got;

	assert_int_equal(timer_plan_get(&fx->ts, fx->t, "T-1", &got), -ENOENT);
	assert_int_equal(timer_plan_del(&fx->ts, fx->t, "T-1"), -ENOENT);
	assert_int_equal(timer_plan_put(&fx->ts, fx->t, "T-1", &p), 0);
	assert_int_equal(timer_plan_del(&fx->ts, fx->t, "T-1"), 0);
	assert_int_equal(timer_plan_get(&fx->ts, fx->t, "T-1", &got), -ENOENT);
	assert_int_equal(timer_plan_del(&fx->ts, fx->t, "T-1"), -ENOENT);
}

/* Ids the key cannot hold, and more steps than exist, are refused. */
static void test_plan_put_invalid(void **state)
{
	struct fixture *fx = *state;
	char id[MSG_TASK_MAX + 2];
	struct timer_plan p = { .plan = 1, .start = 1 }, got;

	assert_int_equal(timer_plan_put(&fx->ts, fx->t, "", &p), -EINVAL);
	assert_int_equal(timer_plan_put(&fx->ts, fx->t,
					long_id(id, MSG_TASK_MAX + 1), &p),
			 -EINVAL);
	assert_int_equal(timer_plan_put(&fx->ts, fx->t,
					long_id(id, MSG_TASK_MAX), &p), 0);
	assert_int_equal(timer_plan_get(&fx->ts, fx->t, id, &got), 0);
	p.nsteps = TIMER_STEPS + 1;
	assert_int_equal(timer_plan_put(&fx->ts, fx->t, "T-1", &p), -EINVAL);
	assert_int_equal(timer_plan_get(&fx->ts, fx->t, "T-1", &got), -ENOENT);
}

/* A hand-written row in the documented layout reads as what it says. */
static void test_plan_layout(void **state)
{
	struct fixture *fx = *state;
	struct timer_step steps[2] = { { 17, 7000 }, { 0, 6000 } };
	uint8_t v[PLAN_HEAD + 2 * STEP_BYTES + 8];
	size_t len = plan_row(v, 1, 9, 5000, 6, steps, 2, "abc");
	struct timer_plan got;

	assert_int_equal(store_put(fx->t, fx->ts.plans, "T-5", 3, v, len, 0),
			 0);
	assert_int_equal(timer_plan_get(&fx->ts, fx->t, "T-5", &got), 0);
	assert_int_equal(got.plan, 9);
	assert_int_equal(got.start, 5000);
	assert_int_equal(got.done, 6);
	assert_int_equal(got.nsteps, 2);
	assert_int_equal(got.steps[0].step, 17);
	assert_int_equal(got.steps[0].at, 7000);
	assert_int_equal(got.steps[1].step, 0);
	assert_int_equal(got.steps[1].at, 6000);
	assert_int_equal(got.body_len, 3);
	assert_memory_equal(got.body, "abc", 3);
}

/* Put raw bytes as task id's plan row and read it back: the result. */
static int get_raw(struct fixture *fx, const void *v, size_t len)
{
	struct timer_plan got;

	assert_int_equal(store_put(fx->t, fx->ts.plans, "T-9", 3, v, len, 0),
			 0);
	return timer_plan_get(&fx->ts, fx->t, "T-9", &got);
}

/* Every kind of damage to a row is -EBADMSG, never read as a plan. */
static void test_plan_malformed(void **state)
{
	struct fixture *fx = *state;
	struct timer_step one = { 0, 6000 }, bad = { TIMER_STEPS, 6000 };
	struct timer_step last = { TIMER_STEPS - 1, 6000 };
	struct timer_step many[TIMER_STEPS + 1];
	uint8_t v[PLAN_HEAD + 2 * STEP_BYTES + 8] = { 0 };
	uint8_t big[PLAN_HEAD + (TIMER_STEPS + 1) * STEP_BYTES];
	size_t len;

	/* Empty, and one byte short of the head. */
	assert_int_equal(get_raw(fx, v, 0), -EBADMSG);
	len = plan_row(v, 1, 1, 1000, 0, NULL, 0, "");
	assert_int_equal(len, PLAN_HEAD);
	assert_int_equal(get_raw(fx, v, len), 0);
	assert_int_equal(get_raw(fx, v, len - 1), -EBADMSG);
	/* A version this code does not know. */
	plan_row(v, 2, 1, 1000, 0, NULL, 0, "");
	assert_int_equal(get_raw(fx, v, PLAN_HEAD), -EBADMSG);
	plan_row(v, 0, 1, 1000, 0, NULL, 0, "");
	assert_int_equal(get_raw(fx, v, PLAN_HEAD), -EBADMSG);
	/* More steps announced than the row holds. */
	len = plan_row(v, 1, 1, 1000, 0, &one, 1, "");
	v[25] = 2;
	assert_int_equal(get_raw(fx, v, len), -EBADMSG);
	/* The last step cut short by a byte. */
	len = plan_row(v, 1, 1, 1000, 0, &one, 1, "");
	assert_int_equal(get_raw(fx, v, len - 1), -EBADMSG);
	/* More steps than a plan can have, even with their bytes there. */
	for (size_t i = 0; i <= TIMER_STEPS; i++)
		many[i] = (struct timer_step){ (uint8_t)(i % TIMER_STEPS),
					       6000 };
	len = plan_row(big, 1, 1, 1000, 0, many, TIMER_STEPS + 1, "");
	assert_int_equal(get_raw(fx, big, len), -EBADMSG);
	len = plan_row(big, 1, 1, 1000, 0, many, TIMER_STEPS, "");
	assert_int_equal(get_raw(fx, big, len), 0);
	/* A step number out of range; the last one in range is fine. */
	len = plan_row(v, 1, 1, 1000, 0, &bad, 1, "");
	assert_int_equal(get_raw(fx, v, len), -EBADMSG);
	len = plan_row(v, 1, 1, 1000, 0, &last, 1, "");
	assert_int_equal(get_raw(fx, v, len), 0);
}

/* ------------------------------------------------------------ timers */

/* Instants sort numerically, across byte boundaries and up to INT64_MAX. */
static void test_timer_order(void **state)
{
	struct fixture *fx = *state;
	static const instant_t at[] = {
		5000, 256, INT64_MAX, 255, INT64_C(1) << 40, 300, 0,
		INT64_C(1790000000000),
	};
	static const instant_t sorted[] = {
		0, 255, 256, 300, 5000, INT64_C(1) << 40,
		INT64_C(1790000000000), INT64_MAX,
	};
	struct timer_row rows[8];
	instant_t first;
	char id[16];

	assert_int_equal(timer_first(&fx->ts, fx->t, &first), -ENOENT);
	for (size_t i = 0; i < 8; i++) {
		snprintf(id, sizeof(id), "T-%zu", i);
		assert_int_equal(timer_add(&fx->ts, fx->t, id, 0, at[i], i + 1),
				 0);
	}
	assert_int_equal(timer_first(&fx->ts, fx->t, &first), 0);
	assert_int_equal(first, 0);
	assert_int_equal(walk(fx, rows, 8), 8);
	for (size_t i = 0; i < 8; i++) {
		size_t was = 0;

		while (at[was] != sorted[i])
			was++;
		snprintf(id, sizeof(id), "T-%zu", was);
		assert_row(&rows[i], sorted[i], id, 0, was + 1);
	}
}

/* At one instant: by task id bytes ("T-1" before "T-10"), then by step. */
static void test_timer_same_instant(void **state)
{
	struct fixture *fx = *state;
	struct timer_row rows[6];

	assert_int_equal(timer_add(&fx->ts, fx->t, "T-2", 0, 1000, 1), 0);
	assert_int_equal(timer_add(&fx->ts, fx->t, "T-10", 0, 1000, 1), 0);
	assert_int_equal(timer_add(&fx->ts, fx->t, "T-1", 17, 1000, 3), 0);
	assert_int_equal(timer_add(&fx->ts, fx->t, "T-1", 1, 1000, 3), 0);
	assert_int_equal(timer_add(&fx->ts, fx->t, "T-1", 0, 1000, 3), 0);
	assert_int_equal(timer_add(&fx->ts, fx->t, "T-1", 0, 999, 3), 0);
	assert_int_equal(walk(fx, rows, 6), 6);
	assert_row(&rows[0], 999, "T-1", 0, 3);
	assert_row(&rows[1], 1000, "T-1", 0, 3);
	assert_row(&rows[2], 1000, "T-1", 1, 3);
	assert_row(&rows[3], 1000, "T-1", 17, 3);
	assert_row(&rows[4], 1000, "T-10", 0, 1);
	assert_row(&rows[5], 1000, "T-2", 0, 1);
}

/* Adding the same row again rewrites its plan; delete is exact. */
static void test_timer_add_del(void **state)
{
	struct fixture *fx = *state;
	struct timer_row rows[2];
	instant_t first;
	uint64_t n;

	assert_int_equal(timer_add(&fx->ts, fx->t, "T-1", 0, 2000, 1), 0);
	assert_int_equal(timer_add(&fx->ts, fx->t, "T-1", 1, 1000, 1), 0);
	assert_int_equal(timer_add(&fx->ts, fx->t, "T-1", 1, 1000, 2), 0);
	assert_int_equal(store_count(fx->t, fx->ts.timers, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(walk(fx, rows, 2), 2);
	assert_row(&rows[0], 1000, "T-1", 1, 2);

	/* Not there: another instant, step or task. */
	assert_int_equal(timer_del(&fx->ts, fx->t, "T-1", 1, 1001), -ENOENT);
	assert_int_equal(timer_del(&fx->ts, fx->t, "T-1", 2, 1000), -ENOENT);
	assert_int_equal(timer_del(&fx->ts, fx->t, "T-10", 1, 1000), -ENOENT);

	assert_int_equal(timer_del(&fx->ts, fx->t, "T-1", 1, 1000), 0);
	assert_int_equal(timer_first(&fx->ts, fx->t, &first), 0);
	assert_int_equal(first, 2000);
	assert_int_equal(timer_del(&fx->ts, fx->t, "T-1", 1, 1000), -ENOENT);
	assert_int_equal(timer_del(&fx->ts, fx->t, "T-1", 0, 2000), 0);
	assert_int_equal(timer_first(&fx->ts, fx->t, &first), -ENOENT);
}

/* A key that cannot be made is -EINVAL and nothing is written. */
static void test_timer_invalid(void **state)
{
	struct fixture *fx = *state;
	char id[MSG_TASK_MAX + 2];
	struct timer_row row;
	instant_t first;

	assert_int_equal(timer_add(&fx->ts, fx->t, "", 0, 1000, 1), -EINVAL);
	assert_int_equal(timer_add(&fx->ts, fx->t, "T-1", 0, -1, 1), -EINVAL);
	assert_int_equal(timer_add(&fx->ts, fx->t, "T-1", 0, INT64_MIN, 1),
			 -EINVAL);
	assert_int_equal(timer_add(&fx->ts, fx->t,
				   long_id(id, MSG_TASK_MAX + 1), 0, 1000, 1),
			 -EINVAL);
	assert_int_equal(timer_del(&fx->ts, fx->t, "", 0, 1000), -EINVAL);
	assert_int_equal(timer_del(&fx->ts, fx->t, "T-1", 0, -1), -EINVAL);
	assert_int_equal(timer_first(&fx->ts, fx->t, &first), -ENOENT);

	/* The longest id there is fits, and reads back whole. */
	assert_int_equal(timer_add(&fx->ts, fx->t, long_id(id, MSG_TASK_MAX),
				   TIMER_STEPS - 1, 1000, 1), 0);
	assert_int_equal(walk(fx, &row, 1), 1);
	assert_row(&row, 1000, id, TIMER_STEPS - 1, 1);
}

/* ------------------------------------------------------------ rows */

/* A key and value as timer_add() writes them decode field by field. */
static void test_row_parse(void **state)
{
	struct fixture *fx = *state;
	struct store_cursor *c;
	const void *k, *v;
	size_t klen, vlen;
	struct timer_row row;
	uint8_t key[KEY_MAX], val[8];

	assert_int_equal(timer_add(&fx->ts, fx->t, "T-1042-2", 18,
				   INT64_C(1790000000250), 7), 0);
	assert_int_equal(store_cursor_open(fx->t, fx->ts.timers, &c), 0);
	assert_int_equal(store_cursor_seek(c, NULL, 0), 0);
	assert_int_equal(store_cursor_next(c, &k, &klen, &v, &vlen), 0);
	assert_int_equal(klen, 8 + 8 + 2);
	assert_int_equal(vlen, 8);
	assert_int_equal(timer_row_parse(k, klen, v, vlen, &row), 0);
	assert_int_equal(row.at, INT64_C(1790000000250));
	assert_int_equal(row.id_len, 8);
	assert_memory_equal(row.id, "T-1042-2", 8);
	assert_ptr_equal(row.id, (const char *)k + 8);	/* into the key */
	assert_int_equal(row.step, 18);
	assert_int_equal(row.plan, 7);
	store_cursor_close(c);

	/* The same row written by hand is the same key. */
	assert_int_equal(timer_key(key, UINT64_C(1790000000250), "T-1042-2", 8,
				   18), klen);
	store_u64_key(7, val);
	assert_int_equal(timer_row_parse(key, klen, val, 8, &row), 0);
	assert_int_equal(row.at, INT64_C(1790000000250));
	assert_int_equal(row.step, 18);
	assert_int_equal(row.plan, 7);
}

/* Every kind of malformed row is -EBADMSG. */
static void test_row_parse_malformed(void **state)
{
	uint8_t key[KEY_MAX + 1], val[9] = { 0 };
	struct timer_row row;
	char id[MSG_TASK_MAX + 2];
	size_t klen;

	/* The smallest and the largest well-formed keys, as a baseline. */
	klen = timer_key(key, 1000, "T", 1, 0);
	assert_int_equal(klen, 11);
	assert_int_equal(timer_row_parse(key, klen, val, 8, &row), 0);
	klen = timer_key(key, 1000, long_id(id, MSG_TASK_MAX), MSG_TASK_MAX,
			 TIMER_STEPS - 1);
	assert_int_equal(klen, KEY_MAX);
	assert_int_equal(timer_row_parse(key, klen, val, 8, &row), 0);
	assert_int_equal(row.id_len, MSG_TASK_MAX);

	/* An id one byte too long. */
	klen = timer_key(key, 1000, long_id(id, MSG_TASK_MAX + 1),
			 MSG_TASK_MAX + 1, 0);
	assert_int_equal(timer_row_parse(key, klen, val, 8, &row), -EBADMSG);
	/* No id at all, and shorter than any key. */
	klen = timer_key(key, 1000, "", 0, 0);
	assert_int_equal(timer_row_parse(key, klen, val, 8, &row), -EBADMSG);
	assert_int_equal(timer_row_parse(key, 0, val, 8, &row), -EBADMSG);
	/* A value that is not a u64. */
	klen = timer_key(key, 1000, "T-1", 3, 0);
	assert_int_equal(timer_row_parse(key, klen, val, 7, &row), -EBADMSG);
	assert_int_equal(timer_row_parse(key, klen, val, 9, &row), -EBADMSG);
	assert_int_equal(timer_row_parse(key, klen, val, 0, &row), -EBADMSG);
	/* No NUL between the id and the step. */
	klen = timer_key(key, 1000, "T-1", 3, 0);
	key[klen - 2] = '1';
	assert_int_equal(timer_row_parse(key, klen, val, 8, &row), -EBADMSG);
	/* A NUL inside the id. */
	klen = timer_key(key, 1000, "T\0-1", 4, 0);
	assert_int_equal(timer_row_parse(key, klen, val, 8, &row), -EBADMSG);
	/* A step out of range; the last one in range parses. */
	klen = timer_key(key, 1000, "T-1", 3, TIMER_STEPS);
	assert_int_equal(timer_row_parse(key, klen, val, 8, &row), -EBADMSG);
	klen = timer_key(key, 1000, "T-1", 3, 255);
	assert_int_equal(timer_row_parse(key, klen, val, 8, &row), -EBADMSG);
	klen = timer_key(key, 1000, "T-1", 3, TIMER_STEPS - 1);
	assert_int_equal(timer_row_parse(key, klen, val, 8, &row), 0);
	/* An instant with the sign bit set. */
	klen = timer_key(key, UINT64_C(1) << 63, "T-1", 3, 0);
	assert_int_equal(timer_row_parse(key, klen, val, 8, &row), -EBADMSG);
	klen = timer_key(key, (uint64_t)INT64_MAX, "T-1", 3, 0);
	assert_int_equal(timer_row_parse(key, klen, val, 8, &row), 0);
	assert_true(row.at == INT64_MAX);
}

/* ------------------------------------------------------------ steps */

/* Step numbers map to kinds; only the deadline depends on obligation. */
static void test_step_alert(void **state)
{
	assert_int_equal(TIMER_STEP_DUE, 0);
	assert_int_equal(TIMER_STEP_REMINDER, 1);
	assert_int_equal(TIMER_STEP_ESCALATION, 17);
	assert_int_equal(TIMER_STEPS, 33);

	assert_int_equal(timer_step_alert(0, false), ALERT_OVERDUE);
	assert_int_equal(timer_step_alert(0, true), ALERT_MISSING_REPORT);
	for (int ob = 0; ob < 2; ob++) {
		assert_int_equal(timer_step_alert(1, ob), ALERT_REMINDER);
		assert_int_equal(timer_step_alert(16, ob), ALERT_REMINDER);
		assert_int_equal(timer_step_alert(17, ob), ALERT_ESCALATION);
		assert_int_equal(timer_step_alert(32, ob), ALERT_ESCALATION);
		assert_int_equal(timer_step_alert(33, ob), ALERT_NONE);
		assert_int_equal(timer_step_alert(255, ob), ALERT_NONE);
	}
}

/* Names count reminders and escalation levels from 1. */
static void test_step_name(void **state)
{
	char buf[TIMER_STEP_NAME_MAX + 1];

	assert_string_equal(timer_step_name(0, false, buf, sizeof(buf)),
			    "overdue");
	assert_string_equal(timer_step_name(0, true, buf, sizeof(buf)),
			    "missing-report");
	for (int ob = 0; ob < 2; ob++) {
		assert_string_equal(timer_step_name(1, ob, buf, sizeof(buf)),
				    "reminder-1");
		assert_string_equal(timer_step_name(2, ob, buf, sizeof(buf)),
				    "reminder-2");
		assert_string_equal(timer_step_name(16, ob, buf, sizeof(buf)),
				    "reminder-16");
		assert_string_equal(timer_step_name(17, ob, buf, sizeof(buf)),
				    "escalation-1");
		assert_string_equal(timer_step_name(32, ob, buf, sizeof(buf)),
				    "escalation-16");
		assert_string_equal(timer_step_name(33, ob, buf, sizeof(buf)),
				    "step-33");
		assert_string_equal(timer_step_name(255, ob, buf, sizeof(buf)),
				    "step-255");
	}
	/* A buffer too small truncates, never overruns. */
	assert_string_equal(timer_step_name(17, false, buf, 5), "esca");
}

/* An alert id is "<task>/<plan>/<step name>", and the longest one fits. */
static void test_alert_id(void **state)
{
	char buf[MSG_ALERT_ID_MAX + 1], id[MSG_TASK_MAX + 1], want[256];

	assert_string_equal(timer_alert_id("T-1042", 2, 1, false, buf,
					   sizeof(buf)), "T-1042/2/reminder-1");
	assert_string_equal(timer_alert_id("T-1042", 2, 16, true, buf,
					   sizeof(buf)),
			    "T-1042/2/reminder-16");
	assert_string_equal(timer_alert_id("T-1042", 2, 0, false, buf,
					   sizeof(buf)), "T-1042/2/overdue");
	assert_string_equal(timer_alert_id("T-1042", 2, 0, true, buf,
					   sizeof(buf)),
			    "T-1042/2/missing-report");
	assert_string_equal(timer_alert_id("T-1042-2", 1, 17, false, buf,
					   sizeof(buf)),
			    "T-1042-2/1/escalation-1");
	assert_string_equal(timer_alert_id("T-1042-2", 1, 32, true, buf,
					   sizeof(buf)),
			    "T-1042-2/1/escalation-16");
	assert_string_equal(timer_alert_id("T-1", 1, 33, false, buf,
					   sizeof(buf)), "T-1/1/step-33");
	assert_string_equal(timer_alert_id("T-1", 0, 0, false, buf,
					   sizeof(buf)), "T-1/0/overdue");

	long_id(id, MSG_TASK_MAX);
	snprintf(want, sizeof(want), "%s/18446744073709551615/missing-report",
		 id);
	assert_string_equal(timer_alert_id(id, UINT64_MAX, 0, true, buf,
					   sizeof(buf)), want);
	assert_true(strlen(want) <= MSG_ALERT_ID_MAX);
}

/* An obligation is a task that names a period, decoded or built. */
static void test_is_obligation(void **state)
{
	struct msg task = {
		.type = MSG_TASK_CREATED, .task = "T-1", .state = STATE_OPEN,
		.change = CHANGE_CREATED, .agency = "mps-a05",
		.category = CATEGORY_CYBERSECURITY, .title = "Q3 report",
		.created_at = 1000, .due_at = 2000, .plan = 1,
		.rule = "quarterly", .origin_seq = 1, .cause_seq = 1,
	};
	struct msg got = { 0 };
	struct msg_error err;
	void *body;
	size_t len;

	assert_false(timer_is_obligation(&task));
	task.period = "2026-Q3";
	assert_true(timer_is_obligation(&task));

	/* As the daemon meets it: a task.created body it decodes. */
	assert_int_equal(msg_encode(&task, &body, &len), 0);
	assert_int_equal(msg_decode_event("task.created", 12, body, len, &got,
					  &err), 0);
	assert_true(timer_is_obligation(&got));
	msg_free(&got);
	free(body);
	task.period = NULL;
	assert_int_equal(msg_encode(&task, &body, &len), 0);
	assert_int_equal(msg_decode_event("task.created", 12, body, len, &got,
					  &err), 0);
	assert_false(timer_is_obligation(&got));
	msg_free(&got);
	free(body);
}

/* ----------------------------------------------------------- planning */

#define HOUR	TIME_MS_PER_H

static instant_t at(const char *text)
{
	instant_t t;

	assert_int_equal(time_parse_instant(text, &t), 0);
	return t;
}

/* A task due at due with reminders 24h, 2h and escalation +0, +48h. */
static struct msg planned_task(instant_t due)
{
	static const char *const to[] = { "office", "committee" };
	struct msg m = {
		.type = MSG_TASK_CREATED, .task = "T-9", .state = STATE_OPEN,
		.due_at = due, .plan = 1, .nreminders = 2,
		.reminders = { 24 * HOUR, 2 * HOUR }, .nescalation = 2,
		.escalate_to = { to[0], to[1] },
		.escalate_after = { 0, 48 * HOUR },
	};

	return m;
}

static void assert_step(const struct timer_plan *p, size_t i, uint8_t step,
			instant_t when)
{
	assert_true(i < p->nsteps);
	assert_int_equal(p->steps[i].step, step);
	assert_int_equal(p->steps[i].at, when);
}

/* Every step, in step order, at due minus, at, and plus its offset. */
static void test_plan_steps_all(void **state)
{
	instant_t due = at("2026-12-10T10:00:00Z");
	struct msg m = planned_task(due);
	struct timer_plan p = { .start = due - 72 * HOUR };

	timer_plan_steps(&m, NULL, &p);
	assert_int_equal(p.nsteps, 5);
	assert_step(&p, 0, TIMER_STEP_REMINDER, due - 24 * HOUR);
	assert_step(&p, 1, TIMER_STEP_REMINDER + 1, due - 2 * HOUR);
	assert_step(&p, 2, TIMER_STEP_DUE, due);
	assert_step(&p, 3, TIMER_STEP_ESCALATION, due);
	assert_step(&p, 4, TIMER_STEP_ESCALATION + 1, due + 48 * HOUR);
}

/*
 * What is left out: a reminder before the plan began, steps done, every
 * step of a waiting task, an escalation past the end of time.
 */
static void test_plan_steps_left_out(void **state)
{
	instant_t due = at("2026-12-10T10:00:00Z");
	struct msg m = planned_task(due);
	struct timer_plan p = { .start = due - 10 * HOUR };

	timer_plan_steps(&m, NULL, &p);
	assert_int_equal(p.nsteps, 4);
	assert_step(&p, 0, TIMER_STEP_REMINDER + 1, due - 2 * HOUR);

	p.start = due - 72 * HOUR;
	p.done = UINT64_C(1) << TIMER_STEP_REMINDER |
		 UINT64_C(1) << TIMER_STEP_DUE;
	timer_plan_steps(&m, NULL, &p);
	assert_int_equal(p.nsteps, 3);
	assert_step(&p, 0, TIMER_STEP_REMINDER + 1, due - 2 * HOUR);
	assert_step(&p, 1, TIMER_STEP_ESCALATION, due);

	p.done = 0;
	m.escalate_after[1] = INT64_MAX;
	timer_plan_steps(&m, NULL, &p);
	assert_int_equal(p.nsteps, 4);
	assert_step(&p, 3, TIMER_STEP_ESCALATION, due);

	m.state = STATE_WAITING;
	timer_plan_steps(&m, NULL, &p);
	assert_int_equal(p.nsteps, 0);
}

/*
 * Working-hours reminders, in an office calendar of Mon-Fri 08:00-17:00 at
 * UTC+7 with Friday 2026-12-04 a holiday: a reminder at night moves to the
 * next morning when that is still before the deadline, else back to the
 * end of the last working day, else (before the plan began) it is dropped.
 * Escalations and the deadline itself never move.
 */
static void test_plan_steps_working_hours(void **state)
{
	struct fixture *fx = *state;
	struct config_error err;
	struct calendar *cal = NULL;
	char path[PATH_MAX + 32];
	instant_t due = at("2026-12-07T02:30:00Z");	/* Mon 09:30 +07 */
	struct msg m = planned_task(due);
	struct timer_plan p = { .start = at("2026-12-01T00:00:00Z") };
	FILE *f;

	snprintf(path, sizeof(path), "%s/calendar.conf", fx->dir);
	f = fopen(path, "we");
	assert_non_null(f);
	fputs("[calendar]\ntimezone = Asia/Ho_Chi_Minh\n"
	      "[holidays]\n2026-12-04 = test holiday\n", f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(calendar_load(path, &cal, &err), 0);

	m.working_hours = true;
	m.reminders[1] = 3 * HOUR;	/* Mon 06:30 +07 */
	timer_plan_steps(&m, cal, &p);
	assert_int_equal(p.nsteps, 5);
	/* Sun 09:30 +07: Monday 08:00 is still before the deadline. */
	assert_step(&p, 0, TIMER_STEP_REMINDER, at("2026-12-07T01:00:00Z"));
	assert_step(&p, 1, TIMER_STEP_REMINDER + 1, at("2026-12-07T01:00:00Z"));
	assert_step(&p, 2, TIMER_STEP_DUE, due);
	assert_step(&p, 3, TIMER_STEP_ESCALATION, due);

	/* Due Mon 08:00 +07: back to Thursday 17:00 (Friday is a holiday). */
	m.due_at = at("2026-12-07T01:00:00Z");
	m.reminders[1] = 1 * HOUR;
	timer_plan_steps(&m, cal, &p);
	assert_step(&p, 0, TIMER_STEP_REMINDER, at("2026-12-03T10:00:00Z"));
	assert_step(&p, 1, TIMER_STEP_REMINDER + 1, at("2026-12-03T10:00:00Z"));

	/* ... unless the plan began after that: then there is none. */
	p.start = at("2026-12-05T00:00:00Z");
	timer_plan_steps(&m, cal, &p);
	assert_int_equal(p.nsteps, 3);
	assert_step(&p, 0, TIMER_STEP_DUE, m.due_at);

	/* Without working_hours, the calendar changes nothing. */
	m.working_hours = false;
	timer_plan_steps(&m, cal, &p);
	assert_int_equal(p.nsteps, 5);
	assert_step(&p, 0, TIMER_STEP_REMINDER, m.due_at - 24 * HOUR);
	assert_step(&p, 1, TIMER_STEP_REMINDER + 1, m.due_at - HOUR);
	calendar_free(cal);
}

/* ------------------------------------------------------------ opening */

/*
 * A read-only store (batonctl) finds the tables only once the daemon has
 * made them. One environment open at a time: LMDB forbids opening the same
 * one twice in a process.
 */
static void test_store_open_read_only(void **state)
{
	struct fixture *fx = *state;
	struct store_options ro = { .read_only = true }, rw = { .create = true };
	char path[PATH_MAX + 8];
	struct timer_store ts;
	struct store *st;

	snprintf(path, sizeof(path), "%s/other", fx->dir);
	assert_int_equal(store_open(path, &rw, &st), 0);
	store_close(st);
	assert_int_equal(store_open(path, &ro, &st), 0);
	assert_int_equal(timer_store_open(st, &ts), -ENOENT);
	store_close(st);

	assert_int_equal(store_open(path, &rw, &st), 0);
	assert_int_equal(timer_store_open(st, &ts), 0);
	assert_ptr_equal(ts.st, st);
	store_close(st);
	assert_int_equal(store_open(path, &ro, &st), 0);
	assert_int_equal(timer_store_open(st, &ts), 0);
	assert_ptr_equal(ts.st, st);
	store_close(st);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_plan_round_trip),
		T(test_plan_replace),
		T(test_plan_body_from_own_row),
		T(test_plan_missing_and_del),
		T(test_plan_put_invalid),
		T(test_plan_layout),
		T(test_plan_malformed),
		T(test_timer_order),
		T(test_timer_same_instant),
		T(test_timer_add_del),
		T(test_timer_invalid),
		T(test_row_parse),
		cmocka_unit_test(test_row_parse_malformed),
		cmocka_unit_test(test_step_alert),
		cmocka_unit_test(test_step_name),
		cmocka_unit_test(test_alert_id),
		cmocka_unit_test(test_is_obligation),
		cmocka_unit_test(test_plan_steps_all),
		cmocka_unit_test(test_plan_steps_left_out),
		T(test_plan_steps_working_hours),
		T(test_store_open_read_only),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
