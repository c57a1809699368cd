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
#define DUPRAW(k, v)	{ .key = (k), .t = T_RAW, .s = (v), \
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

/*
 * Decode bytes, as an event published under topic or, when topic is NULL,
 * in ctx; assert the answer, the code and the field.
 */
static void expect_in(const char *topic, const void *bytes, size_t len,
		      enum msg_context ctx, int rc, const char *field,
		      const char *text)
{
	char *copy = exact_copy(bytes, len);
	char *tcopy = topic ? exact_copy(topic, strlen(topic)) : NULL;
	struct msg_error err;
	struct msg m;
	int r;

	if (topic)
		r = msg_decode_event(tcopy, strlen(topic), copy, len, &m, &err);
	else
		r = msg_decode(copy, len, ctx, &m, &err);
	free(tcopy);
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

static void expect(const void *bytes, size_t len, enum msg_context ctx,
		   int rc, const char *field, const char *text)
{
	expect_in(NULL, bytes, len, ctx, rc, field, text);
}

/* A literal's bytes, embedded NULs included. */
#define expect_lit(lit, ...)	expect(lit, sizeof(lit) - 1, __VA_ARGS__)
/* The same, as an event body published under topic. */
#define expect_ev(topic, lit, ...) \
	expect_in(topic, lit, sizeof(lit) - 1, MSG_CTX_EVENT, __VA_ARGS__)

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

/* An operator's retry of a dead delivery, as batonctl sends it. */
#define DELIVERY	"T-1/1/overdue:mps-a05:email"

static const struct spec retry[] = {
	U("v", 1), S("type", "command"), S("id", "c-4"), S("op", "retry"),
	S("delivery", DELIVERY), S("task", "T-1"),
	S("reason", "the mail server is back"), END,
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

/* task.created as the router writes it for a rule with no lists */
static const struct spec task_min[] = {
	U("v", 1), S("type", "task"), S("task", "T-7"), S("state", "open"),
	S("change", "created"), S("agency", "cert-ro"),
	S("category", "cybersecurity"), S("title", "Intrusion"),
	U("created_at", 1763000000123), U("due_at", 1763086400123),
	U("plan", 1), S("rule", "key-systems"), U("origin_seq", 7),
	U("cause_seq", 7), END,
};

/* Every key a task may carry; the arrays are in the middle. */
static const struct spec task_full[] = {
	U("v", 1), S("type", "task"), S("task", "T-7"), S("state", "open"),
	S("change", "created"), S("agency", "cert-ro"),
	S("category", "cybersecurity"), S("severity", "high"),
	S("title", "Intrusion"), BOOL("drill", 1),
	U("created_at", 1763000000123), U("due_at", 1763086400123),
	U("plan", 1), S("rule", "key-systems"),
	RAW("reminders", "\x92\xce\x05\x26\x5c\x00\xce\x00\x6d\xdd\x00"),
	RAW("escalate_to", "\x92\xa6" "office" "\xa9" "committee"),
	RAW("escalate_after", "\x92\x00\xce\x0a\x4c\xb8\x00"),
	RAW("notify", "\x91\xa3" "mic"), S("origin_agency", "mic"),
	S("origin_id", "r-1"), U("origin_seq", 7), U("cause_seq", 7),
	S("by", "mic"), S("note", ""), S("reason", "first"),
	S("period", "2026-Q3"), END,
};

static const struct spec refusal[] = {
	U("v", 1), S("type", "refusal"), S("task", "T-7"), S("agency", "mic"),
	S("id", "r-9"), U("cause_seq", 12),
	S("reason", "task T-7 is assigned to cert-ro, not mic"), END,
};

static const struct spec replay[] = {
	U("v", 1), S("type", "replay"), U("from", 5), END,
};

static const struct spec alert_min[] = {
	U("v", 1), S("type", "alert"), S("alert_id", "T-7/1/reminder-1"),
	S("kind", "reminder"), S("agency", "cert-ro"), S("title", "Intrusion"),
	U("due_at", 1763086400123), U("fired_at", 1763000000123),
	BOOL("late", 0), END,
};

/* alert.refused as baton-notify writes it: no due_at, and why. */
static const struct spec alert_refused[] = {
	U("v", 1), S("type", "alert"), S("alert_id", "T-7/refused/12"),
	S("kind", "refused"), S("task", "T-7"), S("agency", "mic"),
	S("title", "mic's r-9 on T-7 changed nothing"),
	U("fired_at", 1763000000123), BOOL("late", 0),
	S("reason", "task T-7 is assigned to cert-ro, not mic"), END,
};

static const struct spec replay_end[] = {
	U("v", 1), S("type", "replay-end"), U("last", 9), END,
};

/* ---- the rule table ---- */

struct rule {
	const char *name;
	enum msg_context ctx;
	const struct spec *base;
	struct spec over[5];
	int rc;
	const char *field;
	const char *text;	/* NULL: any sentence */
	const char *topic;	/* msg_decode_event() under it; ctx unused */
};

#define SUB	MSG_CTX_SUBMIT
#define EVT	MSG_CTX_EVENT
#define ANS	MSG_CTX_ANSWER
#define RPL	MSG_CTX_REPLAY
#define RPE	MSG_CTX_REPLAY_END

#define OK(n, c, b, ...)	{ n, c, b, { __VA_ARGS__ }, 0, NULL, NULL, \
				  NULL }
#define NO(n, c, b, f, t, ...)	{ n, c, b, { __VA_ARGS__ }, -EINVAL, f, t, \
				  NULL }
#define VER(n, c, b, t, ...)	{ n, c, b, { __VA_ARGS__ }, \
				  -EPROTONOSUPPORT, "v", t, NULL }
/* The same, as msg_decode_event() under a topic. */
#define TOK(n, tp, b, ...)	{ .name = n, .topic = tp, .base = b, \
				  .over = { __VA_ARGS__ } }
#define TNO(n, tp, b, f, t, ...) \
	{ .name = n, .topic = tp, .base = b, .over = { __VA_ARGS__ }, \
	  .rc = -EINVAL, .field = f, .text = t }
#define TVER(n, tp, b, t, ...) \
	{ .name = n, .topic = tp, .base = b, .over = { __VA_ARGS__ }, \
	  .rc = -EPROTONOSUPPORT, .field = "v", .text = t }

#define TC	"task.created"
#define TU	"task.updated"
#define TCL	"task.closed"
#define TR	"task.refused"
#define AR	"alert.reminder"
#define AE	"alert.escalation"
#define AO	"alert.overdue"
#define ARF	"alert.refused"
#define RA	"report.accepted"
#define CA	"command.accepted"

#define A16		"aaaaaaaaaaaaaaaa"
#define ONES16		"\x01\x01\x01\x01\x01\x01\x01\x01" \
			"\x01\x01\x01\x01\x01\x01\x01\x01"
#define OFFICE16	"\xa6" "office" "\xa6" "office" "\xa6" "office" \
			"\xa6" "office" "\xa6" "office" "\xa6" "office" \
			"\xa6" "office" "\xa6" "office" "\xa6" "office" \
			"\xa6" "office" "\xa6" "office" "\xa6" "office" \
			"\xa6" "office" "\xa6" "office" "\xa6" "office" \
			"\xa6" "office"

