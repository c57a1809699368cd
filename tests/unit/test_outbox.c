/*
 * test_outbox.c - lib/outbox: baton-notify's delivery outbox in a real
 * LMDB: names, row keys and delivery ids, alerts, rows and the due index.
 *
 * baton-notify writes these tables and batonctl reads them, and a restart
 * reads what an older run wrote, so the byte layouts in outbox.h are a
 * contract: the layout cases read what outbox_put() stored with plain
 * store_get() and compare it byte for byte, and the malformed cases write
 * values by hand and check that each kind of damage is refused. The due
 * index is the only way the daemon finds work: a due row without its key is
 * never sent, a key without a due row is a busy loop, so every transition
 * of a row is checked against the table itself, not only through
 * outbox_first_due().
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

#include "outbox.h"
#include "testdir.h"

/* The row layout of outbox.h, restated: what a hand-written row must be. */
#define ROW_FIXED	32	/* version, state, 0, attempts, 3 instants */

struct fixture {
	char dir[PATH_MAX / 2];	/* the temporary directory, removed at the end */
	char path[PATH_MAX];	/* dir/env: the environment of the test */
	struct store *st;
	struct outbox ob;
	struct store_txn *t;	/* a test's open txn, aborted if it fails */
};

/* ------------------------------------------------------------ fixture */

