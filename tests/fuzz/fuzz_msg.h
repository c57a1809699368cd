/*
 * fuzz_msg.h - the checks fuzz_msg and fuzz_bus make on every decode.
 *
 * msg.h promises that the decoder is the wall between the outside world
 * and the daemons. So, for a body it accepts: every string is UTF-8 within
 * its field's limit, every agency name is well formed, every list within
 * MSG_LIST_MAX, every instant >= 0; the message encodes again (msg_encode()
 * refuses only what the decoder would), the encoding decodes to an equal
 * message, and encoding that gives the same bytes. For a body it refuses:
 * a code that matches the errno, a sentence saying why, and nothing left
 * in the message but the echoed id.
 */
#ifndef BATON_FUZZ_MSG_H
#define BATON_FUZZ_MSG_H

#include <errno.h>
#include <inttypes.h>

#include "fuzz.h"
#include "msg.h"

/* How a body is read: msg_decode() in a context, or msg_decode_event(). */
struct fuzz_way {
	bool event;
	enum msg_context ctx;
	const char *topic;
	size_t topic_len;
	const char *name;	/* for messages */
};

static inline int fuzz_decode(const struct fuzz_way *w, const void *buf,
			      size_t len, struct msg *m, struct msg_error *err)
{
	if (w->event)
		return msg_decode_event(w->topic, w->topic_len, buf, len, m,
					err);
	return msg_decode(buf, len, w->ctx, m, err);
}

static inline bool fuzz_str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* A string field: absent, or UTF-8 of min..max bytes. */
static inline void fuzz_check_str(const struct fuzz_way *w, const char *field,
				  const char *s, size_t min, size_t max)
{
	size_t len;

	if (!s)
		return;
	len = strlen(s);
	FUZZ_CHECK(len >= min && len <= max,
		   "%s: decoded %s has %zu bytes, not %zu..%zu", w->name,
		   field, len, min, max);
	FUZZ_CHECK(msg_utf8_valid(s, len), "%s: decoded %s is not UTF-8",
		   w->name, field);
}

static inline void fuzz_check_agency(const struct fuzz_way *w,
				     const char *field, const char *s)
{
	FUZZ_CHECK(!s || msg_agency_valid(s),
		   "%s: decoded %s '%s' is not an agency name", w->name, field,
		   s);
}

