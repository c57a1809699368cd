/*
 * test_msg.c - the decoder refuses every body PROTOCOL.md refuses, says which
 * field is wrong, survives hostile frames, and reads back what the encoder
 * writes.
 *
 * Most rules are rows of one table: a valid base body, a few keys replaced,
 * added or removed, and the answer expected. Each row runs as its own test,
 * named after the rule it holds to.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "msg.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* ---- building bodies ---- */

enum spec_type {
	T_END,
	T_STR,		/* s[0..len) */
	T_REP,		/* the string s repeated len times */
	T_UINT,
	T_INT,
	T_BOOL,
	T_NIL,
	T_BIN,
	T_FLOAT,
	T_ARRAY,
	T_MAP,
	T_EXT,
	T_RAW,		/* s[0..len) written as the value, verbatim */
	T_OMIT,		/* remove the key from the base body */
};

struct spec {
	const char *key;
	enum spec_type t;
	const char *s;
	size_t len;
	int64_t i;
	uint64_t u;
	bool dup;	/* add the key again instead of replacing it */
};

#define LIT(t_, k, v)	{ .key = (k), .t = (t_), .s = (v), \
			  .len = sizeof(v) - 1 }
#define S(k, v)		LIT(T_STR, k, v)
#define REP(k, p, n)	{ .key = (k), .t = T_REP, .s = (p), .len = (n) }
#define U(k, v)		{ .key = (k), .t = T_UINT, .u = (v) }
#define I(k, v)		{ .key = (k), .t = T_INT, .i = (v) }
#define BOOL(k, v)	{ .key = (k), .t = T_BOOL, .i = (v) }
#define NIL(k)		{ .key = (k), .t = T_NIL }
#define BIN(k, v)	LIT(T_BIN, k, v)
#define RAW(k, v)	LIT(T_RAW, k, v)
#define FLOAT(k)	{ .key = (k), .t = T_FLOAT }
#define ARRAY(k)	{ .key = (k), .t = T_ARRAY }
#define MAP(k)		{ .key = (k), .t = T_MAP }
#define EXT(k)		{ .key = (k), .t = T_EXT }
#define OMIT(k)		{ .key = (k), .t = T_OMIT }
#define END		{ .key = NULL }
#define DUP(k, v)	{ .key = (k), .t = T_STR, .s = (v), \
			  .len = sizeof(v) - 1, .dup = true }

struct buf {
	char *p;
	size_t len;
};

static void pack_spec(msgpack_packer *pk, msgpack_sbuffer *sb,
		      const struct spec *s)
{
	size_t i, plen;

	msgpack_pack_str(pk, strlen(s->key));
	msgpack_pack_str_body(pk, s->key, strlen(s->key));
	switch (s->t) {
	case T_STR:
		msgpack_pack_str(pk, s->len);
		msgpack_pack_str_body(pk, s->s, s->len);
		break;
	case T_REP:
		plen = strlen(s->s);
		msgpack_pack_str(pk, plen * s->len);
		for (i = 0; i < s->len; i++)
			msgpack_pack_str_body(pk, s->s, plen);
		break;
	case T_UINT:
		msgpack_pack_uint64(pk, s->u);
		break;
	case T_INT:
		msgpack_pack_int64(pk, s->i);
		break;
	case T_BOOL:
		if (s->i)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
		break;
	case T_NIL:
		msgpack_pack_nil(pk);
		break;
	case T_BIN:
		msgpack_pack_bin(pk, s->len);
		msgpack_pack_bin_body(pk, s->s, s->len);
		break;
	case T_FLOAT:
		msgpack_pack_double(pk, 1.0);
		break;
	case T_ARRAY:
		msgpack_pack_array(pk, 1);
		msgpack_pack_str(pk, 1);
		msgpack_pack_str_body(pk, "x", 1);
		break;
	case T_MAP:
		msgpack_pack_map(pk, 1);
		msgpack_pack_str(pk, 1);
		msgpack_pack_str_body(pk, "a", 1);
		msgpack_pack_true(pk);
		break;
	case T_EXT:
		msgpack_pack_ext(pk, 1, 5);
		msgpack_pack_ext_body(pk, "x", 1);
		break;
	case T_RAW:
		msgpack_sbuffer_write(sb, s->s, s->len);
		break;
	case T_END:
	case T_OMIT:
		fail_msg("spec %s has nothing to pack", s->key);
	}
}

static const struct spec *replacement(const struct spec *over, const char *key)
{
	for (; over && over->key; over++)
		if (!over->dup && strcmp(over->key, key) == 0)
			return over;
	return NULL;
}

static bool in_base(const struct spec *base, const char *key)
{
	for (; base->key; base++)
		if (strcmp(base->key, key) == 0)
			return true;
	return false;
}

/* Each key of base, as over replaces or removes it, then over's new keys. */
static struct buf build(const struct spec *base, const struct spec *over)
{
	const struct spec *b, *o, *r;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct buf out;
	size_t n = 0;
	int pass;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1)
			msgpack_pack_map(&pk, n);
		for (b = base; b->key; b++) {
			r = replacement(over, b->key);
			if (r && r->t == T_OMIT)
				continue;
			if (pass == 0)
				n++;
			else
				pack_spec(&pk, &sb, r ? r : b);
		}
		for (o = over; o && o->key; o++) {
			if (o->t == T_OMIT ||
			    (!o->dup && in_base(base, o->key)))
				continue;
			if (pass == 0)
				n++;
			else
				pack_spec(&pk, &sb, o);
		}
	}
	out.len = sb.size;
	out.p = msgpack_sbuffer_release(&sb);
	return out;
}

/* A copy in a buffer of exactly len bytes, so ASan sees any over-read. */
static char *exact_copy(const void *p, size_t len)
{
	char *c = malloc(len ? len : 1);

	assert_non_null(c);
	memcpy(c, p, len);
	return c;
}

static enum msg_code code_for(int rc)
{
	switch (rc) {
	case 0:
		return CODE_NONE;
	case -ERANGE:
		return CODE_TOO_LARGE;
	case -EPROTONOSUPPORT:
		return CODE_UNSUPPORTED_VERSION;
	default:
		return CODE_INVALID;
	}
}

/* A refused body leaves nothing in m but the id it echoes. */
static void assert_empty_but_id(const struct msg *m)
{
	struct msg rest, zero;

	memcpy(&rest, m, sizeof rest);
	rest.id = NULL;
	rest._arena = NULL;
	memset(&zero, 0, sizeof zero);
	assert_memory_equal(&rest, &zero, sizeof rest);
	if (m->id)
		assert_non_null(m->_arena);
}

/* Decode bytes; assert the answer, the code and the field. */
static void expect(const void *bytes, size_t len, enum msg_context ctx,
		   int rc, const char *field, const char *text)
{
	char *copy = exact_copy(bytes, len);
	struct msg_error err;
	struct msg m;
	int r;

	r = msg_decode(copy, len, ctx, &m, &err);
	assert_int_equal(r, rc);
	assert_int_equal(err.code, code_for(rc));
	if (rc < 0) {
		assert_string_equal(err.field, field);
		assert_true(err.text[0] != '\0');
		if (text)
			assert_string_equal(err.text, text);
		assert_empty_but_id(&m);
	}
	msg_free(&m);
	free(copy);
}

/* A literal's bytes, embedded NULs included. */
#define expect_lit(lit, ...)	expect(lit, sizeof(lit) - 1, __VA_ARGS__)

/* ---- base bodies ---- */

#define T0	"1763000000000"

static const struct spec incident[] = {
	U("v", 1), S("type", "report"), S("id", "r-1"), S("kind", "incident"),
	S("category", "cybersecurity"), S("severity", "high"),
	S("title", "Intrusion at the border gateway"), END,
};

static const struct spec progress[] = {
	U("v", 1), S("type", "report"), S("id", "r-2"), S("kind", "progress"),
	S("category", "cyber-defense"), S("title", "Half done"),
	S("task", "t-1"), END,
};

static const struct spec periodic[] = {
	U("v", 1), S("type", "report"), S("id", "r-3"), S("kind", "periodic"),
	S("category", "information-security"), S("title", "Quarterly"),
	S("period", "2026-Q3"), END,
};

static const struct spec complete[] = {
	U("v", 1), S("type", "command"), S("id", "c-1"), S("op", "complete"),
	S("task", "t-1"), S("reason", "confirmed by phone"), END,
};

static const struct spec extend[] = {
	U("v", 1), S("type", "command"), S("id", "c-2"), S("op", "extend"),
	S("task", "t-1"), S("reason", "waiting for logs"),
	U("until", 1800000000000), END,
};

static const struct spec reassign[] = {
	U("v", 1), S("type", "command"), S("id", "c-3"), S("op", "reassign"),
	S("task", "t-1"), S("reason", "wrong agency"), S("to", "cert-ro"),
	END,
};

static const struct spec ev_report[] = {
	U("v", 1), S("type", "report"), S("id", "r-1"), S("kind", "incident"),
	S("category", "cybersecurity"), S("severity", "high"),
	S("title", "Intrusion"), S("agency", "cert-ro"),
	U("accepted_at", 1763000000123), END,
};

static const struct spec ev_command[] = {
	U("v", 1), S("type", "command"), S("id", "c-1"), S("op", "cancel"),
	S("task", "t-1"), S("reason", "duplicate task"), S("agency", "office"),
	U("accepted_at", 1763000000123), END,
};

static const struct spec ack[] = {
	U("v", 1), S("type", "ack"), S("id", "r-1"), U("seq", 7),
	U("accepted_at", 1763000000123), BOOL("duplicate", 0), END,
};

static const struct spec nack[] = {
	U("v", 1), S("type", "nack"), S("id", "r-1"), S("code", "invalid"),
	S("error", "title: required"), END,
};

static const struct spec replay[] = {
	U("v", 1), S("type", "replay"), U("from", 5), END,
};

static const struct spec replay_end[] = {
	U("v", 1), S("type", "replay-end"), U("last", 9), END,
};

/* ---- the rule table ---- */