#define PERIOD_TEXT	"period: must be YYYY, YYYY-Qn, YYYY-Hn, YYYY-MM, " \
			"YYYY-Www, YYYY-MM-DD or YYYYMMDDThhmmssZ"
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
	OK("period YYYY-MM-DD accepted", SUB, periodic,
	   S("period", "2026-11-26")),
	OK("period YYYYMMDDThhmmssZ accepted", SUB, periodic,
	   S("period", "20261126T235959Z")),
	NO("period day 32 is invalid", SUB, periodic, "period", PERIOD_TEXT,
	   S("period", "2026-11-32")),
	NO("period with colons is invalid", SUB, periodic, "period",
	   PERIOD_TEXT, S("period", "2026-11-26T08:00")),
	NO("period hour 24 is invalid", SUB, periodic, "period", PERIOD_TEXT,
	   S("period", "20261126T240000Z")),
	NO("period without Z is invalid", SUB, periodic, "period",
	   PERIOD_TEXT, S("period", "20261126T080000+")),
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
	   "op: must be one of complete, extend, reassign, cancel, wait, "
	   "resume, retry",
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

	/* retry: a dead delivery, named by its id */
	OK("retry command accepted", SUB, retry),
	OK("retry command with agency accepted", SUB, retry,
	   S("agency", "office")),
	NO("delivery is required for retry", SUB, retry, "delivery",
	   "delivery: required for retry", OMIT("delivery")),
	NO("delivery is refused for complete", SUB, complete, "delivery",
	   "delivery: only for retry", S("delivery", DELIVERY)),
	NO("delivery is refused for extend", SUB, extend, "delivery",
	   "delivery: only for retry", S("delivery", DELIVERY)),
	NO("delivery is refused for reassign", SUB, reassign, "delivery",
	   "delivery: only for retry", S("delivery", DELIVERY)),
	NO("delivery is refused for cancel", SUB, complete, "delivery",
	   "delivery: only for retry", S("op", "cancel"),
	   S("delivery", DELIVERY)),
	NO("delivery empty is invalid", SUB, retry, "delivery",
	   "delivery: must not be empty", S("delivery", "")),
	OK("delivery of 256 bytes accepted", SUB, retry,
	   REP("delivery", "d", MSG_DELIVERY_MAX)),
	NO("delivery of 257 bytes is invalid", SUB, retry, "delivery",
	   "delivery: longer than 256 bytes",
	   REP("delivery", "d", MSG_DELIVERY_MAX + 1)),
	NO("delivery as int is invalid", SUB, retry, "delivery",
	   "delivery: expected a string", U("delivery", 1)),
	NO("delivery nil is invalid", SUB, retry, "delivery", NULL,
	   NIL("delivery")),
	NO("duplicate delivery is invalid", SUB, retry, "delivery",
	   "delivery: duplicate key", DUP("delivery", DELIVERY)),
	NO("task is required for retry", SUB, retry, "task", "task: required",
	   OMIT("task")),
	NO("reason is required for retry", SUB, retry, "reason",
	   "reason: required", OMIT("reason")),
	NO("until is refused for retry", SUB, retry, "until",
	   "until: only for extend", U("until", 1)),
	NO("to is refused for retry", SUB, retry, "to",
	   "to: only for reassign", S("to", "cert-ro")),
	NO("delivery is unknown in a report", SUB, incident, "delivery",
	   "delivery: unknown key", S("delivery", DELIVERY)),

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
	OK("retry event accepted", EVT, ev_command, S("op", "retry"),
	   S("delivery", DELIVERY)),
	NO("retry event requires delivery", EVT, ev_command, "delivery",
	   "delivery: required for retry", S("op", "retry")),
	NO("delivery is refused in a cancel event", EVT, ev_command,
	   "delivery", "delivery: only for retry", S("delivery", DELIVERY)),
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

	/* events by topic: the bodies each one takes */
	TOK("minimal task.created accepted", TC, task_min),
	TOK("full task.created accepted", TC, task_full),
	TOK("task.updated in state waiting accepted", TU, task_min,
	    S("state", "waiting"), S("change", "waiting"),
	    U("waiting_since", 1763000000500)),
	TNO("state waiting requires waiting_since", TU, task_min,
	    "waiting_since",
	    "waiting_since: required with state waiting, and only then",
	    S("state", "waiting")),
	TNO("waiting_since only with state waiting", TU, task_min,
	    "waiting_since",
	    "waiting_since: required with state waiting, and only then",
	    U("waiting_since", 1763000000500)),
	TOK("task with changed_at, business, working_hours accepted", TU,
	    task_min, U("changed_at", 1763000000500), BOOL("business", 1),
	    BOOL("working_hours", 1), S("change", "resumed")),
	TNO("task business as string is invalid", TU, task_min, "business",
	    "business: expected a boolean", S("business", "yes")),
	TOK("task.updated accepted", TU, task_full, S("state", "in-progress"),
	    S("change", "progress")),
	TOK("task.updated may carry a closed state", TU, task_min,
	    S("state", "done"), S("change", "completed")),
	TOK("task.closed done accepted", TCL, task_full, S("state", "done"),
	    S("change", "completed")),
	TOK("task.closed cancelled accepted", TCL, task_min,
	    S("state", "cancelled"), S("change", "cancelled")),
	TNO("task.closed open is invalid", TCL, task_min, "state",
	    "state: a closed task is done or cancelled"),
	TNO("task.closed in-progress is invalid", TCL, task_full, "state",
	    "state: a closed task is done or cancelled",
	    S("state", "in-progress")),
	TNO("task.closed waiting is invalid", TCL, task_min, "state",
	    "state: a closed task is done or cancelled", S("state", "waiting")),
	TOK("refusal accepted", TR, refusal),
	TOK("minimal alert accepted", AR, alert_min),
	TOK("alert with every field accepted", AE, alert_min,
	    S("kind", "escalation"), U("level", 2), S("to", "office"),
	    S("task", "T-7"), U("planned_at", 1763000000000)),
	TNO("alert kind must fit the topic", AE, alert_min, "kind",
	    "kind: must be escalation on topic alert.escalation"),
	TNO("alert kind must be an alert kind", AR, alert_min, "kind",
	    "kind: must be one of task-assigned, reminder, overdue, "
	    "escalation, missing-report, refused", S("kind", "incident")),
	TNO("escalation requires level", AE, alert_min, "level",
	    "level: required for an escalation, and only then",
	    S("kind", "escalation"), S("to", "office")),
	TNO("escalation requires to", AE, alert_min, "to",
	    "to: required for an escalation, and only then",
	    S("kind", "escalation"), U("level", 1)),
	TNO("level only for escalation", AR, alert_min, "level",
	    "level: required for an escalation, and only then",
	    U("level", 1)),
	TNO("alert requires late", AR, alert_min, "late", "late: required",
	    OMIT("late")),
	TNO("alert requires alert_id", AR, alert_min, "alert_id",
	    "alert_id: required", OMIT("alert_id")),
	TNO("alert on alert.unknown is an unknown topic", "alert.unknown",
	    alert_min, "", "unknown topic"),
	TNO("alert body on a task topic is invalid", TC, alert_min, "type",
	    "type: must be task on topic task.created"),

	/* refused: no due_at, a reason; every other kind the other way */
	TOK("refused alert accepted", ARF, alert_refused),
	TOK("refused alert without task accepted", ARF, alert_refused,
	    OMIT("task")),
	TNO("refused alert with due_at is invalid", ARF, alert_refused,
	    "due_at", "due_at: not for a refusal", U("due_at", 1763086400123)),
	TNO("refused alert with due_at 0 is invalid", ARF, alert_refused,
	    "due_at", "due_at: not for a refusal", U("due_at", 0)),
	TNO("refused alert requires reason", ARF, alert_refused, "reason",
	    "reason: required for a refusal, and only then", OMIT("reason")),
	TNO("refused alert reason empty is invalid", ARF, alert_refused,
	    "reason", "reason: must not be empty", S("reason", "")),
	TOK("refused alert reason of 1024 bytes accepted", ARF, alert_refused,
	    REP("reason", "r", MSG_REASON_MAX)),
	TNO("refused alert reason of 1025 bytes is invalid", ARF,
	    alert_refused, "reason", "reason: longer than 1024 bytes",
	    REP("reason", "r", MSG_REASON_MAX + 1)),
	TNO("refused alert is no escalation", ARF, alert_refused, "level",
	    "level: required for an escalation, and only then", U("level", 1),
	    S("to", "office")),
	TNO("overdue alert with reason is invalid", AO, alert_min, "reason",
	    "reason: required for a refusal, and only then",
	    S("kind", "overdue"), S("reason", "late")),
	TNO("reminder alert with reason is invalid", AR, alert_min, "reason",
	    "reason: required for a refusal, and only then",
	    S("reason", "late")),
	TNO("escalation alert with reason is invalid", AE, alert_min,
	    "reason", "reason: required for a refusal, and only then",
	    S("kind", "escalation"), U("level", 1), S("to", "office"),
	    S("reason", "late")),
	TNO("overdue alert requires due_at", AO, alert_min, "due_at",
	    "due_at: required", S("kind", "overdue"), OMIT("due_at")),
	TNO("reminder alert requires due_at", AR, alert_min, "due_at",
	    "due_at: required", OMIT("due_at")),
	TNO("refused body on alert.overdue is invalid", AO, alert_refused,
	    "kind", "kind: must be overdue on topic alert.overdue"),
	TNO("overdue body on alert.refused is invalid", ARF, alert_min,
	    "kind", "kind: must be refused on topic alert.refused",
	    S("kind", "overdue")),
	TNO("delivery is unknown in an alert", ARF, alert_refused, "delivery",
	    "delivery: unknown key", S("delivery", DELIVERY)),
	TOK("report on report.accepted accepted", RA, ev_report),
	TOK("command on command.accepted accepted", CA, ev_command),
	TOK("extend on command.accepted accepted", CA, ev_command,
	    S("op", "extend"), U("until", 1800000000000)),
	TOK("retry on command.accepted accepted", CA, ev_command,
	    S("op", "retry"), S("delivery", DELIVERY)),

	/* the body type must fit the topic */
	TNO("report body on task.created is invalid", TC, ev_report, "type",
	    "type: must be task on topic task.created"),
	TNO("refusal body on task.updated is invalid", TU, refusal, "type",
	    "type: must be task on topic task.updated"),
	TNO("command body on task.closed is invalid", TCL, ev_command, "type",
	    "type: must be task on topic task.closed"),
	TNO("task body on task.refused is invalid", TR, task_min, "type",
	    "type: must be refusal on topic task.refused"),
	TNO("report body on task.refused is invalid", TR, ev_report, "type",
	    "type: must be refusal on topic task.refused"),
	TNO("task body on report.accepted is invalid", RA, task_min, "type",
	    "type: must be report on topic report.accepted"),
	TNO("command body on report.accepted is invalid", RA, ev_command,
	    "type", "type: must be report on topic report.accepted"),
	TNO("report body on command.accepted is invalid", CA, ev_report,
	    "type", "type: must be command on topic command.accepted"),
	TNO("refusal body on command.accepted is invalid", CA, refusal,
	    "type", "type: must be command on topic command.accepted"),
	TNO("ack body on a topic is invalid", TC, ack, "type",
	    "type: must be task on topic task.created"),
	TNO("type is required on a topic", TC, task_min, "type",
	    "type: required", OMIT("type")),
	TNO("type as int on a topic is invalid", TC, task_min, "type",
	    "type: expected a string", U("type", 1)),
	TNO("type is case-sensitive on a topic", TC, task_min, "type", NULL,
	    S("type", "Task")),
	TVER("v 2 on a topic is unsupported_version", TC, task_min,
	     "v: version 2 is not supported, only 1", U("v", 2)),
	TVER("v 2 is judged before the topic's type", TR, task_min, NULL,
	     U("v", 2)),
	TNO("v is required on a topic", TR, refusal, "v", "v: required",
	    OMIT("v")),
	TNO("report.accepted requires accepted_at", RA, ev_report,
	    "accepted_at", "accepted_at: required", OMIT("accepted_at")),
	TNO("report.accepted requires agency", RA, incident, "agency",
	    "agency: required"),
	TNO("report.accepted keeps the report rules", RA, ev_report,
	    "severity", "severity: required for incident reports",
	    OMIT("severity")),
	TNO("command.accepted keeps the command rules", CA, ev_command, "to",
	    "to: only for reassign", S("to", "cert-ro")),
	TNO("command.accepted requires delivery for retry", CA, ev_command,
	    "delivery", "delivery: required for retry", S("op", "retry")),
	TNO("command.accepted refuses delivery for cancel", CA, ev_command,
	    "delivery", "delivery: only for retry", S("delivery", DELIVERY)),
	TNO("delivery is unknown on task.created", TC, task_min, "delivery",
	    "delivery: unknown key", S("delivery", DELIVERY)),

	/* task: required keys */
	TNO("task requires task", TC, task_min, "task", "task: required",
	    OMIT("task")),
	TNO("task requires state", TC, task_min, "state", "state: required",
	    OMIT("state")),
	TNO("task requires change", TC, task_min, "change",
	    "change: required", OMIT("change")),
	TNO("task requires agency", TC, task_min, "agency",
	    "agency: required", OMIT("agency")),
	TNO("task requires category", TC, task_min, "category",
	    "category: required", OMIT("category")),
	TNO("task requires title", TC, task_min, "title", "title: required",
	    OMIT("title")),
	TNO("task requires created_at", TC, task_min, "created_at",
	    "created_at: required", OMIT("created_at")),
	TNO("task requires due_at", TC, task_min, "due_at",
	    "due_at: required", OMIT("due_at")),
	TNO("task requires plan", TC, task_min, "plan", "plan: required",
	    OMIT("plan")),
	TNO("task requires rule", TC, task_min, "rule", "rule: required",
	    OMIT("rule")),
	TNO("task requires origin_seq", TC, task_min, "origin_seq",
	    "origin_seq: required", OMIT("origin_seq")),
	TNO("task requires cause_seq", TC, task_min, "cause_seq",
	    "cause_seq: required", OMIT("cause_seq")),
	TNO("task.updated requires state too", TU, task_full, "state",
	    "state: required", OMIT("state")),
	TNO("task.closed requires cause_seq too", TCL, task_min, "cause_seq",
	    "cause_seq: required", S("state", "done"), OMIT("cause_seq")),

	/* task: values */
	TNO("task state closed is invalid", TC, task_min, "state",
	    "state: must be one of open, in-progress, waiting, done, "
	    "cancelled", S("state", "closed")),
	TNO("task state as int is invalid", TC, task_min, "state",
	    "state: expected a string", U("state", 1)),
	TNO("task change moved is invalid", TC, task_min, "change",
	    "change: must be one of created, progress, completed, extended, "
	    "reassigned, cancelled, waiting, resumed", S("change", "moved")),
	TOK("task change reassigned accepted", TU, task_min,
	    S("change", "reassigned")),
	TOK("task change extended accepted", TU, task_min,
	    S("change", "extended"), U("plan", 2)),
	TNO("task plan 0 is invalid", TC, task_min, "plan",
	    "plan: must be at least 1", U("plan", 0)),
	TNO("task plan -1 is invalid", TC, task_min, "plan",
	    "plan: must not be negative", I("plan", -1)),
	TOK("task plan 2^64-1 accepted", TU, task_min, U("plan", UINT64_MAX)),
	TNO("task plan as string is invalid", TC, task_min, "plan",
	    "plan: expected an integer", S("plan", "1")),
	TNO("task created_at -1 is invalid", TC, task_min, "created_at",
	    "created_at: must not be negative", I("created_at", -1)),
	TNO("task due_at beyond INT64_MAX is invalid", TC, task_min, "due_at",
	    "due_at: out of range", U("due_at", UINT64_MAX)),
	TNO("task due_at as string is invalid", TC, task_min, "due_at",
	    "due_at: expected an integer", S("due_at", T0)),
	TOK("task origin_seq 0 accepted", TC, task_min, U("origin_seq", 0)),
	TNO("task cause_seq -1 is invalid", TC, task_min, "cause_seq",
	    "cause_seq: must not be negative", I("cause_seq", -1)),
	TNO("task origin_seq nil is invalid", TC, task_min, "origin_seq",
	    "origin_seq: expected an integer", NIL("origin_seq")),
	TNO("task rule empty is invalid", TC, task_min, "rule",
	    "rule: must not be empty", S("rule", "")),
	TOK("task rule of 64 bytes accepted", TC, task_min,
	    REP("rule", "r", 64)),
	TNO("task rule of 65 bytes is invalid", TC, task_min, "rule",
	    "rule: longer than 64 bytes", REP("rule", "r", 65)),
	TNO("task task of 129 bytes is invalid", TC, task_min, "task",
	    "task: longer than 128 bytes", REP("task", "t", 129)),
	TNO("task title of 257 bytes is invalid", TC, task_min, "title",
	    "title: longer than 256 bytes", REP("title", "a", 257)),
	TNO("task title with bad UTF-8 is invalid", TC, task_min, "title",
	    "title: invalid UTF-8", S("title", "a\xc0\xaf")),
	TNO("task agency must be an agency name", TC, task_min, "agency",
	    "agency: " AGENCY_SHAPE, S("agency", "cert ro")),
	TNO("task category cyber is invalid", TC, task_min, "category", NULL,
	    S("category", "cyber")),
	TOK("task severity is optional", TC, task_min, S("severity", "low")),
	TNO("task severity urgent is invalid", TC, task_min, "severity",
	    "severity: must be one of low, medium, high, critical",
	    S("severity", "urgent")),
	TOK("task drill false accepted", TC, task_min, BOOL("drill", 0)),
	TNO("task drill 1 is invalid", TC, task_min, "drill",
	    "drill: expected a boolean", U("drill", 1)),
	TOK("task note empty accepted", TU, task_min, S("note", "")),
	TOK("task note of 1024 bytes accepted", TU, task_min,
	    REP("note", "n", 1024)),
	TNO("task note of 1025 bytes is invalid", TU, task_min, "note",
	    "note: longer than 1024 bytes", REP("note", "n", 1025)),
	TNO("task note with NUL is invalid", TU, task_min, "note",
	    "note: contains a NUL byte", S("note", "a\0")),
	TOK("task origin_id of 128 bytes accepted", TC, task_min,
	    REP("origin_id", "i", 128)),
	TNO("task origin_id of 129 bytes is invalid", TC, task_min,
	    "origin_id", "origin_id: longer than 128 bytes",
	    REP("origin_id", "i", 129)),
	TNO("task origin_id empty is invalid", TC, task_min, "origin_id",
	    "origin_id: must not be empty", S("origin_id", "")),
	TNO("task origin_agency must be an agency name", TC, task_min,
	    "origin_agency", "origin_agency: " AGENCY_SHAPE,
	    S("origin_agency", "mic/1")),
	TNO("task by must be an agency name", TU, task_min, "by",
	    "by: " AGENCY_SHAPE, S("by", "of fice")),
	TNO("task by of 65 bytes is invalid", TU, task_min, "by",
	    "by: longer than 64 bytes", REP("by", "b", 65)),
	TOK("task reason accepted", TU, task_min, S("reason", "moved")),
	TNO("task reason empty is invalid", TU, task_min, "reason",
	    "reason: must not be empty", S("reason", "")),
	TNO("task reason of 1025 bytes is invalid", TU, task_min, "reason",
	    "reason: longer than 1024 bytes", REP("reason", "r", 1025)),
	TNO("task period follows the report rule", TC, task_min, "period",
	    PERIOD_TEXT, S("period", "2026-Q5")),
	TNO("id is unknown in a task", TC, task_min, "id", "id: unknown key",
	    S("id", "r-1")),
	TNO("kind is unknown in a task", TC, task_min, "kind",
	    "kind: unknown key", S("kind", "incident")),
	TNO("locality is unknown in a task", TC, task_min, "locality",
	    "locality: unknown key", S("locality", "HN")),
	TNO("accepted_at is unknown in a task", TC, task_min, "accepted_at",
	    "accepted_at: unknown key", U("accepted_at", 1)),
	TNO("typo is unknown in a task", TC, task_min, "reminder",
	    "reminder: unknown key", RAW("reminder", "\x91\x01")),
	TNO("duplicate rule is invalid", TC, task_min, "rule",
	    "rule: duplicate key", DUP("rule", "other")),
	TNO("task title as array is invalid", TC, task_min, "title",
	    "title: expected a string", ARRAY("title")),

	/* refusal */
	TNO("refusal requires task", TR, refusal, "task", "task: required",
	    OMIT("task")),
	TNO("refusal requires agency", TR, refusal, "agency",
	    "agency: required", OMIT("agency")),
	TNO("refusal requires id", TR, refusal, "id", "id: required",
	    OMIT("id")),
	TNO("refusal requires cause_seq", TR, refusal, "cause_seq",
	    "cause_seq: required", OMIT("cause_seq")),
	TNO("refusal requires reason", TR, refusal, "reason",
	    "reason: required", OMIT("reason")),
	TNO("refusal id of 129 bytes is invalid", TR, refusal, "id",
	    "id: longer than 128 bytes", REP("id", "a", 129)),
	TNO("refusal id nil is invalid", TR, refusal, "id",
	    "id: expected a string", NIL("id")),
	TNO("refusal agency must be an agency name", TR, refusal, "agency",
	    "agency: " AGENCY_SHAPE, S("agency", "m i c")),
	TNO("refusal task empty is invalid", TR, refusal, "task",
	    "task: must not be empty", S("task", "")),
	TNO("refusal reason empty is invalid", TR, refusal, "reason",
	    "reason: must not be empty", S("reason", "")),
	TNO("refusal reason of 1025 bytes is invalid", TR, refusal, "reason",
	    "reason: longer than 1024 bytes", REP("reason", "r", 1025)),
	TNO("refusal cause_seq as string is invalid", TR, refusal,
	    "cause_seq", "cause_seq: expected an integer",
	    S("cause_seq", "12")),
	TNO("title is unknown in a refusal", TR, refusal, "title",
	    "title: unknown key", S("title", "x")),
	TNO("state is unknown in a refusal", TR, refusal, "state",
	    "state: unknown key", S("state", "open")),
	TNO("reminders are unknown in a refusal", TR, refusal, "reminders",
	    "reminders: unknown key", RAW("reminders", "\x91\x01")),

	/* task: arrays */
	TOK("reminders of 2 accepted", TC, task_min,
	    RAW("reminders", "\x92\x01\xcd\x01\x00")),
	TOK("reminders empty accepted", TC, task_min, RAW("reminders", "\x90")),
	TOK("reminders of 16 accepted", TC, task_min,
	    RAW("reminders", "\xdc\x00\x10" ONES16)),
	TOK("reminders as array32 accepted", TC, task_min,
	    RAW("reminders", "\xdd\x00\x00\x00\x01\x05")),
	TOK("reminders INT64_MAX accepted", TC, task_min,
	    RAW("reminders", "\x91\xcf\x7f\xff\xff\xff\xff\xff\xff\xff")),
	TOK("reminders as int64 encodings accepted", TC, task_min,
	    RAW("reminders", "\x92\xd3\0\0\0\0\0\0\0\x05\xd0\x01")),
	TNO("reminders of 17 are invalid", TC, task_min, "reminders",
	    "reminders: more than 16 entries",
	    RAW("reminders", "\xdc\x00\x11" ONES16 "\x01")),
	TNO("reminders declaring 17 are invalid unread", TC, task_min,
	    "reminders", "reminders: more than 16 entries",
	    RAW("reminders", "\xdc\x00\x11")),
	TNO("reminders with a string are invalid", TC, task_min, "reminders",
	    "reminders: expected an array of integers",
	    RAW("reminders", "\x92\x01\xa1x")),
	TNO("reminders with nil are invalid", TC, task_min, "reminders",
	    "reminders: expected an array of integers",
	    RAW("reminders", "\x91\xc0")),
	TNO("reminders with a float are invalid", TC, task_min, "reminders",
	    "reminders: expected an array of integers",
	    RAW("reminders", "\x91\xca\x3f\x80\x00\x00")),
	TNO("reminders with a boolean are invalid", TC, task_min, "reminders",
	    "reminders: expected an array of integers",
	    RAW("reminders", "\x91\xc3")),
	TNO("reminders with -1 are invalid", TC, task_min, "reminders",
	    "reminders: must not be negative",
	    RAW("reminders", "\x92\x01\xff")),
	TNO("reminders beyond INT64_MAX are invalid", TC, task_min,
	    "reminders", "reminders: out of range",
	    RAW("reminders", "\x91\xcf\x80\0\0\0\0\0\0\0")),
	TNO("reminders nested are invalid", TC, task_min, "reminders",
	    "reminders: expected an array of integers",
	    RAW("reminders", "\x92\x01\x91\x01")),
	TNO("reminders with a map are invalid", TC, task_min, "reminders",
	    "reminders: expected an array of integers",
	    RAW("reminders", "\x91\x81\xa1" "a\x01")),
	TNO("reminders with an ext are invalid", TC, task_min, "reminders",
	    "reminders: expected an array of integers",
	    RAW("reminders", "\x91\xd4\x01\x01")),
	TNO("reminders with a reserved byte are invalid", TC, task_min, "",
	    "body is not valid msgpack", RAW("reminders", "\x91\xc1")),
	TNO("reminders as an integer are invalid", TC, task_min, "reminders",
	    "reminders: expected an array of integers", U("reminders", 5)),
	TNO("reminders as a map are invalid", TC, task_min, "reminders",
	    "reminders: expected an array of integers", MAP("reminders")),
	TNO("reminders as an ext are invalid", TC, task_min, "reminders",
	    "reminders: expected an array of integers", EXT("reminders")),
	TNO("reminders nil are invalid", TC, task_min, "reminders",
	    "reminders: expected an array of integers", NIL("reminders")),
	TNO("duplicate reminders are invalid", TC, task_min, "reminders",
	    "reminders: duplicate key", RAW("reminders", "\x91\x01"),
	    DUPRAW("reminders", "\x91\x02")),
	TOK("notify of 1 accepted", TC, task_min,
	    RAW("notify", "\x91\xa6" "office")),
	TOK("notify of 16 accepted", TC, task_min,
	    RAW("notify", "\xdc\x00\x10" OFFICE16)),
	TOK("notify of 64-byte names accepted", TC, task_min,
	    RAW("notify", "\x91\xd9\x40" A16 A16 A16 A16)),
	TNO("notify of 17 are invalid", TC, task_min, "notify",
	    "notify: more than 16 entries",
	    RAW("notify", "\xdc\x00\x11" OFFICE16 "\xa1x")),
	TNO("notify with an integer is invalid", TC, task_min, "notify",
	    "notify: expected an array of strings", RAW("notify", "\x91\x01")),
	TNO("notify with bin is invalid", TC, task_min, "notify",
	    "notify: expected an array of strings",
	    RAW("notify", "\x91\xc4\x03mic")),
	TNO("notify nested is invalid", TC, task_min, "notify",
	    "notify: expected an array of strings",
	    RAW("notify", "\x91\x91\xa3mic")),
	TNO("notify with an empty name is invalid", TC, task_min, "notify",
	    "notify: must not be empty", RAW("notify", "\x92\xa3mic\xa0")),
	TNO("notify with a 65-byte name is invalid", TC, task_min, "notify",
	    "notify: longer than 64 bytes",
	    RAW("notify", "\x91\xd9\x41" A16 A16 A16 A16 "a")),
	TNO("notify with a space is invalid", TC, task_min, "notify",
	    "notify: " AGENCY_SHAPE, RAW("notify", "\x91\xa7of fice")),
	TNO("notify with bad UTF-8 is invalid", TC, task_min, "notify",
	    "notify: invalid UTF-8", RAW("notify", "\x91\xa2\xc3\x28")),
	TNO("notify with NUL is invalid", TC, task_min, "notify",
	    "notify: contains a NUL byte", RAW("notify", "\x91\xa2" "a\0")),
	TNO("notify as a string is invalid", TC, task_min, "notify",
	    "notify: expected an array of strings", S("notify", "office")),
	TOK("escalation of 2 accepted", TC, task_min,
	    RAW("escalate_to", "\x92\xa6" "office" "\xa3mic"),
	    RAW("escalate_after", "\x92\x00\xce\x0a\x4c\xb8\x00")),
	TOK("escalation empty accepted", TC, task_min,
	    RAW("escalate_to", "\x90"), RAW("escalate_after", "\x90")),
	TOK("escalation of 16 accepted", TC, task_min,
	    RAW("escalate_to", "\xdc\x00\x10" OFFICE16),
	    RAW("escalate_after", "\xdc\x00\x10" ONES16)),
	TNO("escalate_to without escalate_after is invalid", TC, task_min,
	    "escalate_after", "escalate_after: required with escalate_to",
	    RAW("escalate_to", "\x91\xa6" "office")),
	TNO("escalate_after without escalate_to is invalid", TC, task_min,
	    "escalate_to", "escalate_to: required with escalate_after",
	    RAW("escalate_after", "\x91\x00")),
	TNO("escalate_after shorter is invalid", TC, task_min,
	    "escalate_after",
	    "escalate_after: must have as many entries as escalate_to",
	    RAW("escalate_to", "\x92\xa6" "office" "\xa3mic"),
	    RAW("escalate_after", "\x91\x00")),
	TNO("escalate_after longer is invalid", TC, task_min,
	    "escalate_after",
	    "escalate_after: must have as many entries as escalate_to",
	    RAW("escalate_to", "\x91\xa6" "office"),
	    RAW("escalate_after", "\x92\x00\x01")),
	TNO("escalate_to empty with escalate_after is invalid", TC, task_min,
	    "escalate_after",
	    "escalate_after: must have as many entries as escalate_to",
	    RAW("escalate_to", "\x90"), RAW("escalate_after", "\x91\x00")),
	TNO("escalate_after with -1 is invalid", TC, task_min,
	    "escalate_after", "escalate_after: must not be negative",
	    RAW("escalate_to", "\x91\xa6" "office"),
	    RAW("escalate_after", "\x91\xff")),
	TNO("escalate_to with an integer is invalid", TC, task_min,
	    "escalate_to", "escalate_to: expected an array of strings",
	    RAW("escalate_to", "\x91\x01"), RAW("escalate_after", "\x91\x00")),
	TNO("escalate_to with a slash is invalid", TC, task_min,
	    "escalate_to", "escalate_to: " AGENCY_SHAPE,
	    RAW("escalate_to", "\x91\xa3" "a/b"),
	    RAW("escalate_after", "\x91\x00")),
	TNO("escalate_to of 17 is invalid", TC, task_min, "escalate_to",
	    "escalate_to: more than 16 entries",
	    RAW("escalate_to", "\xdc\x00\x11" OFFICE16 "\xa1x")),
	TNO("escalate_after nested is invalid", TC, task_min,
	    "escalate_after", "escalate_after: expected an array of integers",
	    RAW("escalate_after", "\x91\x90")),

	/* arrays where no body may hold them stay unknown keys */
	NO("reminders are unknown on submit", SUB, incident, "reminders",
	   "reminders: unknown key", RAW("reminders", "\x91\x01")),
	NO("nested escalate_to is unknown on submit", SUB, incident,
	   "escalate_to", "escalate_to: unknown key",
	   RAW("escalate_to", "\x91\x91\x01")),
	NO("notify is unknown in an event", EVT, ev_report, "notify",
	   "notify: unknown key", RAW("notify", "\x91\xa3mic")),
	NO("scalar reminders are unknown on submit", SUB, incident,
	   "reminders", "reminders: unknown key", U("reminders", 1)),
	NO("plan is unknown in a report", SUB, incident, "plan",
	   "plan: unknown key", U("plan", 1)),
	NO("state is unknown in a command", SUB, complete, "state",
	   "state: unknown key", S("state", "done")),
	TNO("reminders are unknown on report.accepted", RA, ev_report,
	    "reminders", "reminders: unknown key",
	    RAW("reminders", "\x91\x01")),
	TNO("notify is unknown on command.accepted", CA, ev_command, "notify",
	    "notify: unknown key", RAW("notify", "\x91\xa3mic")),
};

