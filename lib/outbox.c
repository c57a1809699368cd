/*
 * outbox.c - the delivery outbox's tables: keys, rows and the due index.
 *
 * The layouts are in outbox.h. Rows are fixed fields followed by two short
 * strings, in big-endian so that a dump reads the same on every machine.
 * The due index is the only way the daemon finds work, so every write of a
 * row goes through outbox_put(), which reads the row as it was and moves
 * its due key in the same transaction: a row and its due key can never
 * disagree, not even after a crash.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outbox.h"

#define ROW_VERSION	1
#define ROW_FIXED	(1 + 1 + 2 + 4 + 3 * 8)
#define ROW_MAX		(ROW_FIXED + 2 + OUTBOX_TARGET_MAX + 2 + \
			 OUTBOX_ERROR_MAX)
#define DUE_MAX		(1 + 8 + OUTBOX_KEY_MAX)

static const char *const channel_names[OUTBOX_CHANNELS] = {
	[OUTBOX_FEED] = "feed",
	[OUTBOX_JOURNAL] = "journal",
	[OUTBOX_EMAIL] = "email",
	[OUTBOX_WEBHOOK] = "webhook",
};

static const char *const state_names[OUTBOX_STATES] = {
	[OUTBOX_PENDING] = "pending",
	[OUTBOX_SENT] = "sent",
	[OUTBOX_RETRYING] = "retrying",
	[OUTBOX_DEAD] = "dead",
};

/* ------------------------------------------------------------ names */

const char *outbox_channel_name(enum outbox_channel c)
{
	return (unsigned)c < OUTBOX_CHANNELS ? channel_names[c] : NULL;
}

const char *outbox_state_name(enum outbox_state s)
{
	return (unsigned)s < OUTBOX_STATES ? state_names[s] : NULL;
}

int outbox_channel_from(const char *s)
{
	for (int i = 0; i < OUTBOX_CHANNELS; i++)
		if (s && strcmp(s, channel_names[i]) == 0)
			return i;
	return -1;
}

int outbox_state_from(const char *s)
{
	for (int i = 0; i < OUTBOX_STATES; i++)
		if (s && strcmp(s, state_names[i]) == 0)
			return i;
	return -1;
}

bool outbox_state_due(enum outbox_state s)
{
	return s == OUTBOX_PENDING || s == OUTBOX_RETRYING;
}

enum outbox_lane outbox_channel_lane(enum outbox_channel c)
{
	return c == OUTBOX_EMAIL || c == OUTBOX_WEBHOOK ? OUTBOX_LANE_REMOTE :
	       OUTBOX_LANE_LOCAL;
}

int outbox_open(struct store *st, struct outbox *ob)
{
	int r;

	r = store_table(st, OUTBOX_ALERTS, &ob->alerts);
	if (r == 0)
		r = store_table(st, OUTBOX_ROWS, &ob->rows);
	if (r == 0)
		r = store_table(st, OUTBOX_DUE, &ob->due);
	return r;
}

/* ------------------------------------------------------------- keys */

int outbox_key_make(const char *alert_id, const char *recipient,
		    enum outbox_channel channel, char *buf, size_t size)
{
	const char *ch = outbox_channel_name(channel);
	size_t a, b, c;

	if (!alert_id || !recipient || !ch || !*alert_id || !*recipient)
		return -EINVAL;
	a = strlen(alert_id);
	b = strlen(recipient);
	c = strlen(ch);
	if (a + b + c + 2 > size || a + b + c + 2 > OUTBOX_KEY_MAX)
		return -ENAMETOOLONG;
	memcpy(buf, alert_id, a + 1);
	memcpy(buf + a + 1, recipient, b + 1);
	memcpy(buf + a + b + 2, ch, c);
	return (int)(a + b + c + 2);
}

int outbox_key_parse(const void *key, size_t klen, struct outbox_key *ret)
{
	const char *k = key, *end = k + klen, *z1, *z2;
	int ch = -1;

	z1 = memchr(k, '\0', klen);
	if (!z1 || z1 == k)
		return -EBADMSG;
	z2 = memchr(z1 + 1, '\0', (size_t)(end - z1 - 1));
	if (!z2 || z2 == z1 + 1)
		return -EBADMSG;
	for (int i = 0; i < OUTBOX_CHANNELS; i++)
		if ((size_t)(end - z2 - 1) == strlen(channel_names[i]) &&
		    memcmp(z2 + 1, channel_names[i], (size_t)(end - z2 - 1))
		    == 0)
			ch = i;
	if (ch < 0)
		return -EBADMSG;
	ret->alert_id = k;
	ret->recipient = z1 + 1;
	ret->channel = (enum outbox_channel)ch;
	return 0;
}