struct rule {
	const char *name;
	enum msg_context ctx;
	const struct spec *base;
	struct spec over[4];
	int rc;
	const char *field;
	const char *text;	/* NULL: any sentence */
};

#define SUB	MSG_CTX_SUBMIT
#define EVT	MSG_CTX_EVENT
#define ANS	MSG_CTX_ANSWER
#define RPL	MSG_CTX_REPLAY
#define RPE	MSG_CTX_REPLAY_END

#define OK(n, c, b, ...)	{ n, c, b, { __VA_ARGS__ }, 0, NULL, NULL }
#define NO(n, c, b, f, t, ...)	{ n, c, b, { __VA_ARGS__ }, -EINVAL, f, t }
#define VER(n, c, b, t, ...)	{ n, c, b, { __VA_ARGS__ }, \
				  -EPROTONOSUPPORT, "v", t }

#define PERIOD_TEXT	"period: must be YYYY, YYYY-Qn, YYYY-Hn, YYYY-MM or " \
			"YYYY-Www"
#define AGENCY_SHAPE	"may hold only A-Z, a-z, 0-9, '.', '_' and '-'"
#define LONG_KEY	"abcdefghijklmnopqrstuvwxyz0123456789ABCDEF"

static const struct rule rules[] = {
	/* the base bodies */
	OK("incident report accepted", SUB, incident),
	OK("progress report accepted", SUB, progress),
	OK("completion report accepted", SUB, progress,
	   S("kind", "completion")),
	OK("periodic report accepted", SUB, periodic),
	OK("complete command accepted", SUB, complete),
	OK("extend command accepted", SUB, extend),
	OK("reassign command accepted", SUB, reassign),
	OK("cancel command accepted", SUB, complete, S("op", "cancel")),
	OK("report event accepted", EVT, ev_report),
	OK("command event accepted", EVT, ev_command),
	OK("ack accepted", ANS, ack),
	OK("nack accepted", ANS, nack),
	OK("replay accepted", RPL, replay),
	OK("replay-end accepted", RPE, replay_end),

	/* v */
	NO("v is required", SUB, incident, "v", "v: required", OMIT("v")),
	VER("v 2 is unsupported_version", SUB, incident,
	    "v: version 2 is not supported, only 1", U("v", 2)),
	VER("v 0 is unsupported_version", SUB, incident, NULL, U("v", 0)),
	VER("v 2^64-1 is unsupported_version", SUB, incident, NULL,
	    U("v", UINT64_MAX)),
	VER("v 2 is judged before unknown keys", SUB, incident, NULL,
	    U("v", 2), S("future_field", "x")),
	VER("v 2 is judged before missing fields", SUB, incident, NULL,
	    U("v", 2), OMIT("title"), OMIT("type")),
	NO("v \"1\" is invalid", SUB, incident, "v", "v: expected an integer",
	   S("v", "1")),
	NO("v -1 is invalid", SUB, incident, "v", "v: must not be negative",
	   I("v", -1)),
	NO("v 1.0 is invalid", SUB, incident, "v", "v: expected an integer",
	   FLOAT("v")),
	NO("v nil is invalid", SUB, incident, "v", "v: expected an integer",
	   NIL("v")),
	NO("v true is invalid", SUB, incident, "v", "v: expected an integer",
	   BOOL("v", 1)),
	NO("v array is invalid", SUB, incident, "v", "v: expected an integer",
	   ARRAY("v")),
	OK("v as int8 accepted", SUB, incident, RAW("v", "\xd0\x01")),
	OK("v as uint16 accepted", SUB, incident, RAW("v", "\xcd\x00\x01")),
	OK("v as uint64 accepted", SUB, incident,
	   RAW("v", "\xcf\0\0\0\0\0\0\0\x01")),
	OK("v as int64 accepted", SUB, incident,
	   RAW("v", "\xd3\0\0\0\0\0\0\0\x01")),
	VER("v as int32 2 is unsupported_version", SUB, incident, NULL,
	    RAW("v", "\xd2\0\0\0\x02")),
	NO("v as negative fixint is invalid", SUB, incident, "v", NULL,
	   RAW("v", "\xff")),

	/* type */
	NO("type is required", SUB, incident, "type", "type: required",
	   OMIT("type")),
	NO("type ack is refused on submit", SUB, incident, "type",
	   "type: must be report or command", S("type", "ack")),
	NO("type is case-sensitive", SUB, incident, "type", NULL,
	   S("type", "Report")),
	NO("type as bin is invalid", SUB, incident, "type",
	   "type: expected a string", BIN("type", "report")),
	NO("type as int is invalid", SUB, incident, "type",
	   "type: expected a string", U("type", 1)),
	NO("type nil is invalid", SUB, incident, "type",
	   "type: expected a string", NIL("type")),
	NO("report is refused as an answer", ANS, incident, "type",
	   "type: must be ack or nack"),
	NO("ack is refused as an event", EVT, ack, "type",
	   "type: must be report or command"),
	NO("replay-end is refused as a replay", RPL, replay_end, "type",
	   "type: must be replay"),
	NO("replay is refused as a replay-end", RPE, replay, "type",
	   "type: must be replay-end"),
	NO("nack is refused on submit", SUB, nack, "type", NULL),

	/* id */
	NO("id is required", SUB, incident, "id", "id: required", OMIT("id")),
	NO("id empty is invalid", SUB, incident, "id",
	   "id: must not be empty", S("id", "")),
	OK("id of 128 bytes accepted", SUB, incident, REP("id", "a", 128)),
	NO("id of 129 bytes is invalid", SUB, incident, "id",
	   "id: longer than 128 bytes", REP("id", "a", 129)),
	NO("id as bin is invalid", SUB, incident, "id",
	   "id: expected a string", BIN("id", "r-1")),
	NO("id nil is invalid in a report", SUB, incident, "id",
	   "id: expected a string", NIL("id")),
	NO("id as int is invalid", SUB, incident, "id",
	   "id: expected a string", U("id", 1)),
	NO("id with NUL is invalid", SUB, incident, "id",
	   "id: contains a NUL byte", S("id", "r\0-1")),
	NO("id with bad UTF-8 is invalid", SUB, incident, "id",
	   "id: invalid UTF-8", S("id", "r\xff")),
	NO("id is required in a command", SUB, complete, "id", "id: required",
	   OMIT("id")),

	/* kind */
	NO("kind is required", SUB, incident, "kind", "kind: required",
	   OMIT("kind")),
	NO("kind alert is invalid", SUB, incident, "kind",
	   "kind: must be one of incident, progress, completion, periodic",
	   S("kind", "alert")),
	NO("kind is case-sensitive", SUB, incident, "kind", NULL,
	   S("kind", "Incident")),
	NO("kind empty is invalid", SUB, incident, "kind", NULL,
	   S("kind", "")),
	NO("kind with NUL is invalid", SUB, incident, "kind",
	   "kind: contains a NUL byte", S("kind", "incident\0")),
	NO("kind as int is invalid", SUB, incident, "kind",
	   "kind: expected a string", U("kind", 1)),

	/* category */
	NO("category is required", SUB, incident, "category",
	   "category: required", OMIT("category")),
	NO("category cyber is invalid", SUB, incident, "category",
	   "category: must be one of cybersecurity, information-security, "
	   "cyber-defense, toxic-information", S("category", "cyber")),
	OK("category information-security accepted", SUB, incident,
	   S("category", "information-security")),
	OK("category cyber-defense accepted", SUB, incident,
	   S("category", "cyber-defense")),
	OK("category toxic-information accepted", SUB, incident,
	   S("category", "toxic-information")),
	NO("category as bin is invalid", SUB, incident, "category",
	   "category: expected a string", BIN("category", "cybersecurity")),

	/* severity */
	NO("severity is required for incidents", SUB, incident, "severity",
	   "severity: required for incident reports", OMIT("severity")),
	NO("severity urgent is invalid", SUB, incident, "severity",
	   "severity: must be one of low, medium, high, critical",
	   S("severity", "urgent")),
	OK("severity low accepted", SUB, incident, S("severity", "low")),
	OK("severity medium accepted", SUB, incident, S("severity", "medium")),
	OK("severity critical accepted", SUB, incident,
	   S("severity", "critical")),
	OK("severity is optional for progress", SUB, progress,
	   S("severity", "low")),
	OK("severity is optional for periodic", SUB, periodic,
	   S("severity", "medium")),
	NO("severity nil is invalid", SUB, incident, "severity",
	   "severity: expected a string", NIL("severity")),

	/* title */
	NO("title is required", SUB, incident, "title", "title: required",
	   OMIT("title")),
	NO("title empty is invalid", SUB, incident, "title",
	   "title: must not be empty", S("title", "")),
	OK("title of 1 byte accepted", SUB, incident, S("title", "x")),
	OK("title of 256 bytes accepted", SUB, incident,
	   REP("title", "a", 256)),
	NO("title of 257 bytes is invalid", SUB, incident, "title",
	   "title: longer than 256 bytes", REP("title", "a", 257)),
	OK("title limit counts bytes: 128 x U+00E9", SUB, incident,
	   REP("title", "\xc3\xa9", 128)),
	NO("title limit counts bytes: 86 x U+20AC", SUB, incident, "title",
	   "title: longer than 256 bytes", REP("title", "\xe2\x82\xac", 86)),
	NO("title as bin is invalid", SUB, incident, "title",
	   "title: expected a string", BIN("title", "Intrusion")),
	NO("title as array is invalid", SUB, incident, "title",
	   "title: expected a string", ARRAY("title")),
	NO("title as map is invalid", SUB, incident, "title",
	   "title: expected a string", MAP("title")),
	NO("title as ext is invalid", SUB, incident, "title",
	   "title: expected a string", EXT("title")),
	NO("title as float is invalid", SUB, incident, "title",
	   "title: expected a string", FLOAT("title")),
	NO("title true is invalid", SUB, incident, "title",
	   "title: expected a string", BOOL("title", 1)),

	/* body */
	OK("body empty accepted", SUB, incident, S("body", "")),
	OK("body of 65536 bytes accepted", SUB, incident,
	   REP("body", "b", 65536)),
	NO("body of 65537 bytes is invalid", SUB, incident, "body",
	   "body: longer than 65536 bytes", REP("body", "b", 65537)),
	NO("body as bin is invalid", SUB, incident, "body",
	   "body: expected a string", BIN("body", "text")),
	NO("body with NUL is invalid", SUB, incident, "body",
	   "body: contains a NUL byte", S("body", "x\0")),

	/* locality */
	OK("locality accepted", SUB, incident, S("locality", "RO-B")),
	NO("locality empty is invalid", SUB, incident, "locality",
	   "locality: must not be empty", S("locality", "")),
	OK("locality of 64 bytes accepted", SUB, incident,
	   REP("locality", "l", 64)),
	NO("locality of 65 bytes is invalid", SUB, incident, "locality",
	   "locality: longer than 64 bytes", REP("locality", "l", 65)),

	/* task */
	NO("task is required for progress", SUB, progress, "task",
	   "task: required for progress reports", OMIT("task")),
	NO("task is required for completion", SUB, progress, "task",
	   "task: required for completion reports",
	   S("kind", "completion"), OMIT("task")),
	OK("task is optional for incidents", SUB, incident, S("task", "t-9")),
	NO("task empty is invalid", SUB, progress, "task",
	   "task: must not be empty", S("task", "")),
	OK("task of 128 bytes accepted", SUB, progress, REP("task", "t", 128)),
	NO("task of 129 bytes is invalid", SUB, progress, "task",
	   "task: longer than 128 bytes", REP("task", "t", 129)),

	/* period */
	NO("period is required for periodic", SUB, periodic, "period",
	   "period: required for periodic reports", OMIT("period")),
	OK("period YYYY accepted", SUB, periodic, S("period", "2026")),
	OK("period YYYY-Q1 accepted", SUB, periodic, S("period", "2026-Q1")),
	OK("period YYYY-Q4 accepted", SUB, periodic, S("period", "2026-Q4")),
	OK("period YYYY-H1 accepted", SUB, periodic, S("period", "2026-H1")),
	OK("period YYYY-H2 accepted", SUB, periodic, S("period", "2026-H2")),
	OK("period YYYY-01 accepted", SUB, periodic, S("period", "2026-01")),
	OK("period YYYY-12 accepted", SUB, periodic, S("period", "2026-12")),
	OK("period YYYY-W01 accepted", SUB, periodic, S("period", "2026-W01")),
	OK("period YYYY-W53 accepted", SUB, periodic, S("period", "2026-W53")),
	OK("period is optional for incidents", SUB, incident,
	   S("period", "2026")),
	NO("period Q0 is invalid", SUB, periodic, "period", PERIOD_TEXT,
	   S("period", "2026-Q0")),
	NO("period Q5 is invalid", SUB, periodic, "period", PERIOD_TEXT,
	   S("period", "2026-Q5")),
	NO("period H0 is invalid", SUB, periodic, "period", PERIOD_TEXT,
	   S("period", "2026-H0")),
	NO("period H3 is invalid", SUB, periodic, "period", PERIOD_TEXT,
	   S("period", "2026-H3")),
	NO("period month 00 is invalid", SUB, periodic, "period", PERIOD_TEXT,
	   S("period", "2026-00")),
	NO("period month 13 is invalid", SUB, periodic, "period", PERIOD_TEXT,
	   S("period", "2026-13")),
	NO("period W00 is invalid", SUB, periodic, "period", PERIOD_TEXT,
	   S("period", "2026-W00")),
	NO("period W54 is invalid", SUB, periodic, "period", PERIOD_TEXT,
	   S("period", "2026-W54")),
	NO("period W5 is invalid", SUB, periodic, "period", PERIOD_TEXT,
	   S("period", "2026-W5")),
	NO("period two-digit year is invalid", SUB, periodic, "period",
	   PERIOD_TEXT, S("period", "26-Q3")),
	NO("period lowercase q is invalid", SUB, periodic, "period",
	   PERIOD_TEXT, S("period", "2026-q3")),
	NO("period without dash is invalid", SUB, periodic, "period",
	   PERIOD_TEXT, S("period", "2026Q3")),
	NO("period with trailing space is invalid", SUB, periodic, "period",
	   PERIOD_TEXT, S("period", "2026-Q3 ")),
	NO("period with a letter in the year is invalid", SUB, periodic,
	   "period", PERIOD_TEXT, S("period", "202a")),
	NO("period empty is invalid", SUB, periodic, "period",
	   "period: must not be empty", S("period", "")),
	NO("period of 17 bytes is invalid", SUB, periodic, "period",
	   "period: longer than 16 bytes", REP("period", "2", 17)),

	/* occurred_at */
	OK("occurred_at accepted", SUB, incident,
	   U("occurred_at", 1763000000000)),
	OK("occurred_at 0 accepted", SUB, incident, U("occurred_at", 0)),
	OK("occurred_at INT64_MAX accepted", SUB, incident,
	   U("occurred_at", INT64_MAX)),
	OK("occurred_at as int64 accepted", SUB, incident,
	   RAW("occurred_at", "\xd3\0\0\x01\x9a\x7c\x36\x9c\x00")),
	NO("occurred_at beyond INT64_MAX is invalid", SUB, incident,
	   "occurred_at", "occurred_at: out of range",
	   U("occurred_at", (uint64_t)INT64_MAX + 1)),
	NO("occurred_at -1 is invalid", SUB, incident, "occurred_at",
	   "occurred_at: must not be negative", I("occurred_at", -1)),
	NO("occurred_at as string is invalid", SUB, incident, "occurred_at",
	   "occurred_at: expected an integer", S("occurred_at", T0)),
	NO("occurred_at as float is invalid", SUB, incident, "occurred_at",
	   "occurred_at: expected an integer", FLOAT("occurred_at")),
	NO("occurred_at nil is invalid", SUB, incident, "occurred_at",
	   "occurred_at: expected an integer", NIL("occurred_at")),
	NO("occurred_at as array is invalid", SUB, incident, "occurred_at",
	   "occurred_at: expected an integer", ARRAY("occurred_at")),

	/* drill */
	OK("drill true accepted", SUB, incident, BOOL("drill", 1)),
	OK("drill false accepted", SUB, incident, BOOL("drill", 0)),
	NO("drill 1 is invalid", SUB, incident, "drill",
	   "drill: expected a boolean", U("drill", 1)),
	NO("drill \"true\" is invalid", SUB, incident, "drill",
	   "drill: expected a boolean", S("drill", "true")),
	NO("drill nil is invalid", SUB, incident, "drill",
	   "drill: expected a boolean", NIL("drill")),
	NO("drill as map is invalid", SUB, incident, "drill",
	   "drill: expected a boolean", MAP("drill")),

	/* agency */
	OK("agency accepted", SUB, incident, S("agency", "cert-ro.gov_1")),
	OK("agency of 64 bytes accepted", SUB, incident,
	   REP("agency", "a", 64)),
	NO("agency of 65 bytes is invalid", SUB, incident, "agency",
	   "agency: longer than 64 bytes", REP("agency", "a", 65)),
	NO("agency empty is invalid", SUB, incident, "agency",
	   "agency: must not be empty", S("agency", "")),
	NO("agency with a space is invalid", SUB, incident, "agency",
	   "agency: " AGENCY_SHAPE, S("agency", "cert ro")),
	NO("agency with a slash is invalid", SUB, incident, "agency",
	   "agency: " AGENCY_SHAPE, S("agency", "cert/ro")),
	NO("agency with non-ASCII is invalid", SUB, incident, "agency",
	   "agency: " AGENCY_SHAPE, S("agency", "\xc3\xa7" "ert")),

	/* UTF-8 */
	NO("overlong 2-byte UTF-8 is invalid", SUB, incident, "title",
	   "title: invalid UTF-8", S("title", "a\xc0\xaf")),
	NO("overlong NUL (C0 80) is invalid", SUB, incident, "title",
	   "title: invalid UTF-8", S("title", "a\xc0\x80")),
	NO("overlong 3-byte UTF-8 is invalid", SUB, incident, "title",
	   "title: invalid UTF-8", S("title", "\xe0\x80\xaf")),
	NO("overlong 4-byte UTF-8 is invalid", SUB, incident, "title",
	   "title: invalid UTF-8", S("title", "\xf0\x80\x80\xaf")),
	NO("high surrogate is invalid", SUB, incident, "title",
	   "title: invalid UTF-8", S("title", "\xed\xa0\x80")),
	NO("low surrogate is invalid", SUB, incident, "title",
	   "title: invalid UTF-8", S("title", "\xed\xbf\xbf")),
	NO("truncated sequence is invalid", SUB, incident, "title",
	   "title: invalid UTF-8", S("title", "\xe2\x82 euro")),
	NO("sequence cut by the end is invalid", SUB, incident, "title",
	   "title: invalid UTF-8", S("title", "abc\xf0\x9f\x98")),
	NO("code point above U+10FFFF is invalid", SUB, incident, "title",
	   "title: invalid UTF-8", S("title", "\xf4\x90\x80\x80")),
	NO("lead byte F5 is invalid", SUB, incident, "title",
	   "title: invalid UTF-8", S("title", "\xf5\x80\x80\x80")),
	NO("lone continuation byte is invalid", SUB, incident, "title",
	   "title: invalid UTF-8", S("title", "a\x80")),
	NO("byte FF is invalid", SUB, incident, "title",
	   "title: invalid UTF-8", S("title", "\xff")),
	NO("bad UTF-8 in an enum is invalid", SUB, incident, "severity",
	   "severity: invalid UTF-8", S("severity", "hi\xc0\xafgh")),
	OK("multilingual title accepted", SUB, incident,
	   S("title", "\xc3\x9cn\xc3\xaf \xe2\x82\xac \xf0\x9d\x84\x9e")),
	OK("U+10FFFF accepted", SUB, incident, S("title", "\xf4\x8f\xbf\xbf")),
	OK("U+D7FF and U+E000 accepted", SUB, incident,
	   S("title", "\xed\x9f\xbf\xee\x80\x80")),

	/* NUL */
	NO("NUL in title is invalid", SUB, incident, "title",
	   "title: contains a NUL byte", S("title", "a\0b")),
	NO("title of one NUL is invalid", SUB, incident, "title",
	   "title: contains a NUL byte", S("title", "\0")),
	NO("NUL in reason is invalid", SUB, complete, "reason",
	   "reason: contains a NUL byte", S("reason", "ok\0")),

	/* unknown keys */
	NO("unknown key is invalid", SUB, incident, "titel",
	   "titel: unknown key", S("titel", "typo")),
	NO("keys are case-sensitive", SUB, incident, "Title",
	   "Title: unknown key", S("Title", "x")),
	NO("accepted_at is unknown on submit", SUB, incident, "accepted_at",
	   "accepted_at: unknown key", U("accepted_at", 1)),
	NO("seq is unknown in a report", SUB, incident, "seq",
	   "seq: unknown key", U("seq", 1)),
	NO("op is unknown in a report", SUB, incident, "op",
	   "op: unknown key", S("op", "cancel")),
	NO("unknown key with an array value is invalid", SUB, incident,
	   "tags", "tags: unknown key", ARRAY("tags")),
	NO("unknown key is shown printable", SUB, incident, "?bad?",
	   "?bad?: unknown key", S("\x01" "bad\xff", "x")),
	NO("unknown key is shown truncated", SUB, incident,
	   "abcdefghijklmnopqrstuvw",
	   "abcdefghijklmnopqrstuvwxyz012345: unknown key",
	   S(LONG_KEY, "x")),
	NO("empty key is shown quoted", SUB, incident, "\"\"",
	   "\"\": unknown key", S("", "x")),

	/* duplicate keys */
	NO("duplicate title is invalid", SUB, incident, "title",
	   "title: duplicate key", DUP("title", "again")),
	NO("duplicate id with the same value is invalid", SUB, incident, "id",
	   "id: duplicate key", DUP("id", "r-1")),
	NO("duplicate v is invalid", SUB, incident, "v", "v: duplicate key",
	   DUP("v", "1")),
	NO("duplicate unknown key is invalid", SUB, incident, "x",
	   "x: duplicate key", S("x", "1"), DUP("x", "2")),

	/* command */
	NO("op is required", SUB, complete, "op", "op: required", OMIT("op")),
	NO("op delete is invalid", SUB, complete, "op",
	   "op: must be one of complete, extend, reassign, cancel",
	   S("op", "delete")),
	NO("task is required in a command", SUB, complete, "task",
	   "task: required", OMIT("task")),
	NO("command task of 129 bytes is invalid", SUB, complete, "task",
	   "task: longer than 128 bytes", REP("task", "t", 129)),
	NO("reason is required", SUB, complete, "reason", "reason: required",
	   OMIT("reason")),
	NO("reason empty is invalid", SUB, complete, "reason",
	   "reason: must not be empty", S("reason", "")),
	OK("reason of 1024 bytes accepted", SUB, complete,
	   REP("reason", "r", 1024)),
	NO("reason of 1025 bytes is invalid", SUB, complete, "reason",
	   "reason: longer than 1024 bytes", REP("reason", "r", 1025)),
	NO("until is required for extend", SUB, extend, "until",
	   "until: required for extend", OMIT("until")),
	NO("until is refused for complete", SUB, complete, "until",
	   "until: only for extend", U("until", 1800000000000)),
	NO("until is refused for cancel", SUB, complete, "until",
	   "until: only for extend", S("op", "cancel"), U("until", 1)),
	NO("until is refused for reassign", SUB, reassign, "until",
	   "until: only for extend", U("until", 1)),
	NO("until -1 is invalid", SUB, extend, "until",
	   "until: must not be negative", I("until", -1)),
	NO("until beyond INT64_MAX is invalid", SUB, extend, "until",
	   "until: out of range", U("until", UINT64_MAX)),
	NO("until as string is invalid", SUB, extend, "until",
	   "until: expected an integer", S("until", "tomorrow")),
	NO("to is required for reassign", SUB, reassign, "to",
	   "to: required for reassign", OMIT("to")),
	NO("to is refused for complete", SUB, complete, "to",
	   "to: only for reassign", S("to", "cert-ro")),
	NO("to is refused for extend", SUB, extend, "to",
	   "to: only for reassign", S("to", "cert-ro")),
	NO("to must be an agency name", SUB, reassign, "to",
	   "to: " AGENCY_SHAPE, S("to", "cert ro")),
	NO("to of 65 bytes is invalid", SUB, reassign, "to",
	   "to: longer than 64 bytes", REP("to", "a", 65)),
	OK("command agency accepted", SUB, complete, S("agency", "office")),
	NO("command agency must be an agency name", SUB, complete, "agency",
	   "agency: " AGENCY_SHAPE, S("agency", "office!")),
	NO("kind is unknown in a command", SUB, complete, "kind",
	   "kind: unknown key", S("kind", "incident")),
	NO("title is unknown in a command", SUB, complete, "title",
	   "title: unknown key", S("title", "x")),

	/* events */
	NO("report event requires agency", EVT, ev_report, "agency",
	   "agency: required", OMIT("agency")),
	NO("report event requires accepted_at", EVT, ev_report, "accepted_at",
	   "accepted_at: required", OMIT("accepted_at")),
	NO("command event requires agency", EVT, ev_command, "agency",
	   "agency: required", OMIT("agency")),
	NO("command event requires accepted_at", EVT, ev_command,
	   "accepted_at", "accepted_at: required", OMIT("accepted_at")),
	NO("event accepted_at -1 is invalid", EVT, ev_report, "accepted_at",
	   "accepted_at: must not be negative", I("accepted_at", -1)),
	NO("event accepted_at as string is invalid", EVT, ev_report,
	   "accepted_at", "accepted_at: expected an integer",
	   S("accepted_at", T0)),
	NO("event keeps the report rules", EVT, ev_report, "severity",
	   "severity: required for incident reports", OMIT("severity")),
	NO("event keeps the command rules", EVT, ev_command, "until",
	   "until: only for extend", U("until", 1)),
	NO("seq is unknown in an event", EVT, ev_report, "seq",
	   "seq: unknown key", U("seq", 1)),

	/* ack */
	NO("ack requires id", ANS, ack, "id", "id: required", OMIT("id")),
	NO("ack requires seq", ANS, ack, "seq", "seq: required", OMIT("seq")),
	NO("ack requires accepted_at", ANS, ack, "accepted_at",
	   "accepted_at: required", OMIT("accepted_at")),
	NO("ack requires duplicate", ANS, ack, "duplicate",
	   "duplicate: required", OMIT("duplicate")),
	NO("ack duplicate 0 is invalid", ANS, ack, "duplicate",
	   "duplicate: expected a boolean", U("duplicate", 0)),
	NO("ack seq -1 is invalid", ANS, ack, "seq",
	   "seq: must not be negative", I("seq", -1)),
	NO("ack seq as string is invalid", ANS, ack, "seq",
	   "seq: expected an integer", S("seq", "7")),
	OK("ack seq 2^64-1 accepted", ANS, ack, U("seq", UINT64_MAX)),
	NO("ack id nil is invalid", ANS, ack, "id", "id: expected a string",
	   NIL("id")),
	NO("title is unknown in an ack", ANS, ack, "title",
	   "title: unknown key", S("title", "x")),

	/* nack */
	OK("nack id nil accepted", ANS, nack, NIL("id")),
	NO("nack requires the id key", ANS, nack, "id", "id: required",
	   OMIT("id")),
	NO("nack id as int is invalid", ANS, nack, "id",
	   "id: expected a string or nil", U("id", 1)),
	NO("nack id as bin is invalid", ANS, nack, "id",
	   "id: expected a string or nil", BIN("id", "r-1")),
	NO("nack id of 129 bytes is invalid", ANS, nack, "id",
	   "id: longer than 128 bytes", REP("id", "a", 129)),
	NO("nack requires code", ANS, nack, "code", "code: required",
	   OMIT("code")),
	NO("nack code nope is invalid", ANS, nack, "code",
	   "code: must be one of invalid, unauthorized, forbidden, "
	   "too_large, unsupported_version, busy, internal",
	   S("code", "nope")),
	OK("nack code unsupported_version accepted", ANS, nack,
	   S("code", "unsupported_version")),
	OK("nack code busy accepted", ANS, nack, S("code", "busy")),
	NO("nack requires error", ANS, nack, "error", "error: required",
	   OMIT("error")),
	NO("nack error empty is invalid", ANS, nack, "error",
	   "error: must not be empty", S("error", "")),
	OK("nack error of 256 bytes accepted", ANS, nack,
	   REP("error", "e", 256)),
	NO("nack error of 257 bytes is invalid", ANS, nack, "error",
	   "error: longer than 256 bytes", REP("error", "e", 257)),
	NO("seq is unknown in a nack", ANS, nack, "seq", "seq: unknown key",
	   U("seq", 1)),

	/* replay */
	NO("replay requires from", RPL, replay, "from", "from: required",
	   OMIT("from")),
	NO("replay from -1 is invalid", RPL, replay, "from",
	   "from: must not be negative", I("from", -1)),
	NO("replay from as string is invalid", RPL, replay, "from",
	   "from: expected an integer", S("from", "5")),
	NO("replay from nil is invalid", RPL, replay, "from",
	   "from: expected an integer", NIL("from")),
	OK("replay from 0 accepted", RPL, replay, U("from", 0)),
	OK("replay from 2^64-1 accepted", RPL, replay, U("from", UINT64_MAX)),
	NO("id is unknown in a replay", RPL, replay, "id", "id: unknown key",
	   S("id", "x")),
	NO("replay-end requires last", RPE, replay_end, "last",
	   "last: required", OMIT("last")),
	NO("replay-end last -1 is invalid", RPE, replay_end, "last",
	   "last: must not be negative", I("last", -1)),
	NO("from is unknown in a replay-end", RPE, replay_end, "from",
	   "from: unknown key", U("from", 1)),
};

