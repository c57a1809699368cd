/*
 * msg.h - every message Baton sends or receives, as C structs, with the
 * msgpack encoder and the strict decoder (PROTOCOL.md, version 1).
 *
 * One enum lists every message type, grouped by direction, the way OpenBSD
 * daemons list their imsg types. Bodies are flat msgpack maps with string
 * keys; struct msg holds the union of their fields, and which fields mean
 * something depends on msg.type.
 *
 * The decoder is the wall between the outside world and the daemons: it
 * checks every rule of the protocol (types, lengths, enums, UTF-8, unknown
 * and duplicate keys, fields required by kind or op) and says which field is
 * wrong. It walks the bytes itself, bounded by the frame, instead of
 * unpacking into msgpack-c's object tree, because that unpacker reserves
 * memory for the element count a frame declares before it reads a single
 * element: five hostile bytes would make it ask for gigabytes. Encoding
 * goes through msgpack-c's packer.
 *
 * Ownership: a decoded struct msg owns its strings (one allocation, freed by
 * msg_free()); a struct msg built by the caller for encoding owns nothing and
 * its strings are only read.
 */
#ifndef BATON_MSG_H
#define BATON_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "time.h"

#define MSG_VERSION		1

/* Limits of PROTOCOL.md, in bytes; "min" is 1 unless noted. */
#define MSG_ID_MAX		128
#define MSG_TITLE_MAX		256
#define MSG_BODY_MAX		65536	/* min 0 */
#define MSG_REASON_MAX		1024
#define MSG_TASK_MAX		128
/* Limits Baton adds where the protocol names none (docs/protocol.md). */
#define MSG_AGENCY_MAX		64	/* [A-Za-z0-9._-], used in topics */
#define MSG_LOCALITY_MAX	64
#define MSG_PERIOD_MAX		16	/* 2026, 2026-Q3, 2026-H2, 2026-07,
					   2026-W05, 2026-11-26,
					   20261126T080000Z */
#define MSG_ERROR_MAX		256
#define MSG_RULE_MAX		64
#define MSG_NOTE_MAX		1024
#define MSG_LIST_MAX		16	/* entries in any array field */
#define MSG_TOPIC_MAX		64
/* An alert id: "<task>/<plan>/<step>", e.g. "T-1042/2/escalation-1". */
#define MSG_ALERT_ID_MAX	(MSG_TASK_MAX + 48)
/* A delivery id: "<alert id>:<recipient>:<channel>" (lib/outbox.h). */
#define MSG_DELIVERY_MAX	(MSG_ALERT_ID_MAX + MSG_AGENCY_MAX + 16)
/* No valid client body is larger than this; larger frames are too_large. */
#define MSG_FRAME_MAX		(96 * 1024)

enum msg_type {
	MSG_NONE = 0,
	/* client (agency, operator) -> baton-intake, on the submit socket */
	MSG_REPORT,		/* "report" */
	MSG_COMMAND,		/* "command" */
	/* baton-intake -> client */
	MSG_ACK,		/* "ack" */
	MSG_NACK,		/* "nack" */
	/* subscriber -> publisher, on the replay socket */
	MSG_REPLAY,		/* "replay" */
	/* publisher -> subscriber, on the replay socket, after the events */
	MSG_REPLAY_END,		/* "replay-end" */
	/* baton-intake -> subscribers: event bodies on the bus */
	MSG_REPORT_ACCEPTED,	/* topic "report.accepted", body type "report" */
	MSG_COMMAND_ACCEPTED,	/* topic "command.accepted", body type "command" */
	/* baton-router -> subscribers: event bodies on the bus */
	MSG_TASK_CREATED,	/* topic "task.created", body type "task" */
	MSG_TASK_UPDATED,	/* topic "task.updated", body type "task" */
	MSG_TASK_CLOSED,	/* topic "task.closed", body type "task" */
	MSG_TASK_REFUSED,	/* topic "task.refused", body type "refusal" */
	/* baton-deadline -> subscribers: topic "alert.<kind>", body "alert" */
	MSG_ALERT,
	/* any publisher -> subscribers */
	MSG_HEARTBEAT,		/* topic "hb", empty map */
	MSG_TYPE_COUNT
};

/* A task's state. */
enum msg_state {
	STATE_NONE = 0,
	STATE_OPEN,		/* "open" */
	STATE_IN_PROGRESS,	/* "in-progress" */
	STATE_WAITING,		/* "waiting" */
	STATE_DONE,		/* "done" */
	STATE_CANCELLED,	/* "cancelled" */
};

/* What changed a task: the reason a task event was published. */
enum msg_change {
	CHANGE_NONE = 0,
	CHANGE_CREATED,		/* "created": by a routed report */
	CHANGE_PROGRESS,	/* "progress": a progress report */
	CHANGE_COMPLETED,	/* "completed": a completion report or command */
	CHANGE_EXTENDED,	/* "extended": a command moved the deadline */
	CHANGE_REASSIGNED,	/* "reassigned": a command changed the agency */
	CHANGE_CANCELLED,	/* "cancelled": a command */
	CHANGE_WAITING,		/* "waiting": a command paused its clock */
	CHANGE_RESUMED,		/* "resumed": a command restarted it */
};

