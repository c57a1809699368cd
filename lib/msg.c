/*
 * msg.c - the message decoder, the encoder and the wire names.
 *
 * The decoder reads a body in two passes. The first walks the bytes once,
 * bounded by the frame, and records where each top-level key and its scalar
 * value lie; nothing is allocated and nothing is interpreted, so that a
 * hostile frame costs at most 32 entries of bookkeeping. The only values
 * that are not scalars are the arrays of a task event (reminders,
 * escalation, notify): where such a body may hold one, the first pass reads
 * at most MSG_LIST_MAX scalar entries of it, flat, and records where they
 * lie. The second checks the entries against the tables below and copies
 * the strings, array entries included, into one allocation. Rules live in
 * tables (which keys each type allows and requires) and in three small
 * functions for the rules that depend on kind, op or topic, so that the
 * decoder and docs/protocol.md can be compared line by line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "msg.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* No body has as many fields (a task has 30); a larger map is not ours. */
#define MSG_KEYS_MAX	40
/* How much of a client-supplied key goes into an error text. */
#define KEY_SHOWN_MAX	32

/* ---- names ---- */

static const char *const type_names[MSG_TYPE_COUNT] = {
	[MSG_REPORT]		= "report",
	[MSG_COMMAND]		= "command",
	[MSG_ACK]		= "ack",
	[MSG_NACK]		= "nack",
	[MSG_REPLAY]		= "replay",
	[MSG_REPLAY_END]	= "replay-end",
	[MSG_REPORT_ACCEPTED]	= "report.accepted",
	[MSG_COMMAND_ACCEPTED]	= "command.accepted",
	[MSG_TASK_CREATED]	= "task.created",
	[MSG_TASK_UPDATED]	= "task.updated",
	[MSG_TASK_CLOSED]	= "task.closed",
	[MSG_TASK_REFUSED]	= "task.refused",
	[MSG_ALERT]		= "alert",
	[MSG_HEARTBEAT]		= "hb",
};

/* The body "type" an event type is published with. */
static const char *const body_names[MSG_TYPE_COUNT] = {
	[MSG_REPORT_ACCEPTED]	= "report",
	[MSG_COMMAND_ACCEPTED]	= "command",
	[MSG_TASK_CREATED]	= "task",
	[MSG_TASK_UPDATED]	= "task",
	[MSG_TASK_CLOSED]	= "task",
	[MSG_TASK_REFUSED]	= "refusal",
	[MSG_ALERT]		= "alert",
};

static const char *const kind_names[] = {
	[KIND_INCIDENT]		= "incident",
	[KIND_PROGRESS]		= "progress",
	[KIND_COMPLETION]	= "completion",
	[KIND_PERIODIC]		= "periodic",
};

static const char *const category_names[] = {
	[CATEGORY_CYBERSECURITY]	= "cybersecurity",
	[CATEGORY_INFORMATION_SECURITY]	= "information-security",
	[CATEGORY_CYBER_DEFENSE]	= "cyber-defense",
	[CATEGORY_TOXIC_INFORMATION]	= "toxic-information",
};

static const char *const severity_names[] = {
	[SEVERITY_LOW]		= "low",
	[SEVERITY_MEDIUM]	= "medium",
	[SEVERITY_HIGH]		= "high",
	[SEVERITY_CRITICAL]	= "critical",
};

static const char *const op_names[] = {
	[OP_COMPLETE]		= "complete",
	[OP_EXTEND]		= "extend",
	[OP_REASSIGN]		= "reassign",
	[OP_CANCEL]		= "cancel",
	[OP_WAIT]		= "wait",
	[OP_RESUME]		= "resume",
	[OP_RETRY]		= "retry",
};

static const char *const state_names[] = {
	[STATE_OPEN]		= "open",
	[STATE_IN_PROGRESS]	= "in-progress",
	[STATE_WAITING]		= "waiting",
	[STATE_DONE]		= "done",
	[STATE_CANCELLED]	= "cancelled",
};

static const char *const change_names[] = {
	[CHANGE_CREATED]	= "created",
	[CHANGE_PROGRESS]	= "progress",
	[CHANGE_COMPLETED]	= "completed",
	[CHANGE_EXTENDED]	= "extended",
	[CHANGE_REASSIGNED]	= "reassigned",
	[CHANGE_CANCELLED]	= "cancelled",
	[CHANGE_WAITING]	= "waiting",
	[CHANGE_RESUMED]	= "resumed",
};

static const char *const alert_names[] = {
	[ALERT_TASK_ASSIGNED]	= "task-assigned",
	[ALERT_REMINDER]	= "reminder",
	[ALERT_OVERDUE]		= "overdue",
	[ALERT_ESCALATION]	= "escalation",
	[ALERT_MISSING_REPORT]	= "missing-report",
	[ALERT_REFUSED]		= "refused",
};

/* The topics of alerts, "alert." and the kind: the bus needs them static. */
static const char *const alert_topics[] = {
	[ALERT_TASK_ASSIGNED]	= "alert.task-assigned",
	[ALERT_REMINDER]	= "alert.reminder",
	[ALERT_OVERDUE]		= "alert.overdue",
	[ALERT_ESCALATION]	= "alert.escalation",
	[ALERT_MISSING_REPORT]	= "alert.missing-report",
	[ALERT_REFUSED]		= "alert.refused",
};

static const char *const code_names[] = {
	[CODE_INVALID]			= "invalid",
	[CODE_UNAUTHORIZED]		= "unauthorized",
	[CODE_FORBIDDEN]		= "forbidden",
	[CODE_TOO_LARGE]		= "too_large",
	[CODE_UNSUPPORTED_VERSION]	= "unsupported_version",
	[CODE_BUSY]			= "busy",
	[CODE_INTERNAL]			= "internal",
};

/* Index 0 is every enum's NONE, which has no wire name. */
static const char *name_of(const char *const *names, size_t n, unsigned v)
{
	return v < n ? names[v] : NULL;
}

static unsigned index_of(const char *const *names, size_t n, const char *s,
			 size_t len)
{
	size_t i;

	for (i = 1; i < n; i++)
		if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
			return i;
	return 0;
}

static unsigned index_of_cstr(const char *const *names, size_t n,
			      const char *s)
{
	return s ? index_of(names, n, s, strlen(s)) : 0;
}

const char *msg_type_name(enum msg_type t)
{
	return name_of(type_names, ARRAY_SIZE(type_names), t);
}

const char *msg_kind_name(enum msg_kind k)
{
	return name_of(kind_names, ARRAY_SIZE(kind_names), k);
}

const char *msg_category_name(enum msg_category c)
{
	return name_of(category_names, ARRAY_SIZE(category_names), c);
}

const char *msg_severity_name(enum msg_severity s)
{
	return name_of(severity_names, ARRAY_SIZE(severity_names), s);
}

const char *msg_op_name(enum msg_op o)
{
	return name_of(op_names, ARRAY_SIZE(op_names), o);
}

const char *msg_code_name(enum msg_code c)
{
	return name_of(code_names, ARRAY_SIZE(code_names), c);
}

const char *msg_state_name(enum msg_state s)
{
	return name_of(state_names, ARRAY_SIZE(state_names), s);
}

const char *msg_change_name(enum msg_change c)
{
	return name_of(change_names, ARRAY_SIZE(change_names), c);
}

enum msg_kind msg_kind_from(const char *s)
{
	return index_of_cstr(kind_names, ARRAY_SIZE(kind_names), s);
}

enum msg_category msg_category_from(const char *s)
{
	return index_of_cstr(category_names, ARRAY_SIZE(category_names), s);
}

enum msg_severity msg_severity_from(const char *s)
{
	return index_of_cstr(severity_names, ARRAY_SIZE(severity_names), s);
}

enum msg_op msg_op_from(const char *s)
{
	return index_of_cstr(op_names, ARRAY_SIZE(op_names), s);
}

enum msg_state msg_state_from(const char *s)
{
	return index_of_cstr(state_names, ARRAY_SIZE(state_names), s);
}

const char *msg_alert_name(enum msg_alert a)
{
	return name_of(alert_names, ARRAY_SIZE(alert_names), a);
}

enum msg_alert msg_alert_from(const char *s)
{
	return index_of_cstr(alert_names, ARRAY_SIZE(alert_names), s);
}

const char *msg_alert_topic(enum msg_alert a)
{
	return name_of(alert_topics, ARRAY_SIZE(alert_topics), a);
}

/* ---- topics ---- */

const char *msg_topic(enum msg_type t)
{
	switch (t) {
	case MSG_REPORT_ACCEPTED:
	case MSG_COMMAND_ACCEPTED:
	case MSG_TASK_CREATED:
	case MSG_TASK_UPDATED:
	case MSG_TASK_CLOSED:
	case MSG_TASK_REFUSED:
	case MSG_HEARTBEAT:
		return type_names[t];
	default:
		return NULL;
	}
}

/* The alert kind a topic names, ALERT_NONE when it is no alert's. */
static enum msg_alert alert_of_topic(const char *topic, size_t len)
{
	return index_of(alert_topics, ARRAY_SIZE(alert_topics), topic, len);
}

enum msg_type msg_topic_type(const char *topic, size_t len)
{
	static const enum msg_type events[] = {
		MSG_REPORT_ACCEPTED, MSG_COMMAND_ACCEPTED, MSG_TASK_CREATED,
		MSG_TASK_UPDATED, MSG_TASK_CLOSED, MSG_TASK_REFUSED,
		MSG_HEARTBEAT,
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(events); i++) {
		const char *name = type_names[events[i]];

		if (strlen(name) == len && memcmp(name, topic, len) == 0)
			return events[i];
	}
	return alert_of_topic(topic, len) ? MSG_ALERT : MSG_NONE;
}

/* ---- text checks ---- */

