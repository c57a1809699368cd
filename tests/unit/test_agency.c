/*
 * test_agency.c - lib/agency: agencies.conf read back field by field, the
 * defaults, every mistake reported at its line, the limits, lookups by
 * name and by CurveZMQ key, roles, and the bundled agencies.conf naming
 * every agency routes.conf does.
 *
 * Each test writes its files into a fresh directory under $TMPDIR.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "agency.h"
#include "calendar.h"
#include "route.h"
#include "testdir.h"

struct fixture {
	char dir[PATH_MAX];		/* the temporary directory */
	char path[PATH_MAX + 64];	/* the last file written */
	struct agency_set *s;		/* freed by teardown */
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);

	if (!fx || testdir_make(fx->dir, sizeof fx->dir, "test_agency") < 0)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	agency_free(fx->s);
	testdir_remove(fx->dir);
	free(fx);
	return 0;
}

/* Write text as agencies.conf; the path is fx->path. Returns it. */
static const char *write_file(struct fixture *fx, const char *text)
{
	return testdir_write(fx->path, sizeof fx->path, fx->dir,
			     "agencies.conf", text);
}

/* Load text as agencies.conf; the set is fx->s, freed by teardown. */
static int load(struct fixture *fx, const char *text, struct config_error *err)
{
	memset(err, 0, sizeof *err);
	agency_free(fx->s);
	fx->s = NULL;
	return agency_load(write_file(fx, text), &fx->s, err);
}

static const struct agency_set *load_ok(struct fixture *fx, const char *text)
{
	struct config_error err;
	char buf[1024];

	if (load(fx, text, &err) < 0)
		fail_msg("%s", config_error_text(&err, buf, sizeof buf));
	assert_non_null(fx->s);
	assert_string_equal(agency_path(fx->s), fx->path);
	return fx->s;
}

/* text must fail with -EINVAL at line, with a message holding msg. */
static void assert_invalid(struct fixture *fx, const char *text, int line,
			   const char *msg)
{
	struct config_error err;

	assert_int_equal(load(fx, text, &err), -EINVAL);
	assert_null(fx->s);
	assert_string_equal(err.file, fx->path);
	if (!strstr(err.msg, msg))
		fail_msg("message '%s' does not hold '%s'", err.msg, msg);
	assert_int_equal(err.line, line);
}

/* ------------------------------------------------------------ good files */

static const char three[] =
	"; three agencies\n"				/* 1 */
	"\n"						/* 2 */
	"[agency mps-a05]\n"				/* 3 */
	"name = Ministry of Public Security, A05   ; for people\n"
	"email = a05-duty@mps.example,a05-lead@mps.example ,  x@y\n"
	"webhook = https://soc.mps.example/baton/alerts\n"
	"webhook_secret = 0123456789abcdef0123\n"
	"feed = no\n"					/* 8 */
	"\n"
	"[agency office]\n"				/* 10 */
	"email = duty@office.example\n"
	"feed = yes\n"
	"\n"
	"[agency B.b_9-z]\n"				/* 14 */
	"  name = B\xc3\xa0n \xc4\x91\xe1\xbb\x99i  \n"
	"feed = true\n";

static void test_fields(void **state)
{
	const struct agency_set *s = load_ok(*state, three);
	const struct agency *a;

	assert_int_equal(agency_count(s), 3);

	a = agency_at(s, 0);
	assert_string_equal(a->name, "mps-a05");
	assert_string_equal(a->title, "Ministry of Public Security, A05");
	assert_int_equal(a->nemail, 3);
	assert_string_equal(a->email[0], "a05-duty@mps.example");
	assert_string_equal(a->email[1], "a05-lead@mps.example");
	assert_string_equal(a->email[2], "x@y");
	assert_string_equal(a->webhook, "https://soc.mps.example/baton/alerts");
	assert_string_equal(a->webhook_secret, "0123456789abcdef0123");
	assert_false(a->feed);
	assert_int_equal(a->line, 3);

	a = agency_at(s, 1);
	assert_string_equal(a->name, "office");
	assert_int_equal(a->nemail, 1);
	assert_string_equal(a->email[0], "duty@office.example");
	assert_null(a->webhook);
	assert_null(a->webhook_secret);
	assert_true(a->feed);
	assert_int_equal(a->line, 10);

	a = agency_at(s, 2);
	assert_string_equal(a->name, "B.b_9-z");
	assert_string_equal(a->title, "B\xc3\xa0n \xc4\x91\xe1\xbb\x99i");
	assert_int_equal(a->nemail, 0);
	assert_true(a->feed);
	assert_int_equal(a->line, 14);

	assert_null(agency_at(s, 3));
	assert_null(agency_at(s, SIZE_MAX));
}