static void run_rule(void **state)
{
	const struct rule *t = *state;
	struct buf b = build(t->base, t->over);

	expect(b.p, b.len, t->ctx, t->rc, t->field, t->text);
	free(b.p);
}

/* ---- decoded values ---- */

/* Every field of a report lands where it belongs. */
static void test_report_fields_decoded(void **state)
{
	static const struct spec over[] = {
		S("body", "details"), S("locality", "RO-B"), S("task", "t-7"),
		S("period", "2026-W05"), U("occurred_at", 1763000000000),
		BOOL("drill", 1), S("agency", "cert-ro"), END,
	};
	struct buf b = build(incident, over);
	struct msg_error err;
	struct msg m;

	assert_int_equal(msg_decode(b.p, b.len, MSG_CTX_SUBMIT, &m, &err), 0);
	assert_int_equal(m.type, MSG_REPORT);
	assert_string_equal(m.id, "r-1");
	assert_int_equal(m.kind, KIND_INCIDENT);
	assert_int_equal(m.category, CATEGORY_CYBERSECURITY);
	assert_int_equal(m.severity, SEVERITY_HIGH);
	assert_string_equal(m.title, "Intrusion at the border gateway");
	assert_string_equal(m.body, "details");
	assert_string_equal(m.locality, "RO-B");
	assert_string_equal(m.task, "t-7");
	assert_string_equal(m.period, "2026-W05");
	assert_true(m.has_occurred_at);
	assert_int_equal(m.occurred_at, 1763000000000);
	assert_true(m.drill);
	assert_string_equal(m.agency, "cert-ro");
	assert_null(m.to);
	assert_null(m.reason);
	assert_false(m.has_until);
	msg_free(&m);
	assert_null(m._arena);
	assert_null(m.id);
	free(b.p);
}