bool msg_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i++];
		uint32_t cp, min;
		size_t more;

		if (c < 0x80)
			continue;
		/* 0xc0 and 0xc1 could only start overlong forms. */
		if (c >= 0xc2 && c <= 0xdf) {
			more = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			more = 2, cp = c & 0x0f, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			more = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (len - i < more)
			return false;
		while (more--) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i++] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
	}
	return true;
}

static bool agency_valid(const char *s, size_t len)
{
	size_t i;

	if (len < 1 || len > MSG_AGENCY_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

bool msg_agency_valid(const char *s)
{
	/* strnlen: one byte past the limit is enough to refuse. */
	return s && agency_valid(s, strnlen(s, MSG_AGENCY_MAX + 1));
}

static bool digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Two digits from s, at most max. */
static bool two(const char *s, int min, int max)
{
	int n = (s[0] - '0') * 10 + (s[1] - '0');

	return digits(s, 2) && n >= min && n <= max;
}

/*
 * YYYY, YYYY-Qn, YYYY-Hn, YYYY-MM, YYYY-Www, YYYY-MM-DD, or the start of
 * an interval in ISO 8601 basic format, YYYYMMDDThhmmssZ (no colons: the
 * period is part of task and alert ids). Whether the day exists is for
 * the router to find: the shape is enough to refuse garbage.
 */
static bool period_valid(const char *s, size_t len)
{
	int n;

	if (len < 4 || !digits(s, 4))
		return false;
	if (len == 4)
		return true;
	if (len == 16)
		return digits(s, 8) && two(s + 4, 1, 12) &&
		       two(s + 6, 1, 31) && s[8] == 'T' &&
		       two(s + 9, 0, 23) && two(s + 11, 0, 59) &&
		       two(s + 13, 0, 59) && s[15] == 'Z';
	if (len == 10)
		return s[4] == '-' && two(s + 5, 1, 12) && s[7] == '-' &&
		       two(s + 8, 1, 31);
	if (s[4] != '-')
		return false;
	if (len == 7 && (s[5] == 'Q' || s[5] == 'H') && digits(s + 6, 1)) {
		n = s[6] - '0';
		return n >= 1 && n <= (s[5] == 'Q' ? 4 : 2);
	}
	if (len == 7 && digits(s + 5, 2)) {
		n = (s[5] - '0') * 10 + (s[6] - '0');
		return n >= 1 && n <= 12;
	}
	if (len == 8 && s[5] == 'W' && digits(s + 6, 2)) {
		n = (s[6] - '0') * 10 + (s[7] - '0');
		return n >= 1 && n <= 53;
	}
	return false;
}

/* ---- reader ---- */

/*
 * One msgpack value, without its contents when it is a container or an ext:
 * no body field is a map or an ext, an array field holds only scalars, so
 * the decoder refuses the rest before reading further and never recurses.
 */
enum vkind {
	V_NIL,
	V_BOOL,
	V_UINT,		/* any integer encoding holding a value >= 0 */
	V_NEG,		/* any integer encoding holding a value < 0 */
	V_FLOAT,
	V_STR,
	V_BIN,
	V_ARRAY,
	V_MAP,
	V_EXT,
	V_RESERVED,	/* 0xc1, which msgpack never uses */
};

struct value {
	enum vkind kind;
	uint64_t u;		/* V_UINT, V_BOOL; entries of V_MAP, V_ARRAY */
	const char *s;		/* V_STR, V_BIN: points into the frame */
	size_t len;		/* V_STR, V_BIN; V_EXT: type byte + payload */
};

struct reader {
	const uint8_t *p;
	const uint8_t *end;
};

static const uint8_t *take(struct reader *r, size_t n)
{
	const uint8_t *p = r->p;

	if ((size_t)(r->end - r->p) < n)
		return NULL;
	r->p += n;
	return p;
}

static bool take_be(struct reader *r, size_t n, uint64_t *ret)
{
	const uint8_t *p = take(r, n);
	uint64_t v = 0;
	size_t i;

	if (!p)
		return false;
	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	*ret = v;
	return true;
}

static bool take_blob(struct reader *r, size_t lenlen, struct value *v)
{
	uint64_t len;
	const uint8_t *p;

	/* A declared length is believed only as far as the frame goes. */
	if (!take_be(r, lenlen, &len) || len > (uint64_t)(r->end - r->p))
		return false;
	p = take(r, len);
	v->s = (const char *)p;
	v->len = len;
	return true;
}

/* Sign-extend an n-byte big-endian integer. */
static void set_signed(struct value *v, uint64_t raw, size_t n)
{
	int64_t i;

	if (n < 8 && (raw & (UINT64_C(1) << (8 * n - 1))))
		raw |= ~UINT64_C(0) << (8 * n);
	memcpy(&i, &raw, sizeof i);
	v->kind = i < 0 ? V_NEG : V_UINT;
	v->u = raw;
}

/* Read one value header. Returns false when the frame ends too soon. */
static bool read_value(struct reader *r, struct value *v)
{
	const uint8_t *p = take(r, 1);
	uint64_t raw;
	uint8_t b;

	memset(v, 0, sizeof *v);
	if (!p)
		return false;
	b = *p;
	if (b <= 0x7f) {
		v->kind = V_UINT;
		v->u = b;
		return true;
	}
	if (b >= 0xe0) {
		v->kind = V_NEG;
		return true;
	}
	if (b >= 0x80 && b <= 0x8f) {
		v->kind = V_MAP;
		v->u = b & 0x0f;
		return true;
	}
	if (b >= 0x90 && b <= 0x9f) {
		v->kind = V_ARRAY;
		v->u = b & 0x0f;
		return true;
	}
	if (b >= 0xa0 && b <= 0xbf) {
		v->kind = V_STR;
		v->len = b & 0x1f;
		v->s = (const char *)take(r, v->len);
		return v->s != NULL;
	}
	switch (b) {
	case 0xc0:
		v->kind = V_NIL;
		return true;
	case 0xc2:
	case 0xc3:
		v->kind = V_BOOL;
		v->u = b == 0xc3;
		return true;
	case 0xc4:
	case 0xc5:
	case 0xc6:
		v->kind = V_BIN;
		return take_blob(r, (size_t)1 << (b - 0xc4), v);
	case 0xd9:
	case 0xda:
	case 0xdb:
		v->kind = V_STR;
		return take_blob(r, (size_t)1 << (b - 0xd9), v);
	case 0xca:
	case 0xcb:
		v->kind = V_FLOAT;
		return take(r, b == 0xca ? 4 : 8) != NULL;
	case 0xcc:
	case 0xcd:
	case 0xce:
	case 0xcf:
		v->kind = V_UINT;
		return take_be(r, (size_t)1 << (b - 0xcc), &v->u);
	case 0xd0:
	case 0xd1:
	case 0xd2:
	case 0xd3:
		if (!take_be(r, (size_t)1 << (b - 0xd0), &raw))
			return false;
		set_signed(v, raw, (size_t)1 << (b - 0xd0));
		return true;
	case 0xdc:
	case 0xdd:
		v->kind = V_ARRAY;
		return take_be(r, b == 0xdc ? 2 : 4, &v->u);
	case 0xde:
	case 0xdf:
		v->kind = V_MAP;
		return take_be(r, b == 0xde ? 2 : 4, &v->u);
	case 0xc7:
	case 0xc8:
	case 0xc9:
		/* ext 8/16/32: length, then type byte and payload */
		v->kind = V_EXT;
		if (!take_be(r, (size_t)1 << (b - 0xc7), &raw))
			return false;
		v->len = (size_t)raw + 1;
		return true;
	case 0xd4:
	case 0xd5:
	case 0xd6:
	case 0xd7:
	case 0xd8:
		/* fixext 1..16: type byte and payload */
		v->kind = V_EXT;
		v->len = 1 + ((size_t)1 << (b - 0xd4));
		return true;
	default:
		v->kind = V_RESERVED;
		return true;
	}
}

/* ---- fields ---- */

enum field_id {
	F_V,
	F_TYPE,
	F_ID,
	F_KIND,
	F_CATEGORY,
	F_SEVERITY,
	F_TITLE,
	F_BODY,
	F_LOCALITY,
	F_TASK,
	F_PERIOD,
	F_OCCURRED_AT,
	F_DRILL,
	F_AGENCY,
	F_OP,
	F_UNTIL,
	F_TO,
	F_REASON,
	F_SEQ,
	F_ACCEPTED_AT,
	F_DUPLICATE,
	F_CODE,
	F_ERROR,
	F_FROM,
	F_LAST,
	F_STATE,
	F_CHANGE,
	F_CREATED_AT,
	F_DUE_AT,
	F_PLAN,
	F_RULE,
	F_REMINDERS,
	F_ESCALATE_TO,
	F_ESCALATE_AFTER,
	F_NOTIFY,
	F_ORIGIN_AGENCY,
	F_ORIGIN_ID,
	F_ORIGIN_SEQ,
	F_CAUSE_SEQ,
	F_BY,
	F_NOTE,
	F_CHANGED_AT,
	F_BUSINESS,
	F_WORKING_HOURS,
	F_WAITING_SINCE,
	F_ALERT_ID,
	F_FIRED_AT,
	F_PLANNED_AT,
	F_LATE,
	F_LEVEL,
	F_DELIVERY,
	F_COUNT
};

#define B(f)	(UINT64_C(1) << (f))
_Static_assert(F_COUNT <= 64, "a key set is a 64-bit mask");

enum ftype {
	FT_STR,
	FT_UINT,	/* min .. UINT64_MAX */
	FT_INSTANT,	/* 0 .. INT64_MAX */
	FT_BOOL,
	FT_INT_LIST,	/* an array of 0 .. INT64_MAX */
	FT_STR_LIST,	/* an array of strings, each as the field's rule */
};

struct field {
	const char *name;
	enum ftype type;
	size_t min, max;			/* FT_STR without names, and
						   FT_STR_LIST entries;
						   FT_UINT: min only */
	const char *const *names;		/* an enum: its wire names */
	size_t nnames;
	bool (*shape)(const char *s, size_t len);
	const char *shape_text;			/* why shape() refused */
};

#define SCALAR(n, t)	{ .name = (n), .type = (t) }
#define UINT_MIN(n, lo)	{ .name = (n), .type = FT_UINT, .min = (lo) }
#define INT_LIST(n)	{ .name = (n), .type = FT_INT_LIST }
#define AGENCY_LIST(n) \
	{ .name = (n), .type = FT_STR_LIST, .min = 1, .max = MSG_AGENCY_MAX, \
	  .shape = agency_valid, .shape_text = AGENCY_SHAPE }
#define STRING(n, lo, hi) \
	{ .name = (n), .type = FT_STR, .min = (lo), .max = (hi) }
#define ENUM(n, list) \
	{ .name = (n), .type = FT_STR, .names = (list), \
	  .nnames = ARRAY_SIZE(list) }
#define SHAPED(n, hi, fn, why) \
	{ .name = (n), .type = FT_STR, .min = 1, .max = (hi), .shape = (fn), \
	  .shape_text = (why) }

#define AGENCY_SHAPE	"may hold only A-Z, a-z, 0-9, '.', '_' and '-'"
#define PERIOD_SHAPE	"must be YYYY, YYYY-Qn, YYYY-Hn, YYYY-MM, YYYY-Www, " \
			"YYYY-MM-DD or YYYYMMDDThhmmssZ"

static const struct field fields[F_COUNT] = {
	[F_V]		= SCALAR("v", FT_UINT),
	[F_TYPE]	= SCALAR("type", FT_STR),
	[F_ID]		= STRING("id", 1, MSG_ID_MAX),
	[F_KIND]	= ENUM("kind", kind_names),
	[F_CATEGORY]	= ENUM("category", category_names),
	[F_SEVERITY]	= ENUM("severity", severity_names),
	[F_TITLE]	= STRING("title", 1, MSG_TITLE_MAX),
	[F_BODY]	= STRING("body", 0, MSG_BODY_MAX),
	[F_LOCALITY]	= STRING("locality", 1, MSG_LOCALITY_MAX),
	[F_TASK]	= STRING("task", 1, MSG_TASK_MAX),
	[F_PERIOD]	= SHAPED("period", MSG_PERIOD_MAX, period_valid,
				 PERIOD_SHAPE),
	[F_OCCURRED_AT]	= SCALAR("occurred_at", FT_INSTANT),
	[F_DRILL]	= SCALAR("drill", FT_BOOL),
	[F_AGENCY]	= SHAPED("agency", MSG_AGENCY_MAX, agency_valid,
				 AGENCY_SHAPE),
	[F_OP]		= ENUM("op", op_names),
	[F_UNTIL]	= SCALAR("until", FT_INSTANT),
	[F_TO]		= SHAPED("to", MSG_AGENCY_MAX, agency_valid,
				 AGENCY_SHAPE),
	[F_REASON]	= STRING("reason", 1, MSG_REASON_MAX),
	[F_SEQ]		= SCALAR("seq", FT_UINT),
	[F_ACCEPTED_AT]	= SCALAR("accepted_at", FT_INSTANT),
	[F_DUPLICATE]	= SCALAR("duplicate", FT_BOOL),
	[F_CODE]	= ENUM("code", code_names),
	[F_ERROR]	= STRING("error", 1, MSG_ERROR_MAX),
	[F_FROM]	= SCALAR("from", FT_UINT),
	[F_LAST]	= SCALAR("last", FT_UINT),
	[F_STATE]	= ENUM("state", state_names),
	[F_CHANGE]	= ENUM("change", change_names),
	[F_CREATED_AT]	= SCALAR("created_at", FT_INSTANT),
	[F_DUE_AT]	= SCALAR("due_at", FT_INSTANT),
	[F_PLAN]	= UINT_MIN("plan", 1),
	[F_RULE]	= STRING("rule", 1, MSG_RULE_MAX),
	[F_REMINDERS]	= INT_LIST("reminders"),
	[F_ESCALATE_TO]	= AGENCY_LIST("escalate_to"),
	[F_ESCALATE_AFTER] = INT_LIST("escalate_after"),
	[F_NOTIFY]	= AGENCY_LIST("notify"),
	[F_ORIGIN_AGENCY] = SHAPED("origin_agency", MSG_AGENCY_MAX,
				   agency_valid, AGENCY_SHAPE),
	[F_ORIGIN_ID]	= STRING("origin_id", 1, MSG_ID_MAX),
	[F_ORIGIN_SEQ]	= SCALAR("origin_seq", FT_UINT),
	[F_CAUSE_SEQ]	= SCALAR("cause_seq", FT_UINT),
	[F_BY]		= SHAPED("by", MSG_AGENCY_MAX, agency_valid,
				 AGENCY_SHAPE),
	[F_NOTE]	= STRING("note", 0, MSG_NOTE_MAX),
	[F_CHANGED_AT]	= SCALAR("changed_at", FT_INSTANT),
	[F_BUSINESS]	= SCALAR("business", FT_BOOL),
	[F_WORKING_HOURS] = SCALAR("working_hours", FT_BOOL),
	[F_WAITING_SINCE] = SCALAR("waiting_since", FT_INSTANT),
	[F_ALERT_ID]	= STRING("alert_id", 1, MSG_ALERT_ID_MAX),
	[F_FIRED_AT]	= SCALAR("fired_at", FT_INSTANT),
	[F_PLANNED_AT]	= SCALAR("planned_at", FT_INSTANT),
	[F_LATE]	= SCALAR("late", FT_BOOL),
	[F_LEVEL]	= UINT_MIN("level", 1),
	[F_DELIVERY]	= STRING("delivery", 1, MSG_DELIVERY_MAX),
};

/* An alert's "kind" names what it announces, not a report's kind. */
static const struct field alert_kind_field = ENUM("kind", alert_names);

/* The fields whose value is an array: the only containers a body holds. */
#define LIST_KEYS	(B(F_REMINDERS) | B(F_ESCALATE_TO) | \
			 B(F_ESCALATE_AFTER) | B(F_NOTIFY))

#define BASE_KEYS	(B(F_V) | B(F_TYPE))
#define REPORT_KEYS	(BASE_KEYS | B(F_ID) | B(F_KIND) | B(F_CATEGORY) | \
			 B(F_SEVERITY) | B(F_TITLE) | B(F_BODY) | \
			 B(F_LOCALITY) | B(F_TASK) | B(F_PERIOD) | \
			 B(F_OCCURRED_AT) | B(F_DRILL) | B(F_AGENCY))
