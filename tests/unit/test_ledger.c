/*
 * test_ledger.c - lib/ledger: intake's hash-chained log and its id index.
 *
 * Runs on a real LMDB environment and a real bus publisher (ipc sockets in
 * a temporary directory), because the ledger's records are the publisher's
 * events. The chain is checked against an independent computation with
 * libsodium, so that the documented formula, not just the code's own idea
 * of it, is what the test holds the code to.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>
#include <zmq.h>

#include "bus.h"
#include "ledger.h"
#include "store.h"
#include "testdir.h"
#include "wal.h"

struct fixture {
	char dir[PATH_MAX / 2];
	char env[PATH_MAX];
	char pub_ep[PATH_MAX];
	char replay_ep[PATH_MAX];
	int endpoint_gen;	/* a restarted publisher binds fresh endpoints */
	void *zctx;
	struct store *st;
	struct bus_pub *pub;
	struct ledger *l;
	struct store_txn *txn;	/* a test's open write txn, aborted if it fails */
	struct wal *wal;
};

/* One message of the log, as the tests append it. */
struct entry {
	const char *agency, *id, *topic, *body;
	instant_t at;
};

static const struct entry three[] = {
	{ "ministry-a", "r-1", "report.accepted", "\x81\xa1" "a\x01",
	  INT64_C(1764000000001) },
	{ "ministry-a", "r-2", "report.accepted", "\x81\xa1" "a\x02",
	  INT64_C(1764000000002) },
	{ "province-b", "r-1", "command.accepted", "\x81\xa1" "b\x03",
	  INT64_C(1764000000003) },
};

/* ------------------------------------------------------------ helpers */

static void set_endpoints(struct fixture *fx)
{
	fx->endpoint_gen++;
	snprintf(fx->pub_ep, sizeof fx->pub_ep, "ipc://%s/pub%d", fx->dir,
		 fx->endpoint_gen);
	snprintf(fx->replay_ep, sizeof fx->replay_ep, "ipc://%s/replay%d",
		 fx->dir, fx->endpoint_gen);
}

static int setup(void **state)
{
	struct store_options opt = { .create = true };
	struct fixture *fx = calloc(1, sizeof *fx);

	if (!fx || testdir_make(fx->dir, sizeof fx->dir, "test_ledger") < 0)
		return -1;
	snprintf(fx->env, sizeof fx->env, "%s/intake", fx->dir);
	set_endpoints(fx);
	fx->zctx = zmq_ctx_new();
	if (!fx->zctx || sodium_init() < 0)
		return -1;
	if (store_open(fx->env, &opt, &fx->st) < 0)
		return -1;
	if (bus_pub_new(fx->zctx, fx->st, fx->pub_ep, fx->replay_ep, NULL,
			&fx->pub) < 0)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	store_abort(fx->txn);
	ledger_free(fx->l);
	wal_close(fx->wal);
	bus_pub_free(fx->pub);
	store_close(fx->st);
	zmq_ctx_term(fx->zctx);
	testdir_remove(fx->dir);
	free(fx);
	return 0;
}

static struct ledger *open_ledger(struct fixture *fx)
{
	assert_int_equal(ledger_open(fx->st, fx->pub, &fx->l), 0);
	assert_non_null(fx->l);
	return fx->l;
}

static struct store_txn *begin_write(struct fixture *fx)
{
	assert_null(fx->txn);
	assert_int_equal(store_begin(fx->st, true, &fx->txn), 0);
	return fx->txn;
}

/* Commit the test's txn and tell the ledger and the publisher, in order. */
static void commit(struct fixture *fx)
{
	struct store_txn *t = fx->txn;

	fx->txn = NULL;
	assert_int_equal(store_commit(t), 0);
	ledger_committed(fx->l);
	assert_int_equal(bus_pub_flush(fx->pub), 0);
}

/* Abort the test's txn and roll the ledger back. */
static void rollback(struct fixture *fx)
{
	store_abort(fx->txn);
	fx->txn = NULL;
	assert_int_equal(ledger_rollback(fx->l), 0);
}