/* A nack with id nil decodes with no id. */
static void test_nack_nil_id_decoded(void **state)
{
	static const struct spec over[] = { NIL("id"), END };
	struct buf b = build(nack, over);
	struct msg m;

	assert_int_equal(msg_decode(b.p, b.len, MSG_CTX_ANSWER, &m, NULL), 0);
	assert_int_equal(m.type, MSG_NACK);
	assert_null(m.id);
	assert_int_equal(m.code, CODE_INVALID);
	assert_string_equal(m.error, "title: required");
	msg_free(&m);
	free(b.p);
}

/* ---- the id a NACK echoes ---- */

static void decode_refused(const struct spec *base, const struct spec *over,
			   enum msg_context ctx, int rc, struct msg *m,
			   struct msg_error *err)
{
	struct buf b = build(base, over);

	assert_int_equal(msg_decode(b.p, b.len, ctx, m, err), rc);
	assert_empty_but_id(m);
	free(b.p);
}

/* A refused body with a readable id keeps it for the NACK. */
static void test_id_echoed_on_failure(void **state)
{
	static const struct spec over[] = {
		S("id", "r-echo"), REP("title", "a", 257), END,
	};
	struct msg_error err;
	struct msg m;

	decode_refused(incident, over, MSG_CTX_SUBMIT, -EINVAL, &m, &err);
	assert_string_equal(err.field, "title");
	assert_non_null(m.id);
	assert_string_equal(m.id, "r-echo");
	msg_free(&m);
	assert_null(m.id);
	assert_null(m._arena);
}