static int setup(void **state)
{
	struct store_options opt = { .create = true };
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	if (testdir_make(fx->dir, sizeof(fx->dir), "test_outbox") < 0) {
		free(fx);
		return -1;
	}
	snprintf(fx->path, sizeof(fx->path), "%s/env", fx->dir);
	*state = fx;
	if (store_open(fx->path, &opt, &fx->st) < 0 ||
	    outbox_open(fx->st, &fx->ob) < 0)
		return -1;
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

static struct store_txn *begin(struct fixture *fx, bool write)
{
	assert_null(fx->t);
	assert_int_equal(store_begin(fx->st, write, &fx->t), 0);
	assert_non_null(fx->t);
	return fx->t;
}

static void commit(struct fixture *fx)
{
	struct store_txn *t = fx->t;

	fx->t = NULL;
	assert_int_equal(store_commit(t), 0);
}

static void end(struct fixture *fx)
{
	store_abort(fx->t);
	fx->t = NULL;
}

/* Close the store and open it again (opt NULL: as the writer), tables too. */
static void reopen(struct fixture *fx, const struct store_options *opt)
{
	struct store_options rw = { 0 };

	assert_null(fx->t);
	store_close(fx->st);
	fx->st = NULL;
	memset(&fx->ob, 0xa5, sizeof(fx->ob));
	assert_int_equal(store_open(fx->path, opt ? opt : &rw, &fx->st), 0);
	assert_int_equal(outbox_open(fx->st, &fx->ob), 0);
}

/* A string of len bytes of c, in buf (len + 1 bytes). */
static char *filled(char *buf, size_t len, char c)
{
	memset(buf, c, len);
	buf[len] = '\0';
	return buf;
}

/* The row key of (alert, recipient, channel) into buf (OUTBOX_KEY_MAX). */
static size_t key_of(const char *alert, const char *recipient,
		     enum outbox_channel ch, char *buf)
{
	int n = outbox_key_make(alert, recipient, ch, buf, OUTBOX_KEY_MAX);

	assert_true(n > 0);
	return (size_t)n;
}

/* A row in state s due at next, with short strings. */
static struct outbox_row row_of(enum outbox_state s, instant_t next)
{
	struct outbox_row r = {
		.state = s, .attempts = 0, .created_at = 1000,
		.next_at = next, .updated_at = 1000,
		.target = "", .target_len = 0, .error = "", .error_len = 0,
	};

	return r;
}

static void put(struct fixture *fx, const char *key, size_t klen,
		const struct outbox_row *r)
{
	assert_int_equal(outbox_put(&fx->ob, fx->t, key, klen, r), 0);
}

/* Assert that got holds every field of want, strings by content. */
static void assert_row_equal(const struct outbox_row *got,
			     const struct outbox_row *want)
{
	assert_int_equal(got->state, want->state);
	assert_int_equal(got->attempts, want->attempts);
	assert_true(got->created_at == want->created_at);
	assert_true(got->next_at == want->next_at);
	assert_true(got->updated_at == want->updated_at);
	assert_int_equal(got->target_len, want->target_len);
	assert_memory_equal(got->target, want->target, want->target_len);
	assert_int_equal(got->error_len, want->error_len);
	assert_memory_equal(got->error, want->error, want->error_len);
}

static void expect_row(struct fixture *fx, const char *key, size_t klen,
		       const struct outbox_row *want)
{
	struct outbox_row got;

	memset(&got, 0xa5, sizeof(got));
	assert_int_equal(outbox_get(&fx->ob, fx->t, key, klen, &got), 0);
	assert_row_equal(&got, want);
}

static uint64_t count(struct fixture *fx, store_table_t tab)
{
	uint64_t n = 99999;

	assert_int_equal(store_count(fx->t, tab, &n), 0);
	return n;
}

/* The lane of row key key: its channel's. */
static enum outbox_lane lane_of(const char *key, size_t klen)
{
	struct outbox_key k;

	assert_int_equal(outbox_key_parse(key, klen, &k), 0);
	return outbox_channel_lane(k.channel);
}

/* Whether OUTBOX_DUE holds (lane, at, key) itself, with an empty value. */
static bool due_has(struct fixture *fx, instant_t at, const char *key,
		    size_t klen)
{
	uint8_t dk[9 + OUTBOX_KEY_MAX];
	const void *v;
	size_t vlen;
	int r;

	dk[0] = (uint8_t)lane_of(key, klen);
	store_u64_key((uint64_t)at, dk + 1);
	memcpy(dk + 9, key, klen);
	r = store_get(fx->t, fx->ob.due, dk, 9 + klen, &v, &vlen);
	assert_true(r == 0 || r == -ENOENT);
	if (r == 0)
		assert_int_equal(vlen, 0);
	return r == 0;
}

/* The first due key of key's lane is (at, key). */
static void expect_first_due(struct fixture *fx, instant_t at,
			     const char *key, size_t klen)
{
	const void *k = NULL;
	size_t kl = 0;
	instant_t got = -1;

	assert_int_equal(outbox_first_due(&fx->ob, fx->t, lane_of(key, klen),
					  &got, &k, &kl), 0);
	assert_true(got == at);
	assert_int_equal(kl, klen);
	assert_memory_equal(k, key, klen);
}

static void expect_none_due(struct fixture *fx)
{
	const void *k;
	size_t kl;
	instant_t got;

	for (int lane = 0; lane < OUTBOX_LANES; lane++)
		assert_int_equal(outbox_first_due(&fx->ob, fx->t, lane, &got,
						  &k, &kl), -ENOENT);
	assert_int_equal(count(fx, fx->ob.due), 0);
}

/* -------------------------------------------------------------- names */

/* Each channel's wire name, and back; unknown names and values refused. */
static void test_channel_names(void **state)
{
	static const char *const names[OUTBOX_CHANNELS] = {
		"feed", "journal", "email", "webhook",
	};

	for (int c = 0; c < OUTBOX_CHANNELS; c++) {
		assert_string_equal(outbox_channel_name(c), names[c]);
		assert_int_equal(outbox_channel_from(names[c]), c);
	}
	assert_int_equal(OUTBOX_FEED, 0);
	assert_int_equal(OUTBOX_WEBHOOK, 3);
	assert_null(outbox_channel_name(OUTBOX_CHANNELS));
	assert_null(outbox_channel_name((enum outbox_channel)-1));
	assert_null(outbox_channel_name((enum outbox_channel)255));
	assert_int_equal(outbox_channel_from(""), -1);
	assert_int_equal(outbox_channel_from("fax"), -1);
	assert_int_equal(outbox_channel_from("Email"), -1);
	assert_int_equal(outbox_channel_from("email "), -1);
	assert_int_equal(outbox_channel_from("emai"), -1);
	assert_int_equal(outbox_channel_from("pending"), -1);
	assert_int_equal(outbox_channel_from(NULL), -1);
}

/* Each state's wire name, and back; unknown names and values refused. */
static void test_state_names(void **state)
{
	static const char *const names[OUTBOX_STATES] = {
		"pending", "sent", "retrying", "dead",
	};

	for (int s = 0; s < OUTBOX_STATES; s++) {
		assert_string_equal(outbox_state_name(s), names[s]);
		assert_int_equal(outbox_state_from(names[s]), s);
	}
	assert_int_equal(OUTBOX_PENDING, 0);
	assert_int_equal(OUTBOX_DEAD, 3);
	assert_null(outbox_state_name(OUTBOX_STATES));
	assert_null(outbox_state_name((enum outbox_state)-1));
	assert_int_equal(outbox_state_from(""), -1);
	assert_int_equal(outbox_state_from("Sent"), -1);
	assert_int_equal(outbox_state_from("retry"), -1);
	assert_int_equal(outbox_state_from("email"), -1);
	assert_int_equal(outbox_state_from(NULL), -1);
}

/* Only pending and retrying deliveries are still to be attempted. */
static void test_state_due(void **state)
{
	assert_true(outbox_state_due(OUTBOX_PENDING));
	assert_false(outbox_state_due(OUTBOX_SENT));
	assert_true(outbox_state_due(OUTBOX_RETRYING));
	assert_false(outbox_state_due(OUTBOX_DEAD));
	assert_false(outbox_state_due(OUTBOX_STATES));
}

/* --------------------------------------------------------------- keys */

/* A row key is alert NUL recipient NUL channel, and parses back into itself. */
static void test_key_round_trip(void **state)
{
	static const char want[] = "T-12/1/overdue\0mps-a05\0email";
	char buf[OUTBOX_KEY_MAX];
	struct outbox_key k;
	int n;

	n = outbox_key_make("T-12/1/overdue", "mps-a05", OUTBOX_EMAIL, buf,
			    sizeof(buf));
	assert_int_equal(n, sizeof(want) - 1);
	assert_memory_equal(buf, want, sizeof(want) - 1);

	memset(&k, 0xa5, sizeof(k));
	assert_int_equal(outbox_key_parse(buf, (size_t)n, &k), 0);
	assert_ptr_equal(k.alert_id, buf);		/* into the key */
	assert_string_equal(k.alert_id, "T-12/1/overdue");
	assert_ptr_equal(k.recipient, buf + 15);
	assert_string_equal(k.recipient, "mps-a05");
	assert_int_equal(k.channel, OUTBOX_EMAIL);

	for (int c = 0; c < OUTBOX_CHANNELS; c++) {
		n = outbox_key_make("a", "b", c, buf, sizeof(buf));
		assert_int_equal(n, 4 + strlen(outbox_channel_name(c)));
		assert_int_equal(outbox_key_parse(buf, (size_t)n, &k), 0);
		assert_string_equal(k.alert_id, "a");
		assert_string_equal(k.recipient, "b");
		assert_int_equal(k.channel, c);
	}
}

/* An empty or missing part, or an unknown channel, is -EINVAL. */
static void test_key_make_invalid(void **state)
{
	char buf[OUTBOX_KEY_MAX];

	assert_int_equal(outbox_key_make("", "mps-a05", OUTBOX_EMAIL, buf,
					 sizeof(buf)), -EINVAL);
	assert_int_equal(outbox_key_make("T-1", "", OUTBOX_EMAIL, buf,
					 sizeof(buf)), -EINVAL);
	assert_int_equal(outbox_key_make(NULL, "mps-a05", OUTBOX_EMAIL, buf,
					 sizeof(buf)), -EINVAL);
	assert_int_equal(outbox_key_make("T-1", NULL, OUTBOX_EMAIL, buf,
					 sizeof(buf)), -EINVAL);
	assert_int_equal(outbox_key_make("T-1", "mps-a05", OUTBOX_CHANNELS,
					 buf, sizeof(buf)), -EINVAL);
	assert_int_equal(outbox_key_make("T-1", "mps-a05",
					 (enum outbox_channel)-1, buf,
					 sizeof(buf)), -EINVAL);
}

/*
 * A key that does not fit the buffer, or is longer than OUTBOX_KEY_MAX, is
 * -ENAMETOOLONG; one that exactly fits is made, and nothing is written
 * past the buffer.
 */
static void test_key_make_too_long(void **state)
{
	char buf[OUTBOX_KEY_MAX + 64], alert[OUTBOX_KEY_MAX + 1];
	struct outbox_key k;
	size_t longest;
	int n;

	/* "T-1" NUL "mps-a05" NUL "email": 17 bytes. */
	memset(buf, '#', sizeof(buf));
	assert_int_equal(outbox_key_make("T-1", "mps-a05", OUTBOX_EMAIL, buf,
					 16), -ENAMETOOLONG);
	assert_int_equal(outbox_key_make("T-1", "mps-a05", OUTBOX_EMAIL, buf,
					 0), -ENAMETOOLONG);
	assert_int_equal(outbox_key_make("T-1", "mps-a05", OUTBOX_EMAIL, buf,
					 17), 17);
	assert_int_equal(buf[17], '#');

	/* The longest key: OUTBOX_KEY_MAX bytes with a one-byte recipient. */
	longest = OUTBOX_KEY_MAX - strlen("x") - strlen("webhook") - 2;
	n = outbox_key_make(filled(alert, longest, 'a'), "x", OUTBOX_WEBHOOK,
			    buf, sizeof(buf));
	assert_int_equal(n, OUTBOX_KEY_MAX);
	assert_int_equal(outbox_key_parse(buf, (size_t)n, &k), 0);
	assert_int_equal(strlen(k.alert_id), longest);
	/* One more byte is too long, however large the buffer. */
	assert_int_equal(outbox_key_make(filled(alert, longest + 1, 'a'), "x",
					 OUTBOX_WEBHOOK, buf, sizeof(buf)),
			 -ENAMETOOLONG);
}

/*
 * A key without two NULs, with an empty alert id or recipient, or with a
 * channel that is not exactly a known name is -EBADMSG.
 */
static void test_key_parse_malformed(void **state)
{
	static const struct {
		const char *key;
		size_t len;
	} bad[] = {
#define K(s) { s, sizeof(s) - 1 }
		K(""),
		K("T-1"),
		K("T-1\0mps-a05"),			/* one NUL */
		K("T-1\0mps-a05email"),
		K("\0mps-a05\0email"),			/* empty alert */
		K("T-1\0\0email"),			/* empty recipient */
		K("\0\0email"),
		K("T-1\0mps-a05\0"),			/* empty channel */
		K("T-1\0mps-a05\0fax"),			/* unknown */
		K("T-1\0mps-a05\0emai"),		/* a prefix */
		K("T-1\0mps-a05\0emails"),		/* longer */
		K("T-1\0mps-a05\0Email"),
		K("T-1\0mps-a05\0email\0"),		/* a third NUL */
		K("T-1\0mps-a05\0em\0il"),
#undef K
	};
	struct outbox_key k;
	char ok[] = "T-1\0mps-a05\0email";

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_int_equal(outbox_key_parse(bad[i].key, bad[i].len, &k),
				 -EBADMSG);
	/* The good key parses, and a byte short of it does not. */
	assert_int_equal(outbox_key_parse(ok, sizeof(ok) - 1, &k), 0);
	assert_int_equal(outbox_key_parse(ok, sizeof(ok) - 2, &k), -EBADMSG);
}

/* ---------------------------------------------------------------- ids */

/* An id is alert:recipient:channel and parses back to the same key. */
static void test_id_round_trip(void **state)
{
	static const char id[] = "T-12/1/overdue:mps-a05:email";
	char key[OUTBOX_KEY_MAX], back[OUTBOX_KEY_MAX], buf[OUTBOX_ID_MAX];
	size_t klen;
	int n;

	klen = key_of("T-12/1/overdue", "mps-a05", OUTBOX_EMAIL, key);
	assert_ptr_equal(outbox_id_format(key, klen, buf, sizeof(buf)), buf);
	assert_string_equal(buf, id);

	n = outbox_id_parse(id, back, sizeof(back));
	assert_int_equal(n, klen);
	assert_memory_equal(back, key, klen);

	/* Every channel. */
	for (int c = 0; c < OUTBOX_CHANNELS; c++) {
		char text[64];

		klen = key_of("T-1/2/reminder-1", "office", c, key);
		snprintf(text, sizeof(text), "T-1/2/reminder-1:office:%s",
			 outbox_channel_name(c));
		assert_string_equal(outbox_id_format(key, klen, buf,
						     sizeof(buf)), text);
		assert_int_equal(outbox_id_parse(text, back, sizeof(back)),
				 klen);
		assert_memory_equal(back, key, klen);
	}
}

/* An alert id may hold ':' itself: the id is read from the right. */
static void test_id_colon_in_alert(void **state)
{
	static const char id[] = "urn:baton:T-1/1/overdue:mps-a05:webhook";
	char key[OUTBOX_KEY_MAX], buf[OUTBOX_ID_MAX];
	struct outbox_key k;
	int n;

	n = outbox_id_parse(id, key, sizeof(key));
	assert_true(n > 0);
	assert_int_equal(outbox_key_parse(key, (size_t)n, &k), 0);
	assert_string_equal(k.alert_id, "urn:baton:T-1/1/overdue");
	assert_string_equal(k.recipient, "mps-a05");
	assert_int_equal(k.channel, OUTBOX_WEBHOOK);
	assert_string_equal(outbox_id_format(key, (size_t)n, buf, sizeof(buf)),
			    id);

	/* The shortest: a one-byte alert id that is itself a colon. */
	n = outbox_id_parse("::a:feed", key, sizeof(key));
	assert_int_equal(n, 8);
	assert_memory_equal(key, ":\0a\0feed", 8);
}

/* What is not alert:recipient:channel with a known channel is -EINVAL. */
static void test_id_parse_invalid(void **state)
{
	static const char *const bad[] = {
		"",
		"nocolon",
		"mps-a05:email",		/* no alert id */
		":mps-a05:email",		/* empty alert id */
		"T-1::email",			/* empty recipient */
		"T-1:mps-a05:",			/* empty channel */
		"T-1:mps-a05",			/* channel missing */
		"T-1:mps-a05:fax",		/* unknown channel */
		"T-1:mps-a05:Email",
		"T-1:mps-a05:email ",
		"T-1:a b:email",		/* not an agency name */
		"T-1:a/b:email",
		"::",
		":::",
	};
	char key[OUTBOX_KEY_MAX];

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		memset(key, '#', sizeof(key));
		assert_int_equal(outbox_id_parse(bad[i], key, sizeof(key)),
				 -EINVAL);
	}
}