#define REPORT_NEEDS	(BASE_KEYS | B(F_ID) | B(F_KIND) | B(F_CATEGORY) | \
			 B(F_TITLE))
#define COMMAND_KEYS	(BASE_KEYS | B(F_ID) | B(F_OP) | B(F_TASK) | \
			 B(F_UNTIL) | B(F_TO) | B(F_REASON) | B(F_AGENCY) | \
			 B(F_DELIVERY))
#define COMMAND_NEEDS	(BASE_KEYS | B(F_ID) | B(F_OP) | B(F_TASK) | \
			 B(F_REASON))
#define STAMP_KEYS	(B(F_AGENCY) | B(F_ACCEPTED_AT))
#define ACK_KEYS	(BASE_KEYS | B(F_ID) | B(F_SEQ) | B(F_ACCEPTED_AT) | \
			 B(F_DUPLICATE))
#define NACK_KEYS	(BASE_KEYS | B(F_ID) | B(F_CODE) | B(F_ERROR))
#define REPLAY_KEYS	(BASE_KEYS | B(F_FROM))
#define REPLAY_END_KEYS	(BASE_KEYS | B(F_LAST))
#define TASK_NEEDS	(BASE_KEYS | B(F_TASK) | B(F_STATE) | B(F_CHANGE) | \
			 B(F_AGENCY) | B(F_CATEGORY) | B(F_TITLE) | \
			 B(F_CREATED_AT) | B(F_DUE_AT) | B(F_PLAN) | \
			 B(F_RULE) | B(F_ORIGIN_SEQ) | B(F_CAUSE_SEQ))
#define TASK_KEYS	(TASK_NEEDS | B(F_SEVERITY) | B(F_DRILL) | \
			 LIST_KEYS | B(F_ORIGIN_AGENCY) | B(F_ORIGIN_ID) | \
			 B(F_BY) | B(F_NOTE) | B(F_REASON) | B(F_PERIOD) | \
			 B(F_CHANGED_AT) | B(F_BUSINESS) | \
			 B(F_WORKING_HOURS) | B(F_WAITING_SINCE))
#define REFUSAL_KEYS	(BASE_KEYS | B(F_TASK) | B(F_AGENCY) | B(F_ID) | \
			 B(F_CAUSE_SEQ) | B(F_REASON))
#define ALERT_NEEDS	(BASE_KEYS | B(F_ALERT_ID) | B(F_KIND) | \
			 B(F_AGENCY) | B(F_TITLE) | B(F_FIRED_AT) | B(F_LATE))
#define ALERT_KEYS	(ALERT_NEEDS | B(F_TASK) | B(F_DRILL) | \
			 B(F_DUE_AT) | B(F_REASON) | \
			 B(F_PLANNED_AT) | B(F_LEVEL) | B(F_TO) | B(F_PLAN) | \
			 B(F_CATEGORY) | B(F_SEVERITY) | B(F_PERIOD) | \
			 B(F_RULE) | B(F_NOTIFY))