static uint64_t append(struct fixture *fx, const struct entry *e)
{
	uint64_t seq = 0;

	assert_int_equal(ledger_append(fx->l, fx->txn, e->agency, e->id, e->at,
				       e->topic, e->body, strlen(e->body),
				       &seq), 0);
	return seq;
}

/* Append the three messages in one transaction and commit. */
static void append_three(struct fixture *fx)
{
	begin_write(fx);
	for (size_t i = 0; i < 3; i++)
		assert_true(append(fx, &three[i]) == i + 1);
	commit(fx);
}

static int verify(struct fixture *fx, uint64_t *count, uint64_t *bad)
{
	*count = *bad = 424242;
	return ledger_verify(fx->st, NULL, NULL, count, bad);
}

static void expect_verified(struct fixture *fx, uint64_t n)
{
	uint64_t count, bad;

	assert_int_equal(verify(fx, &count, &bad), 0);
	assert_true(count == n);
	assert_true(bad == 0);
}

static void expect_bad(struct fixture *fx, uint64_t first_bad)
{
	uint64_t count, bad;

	assert_int_equal(verify(fx, &count, &bad), -EBADMSG);
	assert_true(bad == first_bad);
	assert_true(count == first_bad - 1);	/* the good ones before it */
}

static store_table_t table(struct fixture *fx, const char *name)
{
	store_table_t t;

	assert_int_equal(store_table(fx->st, name, &t), 0);
	return t;
}

/* Copy the stored value of u64 key seq in table name into buf. */
static size_t read_value(struct fixture *fx, const char *name, uint64_t seq,
			 uint8_t *buf, size_t cap)
{
	store_table_t tab = table(fx, name);
	struct store_txn *t;
	const void *v;
	size_t vlen;
	uint8_t k[8];

	store_u64_key(seq, k);
	assert_int_equal(store_begin(fx->st, false, &t), 0);
	assert_int_equal(store_get(t, tab, k, 8, &v, &vlen), 0);
	assert_true(vlen <= cap);
	memcpy(buf, v, vlen);
	store_abort(t);
	return vlen;
}

/* A chain row: link, accepted_at, agency NUL id. */
static size_t row_len(const struct entry *e)
{
	return 32 + 8 + strlen(e->agency) + 1 + strlen(e->id);
}

static void write_value(struct fixture *fx, const char *name, uint64_t seq,
			const uint8_t *val, size_t len)
{
	store_table_t tab = table(fx, name);
	struct store_txn *t;
	uint8_t k[8];

	store_u64_key(seq, k);
	assert_int_equal(store_begin(fx->st, true, &t), 0);
	assert_int_equal(store_put(t, tab, k, 8, val, len, 0), 0);
	assert_int_equal(store_commit(t), 0);
}

static void delete_value(struct fixture *fx, const char *name, uint64_t seq)
{
	store_table_t tab = table(fx, name);
	struct store_txn *t;
	uint8_t k[8];

	store_u64_key(seq, k);
	assert_int_equal(store_begin(fx->st, true, &t), 0);
	assert_int_equal(store_del(t, tab, k, 8), 0);
	assert_int_equal(store_commit(t), 0);
}

/*
 * link(n) computed here, independently of ledger.c: one BLAKE2b-256 over
 * prev || n (u64 BE) || topic length (1 byte) || topic || body.
 */
static void reference_link(const uint8_t prev[32], uint64_t seq,
			   const char *topic, const char *body, uint8_t out[32])
{
	uint8_t buf[512];
	size_t tl = strlen(topic), bl = strlen(body), n = 0;

	assert_true(32 + 8 + 1 + tl + bl <= sizeof buf);
	memcpy(buf, prev, 32);
	n = 32;
	for (int i = 7; i >= 0; i--)
		buf[n++] = (uint8_t)(seq >> (8 * i));
	buf[n++] = (uint8_t)tl;
	memcpy(buf + n, topic, tl);
	n += tl;
	memcpy(buf + n, body, bl);
	n += bl;
	assert_int_equal(crypto_generichash(out, 32, buf, n, NULL, 0), 0);
}

/* ---------------------------------------------------------------- tests */