/* A section of a header alone is an agency with every default. */
static void test_defaults(void **state)
{
	const struct agency_set *s = load_ok(*state,
		"[agency mic]\n[agency cpd]\nfeed = false\n");
	const struct agency *a = agency_at(s, 0);
	size_t i;

	assert_int_equal(agency_count(s), 2);
	assert_string_equal(a->name, "mic");
	assert_string_equal(a->title, "mic");
	assert_int_equal(a->nemail, 0);
	for (i = 0; i < AGENCY_MAX_EMAIL; i++)
		assert_null(a->email[i]);
	assert_null(a->webhook);
	assert_null(a->webhook_secret);
	assert_true(a->feed);
	assert_int_equal(a->nkeys, 0);
	assert_int_equal(a->role, AGENCY_ROLE_AGENCY);
	assert_int_equal(a->line, 1);
	assert_string_equal(agency_at(s, 1)->title, "cpd");
	assert_false(agency_at(s, 1)->feed);
}

/* A file without agencies is a set of none: every alert goes to the feed. */
static void test_empty(void **state)
{
	const struct agency_set *s = load_ok(*state, "; nobody yet\n");

	assert_int_equal(agency_count(s), 0);
	assert_null(agency_at(s, 0));
	assert_null(agency_find(s, "office"));
}

/* Webhooks: a host however written, with or without a port and a path. */
static void test_webhooks(void **state)
{
	static const char *const good[] = {
		"http://127.0.0.1:7480/hooks/mic",
		"https://soc.mps.example",
		"https://soc.mps.example/",
		"http://h:1",
		"http://h:65535/x?y=1#z",
		"http://[::1]:7480/hooks",
		"https://user@hooks.example/a",
		"http://h?q",
	};
	const struct agency *a;
	char text[512];
	size_t i;

	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		snprintf(text, sizeof text, "[agency a]\nwebhook = %s\n"
			 "webhook_secret = sixteen-chars-ok\n", good[i]);
		a = agency_at(load_ok(*state, text), 0);
		assert_string_equal(a->webhook, good[i]);
	}
}

/* ---------------------------------------------------------- lookups */

static void test_find(void **state)
{
	const struct agency_set *s = load_ok(*state, three);

	assert_ptr_equal(agency_find(s, "mps-a05"), agency_at(s, 0));
	assert_ptr_equal(agency_find(s, "office"), agency_at(s, 1));
	assert_ptr_equal(agency_find(s, "B.b_9-z"), agency_at(s, 2));
	/* Names are exact: no case folding, no prefixes. */
	assert_null(agency_find(s, "Office"));
	assert_null(agency_find(s, "mps"));
	assert_null(agency_find(s, "mps-a05x"));
	assert_null(agency_find(s, ""));
	assert_null(agency_find(s, "zzz"));
	assert_null(agency_find(s, "0"));
	assert_null(agency_find(s, NULL));
	assert_null(agency_find(NULL, "office"));
	assert_int_equal(agency_count(NULL), 0);
	assert_null(agency_at(NULL, 0));
	agency_free(NULL);
}

/* ------------------------------------------------------------- limits */

static void test_email_limit(void **state)
{
	char text[512];
	const struct agency *a;

	snprintf(text, sizeof text, "[agency a]\nemail = %s\n",
		 "a1@x, a2@x, a3@x, a4@x, a5@x, a6@x, a7@x, a8@x");
	a = agency_at(load_ok(*state, text), 0);
	assert_int_equal(a->nemail, AGENCY_MAX_EMAIL);
	assert_string_equal(a->email[0], "a1@x");
	assert_string_equal(a->email[7], "a8@x");

	snprintf(text, sizeof text, "[agency a]\nname = A\nemail = %s\n",
		 "a1@x, a2@x, a3@x, a4@x, a5@x, a6@x, a7@x, a8@x, a9@x");
	assert_invalid(*state, text, 3, "more than 8 addresses for email");
}

/*
 * The most agencies there may be, in an order that is not the names' (an
 * odd multiplier permutes 0-4095, so the index is built out of order),
 * each found by name; one more is refused at its header.
 */
