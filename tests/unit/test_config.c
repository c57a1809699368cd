/*
 * test_config.c - lib/config: the bundled file, defaults, paths, and every
 * kind of mistake an operator can make, each reported at the right line.
 *
 * Each test writes its own files into a fresh directory under $TMPDIR, so
 * that relative paths, missing files and directories are real ones.
 */
#include <errno.h>
#include <libgen.h>
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

#include "config.h"
#include "testdir.h"

struct fixture {
	char dir[PATH_MAX];	/* the temporary directory, resolved */
	char path[PATH_MAX + 64];	/* the last file written */
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);

	/* Resolved, because config_load() resolves the file's directory. */
	if (!fx || testdir_make(fx->dir, sizeof fx->dir, "test_config") < 0)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	testdir_remove(fx->dir);
	free(fx);
	return 0;
}

/* Write text to dir/name and remember it as fx->path. Returns that. */
static const char *write_file(struct fixture *fx, const char *name,
			      const char *text)
{
	return testdir_write(fx->path, sizeof fx->path, fx->dir, name, text);
}

/* Load text as baton.conf; on success the config must be freed. */
static int load(struct fixture *fx, const char *text, struct config **c,
		struct config_error *err)
{
	memset(err, 0, sizeof *err);
	*c = NULL;
	return config_load(write_file(fx, "baton.conf", text), c, err);
}

/* text must fail with -EINVAL at line, with msg. */
static void assert_invalid(struct fixture *fx, const char *text, int line,
			   const char *msg)
{
	struct config_error err;
	struct config *c;

	assert_int_equal(load(fx, text, &c, &err), -EINVAL);
	assert_null(c);
	assert_string_equal(err.file, fx->path);
	assert_string_equal(err.msg, msg);
	assert_int_equal(err.line, line);
}

/* ------------------------------------------------------------- good files */

/* The file we ship loads, with its values and no comment left in them. */
static void test_bundled_file(void **state)
{
	const char *source = getenv("BATON_SOURCE");
	char path[PATH_MAX], here[PATH_MAX];
	struct config_error err;
	struct config *c = NULL;

	if (source) {
		snprintf(path, sizeof path, "%s/config/baton.conf", source);
	} else {
		/* This file is tests/unit/test_config.c in the source tree. */
		snprintf(here, sizeof here, "%s", __FILE__);
		snprintf(path, sizeof path, "%s/../../config/baton.conf",
			 dirname(here));
	}
	assert_int_equal(config_load(path, &c, &err), 0);
	assert_string_equal(c->path, path);
	assert_string_equal(c->state_dir, "/var/lib/baton");
	assert_int_equal(c->auth, CONFIG_AUTH_CURVE);
	assert_non_null(strstr(c->server_key, "/server.key"));
	assert_non_null(strstr(c->server_public, "/server.key.pub"));
	assert_non_null(strstr(c->batonctl.key, "/operator.key"));
	assert_int_equal(c->intake.rate, 1000);
	assert_int_equal(c->intake.burst, 2000);
	assert_int_equal(c->intake.max_body, 65536);
	assert_int_equal(c->map_size, 64 << 20);
	assert_string_equal(c->intake.submit, "tcp://127.0.0.1:7400");
	assert_string_equal(c->intake.publish, "ipc:///run/baton/intake.pub");
	assert_string_equal(c->intake.replay, "ipc:///run/baton/intake.replay");
	assert_int_equal(c->intake.max_message_size, 1 << 20);
	assert_int_equal(c->intake.max_batch, 1024);
	assert_int_equal(c->intake.checkpoint_ms, 10);
	assert_string_equal(c->router.publish, "ipc:///run/baton/router.pub");
	assert_string_equal(c->router.replay, "ipc:///run/baton/router.replay");
	assert_string_equal(c->deadline.publish,
			    "ipc:///run/baton/deadline.pub");
	assert_string_equal(c->deadline.replay,
			    "ipc:///run/baton/deadline.replay");
	assert_string_equal(c->notify.feed, "tcp://127.0.0.1:7410");
	assert_non_null(c->agencies);
	assert_non_null(strstr(c->agencies, "/agencies.conf"));
	assert_string_equal(c->notify.smtp, "smtp://localhost:25");
	assert_int_equal(c->notify.smtp_starttls, CONFIG_TLS_TRY);
	assert_null(c->notify.smtp_user);
	assert_true(c->dir[0] == '/');
	config_free(c);
}