static void run_rule(void **state)
{
	const struct rule *t = *state;
	struct buf b = build(t->base, t->over);

	expect_in(t->topic, b.p, b.len, t->ctx, t->rc, t->field, t->text);
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

/* 40 keys are read (and then judged); 41 are refused unread. */
static void test_key_count_limit(void **state)
{
	unsigned char b32[3 + 40 * 4], b33[3 + 41 * 4];
	size_t i, n;

	memcpy(b32, "\xde\x00\x28", 3);
	for (i = 0, n = 3; i < 40; i++) {
		b32[n++] = 0xa2;
		b32[n++] = 'k';
		b32[n++] = (unsigned char)('A' + i);
		b32[n++] = 0x01;
	}
	expect(b32, n, MSG_CTX_SUBMIT, -EINVAL, "v", "v: required");

	memcpy(b33, "\xde\x00\x29", 3);
	for (i = 0, n = 3; i < 41; i++) {
		b33[n++] = 0xa2;
		b33[n++] = 'k';
		b33[n++] = (unsigned char)('A' + i);
		b33[n++] = 0x01;
	}
	expect(b33, n, MSG_CTX_SUBMIT, -EINVAL, "",
	       "body has more than 40 keys");
}

/* ---- hostile frames ---- */

/* Five bytes declaring 2^32-1 entries cost nothing. */
static void test_map32_huge_count(void **state)
{
	expect_lit("\xdf\xff\xff\xff\xff", MSG_CTX_SUBMIT, -EINVAL, "",
	       "body has more than 40 keys");
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
	assert_str_same(a->delivery, b->delivery);
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->accepted_at, b->accepted_at);
	assert_int_equal(a->duplicate, b->duplicate);
	assert_int_equal(a->code, b->code);
	assert_str_same(a->error, b->error);
	assert_int_equal(a->from, b->from);
	assert_int_equal(a->last, b->last);
	assert_int_equal(a->state, b->state);
	assert_int_equal(a->change, b->change);
	assert_int_equal(a->created_at, b->created_at);
	assert_int_equal(a->due_at, b->due_at);
	assert_int_equal(a->plan, b->plan);
	assert_str_same(a->rule, b->rule);
	assert_int_equal(a->nreminders, b->nreminders);
	for (size_t i = 0; i < a->nreminders; i++)
		assert_int_equal(a->reminders[i], b->reminders[i]);
	assert_int_equal(a->nescalation, b->nescalation);
	for (size_t i = 0; i < a->nescalation; i++) {
		assert_str_same(a->escalate_to[i], b->escalate_to[i]);
		assert_int_equal(a->escalate_after[i], b->escalate_after[i]);
	}
	assert_int_equal(a->nnotify, b->nnotify);
	for (size_t i = 0; i < a->nnotify; i++)
		assert_str_same(a->notify[i], b->notify[i]);
	assert_str_same(a->origin_agency, b->origin_agency);
	assert_str_same(a->origin_id, b->origin_id);
	assert_int_equal(a->origin_seq, b->origin_seq);
	assert_int_equal(a->cause_seq, b->cause_seq);
	assert_str_same(a->by, b->by);
	assert_str_same(a->note, b->note);
	assert_int_equal(a->changed_at, b->changed_at);
	assert_int_equal(a->business, b->business);
	assert_int_equal(a->working_hours, b->working_hours);
	assert_int_equal(a->waiting_since, b->waiting_since);
	assert_int_equal(a->alert, b->alert);
	assert_str_same(a->alert_id, b->alert_id);
	assert_int_equal(a->fired_at, b->fired_at);
	assert_int_equal(a->planned_at, b->planned_at);
	assert_int_equal(a->late, b->late);
	assert_int_equal(a->level, b->level);
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
	c.op = OP_RETRY;
	c.to = NULL;
	c.delivery = DELIVERY;
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

/* Encode in, decode it under its own topic, compare. */
static void round_trip_event(const struct msg *in)
{
	const char *topic = in->type == MSG_ALERT ? msg_alert_topic(in->alert) :
			    msg_topic(in->type);
	struct msg_error err;
	struct msg out;
	size_t len;
	void *buf;
	char *copy;

	assert_non_null(topic);
	assert_int_equal(msg_encode(in, &buf, &len), 0);
	copy = exact_copy(buf, len);
	if (msg_decode_event(topic, strlen(topic), copy, len, &out, &err) < 0)
		fail_msg("%s: %s", topic, err.text);
	assert_msg_same(in, &out);
	msg_free(&out);
	assert_null(out._arena);
	free(copy);
	free(buf);
}

/* A task with every field set, its arrays full. */
static void full_task(struct msg *t)
{
	static const char *const agencies[MSG_LIST_MAX] = {
		"a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7",
		"a8", "a9", "a10", "a11", "a12", "a13", "a14",
		"cert-ro.gov_1",
	};
	size_t i;

	*t = (struct msg){
		.type = MSG_TASK_CREATED, .task = "T-1042-2",
		.state = STATE_OPEN, .change = CHANGE_CREATED,
		.agency = "cert-ro", .category = CATEGORY_TOXIC_INFORMATION,
		.severity = SEVERITY_CRITICAL,
		.title = "\xc3\x9cn\xc3\xaf \xf0\x9d\x84\x9e", .drill = true,
		.created_at = 1763000000123, .due_at = INT64_MAX, .plan = 1,
		.rule = "key-systems-attacks", .origin_agency = "mic",
		.origin_id = "r-1", .origin_seq = 1042, .cause_seq = 1042,
		.by = "mic", .note = "", .reason = "r", .period = "2026-W05",
		.changed_at = 1763000000124, .business = true,
		.working_hours = true,
	};
	for (i = 0; i < MSG_LIST_MAX; i++) {
		t->reminders[i] = i == 0 ? INT64_MAX : (int64_t)i * 3600000;
		t->escalate_to[i] = agencies[i];
		t->escalate_after[i] = (int64_t)i;
		t->notify[i] = agencies[MSG_LIST_MAX - 1 - i];
	}
	t->nreminders = t->nescalation = t->nnotify = MSG_LIST_MAX;
}

static void test_round_trip_tasks(void **state)
{
	struct msg full, min = {
		.type = MSG_TASK_CREATED, .task = "T-1", .state = STATE_OPEN,
		.change = CHANGE_CREATED, .agency = "office",
		.category = CATEGORY_CYBERSECURITY, .title = "t",
		.created_at = 0, .due_at = 0, .plan = 1, .rule = "triage",
		.origin_seq = 0, .cause_seq = 0,
	};

	full_task(&full);
	round_trip_event(&full);
	full.type = MSG_TASK_UPDATED;
	full.state = STATE_IN_PROGRESS;
	full.change = CHANGE_PROGRESS;
	full.plan = UINT64_MAX;
	full.cause_seq = UINT64_MAX;
	full.nreminders = 1;
	full.nescalation = 2;
	full.nnotify = 0;
	round_trip_event(&full);
	full.type = MSG_TASK_CLOSED;
	full.state = STATE_DONE;
	full.change = CHANGE_COMPLETED;
	round_trip_event(&full);

	round_trip_event(&min);
	min.type = MSG_TASK_UPDATED;
	min.state = STATE_WAITING;
	min.change = CHANGE_WAITING;
	min.waiting_since = 1763000000999;
	round_trip_event(&min);
	min.waiting_since = 0;	/* the epoch is an instant too */
	round_trip_event(&min);
	min.type = MSG_TASK_CLOSED;
	min.state = STATE_CANCELLED;
	min.change = CHANGE_CANCELLED;
	round_trip_event(&min);
}

/* Alerts of every kind, the smallest and the fullest. */
static void test_round_trip_alerts(void **state)
{
	static const char *const notify[] = { "office", "committee" };
	struct msg a = {
		.type = MSG_ALERT, .alert = ALERT_REMINDER,
		.alert_id = "T-1/1/reminder-1", .agency = "mps-a05",
		.title = "Intrusion", .due_at = 1763000000000,
		.fired_at = 1762990000000,
	};

	round_trip_event(&a);
	a.late = true;
	a.drill = true;
	a.task = "T-1";
	a.planned_at = 1762980000000;
	a.plan = 3;
	a.category = CATEGORY_CYBER_DEFENSE;
	a.severity = SEVERITY_HIGH;
	a.rule = "key-systems-attacks";
	a.notify[0] = notify[0];
	a.notify[1] = notify[1];
	a.nnotify = 2;
	round_trip_event(&a);
	a.alert = ALERT_OVERDUE;
	round_trip_event(&a);
	a.alert = ALERT_MISSING_REPORT;
	a.period = "2026-Q4";
	round_trip_event(&a);
	a.alert = ALERT_ESCALATION;
	a.level = 2;
	a.to = "committee";
	round_trip_event(&a);
	a.alert = ALERT_REFUSED;
	a.level = 0;
	a.to = NULL;
	a.due_at = 0;
	a.reason = "task T-1 is assigned to mps-a05, not mic";
	round_trip_event(&a);
}

/* What the encoder refuses to write as an alert. */
static void test_encode_refuses_bad_alerts(void **state)
{
	struct msg ok = {
		.type = MSG_ALERT, .alert = ALERT_ESCALATION,
		.alert_id = "T-1/1/escalation-1", .agency = "mps-a05",
		.title = "Intrusion", .due_at = 1, .fired_at = 2, .level = 1,
		.to = "office",
	}, a;
	size_t len = 0;
	void *buf = NULL;
	int k;

	assert_int_equal(msg_encode(&ok, &buf, &len), 0);
	free(buf);
	buf = NULL;
	for (k = 0; k < 11; k++) {
		a = ok;
		switch (k) {
		case 0: a.alert = ALERT_NONE; break;
		case 1: a.alert = ALERT_REFUSED + 1; break;
		case 2: a.alert_id = NULL; break;
		case 3: a.agency = "o f"; break;
		case 4: a.title = NULL; break;
		case 5: a.fired_at = -1; break;
		case 6: a.level = 0; break;
		case 7: a.to = NULL; break;
		case 8: a.alert = ALERT_REMINDER; break;  /* level, to */
		case 9: a.alert = ALERT_REMINDER; a.level = 0; break; /* to */
		case 10: a.category = CATEGORY_TOXIC_INFORMATION + 1; break;
		}
		if (msg_encode(&a, &buf, &len) != -EINVAL)
			fail_msg("case %d was not refused", k);
		assert_null(buf);
	}
}

static void test_round_trip_refusal(void **state)
{
	struct msg r = {
		.type = MSG_TASK_REFUSED, .task = "T-7", .agency = "mic",
		.id = "r-9", .cause_seq = 12,
		.reason = "task T-7 is assigned to cert-ro, not mic",
	};

	round_trip_event(&r);
	r.cause_seq = UINT64_MAX;
	round_trip_event(&r);
}

/* Every field of a task body lands where it belongs. */
static void test_task_fields_decoded(void **state)
{
	struct buf b = build(task_full, NULL);
	struct msg_error err;
	struct msg m;

	assert_int_equal(msg_decode_event(TC, strlen(TC), b.p, b.len, &m,
					  &err), 0);
	assert_int_equal(m.type, MSG_TASK_CREATED);
	assert_null(m.id);
	assert_string_equal(m.task, "T-7");
	assert_int_equal(m.state, STATE_OPEN);
	assert_int_equal(m.change, CHANGE_CREATED);
	assert_string_equal(m.agency, "cert-ro");
	assert_int_equal(m.category, CATEGORY_CYBERSECURITY);
	assert_int_equal(m.severity, SEVERITY_HIGH);
	assert_string_equal(m.title, "Intrusion");
	assert_true(m.drill);
	assert_int_equal(m.created_at, 1763000000123);
	assert_int_equal(m.due_at, 1763086400123);
	assert_int_equal(m.plan, 1);
	assert_string_equal(m.rule, "key-systems");
	assert_int_equal(m.nreminders, 2);
	assert_int_equal(m.reminders[0], 86400000);
	assert_int_equal(m.reminders[1], 7200000);
	assert_int_equal(m.nescalation, 2);
	assert_string_equal(m.escalate_to[0], "office");
	assert_string_equal(m.escalate_to[1], "committee");
	assert_int_equal(m.escalate_after[0], 0);
	assert_int_equal(m.escalate_after[1], 172800000);
	assert_int_equal(m.nnotify, 1);
	assert_string_equal(m.notify[0], "mic");
	assert_string_equal(m.origin_agency, "mic");
	assert_string_equal(m.origin_id, "r-1");
	assert_int_equal(m.origin_seq, 7);
	assert_int_equal(m.cause_seq, 7);
	assert_string_equal(m.by, "mic");
	assert_string_equal(m.note, "");
	assert_string_equal(m.reason, "first");
	assert_string_equal(m.period, "2026-Q3");
	assert_null(m.body);
	assert_false(m.has_occurred_at);
	msg_free(&m);
	assert_null(m._arena);
	assert_null(m.notify[0]);
	free(b.p);
}

/* A refusal's fields, and its id echoed when the rest is refused. */
static void test_refusal_fields_decoded(void **state)
{
	static const struct spec bad[] = { S("reason", ""), END };
	struct buf b = build(refusal, NULL);
	struct msg_error err;
	struct msg m;

	assert_int_equal(msg_decode_event(TR, strlen(TR), b.p, b.len, &m,
					  &err), 0);
	assert_int_equal(m.type, MSG_TASK_REFUSED);
	assert_string_equal(m.task, "T-7");
	assert_string_equal(m.agency, "mic");
	assert_string_equal(m.id, "r-9");
	assert_int_equal(m.cause_seq, 12);
	assert_string_equal(m.reason,
			    "task T-7 is assigned to cert-ro, not mic");
	msg_free(&m);
	free(b.p);

	b = build(refusal, bad);
	assert_int_equal(msg_decode_event(TR, strlen(TR), b.p, b.len, &m,
					  &err), -EINVAL);
	assert_string_equal(err.field, "reason");
	assert_string_equal(m.id, "r-9");
	assert_empty_but_id(&m);
	msg_free(&m);
	free(b.p);
}

/*
 * msg_decode() keeps its contexts: a task or refusal body is no bus event
 * body there, nor a client's, whatever it holds.
 */
static void test_task_bodies_outside_their_topics(void **state)
{
	static const struct spec *const bases[] = {
		task_min, task_full, refusal,
	};
	static const enum msg_context ctxs[] = {
		MSG_CTX_EVENT, MSG_CTX_SUBMIT,
	};
	struct buf b;
	size_t i, j;

	for (i = 0; i < ARRAY_SIZE(bases); i++) {
		b = build(bases[i], NULL);
		for (j = 0; j < ARRAY_SIZE(ctxs); j++)
			/* the arrays of a full task fail the first pass */
			expect(b.p, b.len, ctxs[j], -EINVAL,
			       bases[i] == task_full ? "reminders" : "type",
			       bases[i] == task_full ?
			       "reminders: unknown key" :
			       "type: must be report or command");
		free(b.p);
	}
}

/* A topic is judged first, by its bytes and length alone. */
static void test_unknown_topic(void **state)
{
	static const char *const topics[] = {
		"task.deleted", "task", "task.created.x", "Task.created",
		"hb", "report", "alert.overdue.mic", "",
	};
	static const char padded[] = "task.createdX";
	struct buf b = build(task_min, NULL);
	struct msg_error err;
	struct msg m;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(topics); i++) {
		expect_in(topics[i], b.p, b.len, MSG_CTX_EVENT, -EINVAL, "",
			  "unknown topic");
		/* before the body: an empty one is not what is wrong */
		expect_in(topics[i], "", 0, MSG_CTX_EVENT, -EINVAL, "",
			  "unknown topic");
	}
	assert_int_equal(msg_decode_event(NULL, 0, b.p, b.len, &m, &err),
			 -EINVAL);
	assert_string_equal(err.text, "unknown topic");
	assert_empty_but_id(&m);
	msg_free(&m);
	/* a topic is bytes with a length */
	assert_int_equal(msg_decode_event(padded, 12, b.p, b.len, &m, &err),
			 0);
	msg_free(&m);
	assert_int_equal(msg_decode_event(padded, 13, b.p, b.len, &m, &err),
			 -EINVAL);
	assert_int_equal(msg_decode_event(padded, 11, b.p, b.len, &m, NULL),
			 -EINVAL);
	msg_free(&m);
	free(b.p);
}