static void test_agency_limit(void **state)
{
	struct fixture *fx = *state;
	size_t size = (AGENCY_MAX + 1) * 48, len = 0;
	char *text = malloc(size), name[32];
	const struct agency *a;
	unsigned i;

	assert_non_null(text);
	for (i = 0; i < AGENCY_MAX; i++)
		len += (size_t)snprintf(text + len, size - len,
					"[agency u%04u]\nemail = d@u%u.x\n",
					(i * 1237u) % AGENCY_MAX, i);
	load_ok(fx, text);
	assert_int_equal(agency_count(fx->s), AGENCY_MAX);
	for (i = 0; i < AGENCY_MAX; i++) {
		snprintf(name, sizeof name, "u%04u",
			 (i * 1237u) % AGENCY_MAX);
		a = agency_find(fx->s, name);
		assert_ptr_equal(a, agency_at(fx->s, i));
		assert_string_equal(a->name, name);
		assert_int_equal(a->line, 2 * (int)i + 1);
	}
	assert_null(agency_find(fx->s, "u4096"));

	snprintf(text + len, size - len, "[agency one-more]\n");
	assert_invalid(fx, text, 2 * AGENCY_MAX + 1, "more than 4096 agencies");
	free(text);
}

/* Addresses and URLs as long as a line allows. */
static void test_long_values(void **state)
{
	char text[1024], addr[256], url[256];
	const struct agency *a;

	/* "email = " and the address: 199 characters. */
	memset(addr, 'a', 191);
	addr[191] = '\0';
	addr[100] = '@';
	/* "webhook = " and the URL: 199 characters. */
	snprintf(url, sizeof url, "http://h/%0180d", 0);
	snprintf(text, sizeof text, "[agency a]\nemail = %s\nwebhook = %s\n"
		 "webhook_secret = 0123456789abcdef\n", addr, url);
	a = agency_at(load_ok(*state, text), 0);
	assert_string_equal(a->email[0], addr);
	assert_string_equal(a->webhook, url);

	/* One more is a line too long. */
	snprintf(text, sizeof text, "[agency a]\nemail = %sa\n", addr);
	assert_invalid(*state, text, 2, "line longer than 199 characters");
}

/* --------------------------------------------------------- bad files */

static void test_sections(void **state)
{
	assert_invalid(*state, "[agency a]\n\n[agencies b]\n", 3,
		       "unknown section [agencies b]");
	assert_invalid(*state, "[defaults]\n", 1,
		       "unknown section [defaults]");
	assert_invalid(*state, "[Agency a]\n", 1, "unknown section [Agency a]");
	assert_invalid(*state, "[agencya]\n", 1, "unknown section [agencya]");
	assert_invalid(*state, "; top\nemail = a@b\n", 2,
		       "key 'email' is outside any [section]");
	assert_invalid(*state, "[agency a]\nname = A\nnonsense\n", 3,
		       "expected [section] or key = value");
}

static void test_bad_names(void **state)
{
	static const char expected[] = "expected [agency NAME], NAME 1-64 "
		"characters of A-Z a-z 0-9 . _ -";
	char text[256], name[80];

	assert_invalid(*state, "[agency]\n", 1, "invalid agency name ''");
	assert_invalid(*state, "[agency]\n", 1, expected);
	assert_invalid(*state, "[agency mps a05]\n", 1,
		       "invalid agency name 'mps a05'");
	assert_invalid(*state, "[agency a]\n[agency mic/x]\n", 2,
		       "invalid agency name 'mic/x'");
	assert_invalid(*state, "[agency b\xe1\xbb\x99]\n", 1,
		       "invalid agency name 'b\xe1\xbb\x99'");

	/* 64 characters are a name; 65 are not. */
	memset(name, 'n', 64);
	name[64] = '\0';
	snprintf(text, sizeof text, "[agency %s]\n", name);
	assert_string_equal(agency_at(load_ok(*state, text), 0)->name, name);
	snprintf(text, sizeof text, "[agency %sn]\n", name);
	assert_invalid(*state, text, 1, expected);
}

static void test_duplicates(void **state)
{
	assert_invalid(*state,
		       "[agency a]\n[agency b]\nname = B\n[agency a]\n", 4,
		       "duplicate agency 'a' (first at line 1)");
	assert_invalid(*state,
		       "[agency a]\nemail = x@y\nfeed = no\nemail = z@y\n", 4,
		       "duplicate key 'email' in [agency a]");
	assert_invalid(*state,
		       "[agency a]\nname = A\nname = A\n", 3,
		       "duplicate key 'name' in [agency a]");
	/* A key per section: the next agency may give it again. */
	assert_int_equal(agency_count(load_ok(*state,
		"[agency a]\nname = A\n[agency b]\nname = B\n")), 2);
}