/* An empty file is the documented defaults, every one of them. */
static void test_defaults(void **state)
{
	struct fixture *fx = *state;
	struct config_error err;
	struct config *c;

	assert_int_equal(load(fx, "", &c, &err), 0);
	assert_string_equal(c->dir, fx->dir);
	assert_string_equal(c->state_dir, "/var/lib/baton");
	assert_int_equal(c->auth, CONFIG_AUTH_CURVE);
	assert_null(c->agencies);
	assert_null(c->routes);
	assert_null(c->calendar);
	assert_int_equal(c->map_size, 64 << 20);
	assert_string_equal(c->intake.submit, "tcp://127.0.0.1:7400");
	assert_string_equal(c->intake.publish, "ipc:///run/baton/intake.pub");
	assert_string_equal(c->intake.replay, "ipc:///run/baton/intake.replay");
	assert_int_equal(c->intake.max_message_size, 1 << 20);
	assert_int_equal(c->intake.max_batch, 1024);
	assert_string_equal(c->router.publish, "ipc:///run/baton/router.pub");
	assert_string_equal(c->router.replay, "ipc:///run/baton/router.replay");
	assert_string_equal(c->deadline.publish,
			    "ipc:///run/baton/deadline.pub");
	assert_string_equal(c->deadline.replay,
			    "ipc:///run/baton/deadline.replay");
	assert_string_equal(c->notify.feed, "tcp://127.0.0.1:7410");
	assert_string_equal(c->notify.office, "office");
	assert_null(c->notify.smtp);
	assert_string_equal(c->notify.smtp_from, "baton@localhost");
	assert_int_equal(c->notify.smtp_starttls, CONFIG_TLS_STARTTLS);
	assert_null(c->notify.smtp_user);
	assert_null(c->notify.smtp_password);
	assert_int_equal(c->notify.max_attempts, 12);
	assert_int_equal(c->notify.max_age_ms, 2 * 24 * 3600 * 1000LL);
	assert_int_equal(c->notify.retry_min_ms, 30 * 1000);
	assert_int_equal(c->notify.retry_max_ms, 3600 * 1000);
	assert_int_equal(c->notify.timeout_ms, 30 * 1000);
	assert_int_equal(c->notify.max_inflight, 64);
	config_free(c);
}

