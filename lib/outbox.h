/*
 * outbox.h - baton-notify's delivery outbox, as stored in its LMDB.
 *
 * An alert is stored once, by id, as its topic and the msgpack body the
 * feed announces (OUTBOX_ALERTS: topic NUL body). Each of its deliveries
 * is one row keyed by (alert id, recipient agency, channel) (OUTBOX_ROWS):
 * its state, attempts, when the next attempt is due and why the last one
 * failed. A delivery that is due (pending or retrying) also has one key in
 * OUTBOX_DUE, (lane, next attempt, row key), so the daemon finds what is
 * due by reading the first keys of a lane, never by scanning every row;
 * outbox_put() keeps the two in step.
 *
 * Two lanes, because the channels differ in kind: the feed and the journal
 * are done on the spot, email and webhooks wait for a network and for a
 * free slot. A backlog of mail to a slow server then sits in its own lane
 * and never stands in front of the feed.
 *
 * baton-notify is the only writer; batonctl reads the same tables through
 * a read-only store (`batonctl deliveries`). The layouts below are the
 * contract between them.
 *
 *   OUTBOX_ROWS key:   alert_id NUL recipient NUL channel-name
 *   OUTBOX_ROWS value: u8 version (1), u8 state, u16 BE 0, u32 BE attempts,
 *                      i64 BE created_at, next_at, updated_at,
 *                      u16 BE length + target, u16 BE length + last error
 *   OUTBOX_DUE key:    u8 lane, i64 BE next_at, the row key; empty value
 *
 * A delivery's id, as operators type it, is "alert_id:recipient:channel"
 * ("T-12/1/overdue:mps-a05:email"). Recipients and channels hold no ':',
 * so the id is read from the right.
 *
 * Errors: 0 or a negative errno, as lib/store.h; -EBADMSG for a stored
 * value that does not parse.
 */
#ifndef BATON_OUTBOX_H
#define BATON_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"
#include "store.h"
#include "time.h"

#define OUTBOX_ALERTS	"notify.alerts"
#define OUTBOX_ROWS	"notify.outbox"
#define OUTBOX_DUE	"notify.due"

/* The longest error text a row keeps, and the longest target. */
#define OUTBOX_ERROR_MAX	200
#define OUTBOX_TARGET_MAX	512
/* A row key: alert id, recipient, channel and two NULs. */
#define OUTBOX_KEY_MAX		(MSG_ALERT_ID_MAX + MSG_AGENCY_MAX + 16)
/* A delivery id as text, with its NUL. */
#define OUTBOX_ID_MAX		OUTBOX_KEY_MAX

enum outbox_channel {
	OUTBOX_FEED = 0,	/* "feed": the office alert feed (PUB) */
	OUTBOX_JOURNAL,		/* "journal": one journald entry per alert */
	OUTBOX_EMAIL,		/* "email": SMTP */
	OUTBOX_WEBHOOK,		/* "webhook": HTTP POST */
	OUTBOX_CHANNELS
};

enum outbox_state {
	OUTBOX_PENDING = 0,	/* "pending": not tried yet */
	OUTBOX_SENT,		/* "sent": done; never tried again */
	OUTBOX_RETRYING,	/* "retrying": failed, tried again at next_at */
	OUTBOX_DEAD,		/* "dead": gave up; `batonctl retry` revives */
	OUTBOX_STATES
};

enum outbox_lane {
	OUTBOX_LANE_LOCAL = 0,	/* feed, journal */
	OUTBOX_LANE_REMOTE,	/* email, webhook */
	OUTBOX_LANES
};

struct outbox {
	store_table_t alerts, rows, due;
};

/* A delivery row. Strings point into the map or the caller's buffers. */
struct outbox_row {
	enum outbox_state state;
	uint32_t attempts;
	instant_t created_at;	/* when the alert was taken in */
	instant_t next_at;	/* pending, retrying: when it is due */
	instant_t updated_at;	/* the last attempt or change */
	const char *target;	/* where the last attempt went; "" */
	size_t target_len;
	const char *error;	/* why the last attempt failed; "" */
	size_t error_len;
};

