/*
 * ledger.c - intake's hash-chained log and its id index (see ledger.h).
 *
 * The newest link is kept in memory so an append costs one hash and no
 * read; ledger_rollback() puts back the state of the last commit when a
 * transaction is abandoned. libsodium's crypto_generichash is BLAKE2b.
 *
 * Why ids are indexed late. Every message needs its (agency, id) findable
 * so that a resend gets the first answer. Written straight into the
 * intake.ids B-tree, each id lands on a leaf page chosen by its key, so a
 * commit of reports from 32 agencies dirties 32 leaves and their branches:
 * most of the bytes each fdatasync has to push. Instead the id goes into
 * the chain row of its record, which is appended like the record itself,
 * and into a table in memory. When that table holds LEDGER_RECENT_MAX ids
 * they are written to intake.ids in one go, inside an ordinary group
 * commit, where many ids share each leaf. On start-up the table is rebuilt
 * from the chain rows after the last indexed sequence. The index is
 * therefore always derivable from data that was committed with the record,
 * and a crash anywhere loses nothing.
 *
 * Why a write-ahead file as well. A commit per round is two synchronous
 * writes scattered over the map; intake instead keeps one transaction open
 * across rounds and flushes each round to lib/wal, committing only at a
 * checkpoint. So the WAL record of an append is made here, where every
 * field of it is at hand, and ledger_redo() is the one place that turns
 * the WAL back into appends: at start-up, and whenever the open
 * transaction is lost with answered rounds in it.
 */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "ledger.h"
#include "msg.h"
#include "wal.h"

/* Chain row: link, accepted_at (i64 BE), agency NUL id. */
#define ROW_FIXED		(LEDGER_LINK_LEN + 8)
#define KEY_MAX			(64 + 1 + 128)	/* agency NUL id, bytes */
#define INDEXED_KEY		"indexed"
#define WAL_KEY			"wal"
/* WAL payload: seq, accepted_at (u64 BE each), topic, agency, id lengths. */
#define WAL_FIXED		(8 + 8 + 3)

/* ---- the table of recent ids ---- */

struct slot {
	uint64_t hash;		/* 0: empty */
	uint64_t seq;
	instant_t at;
	size_t off;		/* key in recent.keys */
	size_t len;
};

struct recent {
	struct slot *slots;
	size_t cap;		/* a power of two */
	size_t n;
	char *keys;		/* every key, back to back */
	size_t keys_len, keys_cap;
	uint8_t sipkey[crypto_shorthash_KEYBYTES];
};

/* SipHash with a per-process key: clients choose ids, not our collisions. */
static uint64_t recent_hash(const struct recent *rc, const char *key,
			    size_t len)
{
	uint64_t h;

	crypto_shorthash((unsigned char *)&h, (const unsigned char *)key, len,
			 rc->sipkey);
	return h ? h : 1;
}

static struct slot *recent_find(const struct recent *rc, const char *key,
				size_t len, uint64_t h)
{
	size_t mask = rc->cap - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct slot *s = &rc->slots[i];

		if (s->hash == 0)
			return s;
		if (s->hash == h && s->len == len &&
		    memcmp(rc->keys + s->off, key, len) == 0)
			return s;
	}
}

static int recent_grow(struct recent *rc)
{
	size_t cap = rc->cap ? rc->cap * 2 : 1024;
	struct slot *old = rc->slots, *n;
	size_t oldcap = rc->cap;

	n = calloc(cap, sizeof(*n));
	if (!n)
		return -ENOMEM;
	rc->slots = n;
	rc->cap = cap;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].hash)
			*recent_find(rc, rc->keys + old[i].off, old[i].len,
				     old[i].hash) = old[i];
	free(old);
	return 0;
}