/* The id is echoed even when it comes after the field that is wrong. */
static void test_id_echoed_when_last(void **state)
{
	static const struct spec over[] = {
		OMIT("id"), S("kind", "nope"), DUP("id", "r-late"), END,
	};
	struct msg_error err;
	struct msg m;

	decode_refused(incident, over, MSG_CTX_SUBMIT, -EINVAL, &m, &err);
	assert_string_equal(err.field, "kind");
	assert_string_equal(m.id, "r-late");
	msg_free(&m);
}

/*
 * The id is echoed even when a nested value or a duplicate key before it
 * stops the first pass: the rest of the body is walked for the id alone.
 */
static void test_id_echoed_after_a_bad_value(void **state)
{
	/* {"title":[[1],{"a":1}], "v":1, "x":<fixext>, "id":"r-9"} */
	static const char nested[] =
		"\x84\xa5title\x92\x91\x01\x81\xa1" "a\x01"
		"\xa1v\x01\xa1x\xd4\x01\x01\xa2id\xa3r-9";
	/* {"v":1, "v":1, "id":"r-8"} */
	static const char dup[] = "\x83\xa1v\x01\xa1v\x01\xa2id\xa3r-8";
	struct msg_error err;
	struct msg m;

	assert_int_equal(msg_decode(nested, sizeof(nested) - 1,
				    MSG_CTX_SUBMIT, &m, &err), -EINVAL);
	assert_string_equal(err.text, "title: expected a string");
	assert_non_null(m.id);
	assert_string_equal(m.id, "r-9");
	msg_free(&m);

	assert_int_equal(msg_decode(dup, sizeof(dup) - 1, MSG_CTX_SUBMIT, &m,
				    &err), -EINVAL);
	assert_string_equal(err.text, "v: duplicate key");
	assert_non_null(m.id);
	assert_string_equal(m.id, "r-8");
	msg_free(&m);
}

/* An unsupported version still echoes the id. */
static void test_id_echoed_on_unsupported_version(void **state)
{
	static const struct spec over[] = { U("v", 2), END };
	struct msg_error err;
	struct msg m;

	decode_refused(incident, over, MSG_CTX_SUBMIT, -EPROTONOSUPPORT, &m,
		       &err);
	assert_int_equal(err.code, CODE_UNSUPPORTED_VERSION);
	assert_string_equal(err.field, "v");
	assert_string_equal(m.id, "r-1");
	msg_free(&m);
}

/* A body that breaks off after its id still echoes it. */
static void test_id_echoed_on_truncated_body(void **state)
{
	struct buf b = build(incident, NULL);
	struct msg_error err;
	struct msg m;
	char *copy = exact_copy(b.p, b.len - 3);

	assert_int_equal(msg_decode(copy, b.len - 3, MSG_CTX_SUBMIT, &m, &err),
			 -EINVAL);
	assert_string_equal(err.field, "");
	assert_string_equal(err.text, "truncated body");
	assert_string_equal(m.id, "r-1");
	assert_empty_but_id(&m);
	msg_free(&m);
	free(copy);
	free(b.p);
}

/* An id that is itself wrong is not echoed. */
static void test_id_absent_when_invalid(void **state)
{
	static const struct spec too_long[] = {
		REP("id", "a", 129), S("kind", "nope"), END,
	};
	static const struct spec with_nul[] = { S("id", "r\0"), END };
	static const struct spec as_bin[] = {
		BIN("id", "r-1"), OMIT("title"), END,
	};
	struct msg_error err;
	struct msg m;

	decode_refused(incident, too_long, MSG_CTX_SUBMIT, -EINVAL, &m, &err);
	assert_string_equal(err.field, "id");
	assert_null(m.id);
	assert_null(m._arena);
	msg_free(&m);

	decode_refused(incident, with_nul, MSG_CTX_SUBMIT, -EINVAL, &m, &err);
	assert_string_equal(err.field, "id");
	assert_null(m.id);
	msg_free(&m);

	decode_refused(incident, as_bin, MSG_CTX_SUBMIT, -EINVAL, &m, &err);
	assert_string_equal(err.field, "id");
	assert_null(m.id);
	msg_free(&m);
}

/* A replay has no id: one in its body is refused and not echoed. */
static void test_id_not_echoed_for_replay(void **state)
{
	static const struct spec over[] = { S("id", "x"), END };
	struct msg_error err;
	struct msg m;

	decode_refused(replay, over, MSG_CTX_REPLAY, -EINVAL, &m, &err);
	assert_string_equal(err.field, "id");
	assert_null(m.id);
	msg_free(&m);
}

/* err may be NULL. */
static void test_err_may_be_null(void **state)
{
	static const struct spec over[] = { OMIT("title"), END };
	struct buf b = build(incident, over);
	struct msg m;

	assert_int_equal(msg_decode(b.p, b.len, MSG_CTX_SUBMIT, &m, NULL),
			 -EINVAL);
	assert_string_equal(m.id, "r-1");
	msg_free(&m);
	assert_int_equal(msg_decode("", 0, MSG_CTX_SUBMIT, &m, NULL), -EINVAL);
	assert_int_equal(msg_decode("\x80", MSG_FRAME_MAX + 1, MSG_CTX_SUBMIT,
				    &m, NULL), -ERANGE);
	free(b.p);
}

/* ---- framing ---- */

static void test_empty_body(void **state)
{
	expect_lit("", MSG_CTX_SUBMIT, -EINVAL, "", "empty body");
}

static void test_not_a_map(void **state)
{
	expect_lit("\x91\xa1x", MSG_CTX_SUBMIT, -EINVAL, "",
		   "body is not a map");
	expect_lit("\xa6report", MSG_CTX_SUBMIT, -EINVAL, "",
	       "body is not a map");
	expect_lit("\x01", MSG_CTX_SUBMIT, -EINVAL, "", "body is not a map");
	expect_lit("\xc0", MSG_CTX_SUBMIT, -EINVAL, "", "body is not a map");
	expect_lit("\xc1", MSG_CTX_SUBMIT, -EINVAL, "", "body is not a map");
}

/* An empty map is not a heartbeat on the submit socket: v is missing. */
static void test_empty_map(void **state)
{
	expect_lit("\x80", MSG_CTX_SUBMIT, -EINVAL, "v", "v: required");
}

/* A frame larger than MSG_FRAME_MAX is too_large, before any byte is read. */
static void test_too_large(void **state)
{
	char *big = calloc(1, MSG_FRAME_MAX + 1);
	static const char one = '\x80';
	struct msg_error err;
	struct msg m;

	assert_non_null(big);
	big[0] = '\x81';
	expect(big, MSG_FRAME_MAX + 1, MSG_CTX_SUBMIT, -ERANGE, "", NULL);
	/* at the limit the body is judged, not its size */
	expect(big, MSG_FRAME_MAX, MSG_CTX_SUBMIT, -EINVAL, "", NULL);
	/* a length the buffer cannot back: ASan would catch a read */
	assert_int_equal(msg_decode(&one, SIZE_MAX, MSG_CTX_SUBMIT, &m, &err),
			 -ERANGE);
	assert_int_equal(err.code, CODE_TOO_LARGE);
	assert_string_equal(err.field, "");
	msg_free(&m);
	free(big);
}