/* Which keys a body of each type may carry, and which it must. */
static const struct {
	uint64_t allowed;
	uint64_t required;
} shapes[MSG_TYPE_COUNT] = {
	[MSG_REPORT]		= { REPORT_KEYS, REPORT_NEEDS },
	[MSG_COMMAND]		= { COMMAND_KEYS, COMMAND_NEEDS },
	[MSG_REPORT_ACCEPTED]	= { REPORT_KEYS | STAMP_KEYS,
				    REPORT_NEEDS | STAMP_KEYS },
	[MSG_COMMAND_ACCEPTED]	= { COMMAND_KEYS | STAMP_KEYS,
				    COMMAND_NEEDS | STAMP_KEYS },
	[MSG_ACK]		= { ACK_KEYS, ACK_KEYS },
	[MSG_NACK]		= { NACK_KEYS, NACK_KEYS },
	[MSG_REPLAY]		= { REPLAY_KEYS, REPLAY_KEYS },
	[MSG_REPLAY_END]	= { REPLAY_END_KEYS, REPLAY_END_KEYS },
	[MSG_TASK_CREATED]	= { TASK_KEYS, TASK_NEEDS },
	[MSG_TASK_UPDATED]	= { TASK_KEYS, TASK_NEEDS },
	[MSG_TASK_CLOSED]	= { TASK_KEYS, TASK_NEEDS },
	[MSG_TASK_REFUSED]	= { REFUSAL_KEYS, REFUSAL_KEYS },
	[MSG_ALERT]		= { ALERT_KEYS, ALERT_NEEDS },
};

/* The body types each context accepts, and how to say so. */
static const struct {
	enum msg_context ctx;
	const char *name;
	enum msg_type type;
} ctx_types[] = {
	{ MSG_CTX_SUBMIT,	"report",	MSG_REPORT },
	{ MSG_CTX_SUBMIT,	"command",	MSG_COMMAND },
	{ MSG_CTX_EVENT,	"report",	MSG_REPORT_ACCEPTED },
	{ MSG_CTX_EVENT,	"command",	MSG_COMMAND_ACCEPTED },
	{ MSG_CTX_ANSWER,	"ack",		MSG_ACK },
	{ MSG_CTX_ANSWER,	"nack",		MSG_NACK },
	{ MSG_CTX_REPLAY,	"replay",	MSG_REPLAY },
	{ MSG_CTX_REPLAY_END,	"replay-end",	MSG_REPLAY_END },
};

static const char *const ctx_expect[] = {
	[MSG_CTX_SUBMIT]	= "must be report or command",
	[MSG_CTX_EVENT]		= "must be report or command",
	[MSG_CTX_ANSWER]	= "must be ack or nack",
	[MSG_CTX_REPLAY]	= "must be replay",
	[MSG_CTX_REPLAY_END]	= "must be replay-end",
};

static int field_lookup(const char *key, size_t len)
{
	int f;

	for (f = 0; f < F_COUNT; f++)
		if (strlen(fields[f].name) == len &&
		    memcmp(fields[f].name, key, len) == 0)
			return f;
	return -1;
}

/* ---- decoder ---- */

struct entry {
	const char *key;
	size_t klen;
	struct value val;
};

struct decoder {
	enum msg_context ctx;
	enum msg_type topic;		/* msg_decode_event(): its type */
	enum msg_alert topic_alert;	/* and for alert.<kind>, the kind */
	uint64_t lists;			/* the array keys this body may hold */
	struct msg *m;
	struct msg_error *err;
	struct entry ent[MSG_KEYS_MAX];
	size_t n;
	size_t list_bytes;		/* array strings, NUL included */
	char *arena;
	size_t used;
	uint64_t seen;
	size_t nafter;			/* entries of escalate_after */
};

static int code_errno(enum msg_code code)
{
	switch (code) {
	case CODE_TOO_LARGE:
		return -ERANGE;
	case CODE_UNSUPPORTED_VERSION:
		return -EPROTONOSUPPORT;
	case CODE_INTERNAL:
		return -ENOMEM;
	default:
		return -EINVAL;
	}
}

/*
 * Say what is wrong, as "field: sentence" or just the sentence, and return
 * the errno that goes with code.
 */
__attribute__((format(printf, 4, 5)))
static int fail(struct decoder *d, enum msg_code code, const char *field,
		const char *fmt, ...)
{
	struct msg_error *err = d->err;
	size_t off = 0;
	va_list ap;
	int n;

	err->code = code;
	snprintf(err->field, sizeof err->field, "%s", field ? field : "");
	if (field) {
		n = snprintf(err->text, sizeof err->text, "%s: ", field);
		off = n < 0 ? 0 : (size_t)n;
		if (off >= sizeof err->text)
			off = sizeof err->text - 1;
	}
	va_start(ap, fmt);
	vsnprintf(err->text + off, sizeof err->text - off, fmt, ap);
	va_end(ap);
	return code_errno(code);
}

/* A key the client chose, made fit for a log line and a NACK. */
static const char *shown_key(const struct entry *e, char buf[KEY_SHOWN_MAX + 1])
{
	size_t i, n = e->klen < KEY_SHOWN_MAX ? e->klen : KEY_SHOWN_MAX;

	if (n == 0)
		return "\"\"";
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)e->key[i];

		buf[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	buf[n] = '\0';
	return buf;
}

static const char *expected(enum ftype t)
{
	switch (t) {
	case FT_STR:
		return "expected a string";
	case FT_BOOL:
		return "expected a boolean";
	case FT_INT_LIST:
		return "expected an array of integers";
	case FT_STR_LIST:
		return "expected an array of strings";
	default:
		return "expected an integer";
	}
}

static int truncated(struct decoder *d)
{
	return fail(d, CODE_INVALID, NULL, "truncated body");
}

/*
 * Skip the contents of the container v just read, without recursion: a
 * count of the values still to read, which each byte of the frame can
 * only lower, so hostile counts end at the frame's end. Returns false when
 * the frame ends first.
 */
static bool skip_contents(struct reader *r, const struct value *v)
{
	uint64_t pending = v->kind == V_MAP ? 2 * v->u :
			   v->kind == V_ARRAY ? v->u : 0;
	struct value c;

	/* An ext's payload is left unread by read_value(). */
	if (v->kind == V_EXT && !take(r, v->len))
		return false;
	while (pending > 0) {
		if (!read_value(r, &c))
			return false;
		pending--;
		if (c.kind == V_MAP)
			pending += 2 * c.u;
		else if (c.kind == V_ARRAY)
			pending += c.u;
		else if (c.kind == V_EXT && !take(r, c.len))
			return false;
	}
	return true;
}

/*
 * After the first pass refused an entry, read on through the remaining
 * top-level entries for nothing but the id, so that the NACK can echo it
 * wherever it stands. Whatever else is wrong there is not reported: the
 * first error stands.
 */
static void salvage_id(struct decoder *d, struct reader *r,
		       const struct value *bad, uint64_t left)
{
	struct value key, val;

	if (!skip_contents(r, bad))
		return;
	while (left-- > 0 && d->n < MSG_KEYS_MAX) {
		if (!read_value(r, &key) || !read_value(r, &val) ||
		    !skip_contents(r, &val))
			return;
		if (key.kind == V_STR && key.len == 2 &&
		    memcmp(key.s, "id", 2) == 0 && val.kind == V_STR) {
			d->ent[d->n].key = key.s;
			d->ent[d->n].klen = key.len;
			d->ent[d->n].val = val;
			d->n++;
			return;
		}
	}
}

static int not_msgpack(struct decoder *d)
{
	return fail(d, CODE_INVALID, NULL, "body is not valid msgpack");
}

/*
 * The entries of the array e holds, for a key that may have one: at most
 * MSG_LIST_MAX scalars, read here only to find where they end and how much
 * of the arena their strings need; the second pass judges them. The count
 * is checked before a single entry is read, so a declared 2^32-1 costs
 * nothing. e->val is left pointing at the entries (s, len) with their
 * count in u.
 */
static int scan_list(struct decoder *d, struct reader *r, struct entry *e,
		     const struct field *f, uint64_t left)
{
	const uint8_t *start = r->p;
	struct value c, rest = { .kind = V_ARRAY };
	uint64_t k;
	int r_err;

	if (e->val.u > MSG_LIST_MAX) {
		r_err = fail(d, CODE_INVALID, f->name,
			     "more than %d entries", MSG_LIST_MAX);
		salvage_id(d, r, &e->val, left);
		return r_err;
	}
	for (k = 0; k < e->val.u; k++) {
		if (!read_value(r, &c))
			return truncated(d);
		if (c.kind == V_RESERVED)
			return not_msgpack(d);
		if (c.kind == V_ARRAY || c.kind == V_MAP || c.kind == V_EXT) {
			r_err = fail(d, CODE_INVALID, f->name, "%s",
				     expected(f->type));
			rest.u = e->val.u - k - 1;
			if (skip_contents(r, &c))
				salvage_id(d, r, &rest, left);
			return r_err;
		}
		if (c.kind == V_STR)
			d->list_bytes += c.len + 1;
	}
	e->val.s = (const char *)start;
	e->val.len = (size_t)(r->p - start);
	return 0;
}

