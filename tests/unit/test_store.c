/*
 * test_store.c - lib/store: environments, named tables, transactions,
 * cursors, errno mapping and map growth.
 *
 * Every test runs on a real LMDB environment in a fresh temporary directory,
 * because what matters here is what LMDB does underneath: its error codes,
 * its key order, its full map, and a reader in another process meeting a map
 * that the writer grew.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"
#include "testdir.h"

#define SMALL_MAP	(32 * 4096)

struct fixture {
	char dir[PATH_MAX / 2];	/* the temporary directory, removed at the end */
	char path[PATH_MAX];	/* dir/env: the environment of the test */
	struct store *st;
	struct store_txn *txn;	/* a test's open txn, aborted if it fails */
};

/* ------------------------------------------------------------ helpers */

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);

	if (!fx)
		return -1;
	if (testdir_make(fx->dir, sizeof fx->dir, "test_store") < 0) {
		free(fx);
		return -1;
	}
	snprintf(fx->path, sizeof fx->path, "%s/env", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	store_abort(fx->txn);
	store_close(fx->st);
	testdir_remove(fx->dir);
	free(fx);
	return 0;
}

static struct store *open_rw(struct fixture *fx, uint64_t map_size)
{
	struct store_options opt = { .map_size = map_size, .create = true };

	assert_int_equal(store_open(fx->path, &opt, &fx->st), 0);
	assert_non_null(fx->st);
	return fx->st;
}

static store_table_t table(struct store *st, const char *name)
{
	store_table_t t = 12345;

	assert_int_equal(store_table(st, name, &t), 0);
	assert_true(t < STORE_MAX_TABLES);
	return t;
}

static struct store_txn *begin(struct store *st, bool write)
{
	struct store_txn *t = NULL;

	assert_int_equal(store_begin(st, write, &t), 0);
	assert_non_null(t);
	return t;
}

static void put_str(struct store_txn *t, store_table_t tab, const char *k,
		    const char *v)
{
	assert_int_equal(store_put(t, tab, k, strlen(k), v, strlen(v), 0), 0);
}

/* Assert that key k holds exactly the string v. */
static void expect_str(struct store_txn *t, store_table_t tab, const char *k,
		       const char *v)
{
	const void *val = NULL;
	size_t vlen = 0;

	assert_int_equal(store_get(t, tab, k, strlen(k), &val, &vlen), 0);
	assert_int_equal(vlen, strlen(v));
	assert_memory_equal(val, v, vlen);
}

static void expect_missing(struct store_txn *t, store_table_t tab,
			   const char *k)
{
	const void *val;
	size_t vlen;

	assert_int_equal(store_get(t, tab, k, strlen(k), &val, &vlen),
			 -ENOENT);
}

static uint64_t count(struct store_txn *t, store_table_t tab)
{
	uint64_t n = 99999;

	assert_int_equal(store_count(t, tab, &n), 0);
	return n;
}

/* A value for u64 key i that says which key it belongs to. */
static void fill_value(uint8_t *buf, size_t len, uint64_t i)
{
	for (size_t j = 0; j < len; j++)
		buf[j] = (uint8_t)(i * 31 + j);
}

static bool value_ok(const void *v, size_t vlen, size_t len, uint64_t i)
{
	const uint8_t *b = v;

	if (vlen != len)
		return false;
	for (size_t j = 0; j < len; j++)
		if (b[j] != (uint8_t)(i * 31 + j))
			return false;
	return true;
}

/*
 * Store u64 keys first..last with values of vlen bytes, batch keys per
 * transaction, growing the map whenever a put or a commit says -ENOSPC.
 * Returns how many times the map was grown.
 */
static int fill_growing(struct store *st, store_table_t tab, uint64_t first,
			uint64_t last, size_t vlen, uint64_t batch)
{
	uint8_t *val = malloc(vlen);
	int grows = 0;

	assert_non_null(val);
	for (uint64_t lo = first; lo <= last; lo += batch) {
		uint64_t hi = lo + batch - 1 < last ? lo + batch - 1 : last;
		int r;

		for (;;) {
			struct store_txn *t = begin(st, true);

			r = 0;
			for (uint64_t i = lo; i <= hi && r == 0; i++) {
				uint8_t k[8];

				store_u64_key(i, k);
				fill_value(val, vlen, i);
				r = store_put(t, tab, k, 8, val, vlen, 0);
			}
			if (r == 0)
				r = store_commit(t);
			else
				store_abort(t);
			if (r != -ENOSPC)
				break;
			assert_int_equal(store_grow(st, 0), 0);
			grows++;
			assert_true(grows < 64);
		}
		assert_int_equal(r, 0);
	}
	free(val);
	return grows;
}

