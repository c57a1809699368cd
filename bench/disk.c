/*
 * bench/disk.c - bench-disk: what the disk under a directory can do at all.
 *
 * Intake answers a report only after its LMDB transaction is on disk, so
 * its throughput is bounded by how many durable commits the disk takes a
 * second and by how many reports share one commit. This measures the two
 * bounds without Baton in the way: a bare write + fdatasync loop, and raw
 * LMDB with its durable defaults (no MDB_NOSYNC, no MDB_NOMETASYNC)
 * appending 300-byte values under big-endian u64 keys at 1, 100 and 1000
 * puts per transaction, each in a fresh environment. And intake's own
 * write-ahead file (lib/wal): one 300-byte record per wal_sync(), written
 * over the blocks of a file made whole in advance, which is what intake
 * does per round between checkpoints. The numbers intake reaches are read
 * against these (docs/benchmarks.md).
 *
 * Output, one line per figure, meant for grep:
 *   disk fdatasync_per_s=4012 avg_us=249
 *   wal syncs_per_s=5120 avg_us=195
 *   lmdb puts_per_txn=1 puts_per_s=2903 commits_per_s=2903
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wal.h"

#define VALUE_SIZE	300
#define MAP_SIZE	(UINT64_C(8) << 30)	/* sparse; never reached in 3 s */
#define MAX_OPS		UINT64_C(100000000)	/* a bound besides the clock */
#define WAL_SIZE	(8u << 20)		/* intake's (INTAKE_WAL_SIZE) */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: bench-disk [--dir DIR] [--seconds S]\n"
"\n"
"Measure the durable write limits of the disk under DIR (default: the\n"
"current directory): write + fdatasync per second appending, records per\n"
"second synced one at a time to a write-ahead file like intake's, and raw\n"
"LMDB puts per second at 1, 100 and 1000 puts per committed transaction.\n"
"Each figure runs for about S seconds (default 3). Files are created in\n"
"DIR and removed afterwards.\n");
}

/* write(300 bytes) + fdatasync(), appending, for about seconds. */
static int bench_fdatasync(const char *dir, double seconds)
{
	char path[4096], buf[VALUE_SIZE];
	uint64_t n = 0;
	int64_t start, end, now;
	int fd, r = 0;

	if (snprintf(path, sizeof(path), "%s/bench-disk.XXXXXX", dir) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		fprintf(stderr, "bench-disk: %s: %s\n", path, strerror(-r));
		return r;
	}
	memset(buf, 'x', sizeof(buf));
	start = now_ns();
	end = start + (int64_t)(seconds * 1e9);
	do {
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) ||
		    fdatasync(fd) < 0) {
			r = -errno;
			fprintf(stderr, "bench-disk: %s: %s\n", path,
				strerror(-r));
			goto out;
		}
		n++;
		now = now_ns();
	} while (now < end && n < MAX_OPS);
	printf("disk fdatasync_per_s=%.0f avg_us=%.0f\n",
	       (double)n * 1e9 / (double)(now - start),
	       (double)(now - start) / 1e3 / (double)n);
	fflush(stdout);
out:
	close(fd);
	unlink(path);
	return r;
}