/* What msg.h promises of every message the decoder accepts. */
static inline void fuzz_check_valid(const struct fuzz_way *w,
				    const struct msg *m)
{
	size_t i;

	FUZZ_CHECK(m->type > MSG_NONE && m->type < MSG_TYPE_COUNT &&
		   m->type != MSG_HEARTBEAT,
		   "%s: decoded type %d", w->name, (int)m->type);
	fuzz_check_str(w, "id", m->id, 1, MSG_ID_MAX);
	fuzz_check_agency(w, "agency", m->agency);
	fuzz_check_str(w, "title", m->title, 1, MSG_TITLE_MAX);
	fuzz_check_str(w, "body", m->body, 0, MSG_BODY_MAX);
	fuzz_check_str(w, "locality", m->locality, 1, MSG_LOCALITY_MAX);
	fuzz_check_str(w, "task", m->task, 1, MSG_TASK_MAX);
	fuzz_check_str(w, "period", m->period, 4, MSG_PERIOD_MAX);
	fuzz_check_agency(w, "to", m->to);
	fuzz_check_str(w, "reason", m->reason, 1, MSG_REASON_MAX);
	fuzz_check_str(w, "delivery", m->delivery, 1, MSG_DELIVERY_MAX);
	fuzz_check_str(w, "error", m->error, 1, MSG_ERROR_MAX);
	fuzz_check_str(w, "rule", m->rule, 1, MSG_RULE_MAX);
	fuzz_check_agency(w, "origin_agency", m->origin_agency);
	fuzz_check_str(w, "origin_id", m->origin_id, 1, MSG_ID_MAX);
	fuzz_check_agency(w, "by", m->by);
	fuzz_check_str(w, "note", m->note, 0, MSG_NOTE_MAX);
	fuzz_check_str(w, "alert_id", m->alert_id, 1, MSG_ALERT_ID_MAX);
	FUZZ_CHECK(m->nreminders <= MSG_LIST_MAX &&
		   m->nescalation <= MSG_LIST_MAX && m->nnotify <= MSG_LIST_MAX,
		   "%s: decoded lists of %zu, %zu, %zu entries", w->name,
		   m->nreminders, m->nescalation, m->nnotify);
	for (i = 0; i < m->nreminders; i++)
		FUZZ_CHECK(m->reminders[i] >= 0, "%s: reminder %zu < 0",
			   w->name, i);
	for (i = 0; i < m->nescalation; i++) {
		FUZZ_CHECK(m->escalate_after[i] >= 0,
			   "%s: escalate_after %zu < 0", w->name, i);
		FUZZ_CHECK(m->escalate_to[i] != NULL,
			   "%s: escalate_to %zu is NULL", w->name, i);
		fuzz_check_agency(w, "escalate_to", m->escalate_to[i]);
	}
	for (i = 0; i < m->nnotify; i++) {
		FUZZ_CHECK(m->notify[i] != NULL, "%s: notify %zu is NULL",
			   w->name, i);
		fuzz_check_agency(w, "notify", m->notify[i]);
	}
	FUZZ_CHECK(m->occurred_at >= 0 && m->until >= 0 &&
		   m->accepted_at >= 0 && m->created_at >= 0 &&
		   m->due_at >= 0 && m->changed_at >= 0 &&
		   m->waiting_since >= 0 && m->fired_at >= 0 &&
		   m->planned_at >= 0,
		   "%s: a decoded instant is negative", w->name);
	FUZZ_CHECK(m->kind == KIND_NONE || msg_kind_name(m->kind),
		   "%s: decoded kind %d", w->name, (int)m->kind);
	FUZZ_CHECK(m->category == CATEGORY_NONE ||
		   msg_category_name(m->category),
		   "%s: decoded category %d", w->name, (int)m->category);
	FUZZ_CHECK(m->severity == SEVERITY_NONE ||
		   msg_severity_name(m->severity),
		   "%s: decoded severity %d", w->name, (int)m->severity);
	FUZZ_CHECK(m->op == OP_NONE || msg_op_name(m->op),
		   "%s: decoded op %d", w->name, (int)m->op);
	FUZZ_CHECK(m->state == STATE_NONE || msg_state_name(m->state),
		   "%s: decoded state %d", w->name, (int)m->state);
	FUZZ_CHECK(m->alert == ALERT_NONE || msg_alert_name(m->alert),
		   "%s: decoded alert kind %d", w->name, (int)m->alert);
}

/* Every field of struct msg that a body can carry. */
static inline void fuzz_check_equal(const struct fuzz_way *w,
				    const struct msg *a, const struct msg *b)
{
	size_t i;

#define SAME_INT(f)							\
	FUZZ_CHECK(a->f == b->f, "%s: round trip changed " #f		\
		   " from %" PRId64 " to %" PRId64, w->name,		\
		   (int64_t)a->f, (int64_t)b->f)
#define SAME_STR(f)							\
	FUZZ_CHECK(fuzz_str_eq(a->f, b->f), "%s: round trip changed "	\
		   #f " from '%s' to '%s'", w->name,			\
		   a->f ? a->f : "(null)", b->f ? b->f : "(null)")

	SAME_INT(type);
	SAME_STR(id);
	SAME_STR(agency);
	SAME_INT(kind);
	SAME_INT(category);
	SAME_INT(severity);
	SAME_STR(title);
	SAME_STR(body);
	SAME_STR(locality);
	SAME_STR(task);
	SAME_STR(period);
	SAME_INT(has_occurred_at);
	SAME_INT(occurred_at);
	SAME_INT(drill);
	SAME_INT(op);
	SAME_INT(has_until);
	SAME_INT(until);
	SAME_STR(to);
	SAME_STR(reason);
	SAME_STR(delivery);
	SAME_INT(seq);
	SAME_INT(accepted_at);
	SAME_INT(duplicate);
	SAME_INT(code);
	SAME_STR(error);
	SAME_INT(state);
	SAME_INT(change);
	SAME_INT(created_at);
	SAME_INT(due_at);
	SAME_INT(plan);
	SAME_STR(rule);
	SAME_INT(nreminders);
	SAME_INT(nescalation);
	SAME_INT(nnotify);
	SAME_STR(origin_agency);
	SAME_STR(origin_id);
	SAME_INT(origin_seq);
	SAME_INT(cause_seq);
	SAME_STR(by);
	SAME_STR(note);
	SAME_INT(changed_at);
	SAME_INT(business);
	SAME_INT(working_hours);
	SAME_INT(waiting_since);
	SAME_INT(alert);
	SAME_STR(alert_id);
	SAME_INT(fired_at);
	SAME_INT(planned_at);
	SAME_INT(late);
	SAME_INT(level);
	SAME_INT(from);
	SAME_INT(last);
	for (i = 0; i < a->nreminders; i++)
		SAME_INT(reminders[i]);
	for (i = 0; i < a->nescalation; i++) {
		SAME_STR(escalate_to[i]);
		SAME_INT(escalate_after[i]);
	}
	for (i = 0; i < a->nnotify; i++)
		SAME_STR(notify[i]);
#undef SAME_INT
#undef SAME_STR
}