/* An empty store opens; its log verifies with nothing in it. */
static void test_open_empty(void **state)
{
	struct fixture *fx = *state;
	struct store_txn *t;
	uint64_t seq = 9;
	instant_t at = 9;

	open_ledger(fx);
	expect_verified(fx, 0);
	assert_int_equal(store_begin(fx->st, false, &t), 0);
	assert_int_equal(ledger_lookup(fx->l, t, "ministry-a", "r-1", &seq,
				       &at), -ENOENT);
	store_abort(t);
}

/* Each (agency, id) finds its own seq and accepted_at; nothing else matches. */
static void test_lookup(void **state)
{
	struct fixture *fx = *state;
	struct store_txn *t;
	uint64_t seq;
	instant_t at;

	open_ledger(fx);
	append_three(fx);
	assert_true(bus_pub_last(fx->pub) == 3);

	assert_int_equal(store_begin(fx->st, false, &t), 0);
	for (size_t i = 0; i < 3; i++) {
		seq = 0;
		at = 0;
		assert_int_equal(ledger_lookup(fx->l, t, three[i].agency,
					       three[i].id, &seq, &at), 0);
		assert_true(seq == i + 1);
		assert_true(at == three[i].at);
	}
	/* The same id under another agency is another message. */
	assert_int_equal(ledger_lookup(fx->l, t, "province-c", "r-1", &seq,
				       &at), -ENOENT);
	assert_int_equal(ledger_lookup(fx->l, t, "province-b", "r-2", &seq,
				       &at), -ENOENT);
	/* agency and id are separated: ("ministry-a","r-1") is not ("ministry-","ar-1"). */
	assert_int_equal(ledger_lookup(fx->l, t, "ministry-", "ar-1", &seq,
				       &at), -ENOENT);
	assert_int_equal(ledger_lookup(fx->l, t, "ministry-ar", "-1", &seq,
				       &at), -ENOENT);
	store_abort(t);
}

/*
 * Once indexed, intake.ids holds the documented layout: key agency NUL id,
 * value seq (u64 BE) then accepted_at (i64 BE).
 */
static void test_ids_layout(void **state)
{
	struct fixture *fx = *state;
	static const char key[] = "province-b\0r-1";
	static const uint8_t want[16] = {
		0, 0, 0, 0, 0, 0, 0, 3,
		0, 0, 0x01, 0x9a, 0xb6, 0x97, 0xe8, 0x03,
	};
	store_table_t ids;
	struct store_txn *t;
	const void *v;
	size_t vlen;

	assert_true(three[2].at == INT64_C(0x0000019ab697e803));
	open_ledger(fx);
	append_three(fx);
	begin_write(fx);
	assert_int_equal(ledger_index(fx->l, fx->txn), 0);
	commit(fx);
	ids = table(fx, LEDGER_IDS_TABLE);
	assert_int_equal(store_begin(fx->st, false, &t), 0);
	assert_int_equal(store_get(t, ids, key, sizeof key - 1, &v, &vlen), 0);
	assert_int_equal(vlen, 16);
	assert_memory_equal(v, want, 16);
	store_abort(t);
}

/* A message appended earlier in the same open transaction is found by lookup. */
static void test_lookup_in_open_txn(void **state)
{
	struct fixture *fx = *state;
	uint64_t seq = 0;
	instant_t at = 0;

	open_ledger(fx);
	begin_write(fx);
	assert_true(append(fx, &three[0]) == 1);
	assert_int_equal(ledger_lookup(fx->l, fx->txn, three[0].agency,
				       three[0].id, &seq, &at), 0);
	assert_true(seq == 1);
	assert_true(at == three[0].at);
	commit(fx);
}

/* A second append of the same (agency, id) is refused with -EEXIST. */
static void test_duplicate_id_refused(void **state)
{
	struct fixture *fx = *state;
	const struct entry again = { "ministry-a", "r-1", "report.accepted",
				     "\x80", 1 };
	uint64_t seq = 0;

	open_ledger(fx);
	append_three(fx);
	begin_write(fx);
	assert_int_equal(ledger_append(fx->l, fx->txn, again.agency, again.id,
				       again.at, again.topic, again.body, 1,
				       &seq), -EEXIST);
	rollback(fx);
	expect_verified(fx, 3);
}