/* A row key taken apart; the strings point into the key. */
struct outbox_key {
	const char *alert_id;
	const char *recipient;
	enum outbox_channel channel;
};

/* Wire names, and back: NULL, or -1 when unknown. */
const char *outbox_channel_name(enum outbox_channel c);
const char *outbox_state_name(enum outbox_state s);
int outbox_channel_from(const char *s);
int outbox_state_from(const char *s);

/* Whether a delivery in state s is still to be attempted. */
bool outbox_state_due(enum outbox_state s);

/* The lane of channel c's deliveries. */
enum outbox_lane outbox_channel_lane(enum outbox_channel c);

/*
 * Open (or, on a writable store, create) the three tables. Call at start-up.
 * Returns 0, store_table() errors.
 */
int outbox_open(struct store *st, struct outbox *ob);

/*
 * The row key of (alert_id, recipient, channel) into buf (size bytes).
 * Returns its length, or -ENAMETOOLONG, -EINVAL (an empty part).
 */
int outbox_key_make(const char *alert_id, const char *recipient,
		    enum outbox_channel channel, char *buf, size_t size);

/*
 * Take row key key (klen bytes) apart into *ret, pointing into key.
 * Returns 0, -EBADMSG.
 */
int outbox_key_parse(const void *key, size_t klen, struct outbox_key *ret);

/*
 * The delivery id of a row key, "alert:recipient:channel", into buf.
 * Returns buf, or NULL if the key does not parse or buf is too small.
 */
char *outbox_id_format(const void *key, size_t klen, char *buf, size_t size);

/*
 * The row key a delivery id names, into buf. Returns its length, -EINVAL
 * (not "alert:recipient:channel" with a known channel), -ENAMETOOLONG.
 */
int outbox_id_parse(const char *id, char *buf, size_t size);

/*
 * Store the alert under its id, once: its bus topic ("alert.overdue") and
 * its body, the msgpack map the feed announces.
 * Returns 0, -EEXIST (already stored: the alert was taken in before),
 * -EINVAL (topic empty or longer than MSG_TOPIC_MAX), store errors.
 */
int outbox_alert_add(const struct outbox *ob, struct store_txn *t,
		     const char *alert_id, const char *topic,
		     const void *body, size_t len);

/*
 * The alert's topic (NUL-terminated) and body, pointing into the map.
 * Returns 0, -ENOENT, -EBADMSG.
 */
int outbox_alert_get(const struct outbox *ob, struct store_txn *t,
		     const char *alert_id, const char **topic,
		     const void **body, size_t *len);

/*
 * Read the row at key. Strings point into the map, valid until t ends or
 * anything is written in it. Returns 0, -ENOENT, -EBADMSG.
 */
int outbox_get(const struct outbox *ob, struct store_txn *t, const void *key,
	       size_t klen, struct outbox_row *ret);

/*
 * Write row r at key, and move its OUTBOX_DUE key: removed if the row was
 * due, added at r->next_at if r is due now. Target and error are cut to
 * their limits; they and key may point into the map (the row read
 * before, the due key): they are copied before anything is written.
 * Returns 0, -EINVAL (not a row key, next_at < 0, no such state), store
 * errors.
 */
int outbox_put(const struct outbox *ob, struct store_txn *t, const void *key,
	       size_t klen, const struct outbox_row *r);

/*
 * The first due key of a lane: its instant and row key (pointing into the
 * map). Returns 0, -ENOENT (nothing due in the lane at any time), -EBADMSG.
 */
int outbox_first_due(const struct outbox *ob, struct store_txn *t,
		     enum outbox_lane lane, instant_t *at, const void **key,
		     size_t *klen);

/*
 * Parse an OUTBOX_DUE key into its lane, instant and row key (pointing
 * into dkey). Returns 0, -EBADMSG.
 */
int outbox_due_parse(const void *dkey, size_t dlen, enum outbox_lane *lane,
		     instant_t *at, const void **key, size_t *klen);

#endif