/* Frame size and shape come before the topic's rules, as for msg_decode. */
static void test_event_framing(void **state)
{
	char *big = calloc(1, MSG_FRAME_MAX + 1);
	static const char one = '\x80';
	struct msg_error err;
	struct msg m;

	assert_non_null(big);
	big[0] = '\x81';
	expect_in(TC, big, MSG_FRAME_MAX + 1, MSG_CTX_EVENT, -ERANGE, "",
		  NULL);
	assert_int_equal(msg_decode_event(TC, 12, &one, SIZE_MAX, &m, &err),
			 -ERANGE);
	assert_int_equal(err.code, CODE_TOO_LARGE);
	msg_free(&m);
	expect_ev(TU, "", -EINVAL, "", "empty body");
	expect_ev(TCL, "\x91\x01", -EINVAL, "", "body is not a map");
	expect_ev(TR, "\x80", -EINVAL, "v", "v: required");
	expect_ev(RA, "\x80\x80", -EINVAL, "", "trailing bytes after the body");
	free(big);
}

/* ---- hostile arrays ---- */

/*
 * An array declaring 2^32-1 entries in five bytes is refused at its
 * header: nothing is read past it and nothing sized by it.
 */
static void test_array32_huge_count(void **state)
{
	static const struct spec at_end[] = {
		RAW("reminders", "\xdd\xff\xff\xff\xff"), END,
	};
	static const struct spec inside[] = {
		RAW("reminders", "\xdd\xff\xff\xff\xff"),
		RAW("notify", "\xdc\xff\xff"), END,
	};
	struct buf b;

	/* where no array may be, the key is unknown, as it always was */
	expect_lit("\x81\xa9reminders\xdd\xff\xff\xff\xff", MSG_CTX_EVENT,
		   -EINVAL, "reminders", "reminders: unknown key");
	expect_ev(TC, "\x81\xa9reminders\xdd\xff\xff\xff\xff", -EINVAL,
		  "reminders", "reminders: more than 16 entries");
	expect_ev(TU, "\x81\xa6notify\xdc\xff\xff", -EINVAL, "notify",
		  "notify: more than 16 entries");
	expect_ev(TCL, "\x81\xab" "escalate_to\xdd\x80\x00\x00\x00",
		  -EINVAL, "escalate_to", "escalate_to: more than 16 entries");
	/* the last key of a valid body, and one in the middle of it */
	b = build(task_min, at_end);
	expect_in(TC, b.p, b.len, MSG_CTX_EVENT, -EINVAL, "reminders",
		  "reminders: more than 16 entries");
	free(b.p);
	b = build(task_full, inside);
	expect_in(TC, b.p, b.len, MSG_CTX_EVENT, -EINVAL, "reminders",
		  "reminders: more than 16 entries");
	free(b.p);
}