/* baton-notify's keys: what each accepts, and each mistake at its line. */
static void test_notify_keys(void **state)
{
	struct fixture *fx = *state;
	struct config_error err;
	struct config *c;

	assert_int_equal(load(fx, "[notify]\n"
			      "office = duty-office\n"
			      "smtp = smtps://mail.example:465\n"
			      "smtp_from = baton@office.example\n"
			      "smtp_starttls = no\n"
			      "smtp_user = baton\n"
			      "smtp_password = s3cret pass\n"
			      "max_attempts = 3\n"
			      "max_age = 1h30m\n"
			      "retry_min = 500ms\n"
			      "retry_max = 2m\n"
			      "timeout = 5s\n"
			      "max_inflight = 1024\n", &c, &err), 0);
	assert_string_equal(c->notify.office, "duty-office");
	assert_string_equal(c->notify.smtp, "smtps://mail.example:465");
	assert_string_equal(c->notify.smtp_from, "baton@office.example");
	assert_int_equal(c->notify.smtp_starttls, CONFIG_TLS_NONE);
	assert_string_equal(c->notify.smtp_user, "baton");
	assert_string_equal(c->notify.smtp_password, "s3cret pass");
	assert_int_equal(c->notify.max_attempts, 3);
	assert_int_equal(c->notify.max_age_ms, 5400 * 1000);
	assert_int_equal(c->notify.retry_min_ms, 500);
	assert_int_equal(c->notify.retry_max_ms, 120 * 1000);
	assert_int_equal(c->notify.timeout_ms, 5000);
	assert_int_equal(c->notify.max_inflight, 1024);
	config_free(c);

	assert_invalid(fx, "[notify]\noffice = the office\n", 2,
		       "invalid agency name 'the office' for office: expected "
		       "1-64 of A-Z, a-z, 0-9, '.', '_', '-'");
	assert_invalid(fx, "[notify]\n\nsmtp = http://mail\n", 3,
		       "invalid URL 'http://mail' for smtp: expected "
		       "smtp://HOST[:PORT] or smtps://HOST[:PORT]");
	assert_invalid(fx, "[notify]\nsmtp = smtp://\n", 2,
		       "invalid URL 'smtp://' for smtp: expected "
		       "smtp://HOST[:PORT] or smtps://HOST[:PORT]");
	assert_invalid(fx, "[notify]\nsmtp_from = <a@b>\n", 2,
		       "invalid address '<a@b>' for smtp_from: expected "
		       "user@host");
	assert_invalid(fx, "[notify]\nsmtp_from = nobody\n", 2,
		       "invalid address 'nobody' for smtp_from: expected "
		       "user@host");
	assert_invalid(fx, "[notify]\nsmtp_starttls = maybe\n", 2,
		       "invalid smtp_starttls 'maybe': expected yes, try or no");
	assert_invalid(fx, "[notify]\nmax_attempts = 0\n", 2,
		       "max_attempts = 0 is out of range (1 to 1000)");
	assert_invalid(fx, "[notify]\nretry_min = 10ms\n", 2,
		       "retry_min = 10ms is out of range (100ms to 1d)");
	assert_invalid(fx, "[notify]\ntimeout = soon\n", 2,
		       "invalid duration 'soon' for timeout: expected 500ms, "
		       "90s, 36h, 3d");
	assert_invalid(fx, "[notify]\nsmtp_user = a\x01b\n", 2,
		       "control character in smtp_user");
}

/* [intake] checkpoint: 0s commits every round; at most a minute. */
static void test_intake_checkpoint(void **state)
{
	struct fixture *fx = *state;
	struct config_error err;
	struct config *c;

	assert_int_equal(load(fx, "[intake]\ncheckpoint = 0s\n", &c, &err), 0);
	assert_int_equal(c->intake.checkpoint_ms, 0);
	config_free(c);
	assert_int_equal(load(fx, "[intake]\ncheckpoint = 1m\n", &c, &err), 0);
	assert_int_equal(c->intake.checkpoint_ms, 60000);
	config_free(c);
	assert_invalid(fx, "[intake]\ncheckpoint = 61s\n", 2,
		       "checkpoint = 61s is out of range (0s to 1m)");
	assert_invalid(fx, "[intake]\ncheckpoint = 0\n", 2,
		       "invalid duration '0' for checkpoint: expected 500ms, "
		       "90s, 36h, 3d");
}

/* Keys that are set replace their default; the rest keep theirs. */
static void test_values(void **state)
{
	struct fixture *fx = *state;
	struct config_error err;
	struct config *c;

	assert_int_equal(load(fx,
			      "[baton]\n"
			      "state_dir = /srv/baton\n"
			      "auth = curve\n"
			      "map_size = 1GiB\n"
			      "[intake]\n"
			      "submit = inproc://submit\n"
			      "max_message_size = 65536\n"
			      "max_batch = 65536\n"
			      "[notify]\n"
			      "feed=tcp://*:9000\n",
			      &c, &err), 0);
	assert_string_equal(c->state_dir, "/srv/baton");
	assert_int_equal(c->auth, CONFIG_AUTH_CURVE);
	assert_int_equal(c->map_size, 1 << 30);
	assert_string_equal(c->intake.submit, "inproc://submit");
	assert_string_equal(c->intake.publish, "ipc:///run/baton/intake.pub");
	assert_int_equal(c->intake.max_message_size, 65536);
	assert_int_equal(c->intake.max_batch, 65536);
	assert_string_equal(c->notify.feed, "tcp://*:9000");
	config_free(c);
}