/* What an alert announces (PROTOCOL.md section 3). */
enum msg_alert {
	ALERT_NONE = 0,
	ALERT_TASK_ASSIGNED,	/* "task-assigned": by baton-notify */
	ALERT_REMINDER,		/* "reminder": before the deadline */
	ALERT_OVERDUE,		/* "overdue": at the deadline */
	ALERT_ESCALATION,	/* "escalation": a level after it */
	ALERT_MISSING_REPORT,	/* "missing-report": an obligation's deadline */
	ALERT_REFUSED,		/* "refused": by baton-notify, for the office:
				   the router refused a report or command */
};

enum msg_kind {
	KIND_NONE = 0,
	KIND_INCIDENT,
	KIND_PROGRESS,
	KIND_COMPLETION,
	KIND_PERIODIC,
};

enum msg_category {
	CATEGORY_NONE = 0,
	CATEGORY_CYBERSECURITY,
	CATEGORY_INFORMATION_SECURITY,
	CATEGORY_CYBER_DEFENSE,
	CATEGORY_TOXIC_INFORMATION,
};

enum msg_severity {
	SEVERITY_NONE = 0,	/* absent: allowed except for incidents */
	SEVERITY_LOW,
	SEVERITY_MEDIUM,
	SEVERITY_HIGH,
	SEVERITY_CRITICAL,
};

enum msg_op {
	OP_NONE = 0,
	OP_COMPLETE,
	OP_EXTEND,
	OP_REASSIGN,
	OP_CANCEL,
	OP_WAIT,		/* Baton's: the task waits, its clock paused */
	OP_RESUME,		/* Baton's: the clock runs again */
	OP_RETRY,		/* Baton's: a dead delivery is tried again */
};

/* NACK codes; also what the decoder says is wrong with a body. */
enum msg_code {
	CODE_NONE = 0,
	CODE_INVALID,
	CODE_UNAUTHORIZED,
	CODE_FORBIDDEN,
	CODE_TOO_LARGE,
	CODE_UNSUPPORTED_VERSION,
	CODE_BUSY,
	CODE_INTERNAL,
};

/*
 * A message. Which fields are used depends on type; strings are
 * NUL-terminated UTF-8 without embedded NULs, or NULL when absent.
 */
struct msg {
	enum msg_type type;
	const char *id;			/* report, command, ack; nack: may be NULL */
	const char *agency;		/* report, command: who sent it */

	/* report */
	enum msg_kind kind;
	enum msg_category category;
	enum msg_severity severity;
	const char *title;
	const char *body;
	const char *locality;
	const char *task;		/* also command */
	const char *period;
	bool has_occurred_at;
	instant_t occurred_at;
	bool drill;

	/* command */
	enum msg_op op;
	bool has_until;
	instant_t until;
	const char *to;
	const char *reason;
	const char *delivery;		/* retry: the delivery id */

	/* ack; accepted_at also stamps report.accepted/command.accepted */
	uint64_t seq;
	instant_t accepted_at;
	bool duplicate;

	/* nack */
	enum msg_code code;
	const char *error;

	/*
	 * task (task.created/updated/closed): agency is the assigned agency;
	 * task, category, severity, title, drill, period and reason as above.
	 */
	enum msg_state state;
	enum msg_change change;
	instant_t created_at;
	instant_t due_at;
	uint64_t plan;			/* plan version: 1, +1 per re-plan */
	const char *rule;		/* the routing rule that made it */
	int64_t reminders[MSG_LIST_MAX];	/* ms before due_at */
	size_t nreminders;
	const char *escalate_to[MSG_LIST_MAX];	/* agencies, in order */
	int64_t escalate_after[MSG_LIST_MAX];	/* ms after due_at */
	size_t nescalation;
	const char *notify[MSG_LIST_MAX];	/* agencies also told */
	size_t nnotify;
	const char *origin_agency;	/* who reported what made the task */
	const char *origin_id;		/* that report's id */
	uint64_t origin_seq;		/* its intake sequence */
	uint64_t cause_seq;		/* intake sequence of this change */
	const char *by;			/* agency behind this change */
	const char *note;		/* the progress report's title etc. */
	instant_t changed_at;		/* instant of this change (0: unknown,
					   read created_at) */
	bool business;			/* due_at counts business time */
	bool working_hours;		/* reminders only in working time */
	instant_t waiting_since;	/* state waiting: since when */

	/*
	 * alert (topic "alert.<kind>"): task, agency (responsible), title,
	 * due_at (the task's deadline), drill, plan, category, severity,
	 * period, rule and notify as in the task; to is the agency an
	 * escalation goes to. A refused alert has no due_at (0) and says
	 * why in reason.
	 */
	enum msg_alert alert;
	const char *alert_id;
	instant_t fired_at;
	instant_t planned_at;		/* the step's instant */
	bool late;			/* fired after a downtime */
	uint64_t level;			/* escalation: 1, 2, ... */