static void test_bad_keys(void **state)
{
	assert_invalid(*state, "[agency a]\nname = A\nmail = x@y\n", 3,
		       "unknown key 'mail' in [agency a]");
	assert_invalid(*state, "[agency a]\ntitle = A\n", 2,
		       "unknown key 'title' in [agency a]");
	assert_invalid(*state, "[agency a]\nEmail = x@y\n", 2,
		       "unknown key 'Email' in [agency a]");
	assert_invalid(*state, "[agency a]\nname =\n", 2,
		       "empty value for name");
	assert_invalid(*state, "[agency a]\nfeed = \n", 2,
		       "empty value for feed");
}

static void test_bad_email(void **state)
{
	assert_invalid(*state, "[agency a]\nemail = x@y, , z@y\n", 2,
		       "empty item in the list 'x@y, , z@y' for email");
	assert_invalid(*state, "[agency a]\nemail = x@y,\n", 2,
		       "empty item in the list 'x@y,' for email");
	assert_invalid(*state, "[agency a]\nemail = ,x@y\n", 2,
		       "empty item in the list ',x@y' for email");
	assert_invalid(*state, "[agency a]\nname = A\nemail = duty\n", 3,
		       "invalid email address 'duty': expected one '@' with "
		       "something on both sides");
	assert_invalid(*state, "[agency a]\nemail = @y\n", 2,
		       "invalid email address '@y'");
	assert_invalid(*state, "[agency a]\nemail = x@\n", 2,
		       "invalid email address 'x@'");
	assert_invalid(*state, "[agency a]\nemail = x@y@z\n", 2,
		       "invalid email address 'x@y@z'");
	assert_invalid(*state, "[agency a]\nemail = ok@y, d uty@y\n", 2,
		       "invalid email address 'd uty@y': blanks, angle "
		       "brackets, commas and control characters are not "
		       "allowed");
	assert_invalid(*state, "[agency a]\nemail = Duty <duty@y>\n", 2,
		       "invalid email address 'Duty <duty@y>'");
	assert_invalid(*state, "[agency a]\nemail = <duty@y>\n", 2,
		       "invalid email address '<duty@y>'");
	assert_invalid(*state, "[agency a]\nemail = du\tty@y\n", 2,
		       "invalid email address 'du\tty@y'");
	assert_invalid(*state, "[agency a]\nemail = du\x01ty@y\n", 2,
		       "invalid email address");
	assert_invalid(*state, "[agency a]\nemail = duty@y\rx\n", 2,
		       "control characters are not allowed");
}

static void test_bad_webhook(void **state)
{
	static const struct {
		const char *url, *why;
	} bad[] = {
		{ "ftp://h/x", "expected a URL starting with http:// or "
		  "https://" },
		{ "soc.mps.example/hooks", "starting with http://" },
		{ "HTTPS://h/x", "starting with http://" },
		{ "http:/h/x", "starting with http://" },
		{ "http://", "expected a host after the scheme" },
		{ "https:///hooks", "expected a host after the scheme" },
		{ "http://:7480/hooks", "expected a host after the scheme" },
		{ "http://user@/x", "expected a host after the scheme" },
		{ "http://[]:80/", "expected a host after the scheme" },
		{ "http://?q", "expected a host after the scheme" },
		{ "http://h:/x", "expected a port of 1-65535" },
		{ "http://h:0/x", "expected a port of 1-65535" },
		{ "http://h:65536/x", "expected a port of 1-65535" },
		{ "http://h:80x/", "expected a port of 1-65535" },
		{ "http://h/a\x7f" "b", "blanks and control characters" },
	};
	char text[512], msg[256];
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, "[agency a]\nname = A\n"
			 "webhook = %s\nwebhook_secret = 0123456789abcdef\n",
			 bad[i].url);
		snprintf(msg, sizeof msg, "invalid webhook '%s': ", bad[i].url);
		assert_invalid(*state, text, 3, msg);
		assert_invalid(*state, text, 3, bad[i].why);
	}
	/* A blank inside: inih keeps it in the value. */
	assert_invalid(*state,
		       "[agency a]\nwebhook = http://h/a b\n"
		       "webhook_secret = 0123456789abcdef\n", 2,
		       "invalid webhook 'http://h/a b': blanks and control "
		       "characters are not allowed");
}