static int recent_add(struct recent *rc, const char *key, size_t len,
		      uint64_t seq, instant_t at)
{
	struct slot *s;
	uint64_t h;
	int r;

	if (2 * (rc->n + 1) > rc->cap) {
		r = recent_grow(rc);
		if (r < 0)
			return r;
	}
	if (rc->keys_len + len > rc->keys_cap) {
		size_t cap = rc->keys_cap ? 2 * rc->keys_cap : 65536;
		char *k;

		while (cap < rc->keys_len + len)
			cap *= 2;
		k = realloc(rc->keys, cap);
		if (!k)
			return -ENOMEM;
		rc->keys = k;
		rc->keys_cap = cap;
	}
	h = recent_hash(rc, key, len);
	s = recent_find(rc, key, len, h);
	if (s->hash)
		return -EEXIST;
	memcpy(rc->keys + rc->keys_len, key, len);
	*s = (struct slot){ h, seq, at, rc->keys_len, len };
	rc->keys_len += len;
	rc->n++;
	return 0;
}

static void recent_clear(struct recent *rc)
{
	if (rc->slots)
		memset(rc->slots, 0, rc->cap * sizeof(*rc->slots));
	rc->n = 0;
	rc->keys_len = 0;
}

static void recent_free(struct recent *rc)
{
	free(rc->slots);
	free(rc->keys);
}

/* ---- the ledger ---- */

struct ledger {
	struct store *st;
	struct bus_pub *pub;
	store_table_t events, chain, ids, meta;
	uint8_t link[LEDGER_LINK_LEN];		/* newest, in the open txn */
	uint8_t committed[LEDGER_LINK_LEN];	/* newest on disk */
	uint64_t indexed;			/* ids up to here are in ids */
	uint64_t indexing;			/* the open txn indexes up to */
	struct recent recent;			/* ids after indexed */
	uint8_t row[ROW_FIXED + KEY_MAX];	/* scratch: a chain row */
	struct wal *wal;			/* NULL: none (borrowed) */
	uint64_t gen;				/* the WAL's, as committed */
	uint64_t gen_next;			/* the open txn's checkpoint */
	bool redoing;				/* appends come from the WAL */
	bool redo_due;				/* the WAL has what t lacks */
};

int ledger_link(const uint8_t prev[LEDGER_LINK_LEN],
		const struct bus_event *ev, uint8_t out[LEDGER_LINK_LEN])
{
	crypto_generichash_state st;
	uint8_t be[8], tlen = (uint8_t)ev->topic_len;

	if (sodium_init() < 0)
		return -EIO;
	store_u64_key(ev->seq, be);
	/* The same bytes as the stored record: topic length, topic, body. */
	crypto_generichash_init(&st, NULL, 0, LEDGER_LINK_LEN);
	crypto_generichash_update(&st, prev, LEDGER_LINK_LEN);
	crypto_generichash_update(&st, be, sizeof(be));
	crypto_generichash_update(&st, &tlen, 1);
	crypto_generichash_update(&st, (const void *)ev->topic, ev->topic_len);
	crypto_generichash_update(&st, ev->body, ev->body_len);
	crypto_generichash_final(&st, out, LEDGER_LINK_LEN);
	return 0;
}

/* "agency NUL id" into buf (KEY_MAX bytes); returns its length or -EINVAL. */
static ssize_t make_key(char *buf, const char *agency, const char *id)
{
	size_t a = strlen(agency), i = strlen(id);

	if (a == 0 || i == 0 || a + 1 + i > KEY_MAX)
		return -EINVAL;
	memcpy(buf, agency, a);
	buf[a] = '\0';
	memcpy(buf + a + 1, id, i);
	return a + 1 + i;
}

/*
 * Load what the last commit left: the newest link, the indexed mark, and
 * the recent ids from the chain rows after it.
 */