/* One 300-byte record per wal_sync(), starting over when the file is full. */
static int bench_wal(const char *dir, double seconds)
{
	char path[4096], buf[VALUE_SIZE];
	struct iovec iov = { buf, sizeof(buf) };
	struct wal *w = NULL;
	uint64_t n = 0, gen = 1;
	int64_t start, end, now;
	int r;

	if (snprintf(path, sizeof(path), "%s/bench-wal.%ld", dir,
		     (long)getpid()) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	r = wal_open(path, WAL_SIZE, &w);
	if (r < 0)
		goto out;
	wal_reset(w, gen);
	memset(buf, 'x', sizeof(buf));
	start = now_ns();
	end = start + (int64_t)(seconds * 1e9);
	do {
		r = wal_add(w, &iov, 1);
		if (r == 0)
			r = wal_sync(w);
		if (r == -ENOSPC) {
			wal_reset(w, ++gen);
			r = wal_add(w, &iov, 1);
			if (r == 0)
				r = wal_sync(w);
		}
		if (r < 0)
			goto out;
		n++;
		now = now_ns();
	} while (now < end && n < MAX_OPS);
	printf("wal syncs_per_s=%.0f avg_us=%.0f\n",
	       (double)n * 1e9 / (double)(now - start),
	       (double)(now - start) / 1e3 / (double)n);
	fflush(stdout);
out:
	if (r < 0)
		fprintf(stderr, "bench-disk: %s: %s\n", path, strerror(-r));
	wal_close(w);
	unlink(path);
	return r;
}

static void remove_env(const char *path)
{
	char f[4200];

	snprintf(f, sizeof(f), "%s/data.mdb", path);
	unlink(f);
	snprintf(f, sizeof(f), "%s/lock.mdb", path);
	unlink(f);
	rmdir(path);
}

/* Append 300-byte values, per_txn to a durable commit, in a fresh env. */
static int bench_lmdb(const char *dir, double seconds, unsigned per_txn)
{
	char path[4096];
	uint8_t val[VALUE_SIZE], key[8];
	MDB_env *env = NULL;
	MDB_txn *txn;
	MDB_dbi dbi;
	uint64_t seq = 0, commits = 0;
	int64_t start, end, now;
	int r;

	if (snprintf(path, sizeof(path), "%s/bench-lmdb.XXXXXX", dir) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	if (!mkdtemp(path)) {
		r = -errno;
		fprintf(stderr, "bench-disk: %s: %s\n", path, strerror(-r));
		return r;
	}
	memset(val, 'x', sizeof(val));
	r = mdb_env_create(&env);
	if (r == 0)
		r = mdb_env_set_mapsize(env, MAP_SIZE);
	if (r == 0)
		r = mdb_env_open(env, path, 0, 0600);	/* durable default */
	if (r == 0)
		r = mdb_txn_begin(env, NULL, 0, &txn);
	if (r == 0) {
		r = mdb_dbi_open(txn, NULL, 0, &dbi);
		if (r == 0)
			r = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
	}
	if (r != 0)
		goto fail;

	start = now_ns();
	end = start + (int64_t)(seconds * 1e9);
	do {
		r = mdb_txn_begin(env, NULL, 0, &txn);
		if (r != 0)
			goto fail;
		for (unsigned i = 0; i < per_txn; i++) {
			MDB_val k = { sizeof(key), key };
			MDB_val v = { sizeof(val), val };

			seq++;
			for (int b = 0; b < 8; b++)
				key[b] = (uint8_t)(seq >> (56 - 8 * b));
			r = mdb_put(txn, dbi, &k, &v, MDB_APPEND);
			if (r != 0) {
				mdb_txn_abort(txn);
				goto fail;
			}
		}
		r = mdb_txn_commit(txn);
		if (r != 0)
			goto fail;
		commits++;
		now = now_ns();
	} while (now < end && seq < MAX_OPS);

	printf("lmdb puts_per_txn=%u puts_per_s=%.0f commits_per_s=%.0f\n",
	       per_txn, (double)seq * 1e9 / (double)(now - start),
	       (double)commits * 1e9 / (double)(now - start));
	fflush(stdout);
	mdb_env_close(env);
	remove_env(path);
	return 0;
fail:
	fprintf(stderr, "bench-disk: lmdb %s (%u puts per txn): %s\n", path,
		per_txn, mdb_strerror(r));
	if (env)
		mdb_env_close(env);
	remove_env(path);
	return -EIO;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "seconds", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const unsigned per_txn[] = { 1, 100, 1000 };
	const char *dir = ".";
	double seconds = 3;
	char *end;
	int c, r = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 's':
			seconds = strtod(optarg, &end);
			if (*end || !(seconds > 0 && seconds <= 600)) {
				fprintf(stderr, "bench-disk: --seconds: "
					"expected 0 < S <= 600\n");
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (bench_fdatasync(dir, seconds) < 0)
		r = 1;
	if (bench_wal(dir, seconds) < 0)
		r = 1;
	for (size_t i = 0; i < sizeof(per_txn) / sizeof(per_txn[0]); i++)
		if (bench_lmdb(dir, seconds, per_txn[i]) < 0)
			r = 1;
	return r;
}