/*
 * A chain row carries the id after the link: accepted_at (i64 BE), then
 * agency NUL id, so the recent ids can be rebuilt from it.
 */
static void test_chain_row_layout(void **state)
{
	struct fixture *fx = *state;
	uint8_t row[256], at[8];
	size_t n;

	open_ledger(fx);
	append_three(fx);
	n = read_value(fx, LEDGER_CHAIN_TABLE, 3, row, sizeof row);
	assert_int_equal(n, row_len(&three[2]));
	store_u64_key((uint64_t)three[2].at, at);
	assert_memory_equal(row + 32, at, 8);
	assert_memory_equal(row + 40, "province-b\0r-1", 15);
}

/*
 * Ids not yet indexed are rebuilt from the chain rows on open: a reopened
 * ledger still finds every id, and still refuses a resent one.
 */
static void test_recent_ids_survive_reopen(void **state)
{
	struct fixture *fx = *state;
	uint64_t seq = 0;
	instant_t at = 0;

	open_ledger(fx);
	append_three(fx);
	ledger_free(fx->l);
	fx->l = NULL;
	open_ledger(fx);
	begin_write(fx);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(ledger_lookup(fx->l, fx->txn, three[i].agency,
					       three[i].id, &seq, &at), 0);
		assert_true(seq == i + 1);
		assert_true(at == three[i].at);
	}
	assert_int_equal(ledger_append(fx->l, fx->txn, three[1].agency,
				       three[1].id, 1, "report.accepted",
				       "\x80", 1, &seq), -EEXIST);
	rollback(fx);
}

/*
 * Indexing moves the ids to intake.ids: found there after a reopen, with
 * nothing left to rebuild, and appends go on from the same chain.
 */
static void test_index_then_reopen(void **state)
{
	struct fixture *fx = *state;
	const struct entry fourth = { "ministry-a", "r-4", "report.accepted",
				      "\x81\xa1x\x01", 7 };
	uint64_t seq = 0;
	instant_t at = 0;

	open_ledger(fx);
	append_three(fx);
	assert_false(ledger_index_due(fx->l));
	begin_write(fx);
	assert_int_equal(ledger_index(fx->l, fx->txn), 0);
	commit(fx);
	ledger_free(fx->l);
	fx->l = NULL;
	open_ledger(fx);
	begin_write(fx);
	assert_int_equal(ledger_lookup(fx->l, fx->txn, "province-b", "r-1",
				       &seq, &at), 0);
	assert_true(seq == 3);
	assert_true(append(fx, &fourth) == 4);
	commit(fx);
	expect_verified(fx, 4);
}

/*
 * An index written in a transaction that is then aborted leaves the ids in
 * memory: they are still found, and indexed by the next attempt.
 */
static void test_aborted_index_keeps_ids(void **state)
{
	struct fixture *fx = *state;
	uint64_t seq = 0;
	instant_t at = 0;

	open_ledger(fx);
	append_three(fx);
	begin_write(fx);
	assert_int_equal(ledger_index(fx->l, fx->txn), 0);
	rollback(fx);
	begin_write(fx);
	assert_int_equal(ledger_lookup(fx->l, fx->txn, "ministry-a", "r-2",
				       &seq, &at), 0);
	assert_true(seq == 2);
	assert_int_equal(ledger_index(fx->l, fx->txn), 0);
	commit(fx);
	expect_verified(fx, 3);
}

/*
 * LEDGER_RECENT_MAX ids make an index due; ids are found before indexing
 * (in memory, also after a reopen) and after it (in intake.ids).
 */
