/*
 * testdir.h - a fresh temporary directory for a unit test, and files in it.
 *
 * Most unit tests run the code under test against real files, LMDB
 * environments or ipc:// sockets, each in a directory of its own under
 * $TMPDIR that teardown removes whole. This is that fixture code, once,
 * instead of a copy in every test. The paths go into the caller's buffers,
 * so that each fixture keeps its own sizes (an ipc:// endpoint built from
 * the directory must still fit its buffer).
 */
#ifndef BATON_TESTDIR_H
#define BATON_TESTDIR_H

#include <stddef.h>

/*
 * Make a new directory $TMPDIR/<prefix>.XXXXXX (/tmp when $TMPDIR is unset
 * or empty) and put its resolved path in dir (size bytes). Returns 0, or
 * -1 with errno set, and then no directory is left behind.
 */
int testdir_make(char *dir, size_t size, const char *prefix);

/*
 * Remove dir and everything under it, not following symbolic links.
 * Returns 0, or -1 with errno set if the walk failed.
 */
int testdir_remove(const char *dir);

/*
 * Write text to dir/name, replacing the file, and put that path in path
 * (size bytes). Any failure fails the test (cmocka). Returns path.
 */
const char *testdir_write(char *path, size_t size, const char *dir,
			  const char *name, const char *text);

#endif
