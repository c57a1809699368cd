/*
 * test_log.c - lib/log: the stderr format, verbosity, errno, and the choice
 * between journald and stderr.
 *
 * fd 2 is pointed at a temporary file for each test and read back, so what
 * is checked is exactly the bytes an operator or a log collector would see.
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

#define IDENT "baton-test"

struct fixture {
	char path[PATH_MAX];
	int fd;			/* the file fd 2 now writes to */
	int saved_stderr;
	char out[1 << 20];
};

static int setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	struct fixture *fx = calloc(1, sizeof *fx);

	if (!fx)
		return -1;
	snprintf(fx->path, sizeof fx->path, "%s/test_log.XXXXXX",
		 tmp ? tmp : "/tmp");
	fx->fd = mkostemp(fx->path, O_CLOEXEC);
	fx->saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (fx->fd < 0 || fx->saved_stderr < 0 ||
	    dup2(fx->fd, STDERR_FILENO) < 0)
		return -1;
	unsetenv("JOURNAL_STREAM");
	log_init(IDENT, 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	dup2(fx->saved_stderr, STDERR_FILENO);
	close(fx->saved_stderr);
	close(fx->fd);
	unlink(fx->path);
	free(fx);
	return 0;
}

/* Everything written to fd 2 so far. */
static const char *captured(struct fixture *fx)
{
	ssize_t n = pread(fx->fd, fx->out, sizeof fx->out - 1, 0);

	assert_true(n >= 0);
	fx->out[n] = '\0';
	return fx->out;
}

/* ---------------------------------------------------------------- format */

static void test_stderr_line(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(log_to_journal(), 0);
	log_info("report %s accepted after %d ms", "r-17", 42);
	log_warnx("queue %s is full", "intake");
	assert_string_equal(captured(fx),
			    IDENT ": report r-17 accepted after 42 ms\n"
			    IDENT ": queue intake is full\n");
}

/* Fields follow the message as " KEY=value"; a NULL value is skipped. */
static void test_fields(void **state)
{
	struct fixture *fx = *state;
	const struct log_field fields[] = {
		{ "REPORT_ID", "r-17" },
		{ "AGENCY", NULL },
		{ "TASK_ID", "t-3" },
	};

	log_fields(LOG_NOTICE, fields, 3, "routed to %s", "office");
	log_fields(LOG_INFO, NULL, 0, "no fields");
	assert_string_equal(captured(fx),
			    IDENT ": routed to office REPORT_ID=r-17 TASK_ID=t-3\n"
			    IDENT ": no fields\n");
}

/* A newline in a message must not start a second, unattributed line. */
static void test_one_line(void **state)
{
	struct fixture *fx = *state;
	const struct log_field field = { "NOTE", "a\nb" };

	log_fields(LOG_INFO, &field, 1, "first\nsecond");
	assert_string_equal(captured(fx), IDENT ": first second NOTE=a b\n");
}

/* An oversized entry is cut to PIPE_BUF bytes and still ends the line. */
static void test_long_entry(void **state)
{
	struct fixture *fx = *state;
	char big[3 * PIPE_BUF];
	const char *out;

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	log_info("%s", big);
	log_info("after");
	out = captured(fx);
	assert_int_equal(strchr(out, '\n') - out + 1, PIPE_BUF);
	assert_string_equal(out + PIPE_BUF, IDENT ": after\n");
}

/* ------------------------------------------------------------- verbosity */

static void test_debug_only_when_verbose(void **state)
{
	struct fixture *fx = *state;

	log_debug("hidden %d", 1);
	log_fields(LOG_DEBUG, NULL, 0, "hidden %d", 2);
	assert_string_equal(captured(fx), "");

	log_init(IDENT, 1);
	log_debug("shown %d", 3);
	log_init(IDENT, 0);
	log_debug("hidden %d", 4);
	assert_string_equal(captured(fx), IDENT ": shown 3\n");
}

/* ----------------------------------------------------------------- errno */