/* Arrays that declare more than the frame holds. */
static void test_truncated_arrays(void **state)
{
	expect_ev(TC, "\x81\xa9reminders\x93\x01", -EINVAL, "",
		  "truncated body");
	expect_ev(TC, "\x81\xa9reminders\xdd\x00\x00\x00\x10\x01", -EINVAL,
		  "", "truncated body");
	expect_ev(TC, "\x81\xa9reminders\xdd\x00\x00", -EINVAL, "",
		  "truncated body");
	expect_ev(TC, "\x81\xa9reminders\x91\xcf\x00\x01", -EINVAL, "",
		  "truncated body");
	expect_ev(TC, "\x81\xa6notify\x91\xdb\xff\xff\xff\xff" "abc",
		  -EINVAL, "", "truncated body");
	expect_ev(TC, "\x81\xa6notify\x91\xa9" "abc", -EINVAL, "",
		  "truncated body");
	/* a nested array is judged at its header, before its count */
	expect_ev(TC, "\x81\xa9reminders\x92\xdd\xff\xff\xff\xff", -EINVAL,
		  "reminders", "reminders: expected an array of integers");
}

/* Nesting as deep as a frame allows, inside an array field: one header. */
static void test_arrays_nested_deep(void **state)
{
	size_t n = MSG_FRAME_MAX - 1, depth = n - 11;
	unsigned char *b = malloc(n + 1);

	assert_non_null(b);
	memcpy(b, "\x81\xa9reminders", 11);
	memset(b + 11, 0x91, depth);
	b[n] = 0x01;
	expect_in(TC, b, n + 1, MSG_CTX_EVENT, -EINVAL, "reminders",
		  "reminders: expected an array of integers");
	/* maps in maps */
	memcpy(b, "\x81\xa6notify\x91", 9);
	for (size_t i = 9; i + 3 <= n; i += 3)
		memcpy(b + i, "\x81\xa1x", 3);
	expect_in(TC, b, n - (n - 9) % 3, MSG_CTX_EVENT, -EINVAL, "notify",
		  "notify: expected an array of strings");
	free(b);
}

