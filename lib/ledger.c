/*
 * ledger.c - intake's hash-chained log and its id index (see ledger.h).
 *
 * The newest link is kept in memory so an append costs one hash and no
 * read; ledger_rollback() puts back the link of the last commit when a
 * transaction is abandoned. libsodium's crypto_generichash is BLAKE2b.
 */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "ledger.h"

struct ledger {
	struct store *st;
	struct bus_pub *pub;
	store_table_t events, chain, ids;
	uint8_t link[LEDGER_LINK_LEN];		/* newest, in the open txn */
	uint8_t committed[LEDGER_LINK_LEN];	/* newest on disk */
	char *key;				/* scratch: agency NUL id */
	size_t key_cap;
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

int ledger_open(struct store *st, struct bus_pub *pub, struct ledger **ret)
{
	struct store_txn *t = NULL;
	struct ledger *l;
	const void *v;
	size_t klen, vlen;
	const void *k;
	int r;

	if (sodium_init() < 0)
		return -EIO;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->st = st;
	l->pub = pub;
	r = store_table(st, BUS_EVENTS_TABLE, &l->events);
	if (r == 0)
		r = store_table(st, LEDGER_CHAIN_TABLE, &l->chain);
	if (r == 0)
		r = store_table(st, LEDGER_IDS_TABLE, &l->ids);
	if (r == 0)
		r = store_begin(st, false, &t);
	if (r < 0)
		goto fail;
	r = store_last(t, l->chain, &k, &klen, &v, &vlen);
	if (r == 0 && vlen == LEDGER_LINK_LEN)
		memcpy(l->committed, v, LEDGER_LINK_LEN);
	else if (r == 0)
		r = -EBADMSG;
	store_abort(t);
	if (r < 0 && r != -ENOENT)
		goto fail;
	memcpy(l->link, l->committed, LEDGER_LINK_LEN);
	*ret = l;
	return 0;
fail:
	ledger_free(l);
	return r;
}

void ledger_free(struct ledger *l)
{
	if (!l)
		return;
	free(l->key);
	free(l);
}

/* Build "agency NUL id" in the scratch key; returns its length or -ENOMEM. */
static ssize_t make_key(struct ledger *l, const char *agency, const char *id)
{
	size_t a = strlen(agency), i = strlen(id), n = a + 1 + i;

	if (n > l->key_cap) {
		char *k = realloc(l->key, n);

		if (!k)
			return -ENOMEM;
		l->key = k;
		l->key_cap = n;
	}
	memcpy(l->key, agency, a);
	l->key[a] = '\0';
	memcpy(l->key + a + 1, id, i);
	return n;
}

int ledger_lookup(struct ledger *l, struct store_txn *t, const char *agency,
		  const char *id, uint64_t *seq, instant_t *accepted_at)
{
	const void *v;
	size_t vlen;
	ssize_t n;
	int r;

	n = make_key(l, agency, id);
	if (n < 0)
		return n;
	r = store_get(t, l->ids, l->key, n, &v, &vlen);
	if (r < 0)
		return r;
	if (vlen != 16)
		return -EBADMSG;
	*seq = store_u64_from(v);
	*accepted_at = (instant_t)store_u64_from((const uint8_t *)v + 8);
	return 0;
}

int ledger_append(struct ledger *l, struct store_txn *t, const char *agency,
		  const char *id, instant_t accepted_at, const char *topic,
		  const void *body, size_t len, uint64_t *ret_seq)
{
	uint8_t val[16], key[8];
	struct bus_event ev;
	uint64_t seq;
	ssize_t n;
	int r;

	if (!l->pub)
		return -EINVAL;
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
	store_u64_key(seq, key);
	r = store_put(t, l->chain, key, sizeof(key), l->link, LEDGER_LINK_LEN,
		      STORE_APPEND);
	if (r < 0)
		return r;
	n = make_key(l, agency, id);
	if (n < 0)
		return n;
	store_u64_key(seq, val);
	store_u64_key((uint64_t)accepted_at, val + 8);
	r = store_put(t, l->ids, l->key, n, val, sizeof(val),
		      STORE_NOOVERWRITE);
	if (r < 0)
		return r;
	*ret_seq = seq;
	return 0;
}

void ledger_rollback(struct ledger *l)
{
	memcpy(l->link, l->committed, LEDGER_LINK_LEN);
	if (l->pub)
		bus_pub_rollback(l->pub);
}

void ledger_committed(struct ledger *l)
{
	memcpy(l->committed, l->link, LEDGER_LINK_LEN);
}

int ledger_verify(struct store *st, ledger_progress_fn fn, void *arg,
		  uint64_t *count, uint64_t *bad)
{
	struct store_cursor *ce = NULL, *cc = NULL;
	uint8_t link[LEDGER_LINK_LEN] = { 0 };
	struct store_txn *t = NULL;
	struct ledger *l = NULL;
	uint64_t total = 0, n = 0;
	int r, rc;

	*count = 0;
	*bad = 0;
	r = ledger_open(st, NULL, &l);
	if (r == 0)
		r = store_begin(st, false, &t);
	if (r == 0)
		r = store_count(t, l->events, &total);
	if (r == 0)
		r = store_cursor_open(t, l->events, &ce);
	if (r == 0)
		r = store_cursor_open(t, l->chain, &cc);
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
		    cvlen != LEDGER_LINK_LEN ||
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
	ledger_free(l);
	return r;
}