static void test_warn_appends_strerror(void **state)
{
	struct fixture *fx = *state;

	errno = ENOENT;
	log_warn("cannot open %s", "agencies.conf");
	/* Logging must not clobber the errno the caller still looks at. */
	assert_int_equal(errno, ENOENT);
	log_info("then");
	assert_int_equal(errno, ENOENT);
	errno = EACCES;
	log_warnx("no errno here");
	assert_int_equal(errno, EACCES);
	assert_string_equal(captured(fx),
			    IDENT ": cannot open agencies.conf: "
			    "No such file or directory\n"
			    IDENT ": then\n"
			    IDENT ": no errno here\n");
}

/* fatal() and fatalx() log and exit(1); fatal() with strerror(errno). */
static void test_fatal_exits(void **state)
{
	struct fixture *fx = *state;
	int status;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		errno = EACCES;
		fatal("cannot bind %s", "tcp://x");
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		fatalx("broken invariant %d", 7);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);

	assert_string_equal(captured(fx),
			    IDENT ": cannot bind tcp://x: Permission denied\n"
			    IDENT ": broken invariant 7\n");
}

/*
 * Entries from processes sharing one stderr never interleave: each is one
 * write(2). Four writers of 200 entries each; every line must be whole.
 */
static void test_concurrent_writers(void **state)
{
	struct fixture *fx = *state;
	const char *line, *end;
	char text[1000];
	int i, status, lines = 0;
	pid_t pids[4];

	for (i = 0; i < 4; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			int j;

			memset(text, 'a' + i, sizeof text - 1);
			text[sizeof text - 1] = '\0';
			for (j = 0; j < 200; j++)
				log_info("%s", text);
			_exit(0);
		}
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	for (line = captured(fx); *line; line = end + 1, lines++) {
		end = strchr(line, '\n');
		assert_non_null(end);
		assert_int_equal(end - line, strlen(IDENT ": ") + sizeof text - 1);
		assert_memory_equal(line, IDENT ": ", strlen(IDENT ": "));
		line += strlen(IDENT ": ");
		assert_int_equal(strspn(line, (char[]){ line[0], '\0' }),
				 sizeof text - 1);
	}
	assert_int_equal(lines, 4 * 200);
}

/* -------------------------------------------------------------- journald */

static void set_journal_stream(unsigned long long dev, unsigned long long ino)
{
	char env[64];

	snprintf(env, sizeof env, "%llu:%llu", dev, ino);
	setenv("JOURNAL_STREAM", env, 1);
}

/* Journald only when $JOURNAL_STREAM is exactly our stderr's dev:ino. */
static void test_journal_detection(void **state)
{
	struct fixture *fx = *state;
	struct stat st;

	assert_int_equal(fstat(fx->fd, &st), 0);

	set_journal_stream(st.st_dev, st.st_ino);
	log_init(IDENT, 0);
	assert_int_equal(log_to_journal(), 1);

	set_journal_stream(st.st_dev, st.st_ino + 1);
	log_init(IDENT, 0);
	assert_int_equal(log_to_journal(), 0);

	set_journal_stream(st.st_dev + 1, st.st_ino);
	log_init(IDENT, 0);
	assert_int_equal(log_to_journal(), 0);

	setenv("JOURNAL_STREAM", "garbage", 1);
	log_init(IDENT, 0);
	assert_int_equal(log_to_journal(), 0);

	unsetenv("JOURNAL_STREAM");
	log_init(IDENT, 0);
	assert_int_equal(log_to_journal(), 0);
}

/*
 * With journald chosen, entries go to its socket and not also to stderr,
 * which systemd connects to the same journal: no entry appears twice.
 */
static void test_journal_not_stderr(void **state)
{
	struct fixture *fx = *state;
	const struct log_field field = { "REPORT_ID", "r-1" };
	struct stat st;

	assert_int_equal(fstat(fx->fd, &st), 0);
	set_journal_stream(st.st_dev, st.st_ino);
	log_init(IDENT, 0);
	assert_int_equal(log_to_journal(), 1);
	log_fields(LOG_INFO, &field, 1, "unit test entry, please ignore");
	unsetenv("JOURNAL_STREAM");
	log_init(IDENT, 0);
	assert_string_equal(captured(fx), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stderr_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_debug_only_when_verbose,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_warn_appends_strerror,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_fatal_exits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_writers,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_detection,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_not_stderr,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