static int load(struct ledger *l)
{
	struct store_cursor *c = NULL;
	struct store_txn *t = NULL;
	const void *k, *v;
	size_t klen, vlen;
	uint8_t key[8];
	int r;

	memset(l->committed, 0, LEDGER_LINK_LEN);
	l->indexed = 0;
	l->gen = 0;
	l->gen_next = 0;
	recent_clear(&l->recent);
	r = store_begin(l->st, false, &t);
	if (r < 0)
		return r;
	r = store_get(t, l->meta, INDEXED_KEY, strlen(INDEXED_KEY), &v, &vlen);
	if (r == 0 && vlen == 8)
		l->indexed = store_u64_from(v);
	r = store_get(t, l->meta, WAL_KEY, strlen(WAL_KEY), &v, &vlen);
	if (r == 0 && vlen == 8)
		l->gen = store_u64_from(v);
	r = store_last(t, l->chain, &k, &klen, &v, &vlen);
	if (r == -ENOENT) {
		r = 0;
		goto out;
	}
	if (r == 0 && vlen < LEDGER_LINK_LEN)
		r = -EBADMSG;
	if (r < 0)
		goto out;
	memcpy(l->committed, v, LEDGER_LINK_LEN);

	r = store_cursor_open(t, l->chain, &c);
	if (r < 0)
		goto out;
	store_u64_key(l->indexed + 1, key);
	r = store_cursor_seek(c, key, sizeof(key));
	while (r == 0 &&
	       (r = store_cursor_next(c, &k, &klen, &v, &vlen)) == 0) {
		if (klen != 8 || vlen <= ROW_FIXED) {
			r = -EBADMSG;
			break;
		}
		r = recent_add(&l->recent, (const char *)v + ROW_FIXED,
			       vlen - ROW_FIXED, store_u64_from(k),
			       (instant_t)store_u64_from((const uint8_t *)v +
							 LEDGER_LINK_LEN));
	}
	if (r == -ENOENT)
		r = 0;
out:
	store_cursor_close(c);
	store_abort(t);
	memcpy(l->link, l->committed, LEDGER_LINK_LEN);
	l->indexing = l->indexed;
	return r;
}

int ledger_open(struct store *st, struct bus_pub *pub, struct ledger **ret)
{
	struct ledger *l;
	int r;

	if (sodium_init() < 0)
		return -EIO;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->st = st;
	l->pub = pub;
	randombytes_buf(l->recent.sipkey, sizeof(l->recent.sipkey));
	r = store_table(st, BUS_EVENTS_TABLE, &l->events);
	if (r == 0)
		r = store_table(st, LEDGER_CHAIN_TABLE, &l->chain);
	if (r == 0)
		r = store_table(st, LEDGER_IDS_TABLE, &l->ids);
	if (r == 0)
		r = store_table(st, LEDGER_META_TABLE, &l->meta);
	if (r == 0)
		r = load(l);
	if (r < 0) {
		ledger_free(l);
		return r;
	}
	*ret = l;
	return 0;
}

void ledger_free(struct ledger *l)
{
	if (!l)
		return;
	recent_free(&l->recent);
	free(l);
}

int ledger_lookup(struct ledger *l, struct store_txn *t, const char *agency,
		  const char *id, uint64_t *seq, instant_t *accepted_at)
{
	char key[KEY_MAX];
	const struct slot *s;
	const void *v;
	size_t vlen;
	ssize_t n;
	int r;

	n = make_key(key, agency, id);
	if (n < 0)
		return -ENOENT;
	if (l->recent.n > 0) {
		s = recent_find(&l->recent, key, n,
				recent_hash(&l->recent, key, n));
		if (s->hash) {
			*seq = s->seq;
			*accepted_at = s->at;
			return 0;
		}
	}
	r = store_get(t, l->ids, key, n, &v, &vlen);
	if (r < 0)
		return r;
	if (vlen != 16)
		return -EBADMSG;
	*seq = store_u64_from(v);
	*accepted_at = (instant_t)store_u64_from((const uint8_t *)v + 8);
	return 0;
}

/* ---- the write-ahead file ---- */

/* Buffer the WAL record of an append: all ledger_append() was given. */
static int wal_write(struct ledger *l, uint64_t seq, instant_t at,
		     const char *topic, const char *agency, const char *id,
		     const void *body, size_t len)
{
	uint8_t head[WAL_FIXED];
	size_t tl = strlen(topic), al = strlen(agency), il = strlen(id);
	struct iovec iov[] = {
		{ head, sizeof(head) }, { (void *)topic, tl },
		{ (void *)agency, al }, { (void *)id, il },
		{ (void *)body, len },
	};

	/* make_key() and bus_pub_append() bounded all three already. */
	store_u64_key(seq, head);
	store_u64_key((uint64_t)at, head + 8);
	head[16] = (uint8_t)tl;
	head[17] = (uint8_t)al;
	head[18] = (uint8_t)il;
	return wal_add(l->wal, iov, 5);
}