/* Comments after values, indentation and blank lines change nothing. */
static void test_comments_and_blanks(void **state)
{
	struct fixture *fx = *state;
	struct config_error err;
	struct config *c;

	assert_int_equal(load(fx,
			      "\xef\xbb\xbf; a comment after a BOM\n"
			      "# another\n"
			      "\n"
			      "[baton] ; the main section\n"
			      "  state_dir = /srv/b;x   ; not part of it\n"
			      "\tauth = none\t; tab before\n"
			      "[intake]\r\n"
			      "max_batch = 7\r\n",
			      &c, &err), 0);
	assert_string_equal(c->state_dir, "/srv/b;x");
	assert_int_equal(c->auth, CONFIG_AUTH_NONE);
	assert_int_equal(c->intake.max_batch, 7);
	config_free(c);
}

/* Relative paths are taken from the file's directory and made absolute. */
static void test_relative_paths(void **state)
{
	struct fixture *fx = *state;
	char expect[PATH_MAX + 64], cwd[PATH_MAX];
	struct config_error err;
	struct config *c;

	snprintf(expect, sizeof expect, "%s/etc", fx->dir);
	assert_int_equal(mkdir(expect, 0700), 0);
	write_file(fx, "etc/baton.conf",
		   "[baton]\n"
		   "state_dir = state\n"
		   "agencies = agencies.conf\n"
		   "routes = ../rules/routes.conf\n"
		   "calendar = /abs/calendar.conf\n");
	assert_int_equal(config_load(fx->path, &c, &err), 0);
	snprintf(expect, sizeof expect, "%s/etc", fx->dir);
	assert_string_equal(c->dir, expect);
	snprintf(expect, sizeof expect, "%s/etc/state", fx->dir);
	assert_string_equal(c->state_dir, expect);
	snprintf(expect, sizeof expect, "%s/etc/agencies.conf", fx->dir);
	assert_string_equal(c->agencies, expect);
	snprintf(expect, sizeof expect, "%s/etc/../rules/routes.conf", fx->dir);
	assert_string_equal(c->routes, expect);
	assert_string_equal(c->calendar, "/abs/calendar.conf");
	config_free(c);

	/* A relative file name is made absolute too, from the cwd. */
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(fx->dir), 0);
	assert_int_equal(config_load("etc/baton.conf", &c, &err), 0);
	assert_int_equal(chdir(cwd), 0);
	assert_string_equal(c->path, "etc/baton.conf");
	snprintf(expect, sizeof expect, "%s/etc/agencies.conf", fx->dir);
	assert_string_equal(c->agencies, expect);
	config_free(c);
}

/* ----------------------------------------------------------- bad files */

static void test_unknown_key(void **state)
{
	assert_invalid(*state,
		       "[intake]\n"
		       "publish = ipc:///x\n"
		       "sumbit = tcp://127.0.0.1:7400\n",
		       3, "unknown key 'sumbit' in [intake]");
	/* A key of another section is unknown here. */
	assert_invalid(*state,
		       "[router]\n"
		       "\n"
		       "max_batch = 5\n",
		       3, "unknown key 'max_batch' in [router]");
}

/* An unknown section is an error at its header, even with nothing under it. */
static void test_unknown_section(void **state)
{
	assert_invalid(*state,
		       "[baton]\n"
		       "auth = none\n"
		       "[intkae]\n",
		       3, "unknown section [intkae]");
	assert_invalid(*state,
		       "[Intake]\n"
		       "submit = tcp://127.0.0.1:1\n",
		       1, "unknown section [Intake]");
	/* Also behind a UTF-8 byte order mark. */
	assert_invalid(*state,
		       "\xef\xbb\xbf[intkae]\n"
		       "submit = tcp://127.0.0.1:1\n",
		       1, "unknown section [intkae]");
}

