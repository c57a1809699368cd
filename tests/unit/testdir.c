/*
 * testdir.c - a fresh temporary directory for a unit test, and files in it.
 *
 * The fixture code every unit test with files used to repeat: mkdtemp()
 * under $TMPDIR, realpath() (config_load() and friends report resolved
 * paths, so the tests must compare against one), an nftw() walk that
 * removes the tree in teardown, and a file written with cmocka asserts.
 */
#include <errno.h>
#include <ftw.h>
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

/* Make $TMPDIR/<prefix>.XXXXXX, resolved into dir. Returns 0 or -1. */
int testdir_make(char *dir, size_t size, const char *prefix)
{
	const char *tmp = getenv("TMPDIR");
	char templ[PATH_MAX], real[PATH_MAX];
	int n, err;

	n = snprintf(templ, sizeof templ, "%s/%s.XXXXXX",
		     tmp && *tmp ? tmp : "/tmp", prefix);
	if (n < 0 || (size_t)n >= sizeof templ) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (!mkdtemp(templ))
		return -1;
	if (!realpath(templ, real)) {
		err = errno;
	} else if (strlen(real) >= size) {
		err = ENAMETOOLONG;
	} else {
		memcpy(dir, real, strlen(real) + 1);
		return 0;
	}
	rmdir(templ);
	errno = err;
	return -1;
}

/* nftw() callback: remove one entry (depth first). Returns remove()'s. */
static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	return remove(path);
}

/* Remove the tree at dir, depth first. Returns 0 or -1 (nftw()). */
int testdir_remove(const char *dir)
{
	return nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write text to dir/name, asserting each step. Returns path. */
const char *testdir_write(char *path, size_t size, const char *dir,
			  const char *name, const char *text)
{
	int n = snprintf(path, size, "%s/%s", dir, name);
	FILE *f;

	assert_true(n >= 0 && (size_t)n < size);
	f = fopen(path, "we");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	return path;
}