struct redo {
	struct ledger *l;
	struct store_txn *t;
};

/* Append one WAL record again; it must continue the log exactly. */
static int redo_one(void *arg, const void *data, size_t len)
{
	struct redo *rd = arg;
	const uint8_t *p = data;
	char topic[MSG_TOPIC_MAX + 1], agency[KEY_MAX], id[KEY_MAX];
	uint64_t seq, got;
	size_t tl, al, il;
	int r;

	if (len < WAL_FIXED)
		return -EBADMSG;
	seq = store_u64_from(p);
	tl = p[16];
	al = p[17];
	il = p[18];
	if (tl > MSG_TOPIC_MAX || al >= KEY_MAX || il >= KEY_MAX ||
	    WAL_FIXED + tl + al + il > len)
		return -EBADMSG;
	p += WAL_FIXED;
	memcpy(topic, p, tl);
	topic[tl] = '\0';
	memcpy(agency, p + tl, al);
	agency[al] = '\0';
	memcpy(id, p + tl + al, il);
	id[il] = '\0';
	p += tl + al + il;
	r = ledger_append(rd->l, rd->t, agency, id,
			  (instant_t)store_u64_from((const uint8_t *)data + 8),
			  topic, p, len - WAL_FIXED - tl - al - il, &got);
	if (r == -EEXIST || (r == 0 && got != seq))
		return -EBADMSG;
	return r;
}

void ledger_set_wal(struct ledger *l, struct wal *w)
{
	l->wal = w;
	l->redo_due = true;
}

int64_t ledger_redo(struct ledger *l, struct store_txn *t)
{
	struct redo rd = { l, t };
	int64_t n;

	/* Else every record of the WAL went into t as it was appended. */
	if (!l->wal || !l->redo_due)
		return 0;
	l->redoing = true;
	n = wal_replay(l->wal, l->gen, redo_one, &rd);
	l->redoing = false;
	if (n >= 0)
		l->redo_due = false;
	return n;
}

int ledger_checkpoint(struct ledger *l, struct store_txn *t)
{
	uint8_t val[8];
	int r;

	store_u64_key(l->gen + 1, val);
	r = store_put(t, l->meta, WAL_KEY, strlen(WAL_KEY), val, 8, 0);
	if (r == 0)
		l->gen_next = l->gen + 1;
	return r;
}

/* ---- appending ---- */

int ledger_append(struct ledger *l, struct store_txn *t, const char *agency,
		  const char *id, instant_t accepted_at, const char *topic,
		  const void *body, size_t len, uint64_t *ret_seq)
{
	char *key = (char *)l->row + ROW_FIXED;
	struct bus_event ev;
	uint64_t seq, s;
	instant_t at;
	uint8_t kbe[8];
	ssize_t n;
	int r;

	if (!l->pub)
		return -EINVAL;
	n = make_key(key, agency, id);
	if (n < 0)
		return n;
	r = ledger_lookup(l, t, agency, id, &s, &at);
	if (r == 0)
		return -EEXIST;
	if (r != -ENOENT)
		return r;
	r = bus_pub_append(l->pub, t, topic, body, len, &seq);
	if (r < 0)
		return r;
	ev = (struct bus_event){
		.seq = seq, .topic = topic, .topic_len = strlen(topic),
		.body = body, .body_len = len,
	};
	r = ledger_link(l->link, &ev, l->link);
	if (r < 0)
		return r;
	memcpy(l->row, l->link, LEDGER_LINK_LEN);
	store_u64_key((uint64_t)accepted_at, l->row + LEDGER_LINK_LEN);
	store_u64_key(seq, kbe);
	r = store_put(t, l->chain, kbe, sizeof(kbe), l->row, ROW_FIXED + n,
		      STORE_APPEND);
	if (r < 0)
		return r;
	r = recent_add(&l->recent, key, n, seq, accepted_at);
	if (r < 0)
		return r;
	if (l->wal && !l->redoing) {
		r = wal_write(l, seq, accepted_at, topic, agency, id, body, len);
		if (r < 0)
			return r;
	}
	*ret_seq = seq;
	return 0;
}