static void test_trailing_bytes(void **state)
{
	struct buf b = build(incident, NULL);
	char *longer = malloc(b.len + 1);

	assert_non_null(longer);
	memcpy(longer, b.p, b.len);
	longer[b.len] = '\xc0';
	expect(longer, b.len + 1, MSG_CTX_SUBMIT, -EINVAL, "",
	       "trailing bytes after the body");
	/* a second map after the first */
	memcpy(longer, "\x80\x80", 2);
	expect(longer, 2, MSG_CTX_SUBMIT, -EINVAL, "",
	       "trailing bytes after the body");
	free(longer);
	free(b.p);
}

/* A key must be a string: an int, a bin or a nil key is refused. */
static void test_key_not_a_string(void **state)
{
	static const char *const bodies[] = {
		"\x81\x01\x01", "\x81\xc4\x01v\x01", "\x81\xc0\x01",
		"\x81\x91\x01\x01", "\x81\x81\x01\x01\x01",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bodies); i++)
		expect(bodies[i], strlen(bodies[i]), MSG_CTX_SUBMIT, -EINVAL,
		       "", "body has a key that is not a string");
}

/* 0xc1 is not msgpack. */
static void test_reserved_byte(void **state)
{
	expect_lit("\x81\xa1v\xc1", MSG_CTX_SUBMIT, -EINVAL, "",
	       "body is not valid msgpack");
}

/* 32 keys are read (and then judged); 33 are refused unread. */
static void test_key_count_limit(void **state)
{
	unsigned char b32[3 + 32 * 4], b33[3 + 33 * 4];
	size_t i, n;

	memcpy(b32, "\xde\x00\x20", 3);
	for (i = 0, n = 3; i < 32; i++) {
		b32[n++] = 0xa2;
		b32[n++] = 'k';
		b32[n++] = (unsigned char)('A' + i);
		b32[n++] = 0x01;
	}
	expect(b32, n, MSG_CTX_SUBMIT, -EINVAL, "v", "v: required");

	memcpy(b33, "\xde\x00\x21", 3);
	for (i = 0, n = 3; i < 33; i++) {
		b33[n++] = 0xa2;
		b33[n++] = 'k';
		b33[n++] = (unsigned char)('A' + i);
		b33[n++] = 0x01;
	}
	expect(b33, n, MSG_CTX_SUBMIT, -EINVAL, "",
	       "body has more than 32 keys");
}

/* ---- hostile frames ---- */

/* Five bytes declaring 2^32-1 entries cost nothing. */
static void test_map32_huge_count(void **state)
{
	expect_lit("\xdf\xff\xff\xff\xff", MSG_CTX_SUBMIT, -EINVAL, "",
	       "body has more than 32 keys");
	/* 32 declared, none present */
	expect_lit("\xdf\x00\x00\x00\x20", MSG_CTX_SUBMIT, -EINVAL, "",
	       "truncated body");
}

/* A str32, bin32 or map16 header declaring more than the frame holds. */
static void test_declared_lengths_beyond_frame(void **state)
{
	expect_lit("\x81\xa5title\xdb\xff\xff\xff\xff" "abc", MSG_CTX_SUBMIT,
	       -EINVAL, "", "truncated body");
	expect_lit("\x81\xdb\xff\xff\xff\xff" "v", MSG_CTX_SUBMIT, -EINVAL, "",
	       "truncated body");
	expect_lit("\x81\xa5title\xc6\xff\xff\xff\xff", MSG_CTX_SUBMIT,
	       -EINVAL, "", "truncated body");
	expect_lit("\x81\xa5title\xda\x00\x10" "abc", MSG_CTX_SUBMIT, -EINVAL,
	       "", "truncated body");
	expect_lit("\x81\xa5title\xa9" "abc", MSG_CTX_SUBMIT, -EINVAL, "",
	       "truncated body");
	expect_lit("\x81\xa5title\xcf\x00\x01", MSG_CTX_SUBMIT, -EINVAL, "",
	       "truncated body");
	expect_lit("\x81\xa5title\xcb\x00", MSG_CTX_SUBMIT, -EINVAL, "",
	       "truncated body");
}

/* Huge containers as values are refused at their header. */
static void test_huge_containers_as_values(void **state)
{
	expect_lit("\x81\xa5title\xdd\xff\xff\xff\xff", MSG_CTX_SUBMIT, -EINVAL,
	       "title", "title: expected a string");
	expect_lit("\x81\xa5title\xdf\xff\xff\xff\xff", MSG_CTX_SUBMIT, -EINVAL,
	       "title", "title: expected a string");
	expect_lit("\x81\xa5title\xc9\xff\xff\xff\xff\x01", MSG_CTX_SUBMIT,
	       -EINVAL, "title", "title: expected a string");
	expect_lit("\x81\xa5" "drill\xd4\x01\x01", MSG_CTX_SUBMIT, -EINVAL,
	       "drill", "drill: expected a boolean");
}

/* Nesting as deep as a frame allows costs one header: nothing recurses. */
static void test_deep_nesting(void **state)
{
	size_t n = MSG_FRAME_MAX - 1, depth = n - 7;
	unsigned char *b = malloc(n + 1);

	assert_non_null(b);
	memcpy(b, "\x81\xa5title", 7);
	memset(b + 7, 0x91, depth);
	b[n] = 0xc0;
	expect(b, n + 1, MSG_CTX_SUBMIT, -EINVAL, "title",
	       "title: expected a string");
	/* as the body itself */
	memset(b, 0x91, n);
	expect(b, n + 1, MSG_CTX_SUBMIT, -EINVAL, "", "body is not a map");
	/* maps in maps, under an unknown key */
	for (size_t i = 0; i + 3 <= n; i += 3)
		memcpy(b + i, "\x81\xa1x", 3);
	expect(b, n - n % 3, MSG_CTX_SUBMIT, -EINVAL, "x", "x: unknown key");
	free(b);
}

/* Every proper prefix of a valid body is refused, and nothing crashes. */
static void test_every_prefix_refused(void **state)
{
	struct msg full = {
		.type = MSG_REPORT_ACCEPTED, .id = "r-42", .agency = "cert-ro",
		.kind = KIND_PERIODIC, .category = CATEGORY_TOXIC_INFORMATION,
		.severity = SEVERITY_CRITICAL, .title = "T\xc3\xaftle",
		.body = "b", .locality = "RO", .task = "t-1",
		.period = "2026-H2", .has_occurred_at = true,
		.occurred_at = 1763000000000, .drill = true,
		.accepted_at = 1763000000001,
	};
	struct msg_error err;
	struct msg m;
	size_t len, cut;
	void *buf;
	char *copy;

	assert_int_equal(msg_encode(&full, &buf, &len), 0);
	for (cut = 0; cut < len; cut++) {
		copy = exact_copy(buf, cut);
		assert_int_equal(msg_decode(copy, cut, MSG_CTX_EVENT, &m, &err),
				 -EINVAL);
		assert_int_equal(err.code, CODE_INVALID);
		assert_empty_but_id(&m);
		msg_free(&m);
		free(copy);
	}
	copy = exact_copy(buf, len);
	assert_int_equal(msg_decode(copy, len, MSG_CTX_EVENT, &m, &err), 0);
	msg_free(&m);
	free(copy);
	free(buf);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15;

static uint64_t rng(void)
{
	/* xorshift64*: fixed seed, so a failure replays */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1d;
}

static void check_random(const unsigned char *b, size_t len,
			 enum msg_context ctx)
{
	char *copy = exact_copy(b, len);
	struct msg_error err;
	struct msg m;
	int r;

	r = msg_decode(copy, len, ctx, &m, &err);
	if (r == 0) {
		assert_true(m.type > MSG_NONE && m.type < MSG_HEARTBEAT);
		assert_int_equal(err.code, CODE_NONE);
	} else {
		if (r != -EINVAL && r != -EPROTONOSUPPORT)
			fail_msg("msg_decode returned %d", r);
		assert_int_equal(err.code, code_for(r));
		assert_true(err.text[0] != '\0');
		assert_empty_but_id(&m);
	}
	msg_free(&m);
	free(copy);
}

/* Random bytes and random damage to a valid body: never a crash. */
static void test_random_bytes(void **state)
{
	static const struct spec over[] = {
		S("body", "\xe2\x82\xac body"), U("occurred_at", 1763000000000),
		BOOL("drill", 1), S("agency", "cert-ro"), END,
	};
	struct buf valid = build(incident, over);
	unsigned char b[256];
	size_t i, j, len, flips;
	enum msg_context ctx;

	assert_true(valid.len <= sizeof b);
	for (i = 0; i < 100000; i++) {
		ctx = (enum msg_context)(rng() % 5);
		if (i % 2) {
			len = rng() % 128;
			for (j = 0; j < len; j++)
				b[j] = (unsigned char)rng();
			/* a map often enough to get past the first byte */
			if (len && rng() % 2)
				b[0] = (unsigned char)(0x80 | (rng() % 16));
		} else {
			len = valid.len;
			memcpy(b, valid.p, len);
			flips = 1 + rng() % 4;
			for (j = 0; j < flips; j++)
				b[rng() % len] = (unsigned char)rng();
			if (rng() % 4 == 0)
				len = rng() % (len + 1);
			ctx = MSG_CTX_SUBMIT;
		}
		check_random(b, len, ctx);
	}
	free(valid.p);
}

/* ---- round trips ---- */

static void assert_str_same(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void assert_msg_same(const struct msg *a, const struct msg *b)
{
	assert_int_equal(a->type, b->type);
	assert_str_same(a->id, b->id);
	assert_str_same(a->agency, b->agency);
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->category, b->category);
	assert_int_equal(a->severity, b->severity);
	assert_str_same(a->title, b->title);
	assert_str_same(a->body, b->body);
	assert_str_same(a->locality, b->locality);
	assert_str_same(a->task, b->task);
	assert_str_same(a->period, b->period);
	assert_int_equal(a->has_occurred_at, b->has_occurred_at);
	assert_int_equal(a->occurred_at, b->occurred_at);
	assert_int_equal(a->drill, b->drill);
	assert_int_equal(a->op, b->op);
	assert_int_equal(a->has_until, b->has_until);
	assert_int_equal(a->until, b->until);
	assert_str_same(a->to, b->to);
	assert_str_same(a->reason, b->reason);
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->accepted_at, b->accepted_at);
	assert_int_equal(a->duplicate, b->duplicate);
	assert_int_equal(a->code, b->code);
	assert_str_same(a->error, b->error);
	assert_int_equal(a->from, b->from);
	assert_int_equal(a->last, b->last);
}