static void test_secret(void **state)
{
	struct fixture *fx = *state;
	struct config_error err;

	/* Too short, and the secret itself is not repeated. */
	assert_int_equal(load(fx, "[agency a]\nwebhook = http://h/\n"
			      "webhook_secret = 0123456789abcde\n", &err),
			 -EINVAL);
	assert_int_equal(err.line, 3);
	assert_string_equal(err.msg, "webhook_secret of [agency a] is too "
			    "short: at least 16 characters");
	assert_null(strstr(err.msg, "0123"));

	/* The pair is checked when the section ends: at its header. */
	assert_invalid(fx, "[agency a]\nname = A\n\n"
		       "[agency b]\nname = B\nwebhook = http://h/\n"
		       "[agency c]\n", 4,
		       "[agency b] has a webhook but no webhook_secret");
	assert_invalid(fx, "[agency a]\nname = A\n\n"
		       "[agency b]\nwebhook_secret = 0123456789abcdef\n", 4,
		       "[agency b] has a webhook_secret but no webhook");
	/* Even when the file ends in a comment. */
	assert_invalid(fx, "[agency b]\nwebhook = http://h/\n; end\n", 1,
		       "[agency b] has a webhook but no webhook_secret");
}

static void test_bad_values(void **state)
{
	assert_invalid(*state, "[agency a]\nfeed = maybe\n", 2,
		       "invalid feed 'maybe': expected yes, no, true or "
		       "false");
	assert_invalid(*state, "[agency a]\nfeed = Yes\n", 2,
		       "invalid feed 'Yes'");
	assert_invalid(*state, "[agency a]\nfeed = 1\n", 2,
		       "invalid feed '1'");
	assert_invalid(*state, "[agency a]\nname = A\x1b[2J\n", 2,
		       "invalid name for [agency a]: control characters");
}

/* Of several mistakes the first is reported, whatever its kind. */
static void test_first_error_wins(void **state)
{
	assert_invalid(*state, "[agency a]\nfeed = maybe\nnonsense\n", 2,
		       "invalid feed 'maybe'");
	assert_invalid(*state, "[agency a]\nnonsense\nfeed = maybe\n", 2,
		       "expected [section] or key = value");
	assert_invalid(*state,
		       "[agency a]\nwebhook = http://h/\n[agency a]\n", 1,
		       "has a webhook but no webhook_secret");
}

static void test_missing_file(void **state)
{
	struct fixture *fx = *state;
	struct config_error err = { .line = 99 };
	char path[PATH_MAX + 16];

	snprintf(path, sizeof path, "%s/absent.conf", fx->dir);
	assert_int_equal(agency_load(path, &fx->s, &err), -ENOENT);
	assert_null(fx->s);
	assert_string_equal(err.file, path);
	assert_int_equal(err.line, 0);
	assert_string_equal(err.msg, strerror(ENOENT));
	assert_int_equal(agency_load(path, &fx->s, NULL), -ENOENT);
	/* A directory cannot be read as a file either. */
	assert_true(agency_load(fx->dir, &fx->s, &err) < 0);
	assert_null(fx->s);
}

/* ---------------------------------------------------------- keys, roles */

/*
 * A public key made up for a test: 32 bytes from seed, and its Z85. Any 32
 * bytes are a key to agencies.conf; it never checks the curve.
 */
static void make_key(unsigned seed, uint8_t key[AGENCY_KEY_BYTES],
		     char z85[AGENCY_KEY_Z85 + 1])
{
	for (size_t i = 0; i < AGENCY_KEY_BYTES; i++)
		key[i] = (uint8_t)(seed * 131 + i * 7 + 1);
	assert_non_null(zmq_z85_encode(z85, key, AGENCY_KEY_BYTES));
	assert_int_equal(strlen(z85), AGENCY_KEY_Z85);
}

/* Keys and roles read back; each key is its agency's, found by it. */
static void test_keys_and_roles(void **state)
{
	uint8_t k[6][AGENCY_KEY_BYTES];
	char z[6][AGENCY_KEY_Z85 + 1], text[1024];
	const struct agency_set *s;
	const struct agency *a, *ops, *office;
	size_t i;

	for (i = 0; i < 6; i++)
		make_key((unsigned)i, k[i], z[i]);
	/* The most keys a line holds, blanks around the commas or none. */
	snprintf(text, sizeof text,
		 "[agency mps-a05]\n"
		 "key = %s ,%s,  %s\t, %s   ; four while replacing\n"
		 "[agency ops]\n"
		 "role = operator\n"
		 "key = %s\n"
		 "[agency office]\n"
		 "key = %s\n"
		 "role = office\n"
		 "[agency mic]\n"
		 "role = agency\n",
		 z[0], z[1], z[2], z[3], z[4], z[5]);
	s = load_ok(*state, text);
	assert_int_equal(agency_count(s), 4);

	a = agency_at(s, 0);
	assert_int_equal(a->nkeys, AGENCY_MAX_KEYS);
	for (i = 0; i < AGENCY_MAX_KEYS; i++)
		assert_memory_equal(a->keys[i], k[i], AGENCY_KEY_BYTES);
	assert_int_equal(a->role, AGENCY_ROLE_AGENCY);
	ops = agency_at(s, 1);
	assert_int_equal(ops->nkeys, 1);
	assert_memory_equal(ops->keys[0], k[4], AGENCY_KEY_BYTES);
	assert_int_equal(ops->role, AGENCY_ROLE_OPERATOR);
	office = agency_at(s, 2);
	assert_int_equal(office->nkeys, 1);
	assert_memory_equal(office->keys[0], k[5], AGENCY_KEY_BYTES);
	assert_int_equal(office->role, AGENCY_ROLE_OFFICE);
	assert_int_equal(agency_at(s, 3)->nkeys, 0);
	assert_int_equal(agency_at(s, 3)->role, AGENCY_ROLE_AGENCY);

	/* Every key finds its agency, the fourth of four as the first. */
	for (i = 0; i < AGENCY_MAX_KEYS; i++)
		assert_ptr_equal(agency_by_key(s, k[i]), a);
	assert_ptr_equal(agency_by_key(s, k[4]), ops);
	assert_ptr_equal(agency_by_key(s, k[5]), office);
}