/* First pass: where the keys and values are. */
static int scan(struct decoder *d, const void *buf, size_t len)
{
	struct reader r = { buf, (const uint8_t *)buf + len };
	char shown[KEY_SHOWN_MAX + 1];
	struct value top, key;
	uint64_t i;
	size_t j;
	int f, r_err;

	if (!read_value(&r, &top))
		return truncated(d);
	if (top.kind != V_MAP)
		return fail(d, CODE_INVALID, NULL, "body is not a map");
	if (top.u > MSG_KEYS_MAX)
		return fail(d, CODE_INVALID, NULL, "body has more than %d keys",
			    MSG_KEYS_MAX);
	for (i = 0; i < top.u; i++) {
		struct entry *e = &d->ent[d->n];

		if (!read_value(&r, &key))
			return truncated(d);
		if (key.kind != V_STR)
			return fail(d, CODE_INVALID, NULL,
				    "body has a key that is not a string");
		e->key = key.s;
		e->klen = key.len;
		if (!read_value(&r, &e->val))
			return truncated(d);
		if (e->val.kind == V_RESERVED)
			return not_msgpack(d);
		for (j = 0; j < d->n; j++)
			if (d->ent[j].klen == e->klen &&
			    memcmp(d->ent[j].key, e->key, e->klen) == 0) {
				r_err = fail(d, CODE_INVALID,
					     shown_key(e, shown),
					     "duplicate key");
				salvage_id(d, &r, &e->val, top.u - i - 1);
				return r_err;
			}
		if (e->val.kind == V_ARRAY || e->val.kind == V_MAP ||
		    e->val.kind == V_EXT) {
			f = field_lookup(e->key, e->klen);
			if (f >= 0 && e->val.kind == V_ARRAY &&
			    (d->lists & B(f))) {
				r_err = scan_list(d, &r, e, &fields[f],
						  top.u - i - 1);
				if (r_err < 0)
					return r_err;
				d->n++;
				continue;
			}
			/* An array key where none may be is just unknown. */
			if (f >= 0 && (LIST_KEYS & B(f)) && !(d->lists & B(f)))
				f = -1;
			r_err = fail(d, CODE_INVALID, shown_key(e, shown), "%s",
				     f < 0 ? "unknown key" :
				     expected(fields[f].type));
			salvage_id(d, &r, &e->val, top.u - i - 1);
			return r_err;
		}
		d->n++;
	}
	if (r.p != r.end)
		return fail(d, CODE_INVALID, NULL,
			    "trailing bytes after the body");
	return 0;
}

static const struct entry *find(const struct decoder *d, enum field_id f)
{
	size_t i, len = strlen(fields[f].name);

	for (i = 0; i < d->n; i++)
		if (d->ent[i].klen == len &&
		    memcmp(d->ent[i].key, fields[f].name, len) == 0)
			return &d->ent[i];
	return NULL;
}

/*
 * One allocation holds every string of the body, each NUL-terminated; the
 * frame bounds its size, so sizing it for all of them is cheaper than
 * counting which ones will be kept.
 */
static int arena_init(struct decoder *d)
{
	size_t i, size = d->list_bytes;

	for (i = 0; i < d->n; i++)
		if (d->ent[i].val.kind == V_STR)
			size += d->ent[i].val.len + 1;
	if (size == 0)
		return 0;
	d->arena = malloc(size);
	if (!d->arena)
		return fail(d, CODE_INTERNAL, NULL, "out of memory");
	d->m->_arena = d->arena;
	return 0;
}

static const char *arena_copy(struct decoder *d, const struct value *v)
{
	char *s = d->arena + d->used;

	memcpy(s, v->s, v->len);
	s[v->len] = '\0';
	d->used += v->len + 1;
	return s;
}

static bool str_ok(const struct value *v, size_t min, size_t max)
{
	return v->kind == V_STR && v->len >= min && v->len <= max &&
	       msg_utf8_valid(v->s, v->len) && !memchr(v->s, '\0', v->len);
}

/*
 * The NACK of a refused body echoes its id, so the id is read before
 * anything else can go wrong, wherever a body type carries one.
 */
static void echo_id(struct decoder *d)
{
	const struct entry *e;

	if (d->ctx != MSG_CTX_SUBMIT && d->ctx != MSG_CTX_EVENT &&
	    d->ctx != MSG_CTX_ANSWER)
		return;
	e = find(d, F_ID);
	if (e && str_ok(&e->val, 1, MSG_ID_MAX))
		d->m->id = arena_copy(d, &e->val);
}

static int check_version(struct decoder *d)
{
	const struct entry *e = find(d, F_V);

	if (!e)
		return fail(d, CODE_INVALID, "v", "required");
	if (e->val.kind == V_NEG)
		return fail(d, CODE_INVALID, "v", "must not be negative");
	if (e->val.kind != V_UINT)
		return fail(d, CODE_INVALID, "v", "expected an integer");
	if (e->val.u != MSG_VERSION)
		return fail(d, CODE_UNSUPPORTED_VERSION, "v",
			    "version %" PRIu64 " is not supported, only %d",
			    e->val.u, MSG_VERSION);
	return 0;
}

static int check_type(struct decoder *d)
{
	const struct entry *e = find(d, F_TYPE);
	const char *name;
	size_t i;

	if (!e)
		return fail(d, CODE_INVALID, "type", "required");
	if (e->val.kind != V_STR)
		return fail(d, CODE_INVALID, "type", "expected a string");
	if (d->topic != MSG_NONE) {
		name = body_names[d->topic];
		if (strlen(name) != e->val.len ||
		    memcmp(name, e->val.s, e->val.len) != 0)
			return fail(d, CODE_INVALID, "type",
				    "must be %s on topic %s", name,
				    type_names[d->topic]);
		d->m->type = d->topic;
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(ctx_types); i++)
		if (ctx_types[i].ctx == d->ctx &&
		    strlen(ctx_types[i].name) == e->val.len &&
		    memcmp(ctx_types[i].name, e->val.s, e->val.len) == 0) {
			d->m->type = ctx_types[i].type;
			return 0;
		}
	return fail(d, CODE_INVALID, "type", "%s", ctx_expect[d->ctx]);
}

/* "must be one of a, b, c", from an enum's names. */
static int fail_enum(struct decoder *d, const struct field *f)
{
	char list[160];
	size_t i, off = 0;

	list[0] = '\0';
	for (i = 1; i < f->nnames && off < sizeof list; i++)
		off += snprintf(list + off, sizeof list - off, "%s%s",
				i > 1 ? ", " : "", f->names[i]);
	return fail(d, CODE_INVALID, f->name, "must be one of %s", list);
}

static int check_string(struct decoder *d, const struct field *f,
			const struct value *v, unsigned *ret_index)
{
	if (v->kind != V_STR)
		return fail(d, CODE_INVALID, f->name, "expected a string");
	if (!msg_utf8_valid(v->s, v->len))
		return fail(d, CODE_INVALID, f->name, "invalid UTF-8");
	if (memchr(v->s, '\0', v->len))
		return fail(d, CODE_INVALID, f->name, "contains a NUL byte");
	if (f->names) {
		*ret_index = index_of(f->names, f->nnames, v->s, v->len);
		return *ret_index ? 0 : fail_enum(d, f);
	}
	if (v->len < f->min)
		return fail(d, CODE_INVALID, f->name, "must not be empty");
	if (v->len > f->max)
		return fail(d, CODE_INVALID, f->name, "longer than %zu bytes",
			    f->max);
	if (f->shape && !f->shape(v->s, v->len))
		return fail(d, CODE_INVALID, f->name, "%s", f->shape_text);
	return 0;
}

static int check_int(struct decoder *d, const struct field *f,
		     const struct value *v)
{
	if (v->kind == V_NEG)
		return fail(d, CODE_INVALID, f->name, "must not be negative");
	if (v->kind != V_UINT)
		return fail(d, CODE_INVALID, f->name, "expected an integer");
	if (f->type == FT_INSTANT && v->u > INT64_MAX)
		return fail(d, CODE_INVALID, f->name, "out of range");
	if (v->u < f->min)
		return fail(d, CODE_INVALID, f->name, "must be at least %zu",
			    f->min);
	return 0;
}

/*
 * Check the entries of an array field, which scan_list() has bounded to
 * MSG_LIST_MAX scalars, and store them in *m.
 */
static int take_list(struct decoder *d, enum field_id id,
		     const struct value *v)
{
	const struct field *f = &fields[id];
	struct reader r;
	int64_t *ints = NULL;
	const char **strs = NULL;
	size_t *count = NULL, k;
	unsigned idx;
	struct value c;
	int err;

	/* Only an array has bytes to read: a scalar's v->s is NULL. */
	if (v->kind != V_ARRAY)
		return fail(d, CODE_INVALID, f->name, "%s", expected(f->type));
	r = (struct reader){ (const uint8_t *)v->s,
			     (const uint8_t *)v->s + v->len };
	switch (id) {
	case F_REMINDERS:
		ints = d->m->reminders;
		count = &d->m->nreminders;
		break;
	case F_ESCALATE_AFTER:
		ints = d->m->escalate_after;
		count = &d->nafter;
		break;
	case F_ESCALATE_TO:
		strs = d->m->escalate_to;
		count = &d->m->nescalation;
		break;
	case F_NOTIFY:
		strs = d->m->notify;
		count = &d->m->nnotify;
		break;
	default:
		return fail(d, CODE_INVALID, f->name, "not an array field");
	}
	for (k = 0; k < v->u && k < MSG_LIST_MAX; k++) {
		if (!read_value(&r, &c))
			return truncated(d);	/* scan_list() read it */
		if (ints) {
			if (c.kind == V_NEG)
				return fail(d, CODE_INVALID, f->name,
					    "must not be negative");
			if (c.kind != V_UINT)
				return fail(d, CODE_INVALID, f->name, "%s",
					    expected(f->type));
			if (c.u > INT64_MAX)
				return fail(d, CODE_INVALID, f->name,
					    "out of range");
			ints[k] = (int64_t)c.u;
		} else {
			if (c.kind != V_STR)
				return fail(d, CODE_INVALID, f->name, "%s",
					    expected(f->type));
			err = check_string(d, f, &c, &idx);
			if (err < 0)
				return err;
			strs[k] = arena_copy(d, &c);
		}
	}
	*count = k;
	return 0;
}