static void round_trip(const struct msg *in, enum msg_context ctx)
{
	struct msg_error err;
	struct msg out;
	size_t len;
	void *buf;
	char *copy;

	assert_int_equal(msg_encode(in, &buf, &len), 0);
	copy = exact_copy(buf, len);
	assert_int_equal(msg_decode(copy, len, ctx, &out, &err), 0);
	assert_msg_same(in, &out);
	msg_free(&out);
	free(copy);
	free(buf);
}

static void test_round_trip_reports(void **state)
{
	struct msg full = {
		.type = MSG_REPORT, .id = "r-1", .agency = "cert-ro",
		.kind = KIND_INCIDENT, .category = CATEGORY_CYBERSECURITY,
		.severity = SEVERITY_LOW,
		.title = "\xc3\x9cn\xc3\xaf \xf0\x9d\x84\x9e",
		.body = "", .locality = "RO-B", .task = "t-1",
		.period = "2026", .has_occurred_at = true, .occurred_at = 0,
		.drill = true,
	};
	struct msg prog = {
		.type = MSG_REPORT, .id = "r-2", .kind = KIND_PROGRESS,
		.category = CATEGORY_CYBER_DEFENSE, .title = "p", .task = "t-2",
	};
	struct msg done = {
		.type = MSG_REPORT, .id = "r-3", .kind = KIND_COMPLETION,
		.category = CATEGORY_INFORMATION_SECURITY, .title = "c",
		.task = "t-3", .severity = SEVERITY_MEDIUM,
		.has_occurred_at = true, .occurred_at = INT64_MAX,
	};
	struct msg per = {
		.type = MSG_REPORT, .id = "r-4", .kind = KIND_PERIODIC,
		.category = CATEGORY_TOXIC_INFORMATION, .title = "q",
		.period = "2026-W53",
	};

	round_trip(&full, MSG_CTX_SUBMIT);
	round_trip(&prog, MSG_CTX_SUBMIT);
	round_trip(&done, MSG_CTX_SUBMIT);
	round_trip(&per, MSG_CTX_SUBMIT);
}

static void test_round_trip_commands(void **state)
{
	struct msg c = {
		.type = MSG_COMMAND, .id = "c-1", .op = OP_COMPLETE,
		.task = "t-1", .reason = "done",
	};

	round_trip(&c, MSG_CTX_SUBMIT);
	c.op = OP_CANCEL;
	c.agency = "office";
	round_trip(&c, MSG_CTX_SUBMIT);
	c.op = OP_EXTEND;
	c.has_until = true;
	c.until = 1800000000000;
	round_trip(&c, MSG_CTX_SUBMIT);
	c.op = OP_REASSIGN;
	c.has_until = false;
	c.until = 0;
	c.to = "cert-ro";
	round_trip(&c, MSG_CTX_SUBMIT);
}

static void test_round_trip_events(void **state)
{
	struct msg r = {
		.type = MSG_REPORT_ACCEPTED, .id = "r-1", .agency = "cert-ro",
		.kind = KIND_INCIDENT, .category = CATEGORY_CYBERSECURITY,
		.severity = SEVERITY_CRITICAL, .title = "t", .drill = true,
		.accepted_at = 1763000000123,
	};
	struct msg c = {
		.type = MSG_COMMAND_ACCEPTED, .id = "c-1", .agency = "office",
		.op = OP_EXTEND, .task = "t-1", .reason = "r",
		.has_until = true, .until = 5, .accepted_at = 0,
	};

	round_trip(&r, MSG_CTX_EVENT);
	round_trip(&c, MSG_CTX_EVENT);
}

static void test_round_trip_answers(void **state)
{
	struct msg a = {
		.type = MSG_ACK, .id = "r-1", .seq = 1,
		.accepted_at = 1763000000123,
	};
	struct msg n = {
		.type = MSG_NACK, .id = "r-1", .code = CODE_FORBIDDEN,
		.error = "agency: not yours",
	};

	round_trip(&a, MSG_CTX_ANSWER);
	a.duplicate = true;
	a.seq = UINT64_MAX;
	round_trip(&a, MSG_CTX_ANSWER);
	round_trip(&n, MSG_CTX_ANSWER);
	n.id = NULL;
	n.code = CODE_TOO_LARGE;
	round_trip(&n, MSG_CTX_ANSWER);
}

static void test_round_trip_replay(void **state)
{
	struct msg r = { .type = MSG_REPLAY, .from = 0 };
	struct msg e = { .type = MSG_REPLAY_END, .last = UINT64_MAX };

	round_trip(&r, MSG_CTX_REPLAY);
	r.from = 12345678901234ULL;
	round_trip(&r, MSG_CTX_REPLAY);
	round_trip(&e, MSG_CTX_REPLAY_END);
}

/* A heartbeat is the empty map; it has no context to decode in. */
static void test_encode_heartbeat(void **state)
{
	struct msg hb = { .type = MSG_HEARTBEAT, .id = "ignored" };
	size_t len;
	void *buf;

	assert_int_equal(msg_encode(&hb, &buf, &len), 0);
	assert_int_equal(len, 1);
	assert_memory_equal(buf, "\x80", 1);
	free(buf);
}

/* The encoder writes the fields that are set and no others. */
static void test_encode_only_set_fields(void **state)
{
	struct msg r = {
		.type = MSG_REPORT, .id = "r-1", .kind = KIND_PROGRESS,
		.category = CATEGORY_CYBERSECURITY, .title = "t",
		.task = "t-1", .seq = 9, .reason = "not a report field",
	};
	msgpack_unpacked u;
	size_t len;
	void *buf;

	assert_int_equal(msg_encode(&r, &buf, &len), 0);
	msgpack_unpacked_init(&u);
	assert_int_equal(msgpack_unpack_next(&u, buf, len, NULL),
			 MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(u.data.type, MSGPACK_OBJECT_MAP);
	/* v, type, id, kind, category, title, task */
	assert_int_equal(u.data.via.map.size, 7);
	msgpack_unpacked_destroy(&u);
	free(buf);
}

/* A struct the decoder would refuse is not encoded. */
static void test_encode_refuses_missing_fields(void **state)
{
	static const struct msg bad[] = {
		{ .type = MSG_NONE },
		{ .type = MSG_TYPE_COUNT },
		{ .type = MSG_REPORT, .kind = KIND_PROGRESS,
		  .category = CATEGORY_CYBERSECURITY, .title = "t",
		  .task = "t" },
		{ .type = MSG_REPORT, .id = "r",
		  .category = CATEGORY_CYBERSECURITY, .title = "t" },
		{ .type = MSG_REPORT, .id = "r", .kind = KIND_PROGRESS,
		  .category = 99, .title = "t", .task = "t" },
		{ .type = MSG_REPORT, .id = "r", .kind = KIND_PROGRESS,
		  .category = CATEGORY_CYBERSECURITY, .task = "t" },
		{ .type = MSG_REPORT, .id = "r", .kind = KIND_INCIDENT,
		  .category = CATEGORY_CYBERSECURITY, .title = "t" },
		{ .type = MSG_REPORT, .id = "r", .kind = KIND_COMPLETION,
		  .category = CATEGORY_CYBERSECURITY, .title = "t" },
		{ .type = MSG_REPORT, .id = "r", .kind = KIND_PERIODIC,
		  .category = CATEGORY_CYBERSECURITY, .title = "t" },
		{ .type = MSG_REPORT, .id = "r", .kind = KIND_INCIDENT,
		  .category = CATEGORY_CYBERSECURITY, .title = "t",
		  .severity = 9 },
		{ .type = MSG_REPORT, .id = "r", .kind = KIND_PERIODIC,
		  .category = CATEGORY_CYBERSECURITY, .title = "t",
		  .period = "2026", .has_occurred_at = true,
		  .occurred_at = -1 },
		{ .type = MSG_REPORT_ACCEPTED, .id = "r", .kind = KIND_PROGRESS,
		  .category = CATEGORY_CYBERSECURITY, .title = "t",
		  .task = "t" },
		{ .type = MSG_COMMAND, .id = "c", .op = OP_COMPLETE,
		  .task = "t" },
		{ .type = MSG_COMMAND, .id = "c", .op = OP_NONE, .task = "t",
		  .reason = "r" },
		{ .type = MSG_COMMAND, .id = "c", .op = OP_EXTEND, .task = "t",
		  .reason = "r" },
		{ .type = MSG_COMMAND, .id = "c", .op = OP_CANCEL, .task = "t",
		  .reason = "r", .has_until = true },
		{ .type = MSG_COMMAND, .id = "c", .op = OP_REASSIGN,
		  .task = "t", .reason = "r" },
		{ .type = MSG_COMMAND, .id = "c", .op = OP_COMPLETE,
		  .task = "t", .reason = "r", .to = "x" },
		{ .type = MSG_COMMAND_ACCEPTED, .id = "c", .op = OP_COMPLETE,
		  .task = "t", .reason = "r" },
		{ .type = MSG_ACK, .seq = 1 },
		{ .type = MSG_NACK, .code = CODE_NONE, .error = "e" },
		{ .type = MSG_NACK, .code = CODE_INVALID },
	};
	size_t i, len = 0;
	void *buf = NULL;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		if (msg_encode(&bad[i], &buf, &len) != -EINVAL)
			fail_msg("bad[%zu] was not refused", i);
		assert_null(buf);
	}
}