/* An id whose key does not fit is -ENAMETOOLONG. */
static void test_id_parse_too_long(void **state)
{
	char key[OUTBOX_KEY_MAX], id[2 * OUTBOX_KEY_MAX],
	     part[OUTBOX_KEY_MAX + 1];

	/* "T-1" NUL "mps-a05" NUL "email" is 17 bytes. */
	assert_int_equal(outbox_id_parse("T-1:mps-a05:email", key, 16),
			 -ENAMETOOLONG);
	assert_int_equal(outbox_id_parse("T-1:mps-a05:email", key, 17), 17);
	/* An alert id too long for any key. */
	snprintf(id, sizeof(id), "%s:mps-a05:email",
		 filled(part, OUTBOX_KEY_MAX, 'a'));
	assert_int_equal(outbox_id_parse(id, key, sizeof(key)), -ENAMETOOLONG);
	/* A recipient longer than any agency name. */
	snprintf(id, sizeof(id), "T-1:%s:email",
		 filled(part, MSG_AGENCY_MAX + 1, 'r'));
	assert_int_equal(outbox_id_parse(id, key, sizeof(key)), -ENAMETOOLONG);
	/* The longest agency name is one. */
	snprintf(id, sizeof(id), "T-1:%s:email",
		 filled(part, MSG_AGENCY_MAX, 'r'));
	assert_int_equal(outbox_id_parse(id, key, sizeof(key)),
			 3 + 1 + MSG_AGENCY_MAX + 1 + 5);
}

/* A key that does not parse, or a buffer too small, formats as NULL. */
static void test_id_format_invalid(void **state)
{
	char key[OUTBOX_KEY_MAX], buf[OUTBOX_ID_MAX];
	size_t klen = key_of("T-1", "mps-a05", OUTBOX_FEED, key);

	/* "T-1:mps-a05:feed" is 16 characters and its NUL. */
	assert_null(outbox_id_format(key, klen, buf, 16));
	assert_null(outbox_id_format(key, klen, buf, 0));
	assert_string_equal(outbox_id_format(key, klen, buf, 17),
			    "T-1:mps-a05:feed");
	assert_null(outbox_id_format("T-1\0mps-a05\0fax", 15, buf,
				     sizeof(buf)));
	assert_null(outbox_id_format("T-1", 3, buf, sizeof(buf)));
	assert_null(outbox_id_format(key, 0, buf, sizeof(buf)));
}

/* ------------------------------------------------------------- alerts */

/*
 * An alert is stored once: its topic comes back NUL-terminated and its body
 * byte for byte; a second add is -EEXIST and changes nothing.
 */
static void test_alert_add_get(void **state)
{
	struct fixture *fx = *state;
	static const char body[] = "\x83\xa2id\xa3T-1\x00\xff\x01tail";
	const char *topic = NULL;
	const void *b = NULL;
	const void *raw;
	size_t len = 0, rawlen;

	begin(fx, true);
	assert_int_equal(outbox_alert_add(&fx->ob, fx->t, "T-1/1/overdue",
					  "alert.overdue", body,
					  sizeof(body) - 1), 0);
	assert_int_equal(outbox_alert_get(&fx->ob, fx->t, "T-1/1/overdue",
					  &topic, &b, &len), 0);
	assert_string_equal(topic, "alert.overdue");
	assert_int_equal(len, sizeof(body) - 1);
	assert_memory_equal(b, body, len);

	/* The stored value is topic NUL body, as outbox.h says. */
	assert_int_equal(store_get(fx->t, fx->ob.alerts, "T-1/1/overdue", 13,
				   &raw, &rawlen), 0);
	assert_int_equal(rawlen, 14 + sizeof(body) - 1);
	assert_memory_equal(raw, "alert.overdue", 14);
	assert_memory_equal((const char *)raw + 14, body, sizeof(body) - 1);

	/* Once: the second add is refused and the first is kept. */
	assert_int_equal(outbox_alert_add(&fx->ob, fx->t, "T-1/1/overdue",
					  "alert.reminder", "x", 1), -EEXIST);
	commit(fx);

	begin(fx, false);
	assert_int_equal(outbox_alert_get(&fx->ob, fx->t, "T-1/1/overdue",
					  &topic, &b, &len), 0);
	assert_string_equal(topic, "alert.overdue");
	assert_int_equal(len, sizeof(body) - 1);
	assert_memory_equal(b, body, len);
	assert_int_equal(count(fx, fx->ob.alerts), 1);
	/* Another id, or a prefix of one, is not stored. */
	assert_int_equal(outbox_alert_get(&fx->ob, fx->t, "T-1/1/overdu",
					  &topic, &b, &len), -ENOENT);
	assert_int_equal(outbox_alert_get(&fx->ob, fx->t, "T-2/1/overdue",
					  &topic, &b, &len), -ENOENT);
}