/* Check one entry and store it in *m. */
static int take_field(struct decoder *d, enum field_id id,
		      const struct value *v)
{
	const struct field *f = &fields[id];
	struct msg *m = d->m;
	unsigned idx = 0;
	const char *s = NULL;
	int r;

	if (id == F_KIND && m->type == MSG_ALERT)
		f = &alert_kind_field;

	/* A nack may answer a body whose id could not be read. */
	if (id == F_ID && m->type == MSG_NACK && v->kind != V_STR)
		return v->kind == V_NIL ? 0 : fail(d, CODE_INVALID, f->name,
						   "expected a string or nil");
	switch (f->type) {
	case FT_STR:
		r = check_string(d, f, v, &idx);
		if (r < 0)
			return r;
		/* echo_id() has already copied a valid id. */
		if (!f->names && id != F_ID)
			s = arena_copy(d, v);
		break;
	case FT_UINT:
	case FT_INSTANT:
		r = check_int(d, f, v);
		if (r < 0)
			return r;
		break;
	case FT_BOOL:
		if (v->kind != V_BOOL)
			return fail(d, CODE_INVALID, f->name,
				    "expected a boolean");
		break;
	case FT_INT_LIST:
	case FT_STR_LIST:
		return take_list(d, id, v);
	}

	switch (id) {
	case F_ID:
	case F_V:
	case F_TYPE:
	case F_REMINDERS:
	case F_ESCALATE_TO:
	case F_ESCALATE_AFTER:
	case F_NOTIFY:
	case F_COUNT:
		break;
	case F_KIND:
		if (m->type == MSG_ALERT)
			m->alert = idx;
		else
			m->kind = idx;
		break;
	case F_CATEGORY:
		m->category = idx;
		break;
	case F_SEVERITY:
		m->severity = idx;
		break;
	case F_OP:
		m->op = idx;
		break;
	case F_CODE:
		m->code = idx;
		break;
	case F_STATE:
		m->state = idx;
		break;
	case F_CHANGE:
		m->change = idx;
		break;
	case F_RULE:
		m->rule = s;
		break;
	case F_ORIGIN_AGENCY:
		m->origin_agency = s;
		break;
	case F_ORIGIN_ID:
		m->origin_id = s;
		break;
	case F_BY:
		m->by = s;
		break;
	case F_NOTE:
		m->note = s;
		break;
	case F_CREATED_AT:
		m->created_at = (instant_t)v->u;
		break;
	case F_DUE_AT:
		m->due_at = (instant_t)v->u;
		break;
	case F_PLAN:
		m->plan = v->u;
		break;
	case F_ORIGIN_SEQ:
		m->origin_seq = v->u;
		break;
	case F_CAUSE_SEQ:
		m->cause_seq = v->u;
		break;
	case F_TITLE:
		m->title = s;
		break;
	case F_BODY:
		m->body = s;
		break;
	case F_LOCALITY:
		m->locality = s;
		break;
	case F_TASK:
		m->task = s;
		break;
	case F_PERIOD:
		m->period = s;
		break;
	case F_AGENCY:
		m->agency = s;
		break;
	case F_TO:
		m->to = s;
		break;
	case F_REASON:
		m->reason = s;
		break;
	case F_DELIVERY:
		m->delivery = s;
		break;
	case F_ERROR:
		m->error = s;
		break;
	case F_OCCURRED_AT:
		m->has_occurred_at = true;
		m->occurred_at = (instant_t)v->u;
		break;
	case F_UNTIL:
		m->has_until = true;
		m->until = (instant_t)v->u;
		break;
	case F_ACCEPTED_AT:
		m->accepted_at = (instant_t)v->u;
		break;
	case F_SEQ:
		m->seq = v->u;
		break;
	case F_FROM:
		m->from = v->u;
		break;
	case F_LAST:
		m->last = v->u;
		break;
	case F_DRILL:
		m->drill = v->u;
		break;
	case F_DUPLICATE:
		m->duplicate = v->u;
		break;
	case F_CHANGED_AT:
		m->changed_at = (instant_t)v->u;
		break;
	case F_BUSINESS:
		m->business = v->u;
		break;
	case F_WORKING_HOURS:
		m->working_hours = v->u;
		break;
	case F_WAITING_SINCE:
		m->waiting_since = (instant_t)v->u;
		break;
	case F_ALERT_ID:
		m->alert_id = s;
		break;
	case F_FIRED_AT:
		m->fired_at = (instant_t)v->u;
		break;
	case F_PLANNED_AT:
		m->planned_at = (instant_t)v->u;
		break;
	case F_LATE:
		m->late = v->u;
		break;
	case F_LEVEL:
		m->level = v->u;
		break;
	}
	return 0;
}