/* ---- names ---- */

static void test_names(void **state)
{
	assert_string_equal(msg_type_name(MSG_REPORT), "report");
	assert_string_equal(msg_type_name(MSG_REPLAY_END), "replay-end");
	assert_string_equal(msg_type_name(MSG_REPORT_ACCEPTED),
			    "report.accepted");
	assert_string_equal(msg_type_name(MSG_HEARTBEAT), "hb");
	assert_null(msg_type_name(MSG_NONE));
	assert_null(msg_type_name(MSG_TYPE_COUNT));

	assert_string_equal(msg_kind_name(KIND_PERIODIC), "periodic");
	assert_null(msg_kind_name(KIND_NONE));
	assert_null(msg_kind_name(KIND_PERIODIC + 1));
	assert_string_equal(msg_category_name(CATEGORY_CYBER_DEFENSE),
			    "cyber-defense");
	assert_null(msg_category_name(CATEGORY_TOXIC_INFORMATION + 1));
	assert_string_equal(msg_severity_name(SEVERITY_CRITICAL), "critical");
	assert_null(msg_severity_name(SEVERITY_NONE));
	assert_null(msg_severity_name(SEVERITY_CRITICAL + 1));
	assert_string_equal(msg_op_name(OP_REASSIGN), "reassign");
	assert_null(msg_op_name(OP_CANCEL + 1));
	assert_string_equal(msg_code_name(CODE_UNSUPPORTED_VERSION),
			    "unsupported_version");
	assert_string_equal(msg_code_name(CODE_TOO_LARGE), "too_large");
	assert_null(msg_code_name(CODE_NONE));
	assert_null(msg_code_name(CODE_INTERNAL + 1));
}

/* Every name reads back as its value; anything else is NONE. */
static void test_names_inverse(void **state)
{
	int v;

	for (v = KIND_INCIDENT; v <= KIND_PERIODIC; v++)
		assert_int_equal(msg_kind_from(msg_kind_name(v)), v);
	for (v = SEVERITY_LOW; v <= SEVERITY_CRITICAL; v++)
		assert_int_equal(msg_severity_from(msg_severity_name(v)), v);
	for (v = OP_COMPLETE; v <= OP_CANCEL; v++)
		assert_int_equal(msg_op_from(msg_op_name(v)), v);
	for (v = CATEGORY_CYBERSECURITY; v <= CATEGORY_TOXIC_INFORMATION; v++)
		assert_int_equal(msg_category_from(msg_category_name(v)), v);
	assert_int_equal(msg_kind_from("Incident"), KIND_NONE);
	assert_int_equal(msg_kind_from(""), KIND_NONE);
	assert_int_equal(msg_kind_from(NULL), KIND_NONE);
	assert_int_equal(msg_category_from("cyber"), CATEGORY_NONE);
	assert_int_equal(msg_severity_from("highest"), SEVERITY_NONE);
	assert_int_equal(msg_op_from("complet"), OP_NONE);
}

static void test_topics(void **state)
{
	static const char topic[] = "report.acceptedXYZ";

	assert_string_equal(msg_topic(MSG_REPORT_ACCEPTED), "report.accepted");
	assert_string_equal(msg_topic(MSG_COMMAND_ACCEPTED),
			    "command.accepted");
	assert_string_equal(msg_topic(MSG_HEARTBEAT), "hb");
	assert_null(msg_topic(MSG_REPORT));
	assert_null(msg_topic(MSG_ACK));
	assert_null(msg_topic(MSG_NONE));
	assert_null(msg_topic(MSG_TYPE_COUNT));

	/* a topic is bytes with a length, not a C string */
	assert_int_equal(msg_topic_type(topic, 15), MSG_REPORT_ACCEPTED);
	assert_int_equal(msg_topic_type(topic, 14), MSG_NONE);
	assert_int_equal(msg_topic_type(topic, 16), MSG_NONE);
	assert_int_equal(msg_topic_type("command.accepted", 16),
			 MSG_COMMAND_ACCEPTED);
	assert_int_equal(msg_topic_type("hbx", 2), MSG_HEARTBEAT);
	assert_int_equal(msg_topic_type("task.created", 12), MSG_NONE);
	assert_int_equal(msg_topic_type("report", 6), MSG_NONE);
	assert_int_equal(msg_topic_type("", 0), MSG_NONE);
}

static void test_agency_valid(void **state)
{
	char name[MSG_AGENCY_MAX + 2];

	assert_true(msg_agency_valid("cert-ro"));
	assert_true(msg_agency_valid("A.b_c-9"));
	assert_true(msg_agency_valid("x"));
	memset(name, 'a', MSG_AGENCY_MAX);
	name[MSG_AGENCY_MAX] = '\0';
	assert_true(msg_agency_valid(name));
	name[MSG_AGENCY_MAX] = 'a';
	name[MSG_AGENCY_MAX + 1] = '\0';
	assert_false(msg_agency_valid(name));
	assert_false(msg_agency_valid(""));
	assert_false(msg_agency_valid(NULL));
	assert_false(msg_agency_valid("cert ro"));
	assert_false(msg_agency_valid("cert/ro"));
	assert_false(msg_agency_valid("cert*"));
	assert_false(msg_agency_valid("\xc3\xa7"));
}

static void test_utf8_valid(void **state)
{
	static const struct {
		const char *s;
		size_t len;
		bool ok;
	} cases[] = {
		{ "", 0, true },
		{ "plain", 5, true },
		{ "a\0b", 3, true },			/* NUL: decoder's job */
		{ "\xc2\x80", 2, true },		/* U+0080 */
		{ "\xdf\xbf", 2, true },		/* U+07FF */
		{ "\xe0\xa0\x80", 3, true },		/* U+0800 */
		{ "\xed\x9f\xbf", 3, true },		/* U+D7FF */
		{ "\xee\x80\x80", 3, true },		/* U+E000 */
		{ "\xef\xbf\xbf", 3, true },		/* U+FFFF */
		{ "\xf0\x90\x80\x80", 4, true },	/* U+10000 */
		{ "\xf4\x8f\xbf\xbf", 4, true },	/* U+10FFFF */
		{ "\xc0\x80", 2, false },		/* overlong NUL */
		{ "\xc1\xbf", 2, false },		/* overlong */
		{ "\xe0\x9f\xbf", 3, false },		/* overlong */
		{ "\xf0\x8f\xbf\xbf", 4, false },	/* overlong */
		{ "\xed\xa0\x80", 3, false },		/* U+D800 */
		{ "\xed\xbf\xbf", 3, false },		/* U+DFFF */
		{ "\xf4\x90\x80\x80", 4, false },	/* U+110000 */
		{ "\xf5\x80\x80\x80", 4, false },
		{ "\xf8\x88\x80\x80\x80", 5, false },
		{ "\xff", 1, false },
		{ "\x80", 1, false },
		{ "\xc3", 1, false },			/* cut */
		{ "\xe2\x82", 2, false },		/* cut */
		{ "\xf0\x9f\x98", 3, false },		/* cut */
		{ "\xe2\x28\xa1", 3, false },		/* bad continuation */
		{ "\xc3\xa9", 1, false },		/* len cuts it */
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		if (msg_utf8_valid(cases[i].s, cases[i].len) != cases[i].ok)
			fail_msg("case %zu: expected %s", i,
				 cases[i].ok ? "valid" : "invalid");
}

/* msg_free takes a zeroed msg and leaves one. */
static void test_free_zeroed(void **state)
{
	struct msg m;

	memset(&m, 0, sizeof m);
	msg_free(&m);
	assert_null(m._arena);
}

int main(void)
{
	static struct CMUnitTest rule_tests[ARRAY_SIZE(rules)];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report_fields_decoded),
		cmocka_unit_test(test_nack_nil_id_decoded),
		cmocka_unit_test(test_id_echoed_on_failure),
		cmocka_unit_test(test_id_echoed_when_last),
		cmocka_unit_test(test_id_echoed_after_a_bad_value),
		cmocka_unit_test(test_id_echoed_on_unsupported_version),
		cmocka_unit_test(test_id_echoed_on_truncated_body),
		cmocka_unit_test(test_id_absent_when_invalid),
		cmocka_unit_test(test_id_not_echoed_for_replay),
		cmocka_unit_test(test_err_may_be_null),
		cmocka_unit_test(test_empty_body),
		cmocka_unit_test(test_not_a_map),
		cmocka_unit_test(test_empty_map),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_trailing_bytes),
		cmocka_unit_test(test_key_not_a_string),
		cmocka_unit_test(test_reserved_byte),
		cmocka_unit_test(test_key_count_limit),
		cmocka_unit_test(test_map32_huge_count),
		cmocka_unit_test(test_declared_lengths_beyond_frame),
		cmocka_unit_test(test_huge_containers_as_values),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_every_prefix_refused),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_round_trip_reports),
		cmocka_unit_test(test_round_trip_commands),
		cmocka_unit_test(test_round_trip_events),
		cmocka_unit_test(test_round_trip_answers),
		cmocka_unit_test(test_round_trip_replay),
		cmocka_unit_test(test_encode_heartbeat),
		cmocka_unit_test(test_encode_only_set_fields),
		cmocka_unit_test(test_encode_refuses_missing_fields),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_names_inverse),
		cmocka_unit_test(test_topics),
		cmocka_unit_test(test_agency_valid),
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_free_zeroed),
	};
	size_t i;
	int failed;

	for (i = 0; i < ARRAY_SIZE(rules); i++)
		rule_tests[i] = (struct CMUnitTest){
			.name = rules[i].name,
			.test_func = run_rule,
			.initial_state = (void *)&rules[i],
		};
	failed = cmocka_run_group_tests_name("msg rules", rule_tests, NULL,
					     NULL);
	failed += cmocka_run_group_tests_name("msg", tests, NULL, NULL);
	return failed ? 1 : 0;
}