/* An empty body is stored and read back empty. */
static void test_alert_empty_body(void **state)
{
	struct fixture *fx = *state;
	const char *topic = NULL;
	const void *b = NULL;
	size_t len = 99;

	begin(fx, true);
	assert_int_equal(outbox_alert_add(&fx->ob, fx->t, "A-1", "alert.x", "",
					  0), 0);
	assert_int_equal(outbox_alert_get(&fx->ob, fx->t, "A-1", &topic, &b,
					  &len), 0);
	assert_string_equal(topic, "alert.x");
	assert_int_equal(len, 0);
}

/*
 * A topic empty or longer than MSG_TOPIC_MAX is -EINVAL and stores nothing;
 * one of exactly MSG_TOPIC_MAX is stored and read back.
 */
static void test_alert_bad_topic(void **state)
{
	struct fixture *fx = *state;
	char topic[MSG_TOPIC_MAX + 2];
	const char *got = NULL;
	const void *b;
	size_t len;

	begin(fx, true);
	assert_int_equal(outbox_alert_add(&fx->ob, fx->t, "A-1", "", "b", 1),
			 -EINVAL);
	assert_int_equal(outbox_alert_add(&fx->ob, fx->t, "A-1",
					  filled(topic, MSG_TOPIC_MAX + 1, 't'),
					  "b", 1), -EINVAL);
	assert_int_equal(count(fx, fx->ob.alerts), 0);
	assert_int_equal(outbox_alert_get(&fx->ob, fx->t, "A-1", &got, &b,
					  &len), -ENOENT);

	assert_int_equal(outbox_alert_add(&fx->ob, fx->t, "A-1",
					  filled(topic, MSG_TOPIC_MAX, 't'),
					  "b", 1), 0);
	assert_int_equal(outbox_alert_get(&fx->ob, fx->t, "A-1", &got, &b,
					  &len), 0);
	assert_int_equal(strlen(got), MSG_TOPIC_MAX);
	assert_string_equal(got, topic);
	assert_int_equal(len, 1);
	assert_memory_equal(b, "b", 1);
}

/* A stored alert without a topic, or without its NUL, is -EBADMSG. */
static void test_alert_malformed(void **state)
{
	struct fixture *fx = *state;
	char val[MSG_TOPIC_MAX + 8];
	const char *topic;
	const void *b;
	size_t len;

	begin(fx, true);
	/* No NUL at all. */
	assert_int_equal(store_put(fx->t, fx->ob.alerts, "A-1", 3, "alert.x",
				   7, 0), 0);
	assert_int_equal(outbox_alert_get(&fx->ob, fx->t, "A-1", &topic, &b,
					  &len), -EBADMSG);
	/* An empty topic. */
	assert_int_equal(store_put(fx->t, fx->ob.alerts, "A-2", 3, "\0body", 5,
				   0), 0);
	assert_int_equal(outbox_alert_get(&fx->ob, fx->t, "A-2", &topic, &b,
					  &len), -EBADMSG);
	/* A topic longer than MSG_TOPIC_MAX before its NUL. */
	memset(val, 't', sizeof(val));
	val[MSG_TOPIC_MAX + 1] = '\0';
	assert_int_equal(store_put(fx->t, fx->ob.alerts, "A-3", 3, val,
				   sizeof(val), 0), 0);
	assert_int_equal(outbox_alert_get(&fx->ob, fx->t, "A-3", &topic, &b,
					  &len), -EBADMSG);
	/* An empty value. */
	assert_int_equal(store_put(fx->t, fx->ob.alerts, "A-4", 3, "", 0, 0),
			 0);
	assert_int_equal(outbox_alert_get(&fx->ob, fx->t, "A-4", &topic, &b,
					  &len), -EBADMSG);
}

/* --------------------------------------------------------------- rows */

/* Every field of a row reads back as written; other keys are -ENOENT. */
static void test_row_round_trip(void **state)
{
	struct fixture *fx = *state;
	static const char target[] = "chief@mps-a05.example";
	static const char error[] = "smtp: 451 4.7.1 try again\0\xff";
	char key[OUTBOX_KEY_MAX], other[OUTBOX_KEY_MAX];
	size_t klen = key_of("T-12/1/overdue", "mps-a05", OUTBOX_EMAIL, key);
	size_t olen = key_of("T-12/1/overdue", "mps-a05", OUTBOX_WEBHOOK,
			     other);
	struct outbox_row r = {
		.state = OUTBOX_RETRYING, .attempts = 0x01020304,
		.created_at = INT64_C(1790000000123),
		.next_at = INT64_C(1790000060456),
		.updated_at = INT64_C(1790000000789),
		.target = target, .target_len = sizeof(target) - 1,
		.error = error, .error_len = sizeof(error) - 1,
	};
	struct outbox_row got;

	begin(fx, true);
	put(fx, key, klen, &r);
	expect_row(fx, key, klen, &r);
	assert_int_equal(outbox_get(&fx->ob, fx->t, other, olen, &got),
			 -ENOENT);

	/* Each state, extreme numbers, empty strings. */
	for (int s = 0; s < OUTBOX_STATES; s++) {
		struct outbox_row e = {
			.state = s, .attempts = UINT32_MAX,
			.created_at = -1, .next_at = INT64_MAX,
			.updated_at = INT64_MIN,
			.target = "", .target_len = 0, .error = "",
			.error_len = 0,
		};

		put(fx, other, olen, &e);
		expect_row(fx, other, olen, &e);
	}
	expect_row(fx, key, klen, &r);
	assert_int_equal(count(fx, fx->ob.rows), 2);
}

/* The row value is the documented layout, byte for byte. */
static void test_row_layout(void **state)
{
	struct fixture *fx = *state;
	static const uint8_t want[] = {
		1, OUTBOX_RETRYING, 0, 0,		/* version, state, 0 */
		0x01, 0x02, 0x03, 0x04,			/* attempts */
		0, 0, 0, 0, 0, 0, 0x03, 0xe8,		/* created_at 1000 */
		0, 0, 0, 0, 0, 0, 0x07, 0xd0,		/* next_at 2000 */
		0, 0, 0, 0, 0, 0, 0x0b, 0xb8,		/* updated_at 3000 */
		0, 3, 'a', '@', 'b',			/* target */
		0, 2, 'n', 'o',				/* error */
	};
	char key[OUTBOX_KEY_MAX];
	size_t klen = key_of("T-1", "mps-a05", OUTBOX_EMAIL, key);
	struct outbox_row r = {
		.state = OUTBOX_RETRYING, .attempts = 0x01020304,
		.created_at = 1000, .next_at = 2000, .updated_at = 3000,
		.target = "a@b", .target_len = 3, .error = "no", .error_len = 2,
	};
	const void *v;
	size_t vlen;

	assert_int_equal(sizeof(want), ROW_FIXED + 2 + 3 + 2 + 2);
	begin(fx, true);
	put(fx, key, klen, &r);
	assert_int_equal(store_get(fx->t, fx->ob.rows, key, klen, &v, &vlen),
			 0);
	assert_int_equal(vlen, sizeof(want));
	assert_memory_equal(v, want, sizeof(want));
	/* And the due key: i64 BE next_at, the row key, an empty value. */
	assert_true(due_has(fx, 2000, key, klen));
	assert_int_equal(count(fx, fx->ob.due), 1);
}