static void test_many_recent_ids(void **state)
{
	struct fixture *fx = *state;
	const int n = LEDGER_RECENT_MAX;
	char id[32];
	uint64_t seq = 0;
	instant_t at = 0;

	open_ledger(fx);
	begin_write(fx);
	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof id, "r-%d", i);
		assert_false(ledger_index_due(fx->l));
		assert_int_equal(ledger_append(fx->l, fx->txn, "agency-x", id,
					       i, "report.accepted", "\x80", 1,
					       &seq), 0);
	}
	assert_true(ledger_index_due(fx->l));
	commit(fx);
	for (int pass = 0; pass < 2; pass++) {
		ledger_free(fx->l);
		fx->l = NULL;
		open_ledger(fx);
		begin_write(fx);
		for (int i = 0; i < n; i += 7) {
			snprintf(id, sizeof id, "r-%d", i);
			assert_int_equal(ledger_lookup(fx->l, fx->txn,
						       "agency-x", id, &seq,
						       &at), 0);
			assert_true(seq == (uint64_t)i + 1);
			assert_true(at == i);
		}
		assert_int_equal(ledger_lookup(fx->l, fx->txn, "agency-x",
					       "r-999999", &seq, &at), -ENOENT);
		if (pass == 0) {	/* then again from intake.ids */
			assert_true(ledger_index_due(fx->l));
			assert_int_equal(ledger_index(fx->l, fx->txn), 0);
			commit(fx);
			assert_false(ledger_index_due(fx->l));
		} else {
			assert_false(ledger_index_due(fx->l));
			rollback(fx);
		}
	}
}

/* Without a publisher, the ledger only reads: append is -EINVAL. */
static void test_append_without_pub(void **state)
{
	struct fixture *fx = *state;
	uint64_t seq = 0;

	assert_int_equal(ledger_open(fx->st, NULL, &fx->l), 0);
	begin_write(fx);
	assert_int_equal(ledger_append(fx->l, fx->txn, "a", "i", 1,
				       "report.accepted", "\x80", 1, &seq),
			 -EINVAL);
	store_abort(fx->txn);
	fx->txn = NULL;
}

/* Three appended, committed messages verify with count 3. */
static void test_verify_count(void **state)
{
	struct fixture *fx = *state;

	open_ledger(fx);
	append_three(fx);
	expect_verified(fx, 3);
}

/*
 * The stored records are topic length, topic, body; the stored links follow
 * link(n) = BLAKE2b-256(link(n-1) || n BE || record(n)), link(0) = zeroes.
 */
static void test_link_formula(void **state)
{
	struct fixture *fx = *state;
	uint8_t zero[32] = { 0 }, want[32], got[256], rec[256], mine[32];
	struct bus_event ev;
	size_t n;

	open_ledger(fx);
	append_three(fx);

	n = read_value(fx, BUS_EVENTS_TABLE, 1, rec, sizeof rec);
	assert_int_equal(n, 1 + strlen(three[0].topic) + strlen(three[0].body));
	assert_int_equal(rec[0], strlen(three[0].topic));
	assert_memory_equal(rec + 1, three[0].topic, rec[0]);
	assert_memory_equal(rec + 1 + rec[0], three[0].body,
			    strlen(three[0].body));

	reference_link(zero, 1, three[0].topic, three[0].body, want);
	assert_int_equal(read_value(fx, LEDGER_CHAIN_TABLE, 1, got, sizeof got),
			 row_len(&three[0]));
	assert_memory_equal(got, want, 32);

	/* Each link builds on the one before. */
	for (uint64_t s = 2; s <= 3; s++) {
		reference_link(want, s, three[s - 1].topic, three[s - 1].body,
			       want);
		assert_int_equal(read_value(fx, LEDGER_CHAIN_TABLE, s, got,
					    sizeof got), row_len(&three[s - 1]));
		assert_memory_equal(got, want, 32);
	}

	/* ledger_link() is the same function, and out may alias prev. */
	ev = (struct bus_event){ .seq = 1, .topic = three[0].topic,
		.topic_len = strlen(three[0].topic), .body = three[0].body,
		.body_len = strlen(three[0].body) };
	memset(mine, 0, sizeof mine);
	assert_int_equal(ledger_link(mine, &ev, mine), 0);
	reference_link(zero, 1, three[0].topic, three[0].body, want);
	assert_memory_equal(mine, want, 32);
}

/* One flipped byte in record 2's body: -EBADMSG naming 2. */
static void test_tampered_body(void **state)
{
	struct fixture *fx = *state;
	uint8_t rec[256];
	size_t n;

	open_ledger(fx);
	append_three(fx);
	n = read_value(fx, BUS_EVENTS_TABLE, 2, rec, sizeof rec);
	rec[n - 1] ^= 0x01;
	write_value(fx, BUS_EVENTS_TABLE, 2, rec, n);
	expect_bad(fx, 2);
}