int ledger_index(struct ledger *l, struct store_txn *t)
{
	const struct recent *rc = &l->recent;
	uint64_t last = l->indexed;
	uint8_t val[16];
	int r;

	for (size_t i = 0; i < rc->cap; i++) {
		const struct slot *s = &rc->slots[i];

		if (!s->hash)
			continue;
		store_u64_key(s->seq, val);
		store_u64_key((uint64_t)s->at, val + 8);
		r = store_put(t, l->ids, rc->keys + s->off, s->len, val,
			      sizeof(val), 0);
		if (r < 0)
			return r;
		if (s->seq > last)
			last = s->seq;
	}
	store_u64_key(last, val);
	r = store_put(t, l->meta, INDEXED_KEY, strlen(INDEXED_KEY), val, 8, 0);
	if (r < 0)
		return r;
	l->indexing = last;
	return 0;
}

bool ledger_index_due(const struct ledger *l)
{
	return l->recent.n >= LEDGER_RECENT_MAX;
}

int ledger_rollback(struct ledger *l)
{
	if (l->pub)
		bus_pub_rollback(l->pub);
	if (l->wal) {
		wal_discard(l->wal);
		l->redo_due = true;
	}
	/* Rare (a full map): reloading is simpler than undoing in place. */
	return load(l);
}

void ledger_committed(struct ledger *l)
{
	memcpy(l->committed, l->link, LEDGER_LINK_LEN);
	if (l->indexing != l->indexed) {
		/* What the txn indexed is in intake.ids now. */
		l->indexed = l->indexing;
		recent_clear(&l->recent);
	}
	if (l->gen_next) {
		/* The store has every record: the WAL starts over. */
		l->gen = l->gen_next;
		l->gen_next = 0;
		if (l->wal)
			wal_reset(l->wal, l->gen);
	}
}

int ledger_verify(struct store *st, ledger_progress_fn fn, void *arg,
		  uint64_t *count, uint64_t *bad)
{
	struct store_cursor *ce = NULL, *cc = NULL;
	uint8_t link[LEDGER_LINK_LEN] = { 0 };
	store_table_t events, chain;
	struct store_txn *t = NULL;
	uint64_t total = 0, n = 0;
	int r, rc;

	*count = 0;
	*bad = 0;
	/* Not ledger_open(): a damaged row must be named, not stop us. */
	r = store_table(st, BUS_EVENTS_TABLE, &events);
	if (r == 0)
		r = store_table(st, LEDGER_CHAIN_TABLE, &chain);
	if (r == 0)
		r = store_begin(st, false, &t);
	if (r == 0)
		r = store_count(t, events, &total);
	if (r == 0)
		r = store_cursor_open(t, events, &ce);
	if (r == 0)
		r = store_cursor_open(t, chain, &cc);
	if (r < 0)
		goto out;
	r = store_cursor_seek(ce, NULL, 0);
	rc = store_cursor_seek(cc, NULL, 0);
	for (;;) {
		const void *ek, *ev, *ck, *cv;
		size_t eklen, evlen, cklen, cvlen;
		struct bus_event e;

		r = store_cursor_next(ce, &ek, &eklen, &ev, &evlen);
		rc = store_cursor_next(cc, &ck, &cklen, &cv, &cvlen);
		if (r == -ENOENT && rc == -ENOENT) {
			r = 0;
			break;
		}
		n++;
		/* Records and links must run 1, 2, 3... side by side. */
		if (r < 0 || rc < 0 || eklen != 8 || cklen != 8 ||
		    store_u64_from(ek) != n || store_u64_from(ck) != n ||
		    cvlen < LEDGER_LINK_LEN ||
		    bus_record_parse(n, ev, evlen, &e) < 0 ||
		    ledger_link(link, &e, link) < 0 ||
		    memcmp(link, cv, LEDGER_LINK_LEN) != 0) {
			*bad = n;
			r = -EBADMSG;
			break;
		}
		*count = n;
		if (fn && n % 100000 == 0)
			fn(arg, n, total);
	}
out:
	store_cursor_close(ce);
	store_cursor_close(cc);
	store_abort(t);
	return r;
}