/* --------------------------------------------------------- environment */

/* Opening with create makes every missing directory of the path. */
static void test_open_creates_nested_dirs(void **state)
{
	struct fixture *fx = *state;
	struct store_options opt = { .create = true };
	char data[PATH_MAX + 16];
	struct stat sb;

	snprintf(fx->path, sizeof fx->path, "%s/state/baton/intake", fx->dir);
	assert_int_equal(store_open(fx->path, &opt, &fx->st), 0);
	assert_int_equal(stat(fx->path, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	snprintf(data, sizeof data, "%s/data.mdb", fx->path);
	assert_int_equal(stat(data, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
}

/*
 * One writer per environment: a second writer is refused while the first
 * holds it, and admitted once it is closed.
 */
static void test_second_writer_refused(void **state)
{
	struct fixture *fx = *state;
	struct store_options opt = { .create = true };
	struct store *second = NULL;

	open_rw(fx, 0);
	assert_int_equal(store_open(fx->path, &opt, &second), -EBUSY);
	assert_null(second);
	store_close(fx->st);
	fx->st = NULL;
	assert_int_equal(store_open(fx->path, &opt, &second), 0);
	store_close(second);
}

/* Without create, a missing directory is -ENOENT and is not made. */
static void test_open_missing_without_create(void **state)
{
	struct fixture *fx = *state;
	struct store_options opt = { 0 };
	struct store *st = (struct store *)0x1;
	struct stat sb;

	assert_int_equal(store_open(fx->path, &opt, &st), -ENOENT);
	assert_int_equal(stat(fx->path, &sb), -1);
	assert_int_equal(errno, ENOENT);
}

/* The same name gives the same handle; different names are separate. */
static void test_tables_by_name(void **state)
{
	struct fixture *fx = *state;
	struct store *st = open_rw(fx, 0);
	store_table_t a = table(st, "a"), b = table(st, "b");
	struct store_txn *t;

	assert_int_not_equal(a, b);
	assert_int_equal(table(st, "a"), a);
	assert_int_equal(table(st, "b"), b);

	t = begin(st, true);
	put_str(t, a, "k", "in a");
	expect_missing(t, b, "k");
	assert_int_equal(store_commit(t), 0);

	t = begin(st, false);
	expect_str(t, a, "k", "in a");
	expect_missing(t, b, "k");
	assert_int_equal(count(t, b), 0);
	store_abort(t);
}

/* More tables than STORE_MAX_TABLES is -EMFILE; the ones open keep working. */
static void test_too_many_tables(void **state)
{
	struct fixture *fx = *state;
	struct store *st = open_rw(fx, 0);
	store_table_t h, first = table(st, "t0");
	char name[16];

	for (int i = 1; i < STORE_MAX_TABLES; i++) {
		snprintf(name, sizeof name, "t%d", i);
		table(st, name);
	}
	assert_int_equal(store_table(st, "one-too-many", &h), -EMFILE);
	assert_int_equal(table(st, "t0"), first);
}

/* --------------------------------------------------------------- data */

/* What is put can be got back, until it is deleted. */
static void test_put_get_del(void **state)
{
	struct fixture *fx = *state;
	struct store *st = open_rw(fx, 0);
	store_table_t tab = table(st, "kv");
	struct store_txn *t;

	t = begin(st, true);
	put_str(t, tab, "alpha", "1");
	put_str(t, tab, "beta", "22");
	expect_str(t, tab, "alpha", "1");	/* visible in its own txn */
	assert_int_equal(store_commit(t), 0);

	t = begin(st, false);
	expect_str(t, tab, "alpha", "1");
	expect_str(t, tab, "beta", "22");
	store_abort(t);

	t = begin(st, true);
	assert_int_equal(store_del(t, tab, "alpha", 5), 0);
	expect_missing(t, tab, "alpha");
	assert_int_equal(store_del(t, tab, "alpha", 5), -ENOENT);
	assert_int_equal(store_commit(t), 0);

	t = begin(st, false);
	expect_missing(t, tab, "alpha");
	expect_str(t, tab, "beta", "22");
	store_abort(t);
}

/* A looked-up key that was never stored is -ENOENT. */
static void test_get_missing(void **state)
{
	struct fixture *fx = *state;
	struct store *st = open_rw(fx, 0);
	store_table_t tab = table(st, "kv");
	struct store_txn *t = begin(st, true);

	expect_missing(t, tab, "nothing");
	put_str(t, tab, "abc", "x");
	expect_missing(t, tab, "ab");		/* a prefix is not the key */
	expect_missing(t, tab, "abcd");
	assert_int_equal(store_commit(t), 0);
}

/* An aborted transaction leaves nothing behind. */
static void test_abort_discards(void **state)
{
	struct fixture *fx = *state;
	struct store *st = open_rw(fx, 0);
	store_table_t tab = table(st, "kv");
	struct store_txn *t = begin(st, true);

	put_str(t, tab, "k", "v");
	store_abort(t);
	store_abort(NULL);			/* takes NULL */

	t = begin(st, false);
	expect_missing(t, tab, "k");
	assert_int_equal(count(t, tab), 0);
	store_abort(t);
}

/* NOOVERWRITE refuses an existing key with -EEXIST and keeps the old value. */
static void test_nooverwrite(void **state)
{
	struct fixture *fx = *state;
	struct store *st = open_rw(fx, 0);
	store_table_t tab = table(st, "kv");
	struct store_txn *t = begin(st, true);

	assert_int_equal(store_put(t, tab, "k", 1, "v1", 2, STORE_NOOVERWRITE),
			 0);
	assert_int_equal(store_put(t, tab, "k", 1, "v2", 2, STORE_NOOVERWRITE),
			 -EEXIST);
	expect_str(t, tab, "k", "v1");
	/* Without the flag, a put replaces. */
	put_str(t, tab, "k", "v3");
	expect_str(t, tab, "k", "v3");
	assert_int_equal(count(t, tab), 1);
	assert_int_equal(store_commit(t), 0);
}

/* APPEND takes keys in order and refuses one that sorts before the last: -EINVAL. */
static void test_append_out_of_order(void **state)
{
	struct fixture *fx = *state;
	struct store *st = open_rw(fx, 0);
	store_table_t tab = table(st, "log");
	struct store_txn *t = fx->txn = begin(st, true);
	uint8_t k[8];

	for (uint64_t i = 1; i <= 3; i++) {
		store_u64_key(i, k);
		assert_int_equal(store_put(t, tab, k, 8, "x", 1, STORE_APPEND),
				 0);
	}
	store_u64_key(2, k);
	assert_int_equal(store_put(t, tab, k, 8, "y", 1, STORE_APPEND),
			 -EINVAL);
	store_u64_key(4, k);
	assert_int_equal(store_put(t, tab, k, 8, "z", 1, STORE_APPEND), 0);
	assert_int_equal(count(t, tab), 4);
	fx->txn = NULL;
	assert_int_equal(store_commit(t), 0);
}

/* An empty key or one longer than LMDB's limit is -EINVAL, not -EIO. */
static void test_bad_keys(void **state)
{
	struct fixture *fx = *state;
	struct store *st = open_rw(fx, 0);
	store_table_t tab = table(st, "kv");
	struct store_txn *t = begin(st, true);
	char big[1024];

	memset(big, 'k', sizeof big);
	assert_int_equal(store_put(t, tab, "", 0, "v", 1, 0), -EINVAL);
	assert_int_equal(store_put(t, tab, big, sizeof big, "v", 1, 0),
			 -EINVAL);
	assert_int_equal(count(t, tab), 0);
	store_abort(t);
}

/* count follows what the transaction sees; last is the greatest key. */
static void test_count_and_last(void **state)
{
	struct fixture *fx = *state;
	struct store *st = open_rw(fx, 0);
	store_table_t tab = table(st, "kv");
	struct store_txn *t, *snap;
	const void *k, *v;
	size_t klen, vlen;

	t = begin(st, true);
	assert_int_equal(count(t, tab), 0);
	assert_int_equal(store_last(t, tab, &k, &klen, &v, &vlen), -ENOENT);
	put_str(t, tab, "m", "middle");
	put_str(t, tab, "z", "last");
	put_str(t, tab, "a", "first");
	assert_int_equal(count(t, tab), 3);
	assert_int_equal(store_commit(t), 0);

	snap = begin(st, false);		/* before the next write */
	t = begin(st, true);
	put_str(t, tab, "q", "more");
	assert_int_equal(count(t, tab), 4);
	assert_int_equal(store_commit(t), 0);
	assert_int_equal(count(snap, tab), 3);	/* a snapshot does not move */
	store_abort(snap);

	t = begin(st, false);
	assert_int_equal(count(t, tab), 4);
	assert_int_equal(store_last(t, tab, &k, &klen, &v, &vlen), 0);
	assert_int_equal(klen, 1);
	assert_memory_equal(k, "z", 1);
	assert_int_equal(vlen, 4);
	assert_memory_equal(v, "last", 4);
	/* key and val may each be NULL. */
	assert_int_equal(store_last(t, tab, NULL, NULL, NULL, NULL), 0);
	store_abort(t);
}

/* ------------------------------------------------------------- cursors */

static void expect_next(struct store_cursor *c, const char *key,
			const char *val)
{
	const void *k = NULL, *v = NULL;
	size_t klen = 0, vlen = 0;

	assert_int_equal(store_cursor_next(c, &k, &klen, &v, &vlen), 0);
	assert_int_equal(klen, strlen(key));
	assert_memory_equal(k, key, klen);
	assert_int_equal(vlen, strlen(val));
	assert_memory_equal(v, val, vlen);
}

static void expect_end(struct store_cursor *c)
{
	const void *k, *v;
	size_t klen, vlen;

	assert_int_equal(store_cursor_next(c, &k, &klen, &v, &vlen), -ENOENT);
}

/* Seek NULL starts at the first key; next walks in order, then -ENOENT. */
static void test_cursor_walk(void **state)
{
	struct fixture *fx = *state;
	struct store *st = open_rw(fx, 0);
	store_table_t tab = table(st, "kv");
	struct store_cursor *c = NULL;
	struct store_txn *t;

	t = begin(st, true);
	put_str(t, tab, "d", "4");
	put_str(t, tab, "b", "2");
	put_str(t, tab, "f", "6");
	assert_int_equal(store_commit(t), 0);

	t = begin(st, false);
	assert_int_equal(store_cursor_open(t, tab, &c), 0);
	assert_int_equal(store_cursor_seek(c, NULL, 0), 0);
	expect_next(c, "b", "2");
	expect_next(c, "d", "4");
	expect_next(c, "f", "6");
	expect_end(c);
	expect_end(c);				/* stays at the end */

	/* A seek repositions a cursor that ran off the end. */
	assert_int_equal(store_cursor_seek(c, NULL, 0), 0);
	expect_next(c, "b", "2");
	store_cursor_close(c);
	store_cursor_close(NULL);		/* takes NULL */
	store_abort(t);
}

/* Seek lands on the key itself, or the next greater one, or -ENOENT past the end. */
static void test_cursor_seek(void **state)
{
	struct fixture *fx = *state;
	struct store *st = open_rw(fx, 0);
	store_table_t tab = table(st, "kv");
	struct store_cursor *c = NULL;
	struct store_txn *t;

	t = begin(st, true);
	put_str(t, tab, "b", "2");
	put_str(t, tab, "d", "4");
	put_str(t, tab, "f", "6");
	assert_int_equal(store_commit(t), 0);

	t = begin(st, false);
	assert_int_equal(store_cursor_open(t, tab, &c), 0);
	assert_int_equal(store_cursor_seek(c, "c", 1), 0);
	expect_next(c, "d", "4");
	expect_next(c, "f", "6");
	expect_end(c);

	assert_int_equal(store_cursor_seek(c, "d", 1), 0);
	expect_next(c, "d", "4");

	assert_int_equal(store_cursor_seek(c, "a", 1), 0);
	expect_next(c, "b", "2");

	assert_int_equal(store_cursor_seek(c, "g", 1), -ENOENT);
	expect_end(c);
	store_cursor_close(c);
	store_abort(t);
}

/* A cursor on an empty table: seek NULL and next are both -ENOENT. */
static void test_cursor_empty(void **state)
{
	struct fixture *fx = *state;
	struct store *st = open_rw(fx, 0);
	store_table_t tab = table(st, "empty");
	struct store_cursor *c = NULL;
	struct store_txn *t = begin(st, false);

	assert_int_equal(store_cursor_open(t, tab, &c), 0);
	assert_int_equal(store_cursor_seek(c, NULL, 0), -ENOENT);
	expect_end(c);
	store_cursor_close(c);
	store_abort(t);
}

/* u64 keys are big-endian, round-trip, and sort numerically. */
static void test_u64_keys(void **state)
{
	struct fixture *fx = *state;
	static const uint64_t vals[] = {
		256, 1, 65536, UINT64_C(1) << 40, 255, 0, UINT64_MAX, 257,
	};
	static const uint64_t sorted[] = {
		0, 1, 255, 256, 257, 65536, UINT64_C(1) << 40, UINT64_MAX,
	};
	static const uint8_t be[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct store *st = open_rw(fx, 0);
	store_table_t tab = table(st, "u64");
	struct store_cursor *c = NULL;
	struct store_txn *t;
	uint8_t k[8];

	store_u64_key(UINT64_C(0x0102030405060708), k);
	assert_memory_equal(k, be, 8);
	assert_true(store_u64_from(be) == UINT64_C(0x0102030405060708));
	store_u64_key(UINT64_MAX, k);
	assert_true(store_u64_from(k) == UINT64_MAX);

	t = begin(st, true);
	for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
		store_u64_key(vals[i], k);
		assert_int_equal(store_put(t, tab, k, 8, "v", 1, 0), 0);
	}
	assert_int_equal(store_commit(t), 0);

	t = begin(st, false);
	assert_int_equal(store_cursor_open(t, tab, &c), 0);
	assert_int_equal(store_cursor_seek(c, NULL, 0), 0);
	for (size_t i = 0; i < sizeof sorted / sizeof *sorted; i++) {
		const void *key;
		size_t klen;

		assert_int_equal(store_cursor_next(c, &key, &klen, NULL, NULL),
				 0);
		assert_int_equal(klen, 8);
		assert_true(store_u64_from(key) == sorted[i]);
	}
	expect_end(c);
	/* Seeking to 258 lands on 65536: numeric, not lexical on decimals. */
	store_u64_key(258, k);
	assert_int_equal(store_cursor_seek(c, k, 8), 0);
	{
		const void *key;
		size_t klen;

		assert_int_equal(store_cursor_next(c, &key, &klen, NULL, NULL),
				 0);
		assert_true(store_u64_from(key) == 65536);
	}
	store_cursor_close(c);
	store_abort(t);
}

/* ----------------------------------------------------------- read-only */

/* Read-only on a missing directory is -ENOENT and creates nothing. */
static void test_read_only_missing(void **state)
{
	struct fixture *fx = *state;
	struct store_options opt = { .read_only = true, .create = true };
	struct store *st = NULL;
	struct stat sb;

	assert_int_equal(store_open(fx->path, &opt, &st), -ENOENT);
	assert_null(st);
	assert_int_equal(stat(fx->path, &sb), -1);
}

/*
 * A read-only store sees what was committed (not what was aborted), refuses
 * a write transaction with -EROFS and a table that does not exist with
 * -ENOENT.
 */
static void test_read_only_sees_committed(void **state)
{
	struct fixture *fx = *state;
	struct store_options ro = { .read_only = true };
	struct store *st = open_rw(fx, 0);
	store_table_t tab = table(st, "kv"), h;
	struct store_txn *t;

	t = begin(st, true);
	put_str(t, tab, "kept", "yes");
	assert_int_equal(store_commit(t), 0);
	t = begin(st, true);
	put_str(t, tab, "dropped", "no");
	store_abort(t);
	store_close(st);
	fx->st = NULL;

	assert_int_equal(store_open(fx->path, &ro, &fx->st), 0);
	st = fx->st;
	assert_int_equal(store_table(st, "missing", &h), -ENOENT);
	tab = table(st, "kv");
	assert_int_equal(store_begin(st, true, &t), -EROFS);

	t = begin(st, false);
	expect_str(t, tab, "kept", "yes");
	expect_missing(t, tab, "dropped");
	assert_int_equal(count(t, tab), 1);
	store_abort(t);
	/* A failed table lookup did not use up a handle or break the next. */
	assert_int_equal(store_table(st, "missing", &h), -ENOENT);
	assert_int_equal(table(st, "kv"), tab);
}

/*
 * store_copy(): a snapshot while a write transaction is open (what it holds
 * is not in the copy), opened like any store; never over an earlier copy.
 */
static void test_copy(void **state)
{
	struct fixture *fx = *state;
	struct store_options ro = { .read_only = true };
	struct store *st = open_rw(fx, 0), *copy = NULL;
	store_table_t tab = table(st, "kv");
	struct store_txn *t, *w;
	char dir[PATH_MAX];

	t = begin(st, true);
	for (int i = 0; i < 1000; i++) {
		char k[16];

		snprintf(k, sizeof k, "k%04d", i);
		put_str(t, tab, k, "committed");
	}
	assert_int_equal(store_commit(t), 0);
	w = begin(st, true);
	put_str(w, tab, "open", "not yet");
	snprintf(dir, sizeof dir, "%s/backup", fx->dir);
	assert_int_equal(store_copy(st, dir), 0);
	assert_int_equal(store_commit(w), 0);
	assert_int_equal(store_copy(st, dir), -EEXIST);

	assert_int_equal(store_open(dir, &ro, &copy), 0);
	tab = table(copy, "kv");
	t = begin(copy, false);
	assert_int_equal(count(t, tab), 1000);
	expect_str(t, tab, "k0999", "committed");
	expect_missing(t, tab, "open");
	store_abort(t);
	store_close(copy);
}

/* -------------------------------------------------------------- growth */

/*
 * A small map fills up (-ENOSPC from put or commit); abort, store_grow and
 * redo keep every value, and the map is larger afterwards.
 */
static void test_map_growth(void **state)
{
	struct fixture *fx = *state;
	struct store *st = open_rw(fx, SMALL_MAP);
	store_table_t tab = table(st, "big");
	uint64_t map0, used0, map1, used1;
	struct store_txn *t;
	int grows;

	assert_int_equal(store_usage(st, &map0, &used0), 0);
	assert_true(map0 >= SMALL_MAP && map0 < 2 * SMALL_MAP);
	assert_true(used0 > 0 && used0 <= map0);

	/* 400 values of 1 KiB, 50 per transaction: 400 KiB > 128 KiB. */
	grows = fill_growing(st, tab, 1, 400, 1024, 50);
	assert_true(grows >= 1);

	assert_int_equal(store_usage(st, &map1, &used1), 0);
	assert_true(map1 > map0);
	assert_true(used1 > map0);		/* the data really outgrew it */
	assert_true(used1 <= map1);

	t = begin(st, false);
	assert_int_equal(count(t, tab), 400);
	for (uint64_t i = 1; i <= 400; i++) {
		const void *v;
		size_t vlen;
		uint8_t k[8];

		store_u64_key(i, k);
		assert_int_equal(store_get(t, tab, k, 8, &v, &vlen), 0);
		assert_true(value_ok(v, vlen, 1024, i));
	}
	store_abort(t);
}

/* store_grow(min) sets the map to min when that is more than double. */
static void test_grow_to_min(void **state)
{
	struct fixture *fx = *state;
	struct store *st = open_rw(fx, SMALL_MAP);
	uint64_t map, used, want = UINT64_C(8) << 20;

	assert_int_equal(store_grow(st, want), 0);
	assert_int_equal(store_usage(st, &map, &used), 0);
	assert_true(map == want);
	assert_int_equal(store_grow(st, 0), 0);	/* and 0 doubles */
	assert_int_equal(store_usage(st, &map, &used), 0);
	assert_true(map == 2 * want);
}

/* The new map size is written with the next commit: a reopen keeps it. */
static void test_grown_map_persists(void **state)
{
	struct fixture *fx = *state;
	struct store_options ro = { .read_only = true };
	struct store *st = open_rw(fx, SMALL_MAP);
	store_table_t tab = table(st, "big");
	uint64_t map, used, ro_map;

	fill_growing(st, tab, 1, 400, 1024, 50);
	assert_int_equal(store_usage(st, &map, &used), 0);
	store_close(st);
	fx->st = NULL;

	assert_int_equal(store_open(fx->path, &ro, &fx->st), 0);
	assert_int_equal(store_usage(fx->st, &ro_map, &used), 0);
	assert_true(ro_map >= used);
}

/*
 * Child side of test_reader_adopts_grown_map. Opens path read-only; when
 * from_parent is not -1, first checks that it sees the early keys, reports
 * its map size and waits for the writer to send the final total. Then
 * reads every value. Returns an exit status: 0 when all is well, else the
 * step that failed.
 */
static int reader_child(const char *path, int to_parent, int from_parent,
			uint64_t total, size_t vlen)
{
	struct store_options ro = { .read_only = true };
	struct store_txn *t = NULL;
	struct store *st = NULL;
	store_table_t tab;
	uint64_t map, used, n = 0;

	if (store_open(path, &ro, &st) < 0)
		return 10;
	if (store_table(st, "big", &tab) < 0)
		return 11;
	if (from_parent >= 0) {
		if (store_usage(st, &map, &used) < 0)
			return 12;
		/* A snapshot before the writer grows: the early keys only. */
		if (store_begin(st, false, &t) < 0 ||
		    store_count(t, tab, &n) < 0 || n != total)
			return 13;
		store_abort(t);
		if (write(to_parent, &map, sizeof map) != sizeof map)
			return 14;
		if (read(from_parent, &total, sizeof total) != sizeof total)
			return 15;
	}

	/* The writer's data may lie past our map: store_begin adopts it. */
	if (store_begin(st, false, &t) < 0)
		return 20;
	if (store_count(t, tab, &n) < 0 || n != total)
		return 21;
	for (uint64_t i = 1; i <= total; i++) {
		const void *v;
		size_t len;
		uint8_t k[8];

		store_u64_key(i, k);
		if (store_get(t, tab, k, 8, &v, &len) < 0)
			return 22;
		if (!value_ok(v, len, vlen, i))
			return 23;
	}
	store_abort(t);
	if (store_usage(st, &map, &used) < 0 || map < used)
		return 24;
	store_close(st);
	return 0;
}

/* Run reader_child in a new process (another process, as batonctl is). */
static pid_t spawn_reader(const char *path, int up[2], int down[2],
			  uint64_t total, size_t vlen)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		if (up)
			close(up[0]);
		if (down)
			close(down[1]);
		_exit(reader_child(path, up ? up[1] : -1, down ? down[0] : -1,
				   total, vlen));
	}
	if (up)
		close(up[1]);
	if (down)
		close(down[0]);
	return pid;
}

static int wait_exit(pid_t pid)
{
	int status = -1;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/*
 * A read-only store in another process, opened before the writer grew the
 * map far past the reader's own map, still reads everything (MAP_RESIZED is
 * handled in store_begin, never seen by the caller). A read-only store
 * opened after the growth reads it too.
 */
static void test_reader_adopts_grown_map(void **state)
{
	struct fixture *fx = *state;
	struct store *st = open_rw(fx, SMALL_MAP);
	store_table_t tab = table(st, "big");
	uint64_t child_map = 0, map0, map, used, total = 20;
	const size_t vlen = 4096;
	int up[2], down[2];
	pid_t pid;

	fill_growing(st, tab, 1, total, vlen, total);
	assert_int_equal(store_usage(st, &map0, &used), 0);

	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	pid = spawn_reader(fx->path, up, down, total, vlen);
	assert_int_equal(read(up[0], &child_map, sizeof child_map),
			 sizeof child_map);
	close(up[0]);
	assert_true(child_map > 0);

	/* Write until the data lies well past the reader's map. */
	do {
		fill_growing(st, tab, total + 1, total + 256, vlen, 64);
		total += 256;
		assert_int_equal(store_usage(st, &map, &used), 0);
	} while (used < 2 * child_map);
	assert_true(map > map0);

	assert_int_equal(write(down[1], &total, sizeof total), sizeof total);
	close(down[1]);
	assert_int_equal(wait_exit(pid), 0);

	pid = spawn_reader(fx->path, NULL, NULL, total, vlen);
	assert_int_equal(wait_exit(pid), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_open_creates_nested_dirs),
		T(test_open_missing_without_create),
		T(test_second_writer_refused),
		T(test_tables_by_name),
		T(test_too_many_tables),
		T(test_put_get_del),
		T(test_get_missing),
		T(test_abort_discards),
		T(test_nooverwrite),
		T(test_append_out_of_order),
		T(test_bad_keys),
		T(test_count_and_last),
		T(test_cursor_walk),
		T(test_cursor_seek),
		T(test_cursor_empty),
		T(test_u64_keys),
		T(test_read_only_missing),
		T(test_read_only_sees_committed),
		T(test_copy),
		T(test_map_growth),
		T(test_grow_to_min),
		T(test_grown_map_persists),
		T(test_reader_adopts_grown_map),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