/* A changed topic is caught the same way: the topic is part of the record. */
static void test_tampered_topic(void **state)
{
	struct fixture *fx = *state;
	uint8_t rec[256];
	size_t n;

	open_ledger(fx);
	append_three(fx);
	n = read_value(fx, BUS_EVENTS_TABLE, 3, rec, sizeof rec);
	rec[1] = 'C' ^ 'c' ^ rec[1];		/* "command" -> "Command" */
	write_value(fx, BUS_EVENTS_TABLE, 3, rec, n);
	expect_bad(fx, 3);
}

/* A rewritten link: -EBADMSG naming it. */
static void test_tampered_link(void **state)
{
	struct fixture *fx = *state;
	uint8_t row[256];
	size_t n;

	open_ledger(fx);
	append_three(fx);
	n = read_value(fx, LEDGER_CHAIN_TABLE, 3, row, sizeof row);
	row[0] ^= 0x80;
	write_value(fx, LEDGER_CHAIN_TABLE, 3, row, n);
	expect_bad(fx, 3);
}

/* A chain row cut inside its link is named: a link is 32 bytes. */
static void test_short_link(void **state)
{
	struct fixture *fx = *state;
	uint8_t row[256];

	open_ledger(fx);
	append_three(fx);
	read_value(fx, LEDGER_CHAIN_TABLE, 2, row, sizeof row);
	write_value(fx, LEDGER_CHAIN_TABLE, 2, row, 31);
	expect_bad(fx, 2);
}

/* A deleted link in the middle is named. */
static void test_deleted_link(void **state)
{
	struct fixture *fx = *state;

	open_ledger(fx);
	append_three(fx);
	delete_value(fx, LEDGER_CHAIN_TABLE, 2);
	expect_bad(fx, 2);
}

/* A deleted last link is named too (records outnumber links). */
static void test_deleted_last_link(void **state)
{
	struct fixture *fx = *state;

	open_ledger(fx);
	append_three(fx);
	delete_value(fx, LEDGER_CHAIN_TABLE, 3);
	expect_bad(fx, 3);
}

/* A deleted record is named. */
static void test_deleted_record(void **state)
{
	struct fixture *fx = *state;

	open_ledger(fx);
	append_three(fx);
	delete_value(fx, BUS_EVENTS_TABLE, 2);
	expect_bad(fx, 2);
}

/* An abandoned append leaves no trace: the redo gets its seq, the chain verifies. */
static void test_rollback(void **state)
{
	struct fixture *fx = *state;
	const struct entry lost = { "ministry-a", "lost", "report.accepted",
				    "\x81\xa1x\x01", 7 };
	const struct entry kept = { "ministry-a", "kept", "report.accepted",
				    "\x81\xa1x\x02", 8 };
	struct store_txn *t;
	uint64_t seq;
	instant_t at;

	open_ledger(fx);
	append_three(fx);

	begin_write(fx);
	assert_true(append(fx, &lost) == 4);
	rollback(fx);

	begin_write(fx);
	assert_true(append(fx, &kept) == 4);
	commit(fx);
	expect_verified(fx, 4);

	assert_int_equal(store_begin(fx->st, false, &t), 0);
	assert_int_equal(ledger_lookup(fx->l, t, "ministry-a", "lost", &seq,
				       &at), -ENOENT);
	assert_int_equal(ledger_lookup(fx->l, t, "ministry-a", "kept", &seq,
				       &at), 0);
	assert_true(seq == 4);
	store_abort(t);
}

/*
 * A ledger reopened after a commit (with a restarted publisher) continues
 * the chain: later appends verify together with the earlier ones.
 */