static void test_key_outside_section(void **state)
{
	assert_invalid(*state,
		       "; top\n"
		       "auth = none\n",
		       2, "key 'auth' is outside any [section]");
}

/* A second value for a key is refused at its line, also across headers. */
static void test_duplicate_key(void **state)
{
	assert_invalid(*state,
		       "[intake]\n"
		       "max_batch = 10\n"
		       "[baton]\n"
		       "[intake]\n"
		       "max_batch = 20\n",
		       5, "duplicate key 'max_batch' in [intake]");
	/* An indented line is a key of its own, not a continuation. */
	assert_invalid(*state,
		       "[intake]\n"
		       "submit = tcp://a:1\n"
		       "   submit = tcp://b:1\n",
		       3, "duplicate key 'submit' in [intake]");
}

static void test_syntax_error(void **state)
{
	assert_invalid(*state,
		       "[baton]\n"
		       "auth = none\n"
		       "\n"
		       "just some words\n",
		       4, "expected [section] or key = value");
	assert_invalid(*state,
		       "[baton]\n"
		       "[intake\n",
		       2, "expected [section] or key = value");
}

static void test_bad_endpoint(void **state)
{
	static const char *bad[] = {
		"http://127.0.0.1:7400", "127.0.0.1:7400", "tcp://", "ipc://",
		"tcp://127.0.0.1 :7400", "TCP://127.0.0.1:7400", "",
	};
	char text[256], msg[256];
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, "[intake]\nsubmit = %s\n", bad[i]);
		snprintf(msg, sizeof msg, "invalid endpoint '%s' for submit: "
			 "expected tcp://, ipc:// or inproc:// and an address",
			 bad[i]);
		assert_invalid(*state, text, 2, msg);
	}
}

static void test_bad_size(void **state)
{
	assert_invalid(*state, "[baton]\nmap_size = 12Q\n", 2,
		       "invalid size '12Q' for map_size: "
		       "expected bytes or K, M, G, T");
	assert_invalid(*state, "[baton]\nmap_size = 1.5G\n", 2,
		       "invalid size '1.5G' for map_size: "
		       "expected bytes or K, M, G, T");
	assert_invalid(*state, "[baton]\nmap_size = 0\n", 2,
		       "map_size = 0 is out of range "
		       "(1 to 18446744073709551615)");
	assert_invalid(*state, "[baton]\nmap_size = 16777216T\n", 2,
		       "size '16777216T' for map_size is too large");
	assert_invalid(*state, "[intake]\nmax_message_size = 8388608T\n", 2,
		       "max_message_size = 8388608T is out of range "
		       "(1 to 9223372036854775807)");
}

static void test_bad_auth(void **state)
{
	assert_invalid(*state, "[baton]\nauth = password\n", 2,
		       "invalid auth 'password': expected curve or none");
	assert_invalid(*state, "[baton]\nauth = \n", 2,
		       "invalid auth '': expected curve or none");
}

/* max_batch is 1..65536; anything else, or not a number, is refused. */
static void test_max_batch_range(void **state)
{
	assert_invalid(*state, "[intake]\nmax_batch = 0\n", 2,
		       "max_batch = 0 is out of range (1 to 65536)");
	assert_invalid(*state, "[intake]\nmax_batch = 65537\n", 2,
		       "max_batch = 65537 is out of range (1 to 65536)");
	assert_invalid(*state, "[intake]\nmax_batch = 99999999999999999999\n",
		       2, "max_batch = 99999999999999999999 is out of range "
		       "(1 to 65536)");
	assert_invalid(*state, "[intake]\nmax_batch = -1\n", 2,
		       "invalid number '-1' for max_batch");
	assert_invalid(*state, "[intake]\nmax_batch = 1K\n", 2,
		       "invalid number '1K' for max_batch");
}