static int take_fields(struct decoder *d)
{
	uint64_t allowed = shapes[d->m->type].allowed;
	char shown[KEY_SHOWN_MAX + 1];
	size_t i;
	int f, r;

	for (i = 0; i < d->n; i++) {
		const struct entry *e = &d->ent[i];

		f = field_lookup(e->key, e->klen);
		if (f < 0 || !(allowed & B(f)))
			return fail(d, CODE_INVALID, shown_key(e, shown),
				    "unknown key");
		d->seen |= B(f);
		/* check_version() and check_type() went first. */
		if (f == F_V || f == F_TYPE)
			continue;
		r = take_field(d, f, &e->val);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The rules that depend on a report's kind. */
static int report_rules(struct decoder *d)
{
	const struct msg *m = d->m;

	if (m->kind == KIND_INCIDENT && m->severity == SEVERITY_NONE)
		return fail(d, CODE_INVALID, "severity",
			    "required for incident reports");
	if ((m->kind == KIND_PROGRESS || m->kind == KIND_COMPLETION) &&
	    !m->task)
		return fail(d, CODE_INVALID, "task", "required for %s reports",
			    kind_names[m->kind]);
	if (m->kind == KIND_PERIODIC && !m->period)
		return fail(d, CODE_INVALID, "period",
			    "required for periodic reports");
	return 0;
}

/* The rules that depend on a command's op. */
static int command_rules(struct decoder *d)
{
	const struct msg *m = d->m;

	if (m->op == OP_EXTEND && !m->has_until)
		return fail(d, CODE_INVALID, "until", "required for extend");
	if (m->op != OP_EXTEND && m->has_until)
		return fail(d, CODE_INVALID, "until", "only for extend");
	if (m->op == OP_REASSIGN && !m->to)
		return fail(d, CODE_INVALID, "to", "required for reassign");
	if (m->op != OP_REASSIGN && m->to)
		return fail(d, CODE_INVALID, "to", "only for reassign");
	if (m->op == OP_RETRY && !m->delivery)
		return fail(d, CODE_INVALID, "delivery", "required for retry");
	if (m->op != OP_RETRY && m->delivery)
		return fail(d, CODE_INVALID, "delivery", "only for retry");
	return 0;
}

/* The rules of a task event: its topic, and the escalation pairs. */
static int task_rules(struct decoder *d)
{
	const struct msg *m = d->m;
	bool to = d->seen & B(F_ESCALATE_TO);
	bool after = d->seen & B(F_ESCALATE_AFTER);

	if (m->type == MSG_TASK_CLOSED && m->state != STATE_DONE &&
	    m->state != STATE_CANCELLED)
		return fail(d, CODE_INVALID, "state",
			    "a closed task is done or cancelled");
	if (to && !after)
		return fail(d, CODE_INVALID, "escalate_after",
			    "required with escalate_to");
	if (after && !to)
		return fail(d, CODE_INVALID, "escalate_to",
			    "required with escalate_after");
	if (d->nafter != m->nescalation)
		return fail(d, CODE_INVALID, "escalate_after",
			    "must have as many entries as escalate_to");
	if ((m->state == STATE_WAITING) != ((d->seen & B(F_WAITING_SINCE)) != 0))
		return fail(d, CODE_INVALID, "waiting_since",
			    "required with state waiting, and only then");
	return 0;
}

/* The rules of an alert: its topic's kind, and what an escalation names. */
static int alert_rules(struct decoder *d)
{
	const struct msg *m = d->m;
	bool escalation = m->alert == ALERT_ESCALATION;

	if (d->topic_alert != ALERT_NONE && m->alert != d->topic_alert)
		return fail(d, CODE_INVALID, "kind", "must be %s on topic %s",
			    alert_names[d->topic_alert],
			    alert_topics[d->topic_alert]);
	if (escalation != ((d->seen & B(F_LEVEL)) != 0))
		return fail(d, CODE_INVALID, "level",
			    "required for an escalation, and only then");
	if (escalation != (m->to != NULL))
		return fail(d, CODE_INVALID, "to",
			    "required for an escalation, and only then");
	if ((m->alert == ALERT_REFUSED) == ((d->seen & B(F_DUE_AT)) != 0))
		return fail(d, CODE_INVALID, "due_at", m->alert == ALERT_REFUSED ?
			    "not for a refusal" : "required");
	if ((m->alert == ALERT_REFUSED) != (m->reason != NULL))
		return fail(d, CODE_INVALID, "reason",
			    "required for a refusal, and only then");
	return 0;
}

static int check_required(struct decoder *d)
{
	uint64_t missing = shapes[d->m->type].required & ~d->seen;
	int f;

	for (f = 0; f < F_COUNT; f++)
		if (missing & B(f))
			return fail(d, CODE_INVALID, fields[f].name,
				    "required");
	switch (d->m->type) {
	case MSG_REPORT:
	case MSG_REPORT_ACCEPTED:
		return report_rules(d);
	case MSG_COMMAND:
	case MSG_COMMAND_ACCEPTED:
		return command_rules(d);
	case MSG_TASK_CREATED:
	case MSG_TASK_UPDATED:
	case MSG_TASK_CLOSED:
		return task_rules(d);
	case MSG_ALERT:
		return alert_rules(d);
	default:
		return 0;
	}
}

/* Judged before any byte of the body is read. */
static int check_size(struct decoder *d, size_t len)
{
	if (len > MSG_FRAME_MAX)
		return fail(d, CODE_TOO_LARGE, NULL,
			    "body larger than %d bytes", MSG_FRAME_MAX);
	if (len == 0)
		return fail(d, CODE_INVALID, NULL, "empty body");
	return 0;
}

/* Both decoders, once the body's context is known: the two passes. */
static int decode(struct decoder *d, const void *buf, size_t len)
{
	struct msg *m = d->m;
	const char *id;
	void *arena;
	int r;

	/* Even a body that breaks off can have its id echoed. */
	r = scan(d, buf, len);
	if (arena_init(d) < 0) {
		r = -ENOMEM;
		goto out;
	}
	echo_id(d);
	if (r < 0)
		goto out;

	r = check_version(d);
	if (r == 0)
		r = check_type(d);
	if (r == 0)
		r = take_fields(d);
	if (r == 0)
		r = check_required(d);
out:
	if (r < 0) {
		id = m->id;
		arena = id ? m->_arena : NULL;
		if (!id)
			free(m->_arena);
		memset(m, 0, sizeof *m);
		m->id = id;
		m->_arena = arena;
	}
	return r;
}

int msg_decode(const void *buf, size_t len, enum msg_context ctx,
	       struct msg *m, struct msg_error *err)
{
	struct msg_error scratch;
	struct decoder d = { .ctx = ctx, .m = m, .err = err ? err : &scratch };
	int r;

	memset(m, 0, sizeof *m);
	memset(d.err, 0, sizeof *d.err);
	r = check_size(&d, len);
	if (r < 0)
		return r;
	if ((unsigned)ctx >= ARRAY_SIZE(ctx_expect))
		return fail(&d, CODE_INVALID, NULL, "unknown context");
	return decode(&d, buf, len);
}

int msg_decode_event(const char *topic, size_t topic_len, const void *buf,
		     size_t len, struct msg *m, struct msg_error *err)
{
	struct msg_error scratch;
	struct decoder d = { .ctx = MSG_CTX_EVENT, .m = m,
			     .err = err ? err : &scratch };
	int r;

	memset(m, 0, sizeof *m);
	memset(d.err, 0, sizeof *d.err);
	/* The topic is the first frame: judged before the body is. */
	d.topic = topic ? msg_topic_type(topic, topic_len) : MSG_NONE;
	if (d.topic == MSG_ALERT)
		d.topic_alert = alert_of_topic(topic, topic_len);
	if (!body_names[d.topic])
		return fail(&d, CODE_INVALID, NULL, "unknown topic");
	r = check_size(&d, len);
	if (r < 0)
		return r;
	d.lists = shapes[d.topic].allowed & LIST_KEYS;
	return decode(&d, buf, len);
}

void msg_free(struct msg *m)
{
	if (!m)
		return;
	free(m->_arena);
	memset(m, 0, sizeof *m);
}

/* ---- encoder ---- */

/*
 * The fields are gathered first because a msgpack map states its size
 * before its contents.
 */
enum kv_type {
	KV_STR,
	KV_UINT,
	KV_INT,
	KV_BOOL,
	KV_NIL,
	KV_INTS,	/* an array of n int64_t at ints */
	KV_STRS,	/* an array of n strings at strs */
};

struct kv {
	const char *key;
	enum kv_type type;
	const char *s;
	uint64_t u;
	int64_t i;
	const int64_t *ints;
	const char *const *strs;
	size_t n;
};

struct encoder {
	struct kv kv[F_COUNT];
	size_t n;
};

static void put(struct encoder *e, const char *key, enum kv_type type,
		const char *s, uint64_t u, int64_t i)
{
	e->kv[e->n++] = (struct kv){ .key = key, .type = type, .s = s,
				     .u = u, .i = i };
}

static void put_str(struct encoder *e, const char *key, const char *s)
{
	if (s)
		put(e, key, KV_STR, s, 0, 0);
}

static void put_uint(struct encoder *e, const char *key, uint64_t u)
{
	put(e, key, KV_UINT, NULL, u, 0);
}

static void put_int(struct encoder *e, const char *key, int64_t i)
{
	put(e, key, KV_INT, NULL, 0, i);
}

static void put_bool(struct encoder *e, const char *key, bool b)
{
	put(e, key, KV_BOOL, NULL, b, 0);
}

static void put_ints(struct encoder *e, const char *key, const int64_t *ints,
		     size_t n)
{
	if (n > 0)
		e->kv[e->n++] = (struct kv){ .key = key, .type = KV_INTS,
					     .ints = ints, .n = n };
}

static void put_strs(struct encoder *e, const char *key,
		     const char *const *strs, size_t n)
{
	if (n > 0)
		e->kv[e->n++] = (struct kv){ .key = key, .type = KV_STRS,
					     .strs = strs, .n = n };
}

/* Whether s is what the decoder accepts for string field f. */
static bool str_fits(enum field_id id, const char *s)
{
	const struct field *f = &fields[id];
	size_t len;

	if (!s)
		return false;
	len = strnlen(s, f->max + 1);
	return len >= f->min && len <= f->max && msg_utf8_valid(s, len) &&
	       (!f->shape || f->shape(s, len));
}

/* An optional string field: absent, or as the decoder accepts it. */
static bool opt_fits(enum field_id id, const char *s)
{
	return !s || str_fits(id, s);
}

static bool ints_fit(const int64_t *ints, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ints[i] < 0)
			return false;
	return true;
}

static bool agencies_fit(const char *const *strs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!msg_agency_valid(strs[i]))
			return false;
	return true;
}

/*
 * Task bodies come from the router and are stored as its tasks: every rule
 * of the decoder is checked here, lengths included, so that a task that
 * cannot be read back is never written.
 */
static int enc_task(struct encoder *e, const struct msg *m)
{
	const char *state = msg_state_name(m->state);
	const char *change = msg_change_name(m->change);
	const char *category = msg_category_name(m->category);

	if (!state || !change || !category)
		return -EINVAL;
	if (m->severity != SEVERITY_NONE && !msg_severity_name(m->severity))
		return -EINVAL;
	if (m->type == MSG_TASK_CLOSED && m->state != STATE_DONE &&
	    m->state != STATE_CANCELLED)
		return -EINVAL;
	if (!str_fits(F_TASK, m->task) || !str_fits(F_AGENCY, m->agency) ||
	    !str_fits(F_TITLE, m->title) || !str_fits(F_RULE, m->rule))
		return -EINVAL;
	if (!opt_fits(F_ORIGIN_AGENCY, m->origin_agency) ||
	    !opt_fits(F_ORIGIN_ID, m->origin_id) || !opt_fits(F_BY, m->by) ||
	    !opt_fits(F_NOTE, m->note) || !opt_fits(F_REASON, m->reason) ||
	    !opt_fits(F_PERIOD, m->period))
		return -EINVAL;
	if (m->created_at < 0 || m->due_at < 0 || m->plan < 1 ||
	    m->changed_at < 0 || m->waiting_since < 0)
		return -EINVAL;
	if (m->nreminders > MSG_LIST_MAX || m->nescalation > MSG_LIST_MAX ||
	    m->nnotify > MSG_LIST_MAX)
		return -EINVAL;
	if (!ints_fit(m->reminders, m->nreminders) ||
	    !ints_fit(m->escalate_after, m->nescalation) ||
	    !agencies_fit(m->escalate_to, m->nescalation) ||
	    !agencies_fit(m->notify, m->nnotify))
		return -EINVAL;
	put_str(e, "task", m->task);
	put_str(e, "state", state);
	put_str(e, "change", change);
	put_str(e, "agency", m->agency);
	put_str(e, "category", category);
	if (m->severity != SEVERITY_NONE)
		put_str(e, "severity", msg_severity_name(m->severity));
	put_str(e, "title", m->title);
	if (m->drill)
		put_bool(e, "drill", true);
	put_int(e, "created_at", m->created_at);
	put_int(e, "due_at", m->due_at);
	put_uint(e, "plan", m->plan);
	put_str(e, "rule", m->rule);
	put_ints(e, "reminders", m->reminders, m->nreminders);
	put_strs(e, "escalate_to", m->escalate_to, m->nescalation);
	put_ints(e, "escalate_after", m->escalate_after, m->nescalation);
	put_strs(e, "notify", m->notify, m->nnotify);
	put_str(e, "origin_agency", m->origin_agency);
	put_str(e, "origin_id", m->origin_id);
	put_uint(e, "origin_seq", m->origin_seq);
	put_uint(e, "cause_seq", m->cause_seq);
	put_str(e, "by", m->by);
	put_str(e, "note", m->note);
	put_str(e, "reason", m->reason);
	put_str(e, "period", m->period);
	if (m->changed_at > 0)
		put_int(e, "changed_at", m->changed_at);
	if (m->business)
		put_bool(e, "business", true);
	if (m->working_hours)
		put_bool(e, "working_hours", true);
	if (m->state == STATE_WAITING)
		put_int(e, "waiting_since", m->waiting_since);
	return 0;
}