static void test_reopen_continues(void **state)
{
	struct fixture *fx = *state;
	const struct entry more[] = {
		{ "ministry-a", "r-3", "report.accepted", "\x81\xa1" "a\x04", 4 },
		{ "ministry-a", "r-4", "report.accepted", "\x81\xa1" "a\x05", 5 },
	};

	open_ledger(fx);
	append_three(fx);
	ledger_free(fx->l);
	fx->l = NULL;
	bus_pub_free(fx->pub);
	fx->pub = NULL;

	set_endpoints(fx);
	assert_int_equal(bus_pub_new(fx->zctx, fx->st, fx->pub_ep,
				     fx->replay_ep, NULL, &fx->pub), 0);
	open_ledger(fx);
	begin_write(fx);
	assert_true(append(fx, &more[0]) == 4);
	assert_true(append(fx, &more[1]) == 5);
	commit(fx);
	expect_verified(fx, 5);

	/* And once more without restarting: the in-memory link moved on. */
	begin_write(fx);
	assert_true(append(fx, &(struct entry){ "x", "y", "task.created",
						"\x80", 6 }) == 6);
	commit(fx);
	expect_verified(fx, 6);
}

/* ------------------------------------------------ the write-ahead file */

/* Open the ledger with a WAL in the test directory. */
static void open_with_wal(struct fixture *fx)
{
	char path[PATH_MAX + 8];

	snprintf(path, sizeof(path), "%s/wal", fx->dir);
	open_ledger(fx);
	assert_int_equal(wal_open(path, 64 * 1024, &fx->wal), 0);
	ledger_set_wal(fx->l, fx->wal);
}

/* Commit the open txn as a checkpoint. */
static void checkpoint(struct fixture *fx)
{
	assert_int_equal(ledger_checkpoint(fx->l, fx->txn), 0);
	commit(fx);
}

/*
 * A crash: the open txn is lost without a word to the ledger, and the
 * process's ledger, WAL and publisher go with it.
 */
static void crash(struct fixture *fx)
{
	store_abort(fx->txn);
	fx->txn = NULL;
	ledger_free(fx->l);
	fx->l = NULL;
	wal_close(fx->wal);
	fx->wal = NULL;
	bus_pub_free(fx->pub);
	set_endpoints(fx);
	assert_int_equal(bus_pub_new(fx->zctx, fx->st, fx->pub_ep,
				     fx->replay_ep, NULL, &fx->pub), 0);
}

static int64_t redo(struct fixture *fx)
{
	return ledger_redo(fx->l, fx->txn);
}

/*
 * On a new store: open with a WAL, commit the first checkpoint (there is
 * nothing to redo), which starts generation 1, and begin the transaction
 * the test's rounds append to.
 */
static void start_generation(struct fixture *fx)
{
	open_with_wal(fx);
	begin_write(fx);
	assert_int_equal(redo(fx), 0);
	checkpoint(fx);
	begin_write(fx);
}

/*
 * Rounds synced to the WAL and never committed come back after a crash:
 * same seqs, same accepted_at, same chain; and once committed as a
 * checkpoint, the next start has nothing to redo.
 */
static void test_wal_redo_after_crash(void **state)
{
	struct fixture *fx = *state;
	struct store_txn *t;
	uint64_t seq;
	instant_t at;

	start_generation(fx);
	for (size_t i = 0; i < 3; i++)
		assert_true(append(fx, &three[i]) == i + 1);
	assert_int_equal(wal_sync(fx->wal), 0);
	crash(fx);
	expect_verified(fx, 0);

	open_with_wal(fx);
	begin_write(fx);
	assert_int_equal(redo(fx), 3);
	checkpoint(fx);
	expect_verified(fx, 3);
	assert_int_equal(store_begin(fx->st, false, &t), 0);
	assert_int_equal(ledger_lookup(fx->l, t, "ministry-a", "r-2", &seq,
				       &at), 0);
	assert_true(seq == 2);
	assert_true(at == three[1].at);
	store_abort(t);

	crash(fx);
	open_with_wal(fx);
	begin_write(fx);
	assert_int_equal(redo(fx), 0);
	assert_true(append(fx, &(struct entry){ "x", "y", "task.created",
						"\x80", 9 }) == 4);
	checkpoint(fx);
	expect_verified(fx, 4);
}

/* What was appended but never synced is not in the WAL: a crash loses it
 * (it was never answered). */