static void test_empty_path(void **state)
{
	assert_invalid(*state, "[baton]\nagencies =\n", 2,
		       "empty path for agencies");
}

/* inih would cut a long line in two; it is refused at its own line instead. */
static void test_long_line(void **state)
{
	char text[1024];

	snprintf(text, sizeof text, "[baton]\nstate_dir = /%0300d\n"
		 "auth = none\n", 0);
	assert_invalid(*state, text, 2, "line longer than 199 characters");
}

/*
 * A NUL byte is refused at its line. strlen() would have seen the line end
 * there, and its tail, past the length check, pass for a line of its own.
 */
static void test_nul_byte(void **state)
{
	struct fixture *fx = *state;
	static const char text[] = "[baton]\n\0xxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				   "xxxxxxxxxxxxxxxxxxxxxxxx\n"
				   "auth = n\0one\nmap_size = 1M\n";
	struct config_error err;
	struct config *c = NULL;
	FILE *f;

	snprintf(fx->path, sizeof fx->path, "%s/nul.conf", fx->dir);
	f = fopen(fx->path, "we");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, sizeof text - 1, f), sizeof text - 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(config_load(fx->path, &c, &err), -EINVAL);
	assert_null(c);
	assert_int_equal(err.line, 2);
	assert_string_equal(err.msg, "NUL byte in the line");
}

/* Of several mistakes the first is reported, whatever its kind. */
static void test_first_error_wins(void **state)
{
	assert_invalid(*state,
		       "[baton]\n"
		       "auth = maybe\n"
		       "nonsense\n"
		       "[nowhere]\n",
		       2, "invalid auth 'maybe': expected curve or none");
	assert_invalid(*state,
		       "[baton]\n"
		       "nonsense\n"
		       "auth = maybe\n",
		       2, "expected [section] or key = value");
}

/* ------------------------------------------------- files that cannot be read */

static void test_missing_file(void **state)
{
	struct fixture *fx = *state;
	struct config_error err = { .line = 99 };
	struct config *c = NULL;
	char path[PATH_MAX + 16];

	snprintf(path, sizeof path, "%s/absent.conf", fx->dir);
	assert_int_equal(config_load(path, &c, &err), -ENOENT);
	assert_null(c);
	assert_string_equal(err.file, path);
	assert_int_equal(err.line, 0);
	assert_string_equal(err.msg, strerror(ENOENT));
	/* err may be NULL. */
	assert_int_equal(config_load(path, &c, NULL), -ENOENT);
}

/* An error reads "file:line: msg", or "file: msg" when no line is at fault. */
static void test_error_text(void **state)
{
	struct config_error with = { "/etc/baton/baton.conf", 7, "bad" };
	struct config_error without = { "/etc/baton/baton.conf", 0, "gone" };
	char buf[64], tiny[8];

	assert_string_equal(config_error_text(&with, buf, sizeof buf),
			    "/etc/baton/baton.conf:7: bad");
	assert_string_equal(config_error_text(&without, buf, sizeof buf),
			    "/etc/baton/baton.conf: gone");
	assert_string_equal(config_error_text(&with, tiny, sizeof tiny),
			    "/etc/ba");
}

/* A directory opens but does not read: an error, not an empty config. */
static void test_directory(void **state)
{
	struct fixture *fx = *state;
	struct config_error err;
	struct config *c = NULL;

	assert_int_equal(config_load(fx->dir, &c, &err), -EISDIR);
	assert_null(c);
	assert_int_equal(err.line, 0);
	assert_string_equal(err.msg, strerror(EISDIR));
}

/* ------------------------------------------------------------- helpers */