/*
 * Target and error longer than their limits are cut to the limit; at the
 * limit they are kept whole.
 */
static void test_row_strings_cut(void **state)
{
	struct fixture *fx = *state;
	char key[OUTBOX_KEY_MAX];
	size_t klen = key_of("T-1", "mps-a05", OUTBOX_WEBHOOK, key);
	char target[OUTBOX_TARGET_MAX + 100], error[OUTBOX_ERROR_MAX + 100];
	struct outbox_row r = row_of(OUTBOX_DEAD, 0), got;

	for (size_t i = 0; i < sizeof(target); i++)
		target[i] = (char)('a' + i % 26);
	for (size_t i = 0; i < sizeof(error); i++)
		error[i] = (char)('A' + i % 26);

	begin(fx, true);
	r.target = target;
	r.target_len = sizeof(target);
	r.error = error;
	r.error_len = sizeof(error);
	put(fx, key, klen, &r);
	assert_int_equal(outbox_get(&fx->ob, fx->t, key, klen, &got), 0);
	assert_int_equal(got.target_len, OUTBOX_TARGET_MAX);
	assert_memory_equal(got.target, target, OUTBOX_TARGET_MAX);
	assert_int_equal(got.error_len, OUTBOX_ERROR_MAX);
	assert_memory_equal(got.error, error, OUTBOX_ERROR_MAX);

	/* Exactly at the limits: whole. */
	r.target_len = OUTBOX_TARGET_MAX;
	r.error_len = OUTBOX_ERROR_MAX;
	put(fx, key, klen, &r);
	expect_row(fx, key, klen, &r);
	/* One byte over: cut by one. */
	r.target_len = OUTBOX_TARGET_MAX + 1;
	r.error_len = OUTBOX_ERROR_MAX + 1;
	put(fx, key, klen, &r);
	assert_int_equal(outbox_get(&fx->ob, fx->t, key, klen, &got), 0);
	assert_int_equal(got.target_len, OUTBOX_TARGET_MAX);
	assert_int_equal(got.error_len, OUTBOX_ERROR_MAX);
}

/* A put that cannot be a row is -EINVAL and writes nothing. */
static void test_row_put_invalid(void **state)
{
	struct fixture *fx = *state;
	char key[OUTBOX_KEY_MAX + 8];
	size_t klen = key_of("T-1", "mps-a05", OUTBOX_EMAIL, key);
	struct outbox_row r = row_of(OUTBOX_PENDING, -1), got;

	begin(fx, true);
	assert_int_equal(outbox_put(&fx->ob, fx->t, key, klen, &r), -EINVAL);
	r.next_at = 1000;
	assert_int_equal(outbox_put(&fx->ob, fx->t, key, 0, &r), -EINVAL);
	memset(key + klen, 'x', sizeof(key) - klen);
	assert_int_equal(outbox_put(&fx->ob, fx->t, key, OUTBOX_KEY_MAX + 1,
				    &r), -EINVAL);
	assert_int_equal(count(fx, fx->ob.rows), 0);
	assert_int_equal(count(fx, fx->ob.due), 0);
	assert_int_equal(outbox_get(&fx->ob, fx->t, key, klen, &got), -ENOENT);
}

/* Rows written by hand with each kind of damage are refused, not read. */
static void test_row_malformed(void **state)
{
	struct fixture *fx = *state;
	char key[OUTBOX_KEY_MAX];
	size_t klen = key_of("T-1", "mps-a05", OUTBOX_EMAIL, key);
	struct outbox_row r = row_of(OUTBOX_SENT, 0), got;
	uint8_t v[ROW_FIXED + 16];
	const void *good;
	size_t glen;

	r.target = "t";
	r.target_len = 1;
	r.error = "e";
	r.error_len = 1;
	memset(v, 0, sizeof(v));
	begin(fx, true);
	put(fx, key, klen, &r);
	assert_int_equal(store_get(fx->t, fx->ob.rows, key, klen, &good,
				   &glen), 0);
	assert_int_equal(glen, ROW_FIXED + 6);
	memcpy(v, good, glen);

#define EXPECT_BAD(len) do { \
	assert_int_equal(store_put(fx->t, fx->ob.rows, key, klen, v, (len), \
				   0), 0); \
	assert_int_equal(outbox_get(&fx->ob, fx->t, key, klen, &got), \
			 -EBADMSG); \
} while (0)

	v[0] = 2;				/* another version */
	EXPECT_BAD(glen);
	v[0] = 1;
	v[1] = OUTBOX_STATES;			/* no such state */
	EXPECT_BAD(glen);
	v[1] = OUTBOX_SENT;
	EXPECT_BAD(glen - 1);			/* error cut short */
	EXPECT_BAD(glen + 1);			/* a byte after it */
	EXPECT_BAD(ROW_FIXED + 3);		/* lengths missing */
	EXPECT_BAD(ROW_FIXED);
	EXPECT_BAD(0);
	v[ROW_FIXED + 1] = 200;			/* target past the end */
	EXPECT_BAD(glen);
	v[ROW_FIXED + 1] = 1;
#undef EXPECT_BAD
	/* Restored, it reads again. */
	assert_int_equal(store_put(fx->t, fx->ob.rows, key, klen, v, glen, 0),
			 0);
	expect_row(fx, key, klen, &r);
}

/* ---------------------------------------------------------- due index */

/* Nothing due in an empty outbox, nor when every row is done. */
static void test_due_empty(void **state)
{
	struct fixture *fx = *state;
	char key[OUTBOX_KEY_MAX];
	size_t klen = key_of("T-1", "mps-a05", OUTBOX_EMAIL, key);
	struct outbox_row r;

	begin(fx, false);
	expect_none_due(fx);
	end(fx);

	begin(fx, true);
	r = row_of(OUTBOX_SENT, 5000);
	put(fx, key, klen, &r);
	r = row_of(OUTBOX_DEAD, 6000);
	klen = key_of("T-1", "mps-a05", OUTBOX_FEED, key);
	put(fx, key, klen, &r);
	assert_int_equal(count(fx, fx->ob.rows), 2);
	expect_none_due(fx);
}

