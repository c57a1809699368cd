/*
 * test_wal.c - lib/wal: the write-ahead file.
 *
 * On a real file in a temporary directory. What matters is what a replay
 * after a crash hands back, so every test closes the file, opens it again
 * and replays, and the damaged cases damage the bytes on disk the way a
 * torn write or a stale generation would.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testdir.h"
#include "wal.h"

#define SIZE	(64 * 1024)

struct fixture {
	char dir[PATH_MAX / 2];
	char path[PATH_MAX];
	struct wal *w;
};

/* What a replay handed over, copied. */
struct seen {
	int n;
	char rec[16][128];
	size_t len[16];
	int stop_at;		/* fail on this record (1-based); 0: never */
};

static int collect(void *arg, const void *data, size_t len)
{
	struct seen *s = arg;

	if (s->stop_at && s->n + 1 == s->stop_at)
		return -ECANCELED;
	assert_true(s->n < 16);
	memcpy(s->rec[s->n], data,
	       len < sizeof(s->rec[0]) ? len : sizeof(s->rec[0]));
	s->len[s->n] = len;
	s->n++;
	return 0;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx || testdir_make(fx->dir, sizeof(fx->dir), "test_wal") < 0)
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/wal", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	wal_close(fx->w);
	testdir_remove(fx->dir);
	free(fx);
	return 0;
}

static void add(struct wal *w, const char *text)
{
	struct iovec iov = { (void *)text, strlen(text) };

	assert_int_equal(wal_add(w, &iov, 1), 0);
}

/* Close and open again, as a restart does, and replay generation gen. */
static int64_t reopen_replay(struct fixture *fx, uint64_t gen, struct seen *s)
{
	wal_close(fx->w);
	fx->w = NULL;
	assert_int_equal(wal_open(fx->path, SIZE, &fx->w), 0);
	memset(s, 0, sizeof(*s));
	return wal_replay(fx->w, gen, collect, s);
}

/* ------------------------------------------------------------ tests */

/* A new file is made whole, of written zeroes, and holds no record. */
static void test_new_file(void **state)
{
	struct fixture *fx = *state;
	struct seen s;
	struct stat st;

	assert_int_equal(wal_open(fx->path, SIZE, &fx->w), 0);
	assert_int_equal(stat(fx->path, &st), 0);
	assert_int_equal(st.st_size, SIZE);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true(st.st_blocks * 512 >= SIZE);	/* written, not a hole */
	assert_int_equal(reopen_replay(fx, 1, &s), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(wal_used(fx->w), 0);
}

/* Records come back in order, payloads exact, with odd lengths padded. */
static void test_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct iovec two[2] = { { "ab", 2 }, { "cde", 3 } };
	struct seen s;

	assert_int_equal(wal_open(fx->path, SIZE, &fx->w), 0);
	wal_reset(fx->w, 7);
	add(fx->w, "first");
	assert_int_equal(wal_add(fx->w, two, 2), 0);
	assert_int_equal(wal_sync(fx->w), 0);
	add(fx->w, "");
	assert_true(wal_buffered(fx->w) > 0);
	assert_int_equal(wal_sync(fx->w), 0);
	assert_int_equal(wal_buffered(fx->w), 0);

	assert_int_equal(reopen_replay(fx, 7, &s), 3);
	assert_int_equal(s.len[0], 5);
	assert_memory_equal(s.rec[0], "first", 5);
	assert_int_equal(s.len[1], 5);
	assert_memory_equal(s.rec[1], "abcde", 5);
	assert_int_equal(s.len[2], 0);
	/* Another generation's records are not this one's. */
	assert_int_equal(reopen_replay(fx, 6, &s), 0);
	assert_int_equal(reopen_replay(fx, 8, &s), 0);
}

/* Without wal_sync() nothing reaches the file; wal_discard() drops it. */
static void test_unsynced(void **state)
{
	struct fixture *fx = *state;
	struct seen s;

	assert_int_equal(wal_open(fx->path, SIZE, &fx->w), 0);
	wal_reset(fx->w, 1);
	add(fx->w, "kept");
	assert_int_equal(wal_sync(fx->w), 0);
	add(fx->w, "dropped");
	wal_discard(fx->w);
	assert_int_equal(wal_buffered(fx->w), 0);
	assert_int_equal(wal_sync(fx->w), 0);
	add(fx->w, "never synced");
	assert_int_equal(reopen_replay(fx, 1, &s), 1);
	assert_memory_equal(s.rec[0], "kept", 4);
}

/*
 * After a checkpoint the new generation overwrites from offset 0 and the
 * older records behind it end the run, whatever is left of them.
 */