	/*
	 * refusal (task.refused): a report or command on a task the sender may
	 * not touch, or that does not exist. task is the task named, agency
	 * the sender, id its report id, cause_seq its intake sequence, reason
	 * why it changed nothing.
	 */

	/* replay */
	uint64_t from;
	/* replay-end */
	uint64_t last;

	/* private: the decoder's allocation for the strings above */
	void *_arena;
};

/* Why a body was refused: the code to answer with, and a sentence. */
struct msg_error {
	enum msg_code code;
	char field[24];			/* "" when not about one field */
	char text[MSG_ERROR_MAX];	/* "title: longer than 256 bytes" */
};

/* What the decoder is reading; it decides which types and keys are legal. */
enum msg_context {
	MSG_CTX_SUBMIT,		/* a client body: report or command */
	MSG_CTX_ANSWER,		/* intake's answer: ack or nack */
	MSG_CTX_EVENT,		/* a bus event body: stamped report or command */
	MSG_CTX_REPLAY,		/* a replay request */
	MSG_CTX_REPLAY_END,	/* a replay-end */
};

/*
 * Decode and validate one body read in context ctx.
 * Returns 0 and fills *m (release with msg_free()); or -EINVAL, -ERANGE
 * (frame larger than MSG_FRAME_MAX: code too_large),
 * -EPROTONOSUPPORT (v is not 1: code unsupported_version), with *err saying
 * which field is wrong and m left empty; or -ENOMEM.
 * For a refused body whose id could be read, m->id stays set (the NACK
 * echoes it) and msg_free() must still be called.
 */
int msg_decode(const void *buf, size_t len, enum msg_context ctx,
	       struct msg *m, struct msg_error *err);

/* Free what msg_decode() allocated and zero *m. Takes a zeroed msg. */
void msg_free(struct msg *m);

/*
 * Decode and validate a bus event body published under topic (topic_len
 * bytes, not NUL-terminated): report.accepted and command.accepted as in
 * MSG_CTX_EVENT, task.created/updated/closed as "task" bodies,
 * task.refused as a "refusal" body, alert.<kind> as an "alert" body of
 * that kind. m->type is the topic's type. A body whose "type" (or alert
 * kind) does not fit the topic is invalid, and so is a task.closed whose
 * state is not done or cancelled, or an unknown topic.
 * Returns as msg_decode().
 */
int msg_decode_event(const char *topic, size_t topic_len, const void *buf,
		     size_t len, struct msg *m, struct msg_error *err);

/*
 * Encode m as a msgpack body, following m->type. Events
 * (MSG_REPORT_ACCEPTED, MSG_COMMAND_ACCEPTED) encode as their "report" or
 * "command" body with "agency" and "accepted_at".
 * Returns 0 and sets *ret_buf (malloc'd; the caller frees) and *ret_len, or
 * -EINVAL (a required field is missing), -ENOMEM.
 */
int msg_encode(const struct msg *m, void **ret_buf, size_t *ret_len);

/* Wire names. Each returns NULL for an out-of-range value. */
const char *msg_type_name(enum msg_type t);	/* body type or topic */
const char *msg_kind_name(enum msg_kind k);
const char *msg_category_name(enum msg_category c);
const char *msg_severity_name(enum msg_severity s);
const char *msg_op_name(enum msg_op o);
const char *msg_code_name(enum msg_code c);
const char *msg_state_name(enum msg_state s);
const char *msg_change_name(enum msg_change c);
const char *msg_alert_name(enum msg_alert a);

/* Inverse of the *_name functions: 0 (the NONE value) when unknown. */
enum msg_kind msg_kind_from(const char *s);
enum msg_category msg_category_from(const char *s);
enum msg_severity msg_severity_from(const char *s);
enum msg_op msg_op_from(const char *s);
enum msg_state msg_state_from(const char *s);
enum msg_alert msg_alert_from(const char *s);

/* The topic a publisher uses for type t, e.g. "report.accepted"; NULL for
 * MSG_ALERT, whose topic depends on its kind: msg_alert_topic(). */
const char *msg_topic(enum msg_type t);
/* The topic of an alert of kind a, e.g. "alert.reminder"; NULL if none. */
const char *msg_alert_topic(enum msg_alert a);
/* The event type of a topic, MSG_NONE when it is not one we know. */
enum msg_type msg_topic_type(const char *topic, size_t len);

/*
 * Whether s[0..len) is valid UTF-8 (no overlongs, no surrogates, nothing
 * above U+10FFFF). NULs are allowed here; the decoder refuses them apart.
 */
bool msg_utf8_valid(const char *s, size_t len);

/* Whether s is a well-formed agency name: 1-64 bytes of [A-Za-z0-9._-]. */
bool msg_agency_valid(const char *s);

#endif