/* What msg.h promises of a refusal: the errno and the code agree. */
static inline void fuzz_check_refused(const struct fuzz_way *w, int r,
				      const struct msg *m,
				      const struct msg_error *err)
{
	enum msg_code want;

	switch (r) {
	case -EINVAL:
		want = CODE_INVALID;
		break;
	case -ERANGE:
		want = CODE_TOO_LARGE;
		break;
	case -EPROTONOSUPPORT:
		want = CODE_UNSUPPORTED_VERSION;
		break;
	case -ENOMEM:
		want = CODE_INTERNAL;
		break;
	default:
		FUZZ_FAIL("%s: decoder returned %d", w->name, r);
	}
	FUZZ_CHECK(err->code == want, "%s: returned %d with code %d",
		   w->name, r, (int)err->code);
	FUZZ_CHECK(FUZZ_TERMINATED(err->field) && FUZZ_TERMINATED(err->text),
		   "%s: msg_error not terminated", w->name);
	FUZZ_CHECK(err->text[0] != '\0', "%s: refused (%d) without a reason",
		   w->name, r);
	FUZZ_CHECK(m->type == MSG_NONE, "%s: refused body left type %d",
		   w->name, (int)m->type);
	FUZZ_CHECK(!m->id || m->_arena, "%s: echoed id outside the arena",
		   w->name);
	fuzz_check_str(w, "echoed id", m->id, 1, MSG_ID_MAX);
}

/*
 * Decode buf the way w says and check everything above. Returns the
 * decoder's result.
 */
static inline int fuzz_msg_one(const struct fuzz_way *w, const void *buf,
			       size_t len)
{
	struct msg m, again;
	struct msg_error err;
	void *enc = NULL, *enc2 = NULL;
	size_t enc_len = 0, enc2_len = 0;
	int r, r2;

	r = fuzz_decode(w, buf, len, &m, &err);
	if (r < 0) {
		fuzz_check_refused(w, r, &m, &err);
		msg_free(&m);
		return r;
	}
	fuzz_check_valid(w, &m);

	r2 = msg_encode(&m, &enc, &enc_len);
	FUZZ_CHECK(r2 == 0, "%s: a decoded message does not encode: %d",
		   w->name, r2);
	FUZZ_CHECK(enc_len <= MSG_FRAME_MAX,
		   "%s: re-encoded body of %zu bytes", w->name, enc_len);
	r2 = fuzz_decode(w, enc, enc_len, &again, &err);
	FUZZ_CHECK(r2 == 0, "%s: re-encoded body refused (%d): %s", w->name,
		   r2, err.text);
	fuzz_check_equal(w, &m, &again);
	r2 = msg_encode(&again, &enc2, &enc2_len);
	FUZZ_CHECK(r2 == 0, "%s: second encode failed: %d", w->name, r2);
	FUZZ_CHECK(enc2_len == enc_len && memcmp(enc, enc2, enc_len) == 0,
		   "%s: encoding is not stable (%zu then %zu bytes)", w->name,
		   enc_len, enc2_len);
	free(enc);
	free(enc2);
	msg_free(&again);
	msg_free(&m);
	FUZZ_CHECK(m.type == MSG_NONE && m._arena == NULL,
		   "%s: msg_free() left the message set", w->name);
	return 0;
}

#endif