/* An alert, as the deadline daemon fires it: checked like a task. */
static int enc_alert(struct encoder *e, const struct msg *m)
{
	const char *kind = msg_alert_name(m->alert);
	bool escalation = m->alert == ALERT_ESCALATION;

	if (!kind || !str_fits(F_ALERT_ID, m->alert_id) ||
	    !str_fits(F_AGENCY, m->agency) || !str_fits(F_TITLE, m->title) ||
	    !opt_fits(F_TASK, m->task) || !opt_fits(F_PERIOD, m->period) ||
	    !opt_fits(F_RULE, m->rule))
		return -EINVAL;
	if (m->due_at < 0 || m->fired_at < 0 || m->planned_at < 0)
		return -EINVAL;
	if (escalation != (m->level > 0) ||
	    escalation != str_fits(F_TO, m->to) || (!escalation && m->to))
		return -EINVAL;
	if (m->category != CATEGORY_NONE && !msg_category_name(m->category))
		return -EINVAL;
	if (m->severity != SEVERITY_NONE && !msg_severity_name(m->severity))
		return -EINVAL;
	if (m->nnotify > MSG_LIST_MAX || !agencies_fit(m->notify, m->nnotify))
		return -EINVAL;
	if ((m->alert == ALERT_REFUSED) != str_fits(F_REASON, m->reason) ||
	    (m->alert != ALERT_REFUSED && m->reason) ||
	    (m->alert == ALERT_REFUSED && m->due_at != 0))
		return -EINVAL;
	put_str(e, "alert_id", m->alert_id);
	put_str(e, "kind", kind);
	put_str(e, "task", m->task);
	put_str(e, "agency", m->agency);
	put_str(e, "title", m->title);
	if (m->alert != ALERT_REFUSED)
		put_int(e, "due_at", m->due_at);
	put_int(e, "fired_at", m->fired_at);
	put_bool(e, "late", m->late);
	put_bool(e, "drill", m->drill);
	if (m->planned_at > 0)
		put_int(e, "planned_at", m->planned_at);
	if (escalation) {
		put_uint(e, "level", m->level);
		put_str(e, "to", m->to);
	}
	if (m->plan > 0)
		put_uint(e, "plan", m->plan);
	if (m->category != CATEGORY_NONE)
		put_str(e, "category", msg_category_name(m->category));
	if (m->severity != SEVERITY_NONE)
		put_str(e, "severity", msg_severity_name(m->severity));
	put_str(e, "period", m->period);
	put_str(e, "rule", m->rule);
	put_strs(e, "notify", m->notify, m->nnotify);
	put_str(e, "reason", m->reason);
	return 0;
}

/* A report or command that changed nothing, as the router refused it. */
static int enc_refusal(struct encoder *e, const struct msg *m)
{
	if (!str_fits(F_TASK, m->task) || !str_fits(F_AGENCY, m->agency) ||
	    !str_fits(F_ID, m->id) || !str_fits(F_REASON, m->reason))
		return -EINVAL;
	put_str(e, "task", m->task);
	put_str(e, "agency", m->agency);
	put_str(e, "id", m->id);
	put_uint(e, "cause_seq", m->cause_seq);
	put_str(e, "reason", m->reason);
	return 0;
}

static int enc_report(struct encoder *e, const struct msg *m)
{
	const char *kind = msg_kind_name(m->kind);
	const char *category = msg_category_name(m->category);

	if (!m->id || !kind || !category || !m->title)
		return -EINVAL;
	if (m->severity != SEVERITY_NONE && !msg_severity_name(m->severity))
		return -EINVAL;
	if (m->kind == KIND_INCIDENT && m->severity == SEVERITY_NONE)
		return -EINVAL;
	if ((m->kind == KIND_PROGRESS || m->kind == KIND_COMPLETION) &&
	    !m->task)
		return -EINVAL;
	if (m->kind == KIND_PERIODIC && !m->period)
		return -EINVAL;
	if (m->has_occurred_at && m->occurred_at < 0)
		return -EINVAL;
	put_str(e, "id", m->id);
	put_str(e, "kind", kind);
	put_str(e, "category", category);
	if (m->severity != SEVERITY_NONE)
		put_str(e, "severity", msg_severity_name(m->severity));
	put_str(e, "title", m->title);
	put_str(e, "body", m->body);
	put_str(e, "locality", m->locality);
	put_str(e, "task", m->task);
	put_str(e, "period", m->period);
	if (m->has_occurred_at)
		put_int(e, "occurred_at", m->occurred_at);
	if (m->drill)
		put_bool(e, "drill", true);
	put_str(e, "agency", m->agency);
	return 0;
}

static int enc_command(struct encoder *e, const struct msg *m)
{
	const char *op = msg_op_name(m->op);

	if (!m->id || !op || !m->task || !m->reason)
		return -EINVAL;
	if ((m->op == OP_EXTEND) != m->has_until)
		return -EINVAL;
	if ((m->op == OP_REASSIGN) != (m->to != NULL))
		return -EINVAL;
	if (m->has_until && m->until < 0)
		return -EINVAL;
	if ((m->op == OP_RETRY) != str_fits(F_DELIVERY, m->delivery) ||
	    (m->op != OP_RETRY && m->delivery))
		return -EINVAL;
	put_str(e, "id", m->id);
	put_str(e, "op", op);
	put_str(e, "task", m->task);
	if (m->has_until)
		put_int(e, "until", m->until);
	put_str(e, "to", m->to);
	put_str(e, "delivery", m->delivery);
	put_str(e, "reason", m->reason);
	put_str(e, "agency", m->agency);
	return 0;
}

/* The stamp intake adds to an accepted body before publishing it. */
static int enc_stamp(struct encoder *e, const struct msg *m)
{
	if (!m->agency || m->accepted_at < 0)
		return -EINVAL;
	put_int(e, "accepted_at", m->accepted_at);
	return 0;
}

static int enc_fields(struct encoder *e, const struct msg *m)
{
	int r;

	switch (m->type) {
	case MSG_REPORT:
		put_str(e, "type", "report");
		return enc_report(e, m);
	case MSG_REPORT_ACCEPTED:
		put_str(e, "type", "report");
		r = enc_report(e, m);
		return r < 0 ? r : enc_stamp(e, m);
	case MSG_COMMAND:
		put_str(e, "type", "command");
		return enc_command(e, m);
	case MSG_COMMAND_ACCEPTED:
		put_str(e, "type", "command");
		r = enc_command(e, m);
		return r < 0 ? r : enc_stamp(e, m);
	case MSG_ACK:
		if (!m->id || m->accepted_at < 0)
			return -EINVAL;
		put_str(e, "type", "ack");
		put_str(e, "id", m->id);
		put_uint(e, "seq", m->seq);
		put_int(e, "accepted_at", m->accepted_at);
		put_bool(e, "duplicate", m->duplicate);
		return 0;
	case MSG_NACK:
		if (!msg_code_name(m->code) || !m->error)
			return -EINVAL;
		put_str(e, "type", "nack");
		if (m->id)
			put_str(e, "id", m->id);
		else
			put(e, "id", KV_NIL, NULL, 0, 0);
		put_str(e, "code", msg_code_name(m->code));
		put_str(e, "error", m->error);
		return 0;
	case MSG_REPLAY:
		put_str(e, "type", "replay");
		put_uint(e, "from", m->from);
		return 0;
	case MSG_REPLAY_END:
		put_str(e, "type", "replay-end");
		put_uint(e, "last", m->last);
		return 0;
	case MSG_TASK_CREATED:
	case MSG_TASK_UPDATED:
	case MSG_TASK_CLOSED:
		put_str(e, "type", "task");
		return enc_task(e, m);
	case MSG_TASK_REFUSED:
		put_str(e, "type", "refusal");
		return enc_refusal(e, m);
	case MSG_ALERT:
		put_str(e, "type", "alert");
		return enc_alert(e, m);
	default:
		return -EINVAL;
	}
}

static int pack_kv(msgpack_packer *pk, const struct kv *kv)
{
	size_t i, len = strlen(kv->key);

	if (msgpack_pack_str(pk, len) ||
	    msgpack_pack_str_body(pk, kv->key, len))
		return -1;
	switch (kv->type) {
	case KV_STR:
		len = strlen(kv->s);
		return msgpack_pack_str(pk, len) ||
		       msgpack_pack_str_body(pk, kv->s, len) ? -1 : 0;
	case KV_UINT:
		return msgpack_pack_uint64(pk, kv->u);
	case KV_INT:
		return msgpack_pack_int64(pk, kv->i);
	case KV_BOOL:
		return kv->u ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
	case KV_NIL:
		return msgpack_pack_nil(pk);
	case KV_INTS:
		if (msgpack_pack_array(pk, kv->n))
			return -1;
		for (i = 0; i < kv->n; i++)
			if (msgpack_pack_int64(pk, kv->ints[i]))
				return -1;
		return 0;
	case KV_STRS:
		if (msgpack_pack_array(pk, kv->n))
			return -1;
		for (i = 0; i < kv->n; i++) {
			len = strlen(kv->strs[i]);
			if (msgpack_pack_str(pk, len) ||
			    msgpack_pack_str_body(pk, kv->strs[i], len))
				return -1;
		}
		return 0;
	}
	return -1;
}

int msg_encode(const struct msg *m, void **ret_buf, size_t *ret_len)
{
	struct encoder e = { .n = 0 };
	msgpack_sbuffer sbuf;
	msgpack_packer pk;
	size_t i;
	int r;

	if (m->type != MSG_HEARTBEAT) {
		put_uint(&e, "v", MSG_VERSION);
		r = enc_fields(&e, m);
		if (r < 0)
			return r;
	}

	msgpack_sbuffer_init(&sbuf);
	msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
	/* msgpack-c's only failure is its buffer failing to grow. */
	if (msgpack_pack_map(&pk, e.n) < 0)
		goto nomem;
	for (i = 0; i < e.n; i++)
		if (pack_kv(&pk, &e.kv[i]) < 0)
			goto nomem;
	*ret_len = sbuf.size;
	*ret_buf = msgpack_sbuffer_release(&sbuf);
	return 0;
nomem:
	msgpack_sbuffer_destroy(&sbuf);
	return -ENOMEM;
}