/* Every proper prefix of a task or refusal body is refused. */
static void test_every_task_prefix_refused(void **state)
{
	struct msg full, rf = {
		.type = MSG_TASK_REFUSED, .task = "T-7", .agency = "mic",
		.id = "r-9", .cause_seq = 12, .reason = "no task T-7",
	};
	const struct msg *const all[] = { &full, &rf };
	struct msg_error err;
	struct msg m;
	size_t i, len, cut;
	const char *topic;
	void *buf;
	char *copy;

	full_task(&full);
	for (i = 0; i < ARRAY_SIZE(all); i++) {
		topic = msg_topic(all[i]->type);
		assert_int_equal(msg_encode(all[i], &buf, &len), 0);
		for (cut = 0; cut < len; cut++) {
			copy = exact_copy(buf, cut);
			assert_int_equal(msg_decode_event(topic, strlen(topic),
							  copy, cut, &m, &err),
					 -EINVAL);
			assert_int_equal(err.code, CODE_INVALID);
			assert_empty_but_id(&m);
			msg_free(&m);
			free(copy);
		}
		copy = exact_copy(buf, len);
		assert_int_equal(msg_decode_event(topic, strlen(topic), copy,
						  len, &m, &err), 0);
		msg_free(&m);
		free(copy);
		free(buf);
	}
}

/* Random damage to task bodies, under every topic: never a crash. */
static void test_random_task_bytes(void **state)
{
	static const char *const topics[] = {
		TC, TU, TCL, TR, RA, CA, "hb",
	};
	struct buf valid[2] = { build(task_full, NULL), build(refusal, NULL) };
	unsigned char b[512];
	struct msg_error err;
	struct msg m;
	size_t i, j, len, flips;
	const char *topic;
	char *copy;
	int r;

	for (i = 0; i < ARRAY_SIZE(valid); i++)
		assert_true(valid[i].len <= sizeof b);
	for (i = 0; i < 100000; i++) {
		const struct buf *v = &valid[rng() % 2];

		topic = topics[rng() % ARRAY_SIZE(topics)];
		len = v->len;
		memcpy(b, v->p, len);
		flips = 1 + rng() % 4;
		for (j = 0; j < flips; j++) {
			/* array and small-int headers, often */
			static const unsigned char hot[] = {
				0x90, 0x91, 0x9f, 0xdc, 0xdd, 0xc1, 0xff,
				0x81, 0xd4, 0xc0,
			};
			b[rng() % len] = rng() % 2 ? hot[rng() % sizeof hot] :
						   (unsigned char)rng();
		}
		if (rng() % 4 == 0)
			len = rng() % (len + 1);
		copy = exact_copy(b, len);
		r = msg_decode_event(topic, strlen(topic), copy, len, &m,
				     &err);
		if (r == 0) {
			assert_int_equal(m.type,
					 msg_topic_type(topic, strlen(topic)));
			assert_true(m.nreminders <= MSG_LIST_MAX);
			assert_true(m.nescalation <= MSG_LIST_MAX);
			assert_true(m.nnotify <= MSG_LIST_MAX);
			for (j = 0; j < m.nescalation; j++)
				assert_true(msg_agency_valid(m.escalate_to[j]));
			for (j = 0; j < m.nnotify; j++)
				assert_true(msg_agency_valid(m.notify[j]));
		} else {
			if (r != -EINVAL && r != -EPROTONOSUPPORT)
				fail_msg("msg_decode_event returned %d", r);
			assert_int_equal(err.code, code_for(r));
			assert_true(err.text[0] != '\0');
			assert_empty_but_id(&m);
		}
		msg_free(&m);
		free(copy);
	}
	free(valid[0].p);
	free(valid[1].p);
}