char *outbox_id_format(const void *key, size_t klen, char *buf, size_t size)
{
	struct outbox_key k;
	int n;

	if (outbox_key_parse(key, klen, &k) < 0)
		return NULL;
	n = snprintf(buf, size, "%s:%s:%s", k.alert_id, k.recipient,
		     channel_names[k.channel]);
	return n < 0 || (size_t)n >= size ? NULL : buf;
}

int outbox_id_parse(const char *id, char *buf, size_t size)
{
	const char *c2 = strrchr(id, ':'), *c1;
	char alert[OUTBOX_KEY_MAX], recipient[MSG_AGENCY_MAX + 1];
	int ch;

	if (!c2 || c2 == id)
		return -EINVAL;
	ch = outbox_channel_from(c2 + 1);
	for (c1 = c2 - 1; c1 > id && *c1 != ':'; c1--)
		;
	if (ch < 0 || *c1 != ':' || c1 == id || c2 - c1 - 1 < 1)
		return -EINVAL;
	if ((size_t)(c1 - id) >= sizeof(alert) ||
	    (size_t)(c2 - c1 - 1) >= sizeof(recipient))
		return -ENAMETOOLONG;
	memcpy(alert, id, (size_t)(c1 - id));
	alert[c1 - id] = '\0';
	memcpy(recipient, c1 + 1, (size_t)(c2 - c1 - 1));
	recipient[c2 - c1 - 1] = '\0';
	if (!msg_agency_valid(recipient))
		return -EINVAL;
	return outbox_key_make(alert, recipient, (enum outbox_channel)ch, buf,
			       size);
}

/* ----------------------------------------------------------- alerts */

int outbox_alert_add(const struct outbox *ob, struct store_txn *t,
		     const char *alert_id, const char *topic,
		     const void *body, size_t len)
{
	size_t tlen = strlen(topic);
	uint8_t *val;
	int r;

	if (tlen == 0 || tlen > MSG_TOPIC_MAX || len > MSG_FRAME_MAX)
		return -EINVAL;
	val = malloc(tlen + 1 + len);
	if (!val)
		return -ENOMEM;
	memcpy(val, topic, tlen + 1);
	memcpy(val + tlen + 1, body, len);
	r = store_put(t, ob->alerts, alert_id, strlen(alert_id), val,
		      tlen + 1 + len, STORE_NOOVERWRITE);
	free(val);
	return r;
}

int outbox_alert_get(const struct outbox *ob, struct store_txn *t,
		     const char *alert_id, const char **topic,
		     const void **body, size_t *len)
{
	const char *val, *z;
	const void *v;
	size_t vlen;
	int r;

	r = store_get(t, ob->alerts, alert_id, strlen(alert_id), &v, &vlen);
	if (r < 0)
		return r;
	val = v;
	z = memchr(val, '\0', vlen < MSG_TOPIC_MAX + 1 ? vlen :
		   MSG_TOPIC_MAX + 1);
	if (!z || z == val)
		return -EBADMSG;
	*topic = val;
	*body = z + 1;
	*len = vlen - (size_t)(z + 1 - val);
	return 0;
}

/* ------------------------------------------------------------- rows */

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static size_t encode(const struct outbox_row *r, uint8_t *out)
{
	size_t tlen = r->target_len > OUTBOX_TARGET_MAX ? OUTBOX_TARGET_MAX :
		      r->target_len;
	size_t elen = r->error_len > OUTBOX_ERROR_MAX ? OUTBOX_ERROR_MAX :
		      r->error_len;
	uint8_t *p = out;

	*p++ = ROW_VERSION;
	*p++ = (uint8_t)r->state;
	put_u16(p, 0);
	p += 2;
	put_u32(p, r->attempts);
	p += 4;
	store_u64_key((uint64_t)r->created_at, p);
	store_u64_key((uint64_t)r->next_at, p + 8);
	store_u64_key((uint64_t)r->updated_at, p + 16);
	p += 24;
	put_u16(p, (uint16_t)tlen);
	if (tlen)
		memcpy(p + 2, r->target, tlen);
	p += 2 + tlen;
	put_u16(p, (uint16_t)elen);
	if (elen)
		memcpy(p + 2, r->error, elen);
	p += 2 + elen;
	return (size_t)(p - out);
}