/* A pending row has exactly one due key, at its next_at. */
static void test_due_pending(void **state)
{
	struct fixture *fx = *state;
	char key[OUTBOX_KEY_MAX];
	size_t klen = key_of("T-1", "mps-a05", OUTBOX_EMAIL, key);
	struct outbox_row r = row_of(OUTBOX_PENDING, 5000);
	const void *dk, *dv, *k;
	size_t dlen, dvlen, kl;
	enum outbox_lane lane;
	instant_t at;

	begin(fx, true);
	put(fx, key, klen, &r);
	assert_int_equal(count(fx, fx->ob.due), 1);
	assert_true(due_has(fx, 5000, key, klen));
	expect_first_due(fx, 5000, key, klen);

	/* Rewritten unchanged, or with new attempts: still exactly one. */
	put(fx, key, klen, &r);
	r.attempts = 3;
	r.updated_at = 4000;
	put(fx, key, klen, &r);
	assert_int_equal(count(fx, fx->ob.due), 1);
	expect_first_due(fx, 5000, key, klen);

	/* The key parses with outbox_due_parse(). */
	assert_int_equal(store_last(fx->t, fx->ob.due, &dk, &dlen, &dv, &dvlen),
			 0);
	assert_int_equal(outbox_due_parse(dk, dlen, &lane, &at, &k, &kl), 0);
	assert_int_equal(lane, OUTBOX_LANE_REMOTE);
	assert_true(at == 5000);
	assert_int_equal(kl, klen);
	assert_memory_equal(k, key, klen);
	commit(fx);

	begin(fx, false);
	assert_int_equal(count(fx, fx->ob.due), 1);
	expect_first_due(fx, 5000, key, klen);
}

/*
 * Feed and journal rows are due in the local lane, email and webhook rows
 * in the remote one: a remote row due earlier never comes first in the
 * local lane, and each lane's first key is its own.
 */
static void test_due_lanes(void **state)
{
	struct fixture *fx = *state;
	char feed[OUTBOX_KEY_MAX], mail[OUTBOX_KEY_MAX], hook[OUTBOX_KEY_MAX];
	size_t flen = key_of("T-2", "office", OUTBOX_FEED, feed);
	size_t mlen = key_of("T-1", "office", OUTBOX_EMAIL, mail);
	size_t hlen = key_of("T-3", "office", OUTBOX_WEBHOOK, hook);
	struct outbox_row early = row_of(OUTBOX_PENDING, 100);
	struct outbox_row late = row_of(OUTBOX_PENDING, 900);
	const void *k;
	size_t kl;
	instant_t at;

	assert_int_equal(outbox_channel_lane(OUTBOX_FEED), OUTBOX_LANE_LOCAL);
	assert_int_equal(outbox_channel_lane(OUTBOX_JOURNAL),
			 OUTBOX_LANE_LOCAL);
	assert_int_equal(outbox_channel_lane(OUTBOX_EMAIL),
			 OUTBOX_LANE_REMOTE);
	assert_int_equal(outbox_channel_lane(OUTBOX_WEBHOOK),
			 OUTBOX_LANE_REMOTE);
	begin(fx, true);
	put(fx, mail, mlen, &early);
	put(fx, hook, hlen, &early);
	put(fx, feed, flen, &late);
	assert_int_equal(count(fx, fx->ob.due), 3);
	expect_first_due(fx, 900, feed, flen);
	expect_first_due(fx, 100, mail, mlen);
	late.state = OUTBOX_SENT;
	put(fx, feed, flen, &late);
	assert_int_equal(outbox_first_due(&fx->ob, fx->t, OUTBOX_LANE_LOCAL,
					  &at, &k, &kl), -ENOENT);
	expect_first_due(fx, 100, mail, mlen);
	commit(fx);
}

/* outbox_due_parse() refuses what is not a lane, an instant and a key. */
static void test_due_parse_malformed(void **state)
{
	uint8_t dk[9 + OUTBOX_KEY_MAX + 1];
	enum outbox_lane lane;
	const void *k;
	size_t kl;
	instant_t at;

	memset(dk, 'k', sizeof(dk));
	dk[0] = OUTBOX_LANE_REMOTE;
	store_u64_key(7, dk + 1);
	assert_int_equal(outbox_due_parse(dk, 0, &lane, &at, &k, &kl),
			 -EBADMSG);
	assert_int_equal(outbox_due_parse(dk, 9, &lane, &at, &k, &kl),
			 -EBADMSG);
	assert_int_equal(outbox_due_parse(dk, sizeof(dk), &lane, &at, &k,
					  &kl), -EBADMSG);
	assert_int_equal(outbox_due_parse(dk, sizeof(dk) - 1, &lane, &at, &k,
					  &kl), 0);
	assert_int_equal(lane, OUTBOX_LANE_REMOTE);
	assert_true(at == 7);
	assert_ptr_equal(k, dk + 9);
	assert_int_equal(kl, OUTBOX_KEY_MAX);
	dk[0] = OUTBOX_LANES;
	assert_int_equal(outbox_due_parse(dk, sizeof(dk) - 1, &lane, &at, &k,
					  &kl), -EBADMSG);
}

/* Moving next_at moves the key: the old one is gone, the new one there. */
static void test_due_moves(void **state)
{
	struct fixture *fx = *state;
	char key[OUTBOX_KEY_MAX];
	size_t klen = key_of("T-1", "mps-a05", OUTBOX_EMAIL, key);
	struct outbox_row r = row_of(OUTBOX_PENDING, 5000);

	begin(fx, true);
	put(fx, key, klen, &r);
	r.next_at = 9000;
	put(fx, key, klen, &r);
	assert_false(due_has(fx, 5000, key, klen));
	assert_true(due_has(fx, 9000, key, klen));
	assert_int_equal(count(fx, fx->ob.due), 1);
	expect_first_due(fx, 9000, key, klen);
	commit(fx);

	/* Pending to retrying, earlier, in a later transaction. */
	begin(fx, true);
	r.state = OUTBOX_RETRYING;
	r.attempts = 1;
	r.next_at = 7000;
	put(fx, key, klen, &r);
	assert_false(due_has(fx, 9000, key, klen));
	assert_true(due_has(fx, 7000, key, klen));
	assert_int_equal(count(fx, fx->ob.due), 1);
	/* Retrying to retrying at the same instant keeps the key. */
	r.attempts = 2;
	put(fx, key, klen, &r);
	assert_true(due_has(fx, 7000, key, klen));
	assert_int_equal(count(fx, fx->ob.due), 1);
	commit(fx);

	begin(fx, false);
	assert_int_equal(count(fx, fx->ob.due), 1);
	expect_first_due(fx, 7000, key, klen);
	expect_row(fx, key, klen, &r);
}

/*
 * A row put to sent or dead loses its due key; a dead row revived to
 * pending gets one again.
 */
static void test_due_sent_dead_revived(void **state)
{
	struct fixture *fx = *state;
	char a[OUTBOX_KEY_MAX], b[OUTBOX_KEY_MAX];
	size_t alen = key_of("T-1", "mps-a05", OUTBOX_EMAIL, a);
	size_t blen = key_of("T-1", "mps-a05", OUTBOX_WEBHOOK, b);
	struct outbox_row ra = row_of(OUTBOX_PENDING, 5000);
	struct outbox_row rb = row_of(OUTBOX_RETRYING, 6000);

	begin(fx, true);
	put(fx, a, alen, &ra);
	put(fx, b, blen, &rb);
	assert_int_equal(count(fx, fx->ob.due), 2);
	commit(fx);

	begin(fx, true);
	ra.state = OUTBOX_SENT;
	put(fx, a, alen, &ra);
	assert_false(due_has(fx, 5000, a, alen));
	assert_int_equal(count(fx, fx->ob.due), 1);
	expect_first_due(fx, 6000, b, blen);

	rb.state = OUTBOX_DEAD;
	rb.error = "gave up";
	rb.error_len = 7;
	put(fx, b, blen, &rb);
	assert_false(due_has(fx, 6000, b, blen));
	expect_none_due(fx);
	commit(fx);

	/* Revived (`batonctl retry`): pending again, due at a new instant. */
	begin(fx, true);
	rb.state = OUTBOX_PENDING;
	rb.attempts = 0;
	rb.next_at = 8000;
	put(fx, b, blen, &rb);
	assert_true(due_has(fx, 8000, b, blen));
	assert_false(due_has(fx, 6000, b, blen));
	assert_int_equal(count(fx, fx->ob.due), 1);
	expect_first_due(fx, 8000, b, blen);
	/* Revived at the instant it died with: a key again all the same. */
	rb.state = OUTBOX_DEAD;
	put(fx, b, blen, &rb);
	expect_none_due(fx);
	rb.state = OUTBOX_RETRYING;
	put(fx, b, blen, &rb);
	assert_true(due_has(fx, 8000, b, blen));
	assert_int_equal(count(fx, fx->ob.due), 1);
	commit(fx);

	begin(fx, false);
	expect_row(fx, a, alen, &ra);
	expect_row(fx, b, blen, &rb);
	expect_first_due(fx, 8000, b, blen);
	assert_int_equal(count(fx, fx->ob.due), 1);
}