/* The keys of an encoded body, by name. */
static bool encoded_has(const void *buf, size_t len, const char *key,
			size_t *ret_n)
{
	msgpack_unpacked u;
	bool found = false;
	uint32_t i;

	msgpack_unpacked_init(&u);
	assert_int_equal(msgpack_unpack_next(&u, buf, len, NULL),
			 MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(u.data.type, MSGPACK_OBJECT_MAP);
	*ret_n = u.data.via.map.size;
	for (i = 0; i < u.data.via.map.size; i++) {
		const msgpack_object *k = &u.data.via.map.ptr[i].key;

		if (k->via.str.size == strlen(key) &&
		    memcmp(k->via.str.ptr, key, k->via.str.size) == 0)
			found = true;
	}
	msgpack_unpacked_destroy(&u);
	return found;
}

/* Optional keys, arrays and drill are written only when set. */
static void test_encode_task_only_set_fields(void **state)
{
	static const char *const absent[] = {
		"severity", "drill", "reminders", "escalate_to",
		"escalate_after", "notify", "origin_agency", "origin_id",
		"by", "note", "reason", "period", "id", "accepted_at",
		"locality",
	};
	struct msg t = {
		.type = MSG_TASK_CREATED, .task = "T-1", .state = STATE_OPEN,
		.change = CHANGE_CREATED, .agency = "office",
		.category = CATEGORY_CYBERSECURITY, .title = "t", .plan = 1,
		.rule = "triage", .id = "not a task field", .seq = 9,
		.locality = "HN", .accepted_at = 5, .escalate_to = { "x" },
		.reminders = { 1 }, .notify = { "y" },
	};
	size_t i, n, len;
	void *buf;

	assert_int_equal(msg_encode(&t, &buf, &len), 0);
	for (i = 0; i < ARRAY_SIZE(absent); i++)
		if (encoded_has(buf, len, absent[i], &n))
			fail_msg("%s written", absent[i]);
	/* v, type and the 12 keys a task requires */
	assert_int_equal(n, 14);
	free(buf);

	full_task(&t);
	t.nreminders = 0;
	t.nnotify = 0;
	t.nescalation = 3;
	assert_int_equal(msg_encode(&t, &buf, &len), 0);
	assert_true(encoded_has(buf, len, "escalate_to", &n));
	assert_true(encoded_has(buf, len, "escalate_after", &n));
	assert_false(encoded_has(buf, len, "reminders", &n));
	assert_false(encoded_has(buf, len, "notify", &n));
	assert_true(encoded_has(buf, len, "drill", &n));
	free(buf);
}

/* A task or refusal the decoder would refuse is not encoded. */
static void test_encode_refuses_bad_tasks(void **state)
{
	struct msg ok, t;
	size_t len = 0, i;
	void *buf = NULL;
	int k;

	full_task(&ok);
	assert_int_equal(msg_encode(&ok, &buf, &len), 0);
	free(buf);
	buf = NULL;
	for (k = 0; k < 39; k++) {
		t = ok;
		switch (k) {
		case 0: t.task = NULL; break;
		case 1: t.state = STATE_NONE; break;
		case 2: t.state = STATE_CANCELLED + 1; break;
		case 3: t.change = CHANGE_NONE; break;
		case 4: t.change = CHANGE_RESUMED + 1; break;
		case 5: t.agency = NULL; break;
		case 6: t.category = CATEGORY_NONE; break;
		case 7: t.severity = SEVERITY_CRITICAL + 1; break;
		case 8: t.title = NULL; break;
		case 9: t.rule = NULL; break;
		case 10: t.plan = 0; break;
		case 11: t.created_at = -1; break;
		case 12: t.due_at = -1; break;
		case 13: t.nreminders = MSG_LIST_MAX + 1; break;
		case 14: t.nescalation = MSG_LIST_MAX + 1; break;
		case 15: t.nnotify = MSG_LIST_MAX + 1; break;
		case 16: t.reminders[3] = -1; break;
		case 17: t.escalate_after[15] = -5; break;
		case 18: t.escalate_to[0] = "not an agency"; break;
		case 19: t.escalate_to[2] = NULL; break;
		case 20: t.notify[15] = ""; break;
		case 21: t.type = MSG_TASK_CLOSED; break;	/* still open */
		case 22: t.agency = "cert ro"; break;
		case 23: t.title = ""; break;
		case 24: t.rule = A16 A16 A16 A16 "a"; break;	/* 65 */
		case 25: t.task = ""; break;
		case 26: t.origin_agency = "mic!"; break;
		case 27: t.origin_id = ""; break;
		case 28: t.by = ""; break;
		case 29: t.reason = ""; break;
		case 30: t.period = "2026-Q5"; break;
		case 31: t.title = "\xff"; break;
		case 32: t.type = MSG_TASK_REFUSED; t.id = NULL; break;
		case 33: t.type = MSG_TASK_REFUSED; t.id = "r"; t.task = NULL;
			break;
		case 34: t.type = MSG_TASK_REFUSED; t.id = "r";
			t.agency = NULL; break;
		case 35: t.type = MSG_TASK_REFUSED; t.id = "r";
			t.reason = NULL; break;
		case 36: t.type = MSG_TASK_REFUSED; t.id = "r";
			t.agency = "m i c"; break;
		case 37: t.type = MSG_TASK_REFUSED; t.id = ""; break;
		case 38: t.severity = (enum msg_severity)-1; break;
		}
		if (msg_encode(&t, &buf, &len) != -EINVAL)
			fail_msg("case %d was not refused", k);
		assert_null(buf);
	}
	/* the limits themselves are fine */
	t = ok;
	t.type = MSG_TASK_CLOSED;
	t.state = STATE_CANCELLED;
	t.note = NULL;
	assert_int_equal(msg_encode(&t, &buf, &len), 0);
	free(buf);
	t.type = MSG_TASK_REFUSED;
	t.id = "r";
	assert_int_equal(msg_encode(&t, &buf, &len), 0);
	free(buf);
	for (i = 0; i < MSG_LIST_MAX; i++)
		assert_true(msg_agency_valid(ok.notify[i]));
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

/* ---- refused alerts ---- */

/* A refusal goes out without due_at and reads back with its reason. */
static void test_round_trip_refused_alert(void **state)
{
	static const char *const notify[] = { "office" };
	struct msg a = {
		.type = MSG_ALERT, .alert = ALERT_REFUSED,
		.alert_id = "T-7/refused/12", .task = "T-7", .agency = "mic",
		.title = "mic's r-9 on T-7 changed nothing",
		.fired_at = 1763000000123,
		.reason = "task T-7 is assigned to cert-ro, not mic",
	};
	char *copy, *longest, *tcopy = exact_copy(ARF, strlen(ARF));
	struct msg_error err;
	struct msg out;
	size_t len, n;
	void *buf;

	assert_int_equal(msg_encode(&a, &buf, &len), 0);
	assert_false(encoded_has(buf, len, "due_at", &n));
	assert_true(encoded_has(buf, len, "reason", &n));
	/* v, type, alert_id, kind, task, agency, title, fired_at, late,
	   drill, reason */
	assert_int_equal(n, 11);
	copy = exact_copy(buf, len);
	if (msg_decode_event(tcopy, strlen(ARF), copy, len, &out, &err) < 0)
		fail_msg("%s: %s", ARF, err.text);
	assert_int_equal(out.type, MSG_ALERT);
	assert_int_equal(out.alert, ALERT_REFUSED);
	assert_string_equal(out.reason,
			    "task T-7 is assigned to cert-ro, not mic");
	assert_int_equal(out.due_at, 0);
	assert_msg_same(&a, &out);
	msg_free(&out);
	free(copy);
	free(buf);
	free(tcopy);

	/* the fullest a refusal gets, and a reason as long as they come */
	a.late = true;
	a.drill = true;
	a.task = NULL;
	a.planned_at = 1762980000000;
	a.plan = 2;
	a.category = CATEGORY_CYBERSECURITY;
	a.severity = SEVERITY_LOW;
	a.rule = "triage";
	a.period = "2026";
	a.notify[0] = notify[0];
	a.nnotify = 1;
	round_trip_event(&a);
	longest = malloc(MSG_REASON_MAX + 1);
	assert_non_null(longest);
	memset(longest, 'r', MSG_REASON_MAX);
	longest[MSG_REASON_MAX] = '\0';
	a.reason = longest;
	round_trip_event(&a);
	free(longest);
}

/* Any other alert carries due_at, even the epoch, and no reason. */
static void test_encode_alert_due_at_but_no_reason(void **state)
{
	struct msg a = {
		.type = MSG_ALERT, .alert = ALERT_OVERDUE,
		.alert_id = "T-1/1/overdue", .agency = "mps-a05",
		.title = "Intrusion", .due_at = 0, .fired_at = 1,
	};
	size_t len, n;
	void *buf;

	assert_int_equal(msg_encode(&a, &buf, &len), 0);
	assert_true(encoded_has(buf, len, "due_at", &n));
	assert_false(encoded_has(buf, len, "reason", &n));
	free(buf);
	round_trip_event(&a);
}

/* A refusal without its reason, or a reason on another kind, is not
 * written. */
static void test_encode_refuses_bad_refused_alerts(void **state)
{
	char long_reason[MSG_REASON_MAX + 2];
	struct msg ok = {
		.type = MSG_ALERT, .alert = ALERT_REFUSED,
		.alert_id = "T-7/refused/12", .task = "T-7", .agency = "mic",
		.title = "mic's r-9 on T-7 changed nothing", .fired_at = 2,
		.reason = "task T-7 is assigned to cert-ro, not mic",
	}, a;
	size_t len = 0;
	void *buf = NULL;
	int k;

	memset(long_reason, 'r', MSG_REASON_MAX + 1);
	long_reason[MSG_REASON_MAX + 1] = '\0';
	assert_int_equal(msg_encode(&ok, &buf, &len), 0);
	free(buf);
	a = ok;
	a.reason = long_reason + 1;		/* MSG_REASON_MAX bytes */
	assert_int_equal(msg_encode(&a, &buf, &len), 0);
	free(buf);
	buf = NULL;
	for (k = 0; k < 9; k++) {
		a = ok;
		switch (k) {
		case 0: a.reason = NULL; break;
		case 1: a.reason = ""; break;
		case 2: a.reason = long_reason; break;
		case 3: a.alert = ALERT_OVERDUE; a.due_at = 1; break;
		case 4: a.alert = ALERT_REMINDER; a.due_at = 1; break;
		case 5: a.alert = ALERT_MISSING_REPORT; break;
		case 6: a.alert = ALERT_ESCALATION; a.level = 1;
			a.to = "office"; break;		/* reason */
		case 7: a.level = 1; a.to = "office"; break;
		case 8: a.due_at = 1763086400123; break;	/* a refusal
								   has none */
		}
		if (msg_encode(&a, &buf, &len) != -EINVAL)
			fail_msg("case %d was not refused", k);
		assert_null(buf);
	}
}

/* ---- retry ---- */

/* The body batonctl sends to retry a dead delivery. */
static void test_retry_fields_decoded(void **state)
{
	struct buf b = build(retry, NULL);
	char *copy = exact_copy(b.p, b.len);
	struct msg_error err;
	struct msg m;

	assert_int_equal(msg_decode(copy, b.len, MSG_CTX_SUBMIT, &m, &err),
			 0);
	assert_int_equal(m.type, MSG_COMMAND);
	assert_string_equal(m.id, "c-4");
	assert_int_equal(m.op, OP_RETRY);
	assert_string_equal(m.delivery, "T-1/1/overdue:mps-a05:email");
	assert_string_equal(m.task, "T-1");
	assert_string_equal(m.reason, "the mail server is back");
	assert_null(m.to);
	assert_null(m.agency);
	assert_false(m.has_until);
	msg_free(&m);
	assert_null(m._arena);
	assert_null(m.delivery);
	free(copy);
	free(b.p);
}

/* A retry keeps its delivery through intake and onto the bus. */
static void test_round_trip_retry(void **state)
{
	struct msg c = {
		.type = MSG_COMMAND, .id = "c-4", .op = OP_RETRY,
		.task = "T-1", .reason = "the mail server is back",
		.delivery = DELIVERY,
	};
	char *longest;
	size_t len, n;
	void *buf;

	round_trip(&c, MSG_CTX_SUBMIT);
	assert_int_equal(msg_encode(&c, &buf, &len), 0);
	assert_true(encoded_has(buf, len, "delivery", &n));
	/* v, type, id, op, task, delivery, reason */
	assert_int_equal(n, 7);
	free(buf);

	c.type = MSG_COMMAND_ACCEPTED;
	c.agency = "office";
	c.accepted_at = 1763000000123;
	round_trip(&c, MSG_CTX_EVENT);
	round_trip_event(&c);

	longest = malloc(MSG_DELIVERY_MAX + 1);
	assert_non_null(longest);
	memset(longest, 'd', MSG_DELIVERY_MAX);
	longest[MSG_DELIVERY_MAX] = '\0';
	c.delivery = longest;
	round_trip_event(&c);
	free(longest);

	/* any other command says nothing of a delivery */
	c.op = OP_CANCEL;
	c.delivery = NULL;
	assert_int_equal(msg_encode(&c, &buf, &len), 0);
	assert_false(encoded_has(buf, len, "delivery", &n));
	free(buf);
}

/* A retry without its delivery, or a delivery on another op, is not
 * written. */
static void test_encode_refuses_bad_retries(void **state)
{
	char long_delivery[MSG_DELIVERY_MAX + 2];
	struct msg ok = {
		.type = MSG_COMMAND, .id = "c-4", .op = OP_RETRY,
		.task = "T-1", .reason = "r", .delivery = DELIVERY,
	}, c;
	size_t len = 0;
	void *buf = NULL;
	int k;

	memset(long_delivery, 'd', MSG_DELIVERY_MAX + 1);
	long_delivery[MSG_DELIVERY_MAX + 1] = '\0';
	assert_int_equal(msg_encode(&ok, &buf, &len), 0);
	free(buf);
	buf = NULL;
	for (k = 0; k < 12; k++) {
		c = ok;
		switch (k) {
		case 0: c.delivery = NULL; break;
		case 1: c.delivery = ""; break;
		case 2: c.delivery = long_delivery; break;
		case 3: c.task = NULL; break;
		case 4: c.reason = NULL; break;
		case 5: c.op = OP_COMPLETE; break;	/* delivery */
		case 6: c.op = OP_CANCEL; break;
		case 7: c.op = OP_EXTEND; c.has_until = true; c.until = 1;
			break;
		case 8: c.op = OP_REASSIGN; c.to = "cert-ro"; break;
		case 9: c.op = OP_RETRY + 1; break;
		case 10: c.type = MSG_COMMAND_ACCEPTED; c.agency = "office";
			c.delivery = NULL; break;
		case 11: c.type = MSG_COMMAND_ACCEPTED; c.agency = "office";
			c.op = OP_COMPLETE; break;
		}
		if (msg_encode(&c, &buf, &len) != -EINVAL)
			fail_msg("case %d was not refused", k);
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
	assert_string_equal(msg_op_name(OP_RESUME), "resume");
	assert_string_equal(msg_op_name(OP_RETRY), "retry");
	assert_null(msg_op_name(OP_RETRY + 1));
	assert_int_equal(msg_op_from("retry"), OP_RETRY);
	assert_string_equal(msg_alert_name(ALERT_MISSING_REPORT),
			    "missing-report");
	assert_string_equal(msg_alert_name(ALERT_REFUSED), "refused");
	assert_null(msg_alert_name(ALERT_NONE));
	assert_null(msg_alert_name(ALERT_REFUSED + 1));
	assert_int_equal(msg_alert_from("refused"), ALERT_REFUSED);
	assert_int_equal(msg_alert_from("escalation"), ALERT_ESCALATION);
	assert_int_equal(msg_alert_from("alert"), ALERT_NONE);
	assert_string_equal(msg_alert_topic(ALERT_OVERDUE), "alert.overdue");
	assert_string_equal(msg_alert_topic(ALERT_REFUSED), "alert.refused");
	assert_null(msg_alert_topic(ALERT_NONE));
	assert_null(msg_alert_topic(ALERT_REFUSED + 1));
	assert_null(msg_topic(MSG_ALERT));
	assert_int_equal(msg_topic_type("alert.reminder", 14), MSG_ALERT);
	assert_int_equal(msg_topic_type("alert.refused", 13), MSG_ALERT);
	assert_int_equal(msg_topic_type("alert.refuse", 12), MSG_NONE);
	assert_int_equal(msg_topic_type("alert.remind", 12), MSG_NONE);
	assert_int_equal(msg_topic_type("alert.", 6), MSG_NONE);
	assert_string_equal(msg_code_name(CODE_UNSUPPORTED_VERSION),
			    "unsupported_version");
	assert_string_equal(msg_code_name(CODE_TOO_LARGE), "too_large");
	assert_null(msg_code_name(CODE_NONE));
	assert_null(msg_code_name(CODE_INTERNAL + 1));

	assert_string_equal(msg_type_name(MSG_TASK_CREATED), "task.created");
	assert_string_equal(msg_type_name(MSG_TASK_UPDATED), "task.updated");
	assert_string_equal(msg_type_name(MSG_TASK_CLOSED), "task.closed");
	assert_string_equal(msg_type_name(MSG_TASK_REFUSED), "task.refused");
	assert_string_equal(msg_state_name(STATE_OPEN), "open");
	assert_string_equal(msg_state_name(STATE_IN_PROGRESS), "in-progress");
	assert_string_equal(msg_state_name(STATE_WAITING), "waiting");
	assert_string_equal(msg_state_name(STATE_DONE), "done");
	assert_string_equal(msg_state_name(STATE_CANCELLED), "cancelled");
	assert_null(msg_state_name(STATE_NONE));
	assert_null(msg_state_name(STATE_CANCELLED + 1));
	assert_string_equal(msg_change_name(CHANGE_CREATED), "created");
	assert_string_equal(msg_change_name(CHANGE_PROGRESS), "progress");
	assert_string_equal(msg_change_name(CHANGE_COMPLETED), "completed");
	assert_string_equal(msg_change_name(CHANGE_EXTENDED), "extended");
	assert_string_equal(msg_change_name(CHANGE_REASSIGNED), "reassigned");
	assert_string_equal(msg_change_name(CHANGE_CANCELLED), "cancelled");
	assert_null(msg_change_name(CHANGE_NONE));
	assert_null(msg_change_name(CHANGE_RESUMED + 1));
}

/* Every name reads back as its value; anything else is NONE. */
static void test_names_inverse(void **state)
{
	int v;

	for (v = KIND_INCIDENT; v <= KIND_PERIODIC; v++)
		assert_int_equal(msg_kind_from(msg_kind_name(v)), v);
	for (v = SEVERITY_LOW; v <= SEVERITY_CRITICAL; v++)
		assert_int_equal(msg_severity_from(msg_severity_name(v)), v);
	for (v = OP_COMPLETE; v <= OP_RETRY; v++)
		assert_int_equal(msg_op_from(msg_op_name(v)), v);
	for (v = ALERT_TASK_ASSIGNED; v <= ALERT_REFUSED; v++) {
		assert_int_equal(msg_alert_from(msg_alert_name(v)), v);
		assert_int_equal(msg_topic_type(msg_alert_topic(v),
						strlen(msg_alert_topic(v))),
				 MSG_ALERT);
	}
	for (v = CATEGORY_CYBERSECURITY; v <= CATEGORY_TOXIC_INFORMATION; v++)
		assert_int_equal(msg_category_from(msg_category_name(v)), v);
	assert_int_equal(msg_kind_from("Incident"), KIND_NONE);
	assert_int_equal(msg_kind_from(""), KIND_NONE);
	assert_int_equal(msg_kind_from(NULL), KIND_NONE);
	assert_int_equal(msg_category_from("cyber"), CATEGORY_NONE);
	assert_int_equal(msg_severity_from("highest"), SEVERITY_NONE);
	assert_int_equal(msg_op_from("complet"), OP_NONE);
	assert_int_equal(msg_op_from("Retry"), OP_NONE);
	for (v = STATE_OPEN; v <= STATE_CANCELLED; v++)
		assert_int_equal(msg_state_from(msg_state_name(v)), v);
	assert_int_equal(msg_state_from("closed"), STATE_NONE);
	assert_int_equal(msg_state_from("Open"), STATE_NONE);
	assert_int_equal(msg_state_from(NULL), STATE_NONE);
}

static void test_topics(void **state)
{
	static const char topic[] = "report.acceptedXYZ";

	assert_string_equal(msg_topic(MSG_REPORT_ACCEPTED), "report.accepted");
	assert_string_equal(msg_topic(MSG_COMMAND_ACCEPTED),
			    "command.accepted");
	assert_string_equal(msg_topic(MSG_HEARTBEAT), "hb");
	assert_string_equal(msg_topic(MSG_TASK_CREATED), "task.created");
	assert_string_equal(msg_topic(MSG_TASK_UPDATED), "task.updated");
	assert_string_equal(msg_topic(MSG_TASK_CLOSED), "task.closed");
	assert_string_equal(msg_topic(MSG_TASK_REFUSED), "task.refused");
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
	assert_int_equal(msg_topic_type("task.created", 12), MSG_TASK_CREATED);
	assert_int_equal(msg_topic_type("task.updated", 12), MSG_TASK_UPDATED);
	assert_int_equal(msg_topic_type("task.closed", 11), MSG_TASK_CLOSED);
	assert_int_equal(msg_topic_type("task.refused", 12), MSG_TASK_REFUSED);
	assert_int_equal(msg_topic_type("task.created", 11), MSG_NONE);
	assert_int_equal(msg_topic_type("task", 4), MSG_NONE);
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
		cmocka_unit_test(test_round_trip_tasks),
		cmocka_unit_test(test_round_trip_refusal),
		cmocka_unit_test(test_task_fields_decoded),
		cmocka_unit_test(test_refusal_fields_decoded),
		cmocka_unit_test(test_task_bodies_outside_their_topics),
		cmocka_unit_test(test_unknown_topic),
		cmocka_unit_test(test_event_framing),
		cmocka_unit_test(test_array32_huge_count),
		cmocka_unit_test(test_truncated_arrays),
		cmocka_unit_test(test_arrays_nested_deep),
		cmocka_unit_test(test_every_task_prefix_refused),
		cmocka_unit_test(test_random_task_bytes),
		cmocka_unit_test(test_encode_task_only_set_fields),
		cmocka_unit_test(test_encode_refuses_bad_tasks),
		cmocka_unit_test(test_round_trip_alerts),
		cmocka_unit_test(test_encode_refuses_bad_alerts),
		cmocka_unit_test(test_encode_heartbeat),
		cmocka_unit_test(test_encode_only_set_fields),
		cmocka_unit_test(test_encode_refuses_missing_fields),
		cmocka_unit_test(test_round_trip_refused_alert),
		cmocka_unit_test(test_encode_alert_due_at_but_no_reason),
		cmocka_unit_test(test_encode_refuses_bad_refused_alerts),
		cmocka_unit_test(test_retry_fields_decoded),
		cmocka_unit_test(test_round_trip_retry),
		cmocka_unit_test(test_encode_refuses_bad_retries),
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