static void test_role_names(void **state)
{
	assert_string_equal(agency_role_name(AGENCY_ROLE_AGENCY), "agency");
	assert_string_equal(agency_role_name(AGENCY_ROLE_OPERATOR),
			    "operator");
	assert_string_equal(agency_role_name(AGENCY_ROLE_OFFICE), "office");
	assert_null(agency_role_name((enum agency_role)3));
	assert_null(agency_role_name((enum agency_role)-1));
	assert_null(agency_role_name((enum agency_role)1000));
}

/* A key no agency holds, or no set at all: nobody. */
static void test_by_key_miss(void **state)
{
	uint8_t k[3][AGENCY_KEY_BYTES], zero[AGENCY_KEY_BYTES] = { 0 };
	char z[3][AGENCY_KEY_Z85 + 1], text[512];
	const struct agency_set *s;

	make_key(1, k[0], z[0]);
	make_key(2, k[1], z[1]);
	make_key(3, k[2], z[2]);
	snprintf(text, sizeof text, "[agency a]\nkey = %s\n[agency b]\n"
		 "key = %s\n[agency c]\n", z[0], z[1]);
	s = load_ok(*state, text);
	assert_ptr_equal(agency_by_key(s, k[0]), agency_find(s, "a"));
	assert_ptr_equal(agency_by_key(s, k[1]), agency_find(s, "b"));
	assert_null(agency_by_key(s, k[2]));
	assert_null(agency_by_key(s, zero));	/* c has none: not a zero key */
	/* One byte off is another key. */
	k[0][AGENCY_KEY_BYTES - 1] ^= 1;
	assert_null(agency_by_key(s, k[0]));
	assert_null(agency_by_key(NULL, k[1]));

	/* A set without keys. */
	s = load_ok(*state, three);
	assert_null(agency_by_key(s, k[1]));
	assert_null(agency_by_key(s, zero));
}

/* A key that is not one, at its line. */
static void test_bad_keys_z85(void **state)
{
	static const char expected[] = "expected a public key of 40 Z85 "
		"characters, as batonctl keygen prints it";
	uint8_t k[AGENCY_KEY_BYTES];
	char z[AGENCY_KEY_Z85 + 1], text[512];

	make_key(7, k, z);
	snprintf(text, sizeof text, "[agency a]\nname = A\nkey = %.39s\n", z);
	assert_invalid(*state, text, 3, "invalid key for [agency a]: ");
	assert_invalid(*state, text, 3, expected);
	snprintf(text, sizeof text, "[agency a]\nkey = %sx\n", z);
	assert_invalid(*state, text, 2, "invalid key for [agency a]");
	/* 40 characters, not all of them Z85. */
	snprintf(text, sizeof text, "[agency a]\nkey = %.39s~\n", z);
	assert_invalid(*state, text, 2, "invalid key for [agency a]");
	snprintf(text, sizeof text, "[agency a]\nkey = \"%.38s\"\n", z);
	assert_invalid(*state, text, 2, "invalid key for [agency a]");
	/* Z85 characters whose value does not fit in 32 bits. */
	assert_invalid(*state, "[agency a]\nkey = "
		       "########################################\n", 2,
		       "invalid key for [agency a]");
	/* Hex, as another tool prints a key: 64 characters. */
	assert_invalid(*state, "[agency a]\nkey = 54FCBA24E93249969316FB617C"
		       "872BB0C1D1FF14800427C594CBFACF1BC2D652\n", 2,
		       "invalid key for [agency a]");
	/* Empty items, and a space where a comma belongs. */
	snprintf(text, sizeof text, "[agency a]\nkey = %s,\n", z);
	assert_invalid(*state, text, 2, "invalid key for [agency a]");
	snprintf(text, sizeof text, "[agency a]\nkey = , %s\n", z);
	assert_invalid(*state, text, 2, "invalid key for [agency a]");
	snprintf(text, sizeof text, "[agency b]\n[agency a]\nkey = %s %s\n",
		 z, z);
	assert_invalid(*state, text, 3, "invalid key for [agency a]");
	assert_invalid(*state, "[agency a]\nkey =\n", 2,
		       "empty value for key in [agency a]");
	/* The next agency's mistake is its own. */
	snprintf(text, sizeof text, "[agency a]\nkey = %s\n\n[agency b]\n"
		 "key = %.20s\n", z, z);
	assert_invalid(*state, text, 5, "invalid key for [agency b]");
}