/*
 * Several rows come out of outbox_first_due() in next_at order, numeric
 * not lexical, and by row key at the same instant.
 */
static void test_due_order(void **state)
{
	struct fixture *fx = *state;
	static const struct {
		const char *alert;
		instant_t at;
	} rows[] = {
		{ "T-1", 256 }, { "T-2", 1 }, { "T-3", INT64_MAX },
		{ "T-4", 0 }, { "T-5", 65536 }, { "T-6", 255 },
		{ "T-8", 1000 }, { "T-7", 1000 },
	};
	static const size_t order[] = { 3, 1, 5, 0, 7, 6, 4, 2 };
	char key[OUTBOX_KEY_MAX];
	size_t klen;

	begin(fx, true);
	for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
		struct outbox_row r = row_of(OUTBOX_PENDING, rows[i].at);

		klen = key_of(rows[i].alert, "mps-a05", OUTBOX_FEED, key);
		put(fx, key, klen, &r);
	}
	assert_int_equal(count(fx, fx->ob.due), 8);
	commit(fx);

	/* Done one by one, the way the daemon works through them. */
	begin(fx, true);
	for (size_t i = 0; i < sizeof(order) / sizeof(*order); i++) {
		size_t j = order[i];
		struct outbox_row r = row_of(OUTBOX_SENT, rows[j].at);

		klen = key_of(rows[j].alert, "mps-a05", OUTBOX_FEED, key);
		expect_first_due(fx, rows[j].at, key, klen);
		put(fx, key, klen, &r);
		assert_int_equal(count(fx, fx->ob.due), 7 - i);
	}
	expect_none_due(fx);
}

/*
 * A row read with outbox_get() and written back in the same transaction:
 * its target and error point into the map, and must be copied before
 * anything is written. Checked with the page dirty (written in this
 * transaction, where LMDB moves nodes in place) and clean (committed
 * before). The neighbour row is written after this one, so that it sits
 * below it on the page and is what a node moved in place would show, and
 * its strings differ, so that a mix-up is seen.
 */
static void test_put_strings_from_map(void **state)
{
	struct fixture *fx = *state;
	char key[OUTBOX_KEY_MAX], other[OUTBOX_KEY_MAX];
	size_t klen = key_of("T-1", "mps-a05", OUTBOX_EMAIL, key);
	size_t olen = key_of("T-0", "mps-a05", OUTBOX_EMAIL, other);
	static const char target[] = "chief@mps-a05.example.org";
	static const char error[] = "smtp: 550 5.1.1 no such user here";
	static const char otarget[] = "https://hooks.office.example/x";
	static const char oerror[] = "http: 503 service unavailable, later";
	struct outbox_row r = row_of(OUTBOX_PENDING, 5000), o, got, want;

	r.target = target;
	r.target_len = sizeof(target) - 1;
	r.error = error;
	r.error_len = sizeof(error) - 1;
	o = row_of(OUTBOX_RETRYING, 6000);
	o.target = otarget;
	o.target_len = sizeof(otarget) - 1;
	o.error = oerror;
	o.error_len = sizeof(oerror) - 1;

	for (int pass = 0; pass < 2; pass++) {
		begin(fx, true);
		put(fx, key, klen, &r);
		put(fx, other, olen, &o);
		if (pass == 1) {
			commit(fx);
			begin(fx, true);
		}
		want = r;

		/* Same instant: only the row is rewritten. */
		assert_int_equal(outbox_get(&fx->ob, fx->t, key, klen, &got),
				 0);
		got.attempts++;
		want.attempts = got.attempts;
		put(fx, key, klen, &got);
		expect_row(fx, key, klen, &want);

		/* A new instant: the due key moves as well. */
		assert_int_equal(outbox_get(&fx->ob, fx->t, key, klen, &got),
				 0);
		got.state = OUTBOX_RETRYING;
		got.next_at = 9000;
		want.state = got.state;
		want.next_at = got.next_at;
		put(fx, key, klen, &got);
		expect_row(fx, key, klen, &want);
		assert_true(due_has(fx, 9000, key, klen));
		assert_false(due_has(fx, 5000, key, klen));

		/* Done: the due key goes. */
		assert_int_equal(outbox_get(&fx->ob, fx->t, key, klen, &got),
				 0);
		got.state = OUTBOX_DEAD;
		want.state = got.state;
		put(fx, key, klen, &got);
		expect_row(fx, key, klen, &want);
		assert_false(due_has(fx, 9000, key, klen));

		/* Another row's strings, from the map, onto this one. */
		assert_int_equal(outbox_get(&fx->ob, fx->t, other, olen, &got),
				 0);
		got.state = OUTBOX_PENDING;
		got.next_at = 100;
		put(fx, key, klen, &got);
		want = o;
		want.state = OUTBOX_PENDING;
		want.next_at = 100;
		expect_row(fx, key, klen, &want);
		expect_row(fx, other, olen, &o);
		expect_first_due(fx, 100, key, klen);
		assert_int_equal(count(fx, fx->ob.due), 2);

		/* And back: this row's strings onto the other. */
		assert_int_equal(outbox_get(&fx->ob, fx->t, key, klen, &got),
				 0);
		got.next_at = 6000;
		got.state = OUTBOX_RETRYING;
		put(fx, other, olen, &got);
		want.next_at = 6000;
		want.state = OUTBOX_RETRYING;
		expect_row(fx, other, olen, &want);
		commit(fx);

		begin(fx, false);
		expect_row(fx, other, olen, &want);
		want.state = OUTBOX_PENDING;
		want.next_at = 100;
		expect_row(fx, key, klen, &want);
		assert_int_equal(count(fx, fx->ob.due), 2);
		end(fx);
	}
}

/*
 * The daemon's round: the first due key (pointing into the map) names the
 * row it reads, tries and writes back with outbox_put(). The row so named
 * must be the one written and the index must stay in step, whether the due
 * keys were committed before (below) or written in this same transaction
 * (the next test).
 */