static int decode(const void *val, size_t len, struct outbox_row *r)
{
	const uint8_t *p = val, *end = p + len;
	size_t n;

	if (len < ROW_FIXED + 4 || p[0] != ROW_VERSION || p[1] >= OUTBOX_STATES)
		return -EBADMSG;
	r->state = (enum outbox_state)p[1];
	r->attempts = get_u32(p + 4);
	r->created_at = (instant_t)store_u64_from(p + 8);
	r->next_at = (instant_t)store_u64_from(p + 16);
	r->updated_at = (instant_t)store_u64_from(p + 24);
	p += ROW_FIXED;
	n = get_u16(p);
	if ((size_t)(end - p) < 2 + n + 2)
		return -EBADMSG;
	r->target = (const char *)p + 2;
	r->target_len = n;
	p += 2 + n;
	n = get_u16(p);
	if ((size_t)(end - p) != 2 + n)
		return -EBADMSG;
	r->error = (const char *)p + 2;
	r->error_len = n;
	return 0;
}

int outbox_get(const struct outbox *ob, struct store_txn *t, const void *key,
	       size_t klen, struct outbox_row *ret)
{
	const void *val;
	size_t vlen;
	int r;

	r = store_get(t, ob->rows, key, klen, &val, &vlen);
	if (r < 0)
		return r;
	return decode(val, vlen, ret);
}

static size_t due_key(enum outbox_lane lane, instant_t at, const void *key,
		      size_t klen, uint8_t *out)
{
	out[0] = (uint8_t)lane;
	store_u64_key((uint64_t)at, out + 1);
	memcpy(out + 9, key, klen);
	return 9 + klen;
}

int outbox_put(const struct outbox *ob, struct store_txn *t, const void *key,
	       size_t klen, const struct outbox_row *row)
{
	uint8_t val[ROW_MAX], dk[DUE_MAX];
	char k[OUTBOX_KEY_MAX];
	struct outbox_row old;
	struct outbox_key parts;
	enum outbox_lane lane;
	size_t vlen, dlen;
	int r;

	if (klen == 0 || klen > OUTBOX_KEY_MAX || row->next_at < 0 ||
	    (unsigned)row->state >= OUTBOX_STATES ||
	    outbox_key_parse(key, klen, &parts) < 0)
		return -EINVAL;
	lane = outbox_channel_lane(parts.channel);
	/*
	 * First the copies: row's strings may point into the old value, and
	 * key into the due index (outbox_first_due()), whose page the delete
	 * below may rewrite in place.
	 */
	vlen = encode(row, val);
	memcpy(k, key, klen);
	key = k;
	r = outbox_get(ob, t, key, klen, &old);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r == 0 && outbox_state_due(old.state)) {
		if (outbox_state_due(row->state) && old.next_at == row->next_at)
			return store_put(t, ob->rows, key, klen, val, vlen, 0);
		dlen = due_key(lane, old.next_at, key, klen, dk);
		r = store_del(t, ob->due, dk, dlen);
		if (r < 0 && r != -ENOENT)
			return r;
	}
	r = store_put(t, ob->rows, key, klen, val, vlen, 0);
	if (r < 0 || !outbox_state_due(row->state))
		return r;
	dlen = due_key(lane, row->next_at, key, klen, dk);
	return store_put(t, ob->due, dk, dlen, "", 0, 0);
}

int outbox_due_parse(const void *dkey, size_t dlen, enum outbox_lane *lane,
		     instant_t *at, const void **key, size_t *klen)
{
	const uint8_t *p = dkey;

	if (dlen <= 9 || dlen > DUE_MAX || p[0] >= OUTBOX_LANES)
		return -EBADMSG;
	*lane = (enum outbox_lane)p[0];
	*at = (instant_t)store_u64_from(p + 1);
	*key = p + 9;
	*klen = dlen - 9;
	return 0;
}

int outbox_first_due(const struct outbox *ob, struct store_txn *t,
		     enum outbox_lane lane, instant_t *at, const void **key,
		     size_t *klen)
{
	struct store_cursor *c;
	enum outbox_lane got;
	const void *k, *v;
	uint8_t first = (uint8_t)lane;
	size_t kl, vl;
	int r;

	r = store_cursor_open(t, ob->due, &c);
	if (r < 0)
		return r;
	r = store_cursor_seek(c, &first, 1);
	if (r == 0)
		r = store_cursor_next(c, &k, &kl, &v, &vl);
	store_cursor_close(c);
	if (r < 0)
		return r;
	r = outbox_due_parse(k, kl, &got, at, key, klen);
	if (r == 0 && got != lane)
		r = -ENOENT;
	return r;
}