/* One key, one agency: a key given twice names both lines. */
static void test_shared_keys(void **state)
{
	uint8_t k[3][AGENCY_KEY_BYTES];
	char z[3][AGENCY_KEY_Z85 + 1], text[512], msg[256];

	make_key(1, k[0], z[0]);
	make_key(2, k[1], z[1]);
	make_key(3, k[2], z[2]);

	/* Held by another agency: the line given, and that agency's. */
	snprintf(text, sizeof text,
		 "[agency a]\nname = A\n\n[agency b]\nkey = %s, %s\n"
		 "[agency c]\nname = C\nkey = %s,%s\n", z[0], z[1], z[2], z[1]);
	snprintf(msg, sizeof msg, "key %s of [agency c] is [agency b]'s "
		 "already (line 4): a key decides the agency", z[1]);
	assert_invalid(*state, text, 8, msg);

	/* Given twice in one list. */
	snprintf(text, sizeof text,
		 "[agency a]\n[agency b]\nkey = %s, %s, %s\n",
		 z[0], z[1], z[0]);
	snprintf(msg, sizeof msg, "key %s of [agency b] is [agency b]'s "
		 "already (line 2)", z[0]);
	assert_invalid(*state, text, 3, msg);

	/* And key twice in a section, as any key. */
	snprintf(text, sizeof text, "[agency a]\nkey = %s\nrole = office\n"
		 "key = %s\n", z[0], z[1]);
	assert_invalid(*state, text, 4, "duplicate key 'key' in [agency a]");
}

static void test_bad_roles(void **state)
{
	assert_invalid(*state, "[agency a]\nname = A\nrole = admin\n", 3,
		       "invalid role 'admin': expected agency, operator or "
		       "office");
	assert_invalid(*state, "[agency a]\nrole = Operator\n", 2,
		       "invalid role 'Operator'");
	assert_invalid(*state, "[agency a]\nrole = operator, office\n", 2,
		       "invalid role 'operator, office'");
	assert_invalid(*state, "[agency a]\nrole = agencyx\n", 2,
		       "invalid role 'agencyx'");
	assert_invalid(*state, "[agency a]\nrole = \n", 2,
		       "empty value for role in [agency a]");
	assert_invalid(*state, "[agency a]\nrole = office\nrole = office\n", 3,
		       "duplicate key 'role' in [agency a]");
	assert_invalid(*state, "[agency a]\nroles = office\n", 2,
		       "unknown key 'roles' in [agency a]");
}

/*
 * Five keys are refused at their line. Five keys of 40 characters do not
 * fit on a line of 199, and key may be given once per agency, so it is the
 * line limit that refuses them: agency.c's own "more than 4 keys" cannot be
 * reached from a file.
 */
static void test_key_limit(void **state)
{
	uint8_t k[AGENCY_MAX_KEYS + 1][AGENCY_KEY_BYTES];
	char z[AGENCY_MAX_KEYS + 1][AGENCY_KEY_Z85 + 1], text[1024];
	size_t i;

	for (i = 0; i <= AGENCY_MAX_KEYS; i++)
		make_key((unsigned)i + 40, k[i], z[i]);
	/* Four, with no room to spare but the blanks. */
	snprintf(text, sizeof text, "[agency a]\nkey=%s,%s,%s,%s\n",
		 z[0], z[1], z[2], z[3]);
	assert_int_equal(agency_at(load_ok(*state, text), 0)->nkeys,
			 AGENCY_MAX_KEYS);
	snprintf(text, sizeof text,
		 "[agency a]\nname = A\nkey=%s,%s,%s,%s,%s\n",
		 z[0], z[1], z[2], z[3], z[4]);
	assert_invalid(*state, text, 3, "line longer than 199 characters");
}