static void put_key_from_due_index(struct fixture *fx, bool committed)
{
	char a[OUTBOX_KEY_MAX], b[OUTBOX_KEY_MAX];
	size_t alen = key_of("T-A", "mps-a05", OUTBOX_EMAIL, a);
	size_t blen = key_of("T-B", "mps-a05", OUTBOX_EMAIL, b);
	struct outbox_row ra = row_of(OUTBOX_PENDING, 100);
	struct outbox_row rb = row_of(OUTBOX_PENDING, 200);
	struct outbox_row got;
	const void *k;
	size_t kl;
	instant_t at;

	begin(fx, true);
	put(fx, a, alen, &ra);
	put(fx, b, blen, &rb);
	if (committed) {
		commit(fx);
		begin(fx, true);
	}
	assert_int_equal(outbox_first_due(&fx->ob, fx->t, lane_of(a, alen),
					  &at, &k, &kl), 0);
	assert_true(at == 100);
	assert_int_equal(kl, alen);
	assert_memory_equal(k, a, alen);
	assert_int_equal(outbox_get(&fx->ob, fx->t, k, kl, &got), 0);
	got.state = OUTBOX_SENT;
	got.attempts = 1;
	assert_int_equal(outbox_put(&fx->ob, fx->t, k, kl, &got), 0);

	ra.state = OUTBOX_SENT;
	ra.attempts = 1;
	expect_row(fx, a, alen, &ra);
	expect_row(fx, b, blen, &rb);
	assert_int_equal(count(fx, fx->ob.rows), 2);
	assert_int_equal(count(fx, fx->ob.due), 1);
	expect_first_due(fx, 200, b, blen);
	commit(fx);
}

static void test_put_key_from_due_index(void **state)
{
	put_key_from_due_index(*state, true);
}

/*
 * outbox_put() deletes the old due key before it writes the row, and key
 * may point into that very due key. With the due page dirty, LMDB's delete
 * moves the next due key's node onto it: unless outbox_put() copies key
 * first, the row written is the next one's (T-B marked sent, T-A pending
 * with no due key, never tried again).
 */
static void test_put_key_from_due_index_same_txn(void **state)
{
	put_key_from_due_index(*state, false);
}

/* -------------------------------------------------------- persistence */

/* Alerts, rows and the due index survive a commit and a reopen. */
static void test_survives_reopen(void **state)
{
	struct fixture *fx = *state;
	static const char body[] = "\x81\xa1k\x00";
	char a[OUTBOX_KEY_MAX], b[OUTBOX_KEY_MAX], c[OUTBOX_KEY_MAX];
	size_t alen = key_of("T-1/1/overdue", "mps-a05", OUTBOX_EMAIL, a);
	size_t blen = key_of("T-1/1/overdue", "mps-a05", OUTBOX_FEED, b);
	size_t clen = key_of("T-1/1/overdue", "office", OUTBOX_WEBHOOK, c);
	struct outbox_row ra = row_of(OUTBOX_RETRYING, 7000);
	struct outbox_row rb = row_of(OUTBOX_SENT, 0);
	struct outbox_row rc = row_of(OUTBOX_PENDING, 6000);
	const char *topic;
	const void *got;
	size_t len;

	ra.attempts = 2;
	ra.target = "chief@mps-a05.example";
	ra.target_len = 21;
	ra.error = "timeout";
	ra.error_len = 7;
	begin(fx, true);
	assert_int_equal(outbox_alert_add(&fx->ob, fx->t, "T-1/1/overdue",
					  "alert.overdue", body,
					  sizeof(body) - 1), 0);
	put(fx, a, alen, &ra);
	put(fx, b, blen, &rb);
	put(fx, c, clen, &rc);
	commit(fx);
	/* Written but never committed: gone after the reopen. */
	begin(fx, true);
	assert_int_equal(outbox_alert_add(&fx->ob, fx->t, "T-2", "alert.x",
					  "", 0), 0);
	rc.next_at = 1;
	put(fx, c, clen, &rc);
	rc.next_at = 6000;
	end(fx);

	reopen(fx, NULL);
	begin(fx, false);
	assert_int_equal(outbox_alert_get(&fx->ob, fx->t, "T-1/1/overdue",
					  &topic, &got, &len), 0);
	assert_string_equal(topic, "alert.overdue");
	assert_int_equal(len, sizeof(body) - 1);
	assert_memory_equal(got, body, len);
	assert_int_equal(outbox_alert_get(&fx->ob, fx->t, "T-2", &topic, &got,
					  &len), -ENOENT);
	expect_row(fx, a, alen, &ra);
	expect_row(fx, b, blen, &rb);
	expect_row(fx, c, clen, &rc);
	assert_int_equal(count(fx, fx->ob.rows), 3);
	assert_int_equal(count(fx, fx->ob.due), 2);
	expect_first_due(fx, 6000, c, clen);
	assert_true(due_has(fx, 7000, a, alen));
	end(fx);

	/* The reopened writer carries on: the index is still in step. */
	begin(fx, true);
	rc.state = OUTBOX_SENT;
	put(fx, c, clen, &rc);
	expect_first_due(fx, 7000, a, alen);
	assert_int_equal(count(fx, fx->ob.due), 1);
	commit(fx);
}

/*
 * A read-only store (batonctl) opens the tables once the daemon has made
 * them, reads what it committed, and cannot write.
 */
static void test_read_only(void **state)
{
	struct fixture *fx = *state;
	struct store_options ro = { .read_only = true }, rw = { .create = true };
	char key[OUTBOX_KEY_MAX], other[PATH_MAX + 8];
	size_t klen = key_of("T-1/1/overdue", "mps-a05", OUTBOX_EMAIL, key);
	struct outbox_row r = row_of(OUTBOX_RETRYING, 7000);
	struct store_txn *t = NULL;
	struct store *st = NULL;
	struct outbox ob;
	const char *topic;
	const void *body;
	size_t len;

	/* Before the daemon made the tables: -ENOENT. */
	snprintf(other, sizeof(other), "%s/other", fx->dir);
	assert_int_equal(store_open(other, &rw, &st), 0);
	store_close(st);
	assert_int_equal(store_open(other, &ro, &st), 0);
	assert_int_equal(outbox_open(st, &ob), -ENOENT);
	store_close(st);

	r.error = "connection refused";
	r.error_len = 18;
	begin(fx, true);
	assert_int_equal(outbox_alert_add(&fx->ob, fx->t, "T-1/1/overdue",
					  "alert.overdue", "body", 4), 0);
	put(fx, key, klen, &r);
	commit(fx);

	reopen(fx, &ro);
	assert_int_equal(store_begin(fx->st, true, &t), -EROFS);
	begin(fx, false);
	assert_int_equal(outbox_alert_get(&fx->ob, fx->t, "T-1/1/overdue",
					  &topic, &body, &len), 0);
	assert_string_equal(topic, "alert.overdue");
	assert_int_equal(len, 4);
	assert_memory_equal(body, "body", 4);
	expect_row(fx, key, klen, &r);
	expect_first_due(fx, 7000, key, klen);
	assert_int_equal(count(fx, fx->ob.due), 1);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_channel_names),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_state_due),
		cmocka_unit_test(test_key_round_trip),
		cmocka_unit_test(test_key_make_invalid),
		cmocka_unit_test(test_key_make_too_long),
		cmocka_unit_test(test_key_parse_malformed),
		cmocka_unit_test(test_id_round_trip),
		cmocka_unit_test(test_id_colon_in_alert),
		cmocka_unit_test(test_id_parse_invalid),
		cmocka_unit_test(test_id_parse_too_long),
		cmocka_unit_test(test_id_format_invalid),
		T(test_alert_add_get),
		T(test_alert_empty_body),
		T(test_alert_bad_topic),
		T(test_alert_malformed),
		T(test_row_round_trip),
		T(test_row_layout),
		T(test_row_strings_cut),
		T(test_row_put_invalid),
		T(test_row_malformed),
		T(test_due_empty),
		T(test_due_pending),
		T(test_due_lanes),
		cmocka_unit_test(test_due_parse_malformed),
		T(test_due_moves),
		T(test_due_sent_dead_revived),
		T(test_due_order),
		T(test_put_strings_from_map),
		T(test_put_key_from_due_index),
		T(test_put_key_from_due_index_same_txn),
		T(test_survives_reopen),
		T(test_read_only),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