static void test_parse_size(void **state)
{
	static const struct {
		const char *text;
		uint64_t value;
	} good[] = {
		{ "0", 0 },
		{ "1048576", 1048576 },
		{ "512B", 512 },
		{ "64K", 64 << 10 },
		{ "64KiB", 64 << 10 },
		{ "64KB", 64 << 10 },
		{ "1M", 1 << 20 },
		{ "2G", UINT64_C(2) << 30 },
		{ "3TiB", UINT64_C(3) << 40 },
		{ "16777215T", UINT64_C(16777215) << 40 },
		{ "18446744073709551615", UINT64_MAX },
	};
	static const char *bad[] = {
		"", "K", "B", "iB", "-1", "+1", " 1", "1 ", "1 K", "1.5M",
		"1k", "1X", "1KiBB", "1iB", "1Ki", "1MK", "0x10",
	};
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		v = 42;
		assert_int_equal(config_parse_size(good[i].text, &v), 0);
		assert_int_equal(v, good[i].value);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		v = 42;
		assert_int_equal(config_parse_size(bad[i], &v), -EINVAL);
		assert_int_equal(v, 42);
	}
	assert_int_equal(config_parse_size("16777216T", &v), -ERANGE);
	assert_int_equal(config_parse_size("18446744073709551616", &v),
			 -ERANGE);
	assert_int_equal(config_parse_size("99999999999999999999K", &v),
			 -ERANGE);
	assert_int_equal(v, 42);
}

static void test_state_path(void **state)
{
	struct fixture *fx = *state;
	struct config_error err;
	struct config *c;
	char *s;

	assert_int_equal(load(fx, "[baton]\nstate_dir = /srv/baton\n", &c,
			      &err), 0);
	s = config_state_path(c, "intake");
	assert_string_equal(s, "/srv/baton/intake");
	free(s);
	config_free(c);
	config_free(NULL);
}

/* ------------------------------------------------------ config_parse_ini */

/* What config_parse_ini() handed over, one line per call. */
struct events {
	char log[1024];
	size_t len;
	const char *fail_on;	/* a key to refuse, or NULL */
	int fail_line;		/* the line to blame instead, or 0 */
	int fail_r;
};

static int record(void *user, const char *section, const char *name,
		  const char *value, struct config_error *err)
{
	struct events *ev = user;
	char *at = ev->log + ev->len;
	size_t left = sizeof ev->log - ev->len;

	if (!section)
		ev->len += snprintf(at, left, "%d end\n", err->line);
	else if (!name)
		ev->len += snprintf(at, left, "%d [%s]\n", err->line, section);
	else
		ev->len += snprintf(at, left, "%d %s.%s=%s\n", err->line,
				    section, name, value);
	/* Nothing is said about a line that is fine. */
	assert_string_equal(err->msg, "");
	if (ev->fail_on && name && strcmp(name, ev->fail_on) == 0) {
		if (ev->fail_r == -EINVAL)
			snprintf(err->msg, sizeof err->msg, "no %s", name);
		if (ev->fail_line)
			err->line = ev->fail_line;
		return ev->fail_r;
	}
	return 0;
}

/* Headers, keys and the end, in order, each with its line. */
static void test_parse_ini(void **state)
{
	struct fixture *fx = *state;
	struct events ev = { .len = 0 };
	struct config_error err = { .line = 0 };
	char name[64], text[512], expect[512];

	/* Longer than the 49 characters inih keeps of a section name. */
	memset(name, 'x', 60);
	name[60] = '\0';
	snprintf(text, sizeof text,
		 "top = 1\n"
		 "; comment\n"
		 "[%s]   ; a comment\n"
		 "  key = a value ; its comment\n"
		 "\n"
		 "[b]\n"
		 "[c]\n"
		 "k=v\n", name);
	write_file(fx, "other.conf", text);
	assert_int_equal(config_parse_ini(fx->path, record, &ev, &err), 0);
	snprintf(expect, sizeof expect,
		 "1 .top=1\n"
		 "3 [%s]\n"
		 "4 %s.key=a value\n"
		 "6 [b]\n"
		 "7 [c]\n"
		 "8 c.k=v\n"
		 "8 end\n", name, name);
	assert_string_equal(ev.log, expect);
}