/* ------------------------------------------------------ the bundled file */

/* name must be in s, and reachable: an address or a webhook. */
static void assert_reachable(const struct agency_set *s, const char *name)
{
	const struct agency *a = agency_find(s, name);

	if (!a)
		fail_msg("agencies.conf has no [agency %s]", name);
	if (a->nemail == 0 && !a->webhook)
		fail_msg("[agency %s] has neither email nor webhook", name);
}

static void assert_all_reachable(const struct agency_set *s, char **names)
{
	for (; names && *names; names++)
		assert_reachable(s, *names);
}

/* Every agency routes.conf tells something: a task, an escalation, a
 * notice, a missing report. */
static void assert_routes_covered(const struct agency_set *s,
				  const struct route_table *t)
{
	const struct route_rule *rule;
	size_t i, j;

	assert_reachable(s, t->office);
	for (i = 0; i < t->nrules + t->nschedules + 1; i++) {
		rule = i < t->nrules ? &t->rules[i] :
		       i < t->nrules + t->nschedules ?
		       &t->schedules[i - t->nrules].rule : &t->triage;
		if (rule->assign)
			assert_reachable(s, rule->assign);
		for (j = 0; j < rule->nescalation; j++)
			assert_reachable(s, rule->escalation[j].to);
		assert_all_reachable(s, rule->notify);
		if (i >= t->nrules && i < t->nrules + t->nschedules)
			assert_all_reachable(s, rule->agencies);
	}
}

static void test_bundled_file(void **state)
{
	static const char *const named[] = {
		"office", "committee", "mps-a05", "mic", "mic-ais",
		"mod-cmd86", "cpd", "hanoi-pc", "hcm-pc", "hanoi", "hcm",
		"danang",
	};
	struct fixture *fx = *state;
	struct calendar *cal = NULL;
	struct route_table *t = NULL;
	const struct agency *a;
	struct config_error err;
	char buf[1024];
	size_t i, j;

	if (agency_load(BATON_SOURCE_DIR "/config/agencies.conf", &fx->s,
			&err) < 0)
		fail_msg("%s", config_error_text(&err, buf, sizeof buf));
	for (i = 0; i < sizeof named / sizeof named[0]; i++)
		assert_reachable(fx->s, named[i]);

	/* The office and the committee are reached by mail. */
	assert_true(agency_find(fx->s, "office")->nemail > 0);
	assert_true(agency_find(fx->s, "committee")->nemail > 0);

	/* Nothing in it can reach anyone: reserved names and loopback. */
	for (i = 0; i < agency_count(fx->s); i++) {
		a = agency_at(fx->s, i);
		assert_string_not_equal(a->title, a->name);
		for (j = 0; j < a->nemail; j++) {
			size_t n = strlen(a->email[j]);

			assert_true(n > 8);
			assert_string_equal(a->email[j] + n - 8, ".example");
		}
		if (a->webhook) {
			snprintf(buf, sizeof buf,
				 "http://127.0.0.1:7480/hooks/%s", a->name);
			assert_string_equal(a->webhook, buf);
			assert_non_null(strstr(a->webhook_secret,
					       "CHANGE-ME"));
		}
	}

	/* And it names every agency the bundled routes.conf tells. */
	if (calendar_load(BATON_SOURCE_DIR "/config/calendar.conf", &cal,
			  &err) < 0 ||
	    route_load(BATON_SOURCE_DIR "/config/routes.conf", cal, &t,
		       &err) < 0) {
		calendar_free(cal);
		fail_msg("%s", config_error_text(&err, buf, sizeof buf));
	}
	assert_routes_covered(fx->s, t);
	route_free(t);
	calendar_free(cal);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_fields),
		T(test_defaults),
		T(test_empty),
		T(test_webhooks),
		T(test_find),
		T(test_email_limit),
		T(test_agency_limit),
		T(test_long_values),
		T(test_sections),
		T(test_bad_names),
		T(test_duplicates),
		T(test_bad_keys),
		T(test_bad_email),
		T(test_bad_webhook),
		T(test_secret),
		T(test_bad_values),
		T(test_first_error_wins),
		T(test_missing_file),
		T(test_keys_and_roles),
		T(test_role_names),
		T(test_by_key_miss),
		T(test_bad_keys_z85),
		T(test_shared_keys),
		T(test_bad_roles),
		T(test_key_limit),
		T(test_bundled_file),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