static void test_reset(void **state)
{
	struct fixture *fx = *state;
	struct seen s;

	assert_int_equal(wal_open(fx->path, SIZE, &fx->w), 0);
	wal_reset(fx->w, 1);
	add(fx->w, "one");
	add(fx->w, "two");
	add(fx->w, "three");
	assert_int_equal(wal_sync(fx->w), 0);
	wal_reset(fx->w, 2);
	assert_int_equal(wal_used(fx->w), 0);
	add(fx->w, "new");
	assert_int_equal(wal_sync(fx->w), 0);

	assert_int_equal(reopen_replay(fx, 2, &s), 1);
	assert_memory_equal(s.rec[0], "new", 3);
	assert_int_equal(reopen_replay(fx, 1, &s), 0);
}

/* A replay leaves the position after the last record: appending goes on. */
static void test_replay_then_append(void **state)
{
	struct fixture *fx = *state;
	struct seen s;

	assert_int_equal(wal_open(fx->path, SIZE, &fx->w), 0);
	wal_reset(fx->w, 3);
	add(fx->w, "a");
	assert_int_equal(wal_sync(fx->w), 0);
	assert_int_equal(reopen_replay(fx, 3, &s), 1);
	add(fx->w, "b");
	assert_int_equal(wal_sync(fx->w), 0);
	assert_int_equal(reopen_replay(fx, 3, &s), 2);
	assert_memory_equal(s.rec[1], "b", 1);
}

/* A torn frame (one byte changed on disk) ends the run before it. */
static void test_torn(void **state)
{
	struct fixture *fx = *state;
	struct seen s;
	size_t first;
	char c;
	int fd;

	assert_int_equal(wal_open(fx->path, SIZE, &fx->w), 0);
	wal_reset(fx->w, 1);
	add(fx->w, "whole");
	assert_int_equal(wal_sync(fx->w), 0);
	first = wal_used(fx->w);
	add(fx->w, "torn");
	add(fx->w, "after");
	assert_int_equal(wal_sync(fx->w), 0);

	fd = open(fx->path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, (off_t)first + 17), 1);
	c ^= 1;
	assert_int_equal(pwrite(fd, &c, 1, (off_t)first + 17), 1);
	close(fd);
	assert_int_equal(reopen_replay(fx, 1, &s), 1);
	assert_memory_equal(s.rec[0], "whole", 5);
	/* And the next record is written where the torn one was. */
	assert_int_equal(wal_used(fx->w), first);
}

/* What does not fit is refused whole, and the file keeps what it had. */
static void test_full(void **state)
{
	struct fixture *fx = *state;
	static char big[SIZE / 2];
	struct iovec iov = { big, sizeof(big) };
	struct seen s;

	assert_int_equal(wal_open(fx->path, SIZE, &fx->w), 0);
	wal_reset(fx->w, 1);
	add(fx->w, "small");
	assert_int_equal(wal_sync(fx->w), 0);
	assert_int_equal(wal_add(fx->w, &iov, 1), 0);
	assert_int_equal(wal_sync(fx->w), 0);
	assert_int_equal(wal_add(fx->w, &iov, 1), 0);
	assert_int_equal(wal_sync(fx->w), -ENOSPC);
	assert_true(wal_buffered(fx->w) > 0);
	wal_reset(fx->w, 2);
	assert_int_equal(wal_buffered(fx->w), 0);
	assert_int_equal(reopen_replay(fx, 1, &s), 2);
	assert_int_equal(s.len[1], sizeof(big));
}

/* The callback's error stops the replay; the position is after the rest. */
static void test_callback_error(void **state)
{
	struct fixture *fx = *state;
	struct seen s;

	assert_int_equal(wal_open(fx->path, SIZE, &fx->w), 0);
	wal_reset(fx->w, 1);
	add(fx->w, "a");
	add(fx->w, "b");
	assert_int_equal(wal_sync(fx->w), 0);
	wal_close(fx->w);
	assert_int_equal(wal_open(fx->path, SIZE, &fx->w), 0);
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	assert_int_equal(wal_replay(fx->w, 1, collect, &s), -ECANCELED);
	assert_int_equal(s.n, 1);
}

/* Bad arguments and paths are errors, not files. */
static void test_open_errors(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX + 16];

	assert_int_equal(wal_open(fx->path, 1024, &fx->w), -EINVAL);
	snprintf(path, sizeof(path), "%s/no/such/dir/wal", fx->dir);
	assert_int_equal(wal_open(path, SIZE, &fx->w), -ENOENT);
	assert_null(fx->w);
	wal_close(NULL);
}

/* A larger file than asked for is kept whole and used whole. */
static void test_larger_kept(void **state)
{
	struct fixture *fx = *state;
	struct stat st;

	assert_int_equal(wal_open(fx->path, 2 * SIZE, &fx->w), 0);
	wal_close(fx->w);
	fx->w = NULL;
	assert_int_equal(wal_open(fx->path, SIZE, &fx->w), 0);
	assert_int_equal(stat(fx->path, &st), 0);
	assert_int_equal(st.st_size, 2 * SIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_new_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unsynced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_then_append, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_torn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callback_error, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_larger_kept, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("wal", tests, NULL, NULL);
}