/* The first refusal is reported, and nothing is handed over after it. */
static void test_parse_ini_refusal(void **state)
{
	struct fixture *fx = *state;
	struct events ev = { .fail_on = "b", .fail_r = -EINVAL };
	struct config_error err;

	write_file(fx, "other.conf", "[s]\na = 1\nb = 2\nc = 3\n[t]\n");
	assert_int_equal(config_parse_ini(fx->path, record, &ev, &err),
			 -EINVAL);
	assert_string_equal(ev.log, "1 [s]\n2 s.a=1\n3 s.b=2\n");
	assert_string_equal(err.file, fx->path);
	assert_int_equal(err.line, 3);
	assert_string_equal(err.msg, "no b");

	/* The callback may blame an earlier line. */
	memset(&ev, 0, sizeof ev);
	ev.fail_on = "b";
	ev.fail_r = -EINVAL;
	ev.fail_line = 1;
	assert_int_equal(config_parse_ini(fx->path, record, &ev, &err),
			 -EINVAL);
	assert_int_equal(err.line, 1);

	/* Without a sentence, the errno says it. */
	memset(&ev, 0, sizeof ev);
	ev.fail_on = "a";
	ev.fail_r = -ENOMEM;
	assert_int_equal(config_parse_ini(fx->path, record, &ev, &err),
			 -ENOMEM);
	assert_int_equal(err.line, 2);
	assert_string_equal(err.msg, strerror(ENOMEM));
}

/* Of a syntax error and a refusal, the one on the earlier line wins. */
static void test_parse_ini_syntax(void **state)
{
	struct fixture *fx = *state;
	struct events ev = { .fail_on = "b", .fail_r = -EINVAL };
	struct config_error err;

	write_file(fx, "other.conf", "[s]\nwords\nb = 2\n");
	assert_int_equal(config_parse_ini(fx->path, record, &ev, &err),
			 -EINVAL);
	assert_int_equal(err.line, 2);
	assert_string_equal(err.msg, "expected [section] or key = value");

	memset(&ev, 0, sizeof ev);
	ev.fail_on = "b";
	ev.fail_r = -EINVAL;
	ev.fail_line = 1;
	assert_int_equal(config_parse_ini(fx->path, record, &ev, &err),
			 -EINVAL);
	assert_int_equal(err.line, 1);
	assert_string_equal(err.msg, "no b");
}

static void test_parse_ini_missing(void **state)
{
	struct fixture *fx = *state;
	struct events ev = { .len = 0 };
	struct config_error err = { .line = 5 };
	char path[PATH_MAX + 16];

	snprintf(path, sizeof path, "%s/absent.conf", fx->dir);
	assert_int_equal(config_parse_ini(path, record, &ev, &err), -ENOENT);
	assert_string_equal(ev.log, "");
	assert_string_equal(err.file, path);
	assert_int_equal(err.line, 0);
	assert_string_equal(err.msg, strerror(ENOENT));
	assert_int_equal(config_parse_ini(path, record, &ev, NULL), -ENOENT);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_bundled_file),
		T(test_defaults),
		T(test_values),
	T(test_notify_keys),
	T(test_intake_checkpoint),
		T(test_comments_and_blanks),
		T(test_relative_paths),
		T(test_unknown_key),
		T(test_unknown_section),
		T(test_key_outside_section),
		T(test_duplicate_key),
		T(test_syntax_error),
		T(test_bad_endpoint),
		T(test_bad_size),
		T(test_bad_auth),
		T(test_max_batch_range),
		T(test_empty_path),
		T(test_long_line),
		T(test_nul_byte),
		T(test_first_error_wins),
		T(test_missing_file),
		T(test_error_text),
		T(test_directory),
		T(test_parse_size),
		T(test_state_path),
		T(test_parse_ini),
		T(test_parse_ini_refusal),
		T(test_parse_ini_syntax),
		T(test_parse_ini_missing),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