static void test_wal_unsynced_lost(void **state)
{
	struct fixture *fx = *state;

	start_generation(fx);
	append(fx, &three[0]);
	assert_int_equal(wal_sync(fx->wal), 0);
	append(fx, &three[1]);
	crash(fx);

	open_with_wal(fx);
	begin_write(fx);
	assert_int_equal(redo(fx), 1);
	assert_true(append(fx, &three[2]) == 2);
	checkpoint(fx);
	expect_verified(fx, 2);
}

/*
 * In one process: a transaction holding several synced rounds fails; after
 * the rollback the redo puts the synced rounds back, and the unsynced one
 * is appended again with the same seq.
 */
static void test_wal_rollback_redo(void **state)
{
	struct fixture *fx = *state;

	start_generation(fx);
	assert_int_equal(redo(fx), 0);		/* nothing can be missing */
	assert_true(append(fx, &three[0]) == 1);
	assert_int_equal(wal_sync(fx->wal), 0);
	assert_true(append(fx, &three[1]) == 2);
	assert_int_equal(wal_sync(fx->wal), 0);
	assert_true(append(fx, &three[2]) == 3);
	rollback(fx);
	assert_true(wal_buffered(fx->wal) == 0);

	begin_write(fx);
	assert_int_equal(redo(fx), 2);
	assert_true(append(fx, &three[2]) == 3);
	assert_int_equal(redo(fx), 0);		/* done once */
	checkpoint(fx);
	expect_verified(fx, 3);
}

/*
 * A WAL whose records do not continue the store's log (here: the store
 * took another seq 1 in the same generation) is refused, not merged.
 */
static void test_wal_not_continuing(void **state)
{
	struct fixture *fx = *state;

	start_generation(fx);
	append(fx, &three[0]);
	assert_int_equal(wal_sync(fx->wal), 0);
	store_abort(fx->txn);
	fx->txn = NULL;
	ledger_set_wal(fx->l, NULL);
	assert_int_equal(ledger_rollback(fx->l), 0);
	begin_write(fx);
	append(fx, &three[1]);
	commit(fx);			/* seq 1, and no checkpoint */
	crash(fx);

	open_with_wal(fx);
	begin_write(fx);
	assert_int_equal(redo(fx), -EBADMSG);
	rollback(fx);
	expect_verified(fx, 1);
}

/* batonctl's path: a read-only store verifies and looks up. */
static void test_read_only_verify(void **state)
{
	struct fixture *fx = *state;
	struct store_options ro = { .read_only = true };
	struct store_txn *t;
	uint64_t seq;
	instant_t at;

	open_ledger(fx);
	append_three(fx);
	ledger_free(fx->l);
	fx->l = NULL;
	bus_pub_free(fx->pub);
	fx->pub = NULL;
	store_close(fx->st);
	fx->st = NULL;

	assert_int_equal(store_open(fx->env, &ro, &fx->st), 0);
	expect_verified(fx, 3);
	assert_int_equal(ledger_open(fx->st, NULL, &fx->l), 0);
	assert_int_equal(store_begin(fx->st, false, &t), 0);
	assert_int_equal(ledger_lookup(fx->l, t, "province-b", "r-1", &seq,
				       &at), 0);
	assert_true(seq == 3);
	assert_true(at == three[2].at);
	store_abort(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_open_empty),
		T(test_lookup),
		T(test_ids_layout),
		T(test_chain_row_layout),
		T(test_recent_ids_survive_reopen),
		T(test_index_then_reopen),
		T(test_aborted_index_keeps_ids),
		T(test_many_recent_ids),
		T(test_lookup_in_open_txn),
		T(test_duplicate_id_refused),
		T(test_append_without_pub),
		T(test_verify_count),
		T(test_link_formula),
		T(test_tampered_body),
		T(test_tampered_topic),
		T(test_tampered_link),
		T(test_short_link),
		T(test_deleted_link),
		T(test_deleted_last_link),
		T(test_deleted_record),
		T(test_rollback),
		T(test_reopen_continues),
		T(test_wal_redo_after_crash),
		T(test_wal_unsynced_lost),
		T(test_wal_rollback_redo),
		T(test_wal_not_continuing),
		T(test_read_only_verify),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
