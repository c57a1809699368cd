/*
 * ledger.h - intake's log: every accepted message, in order, hash-chained,
 * with the (agency, id) index that makes resending safe.
 *
 * The log is the intake publisher's event table (BUS_EVENTS_TABLE): record n
 * is event n, so "seq N of the intake log" in an ACK and sequence N on the
 * bus are the same thing, and replaying the bus is reading the log. Beside it
 * the ledger keeps three tables in the same environment:
 *
 *   intake.chain  seq (u64 BE) -> link(seq) (32 bytes), accepted_at
 *                 (i64 BE), agency NUL id
 *   intake.ids    agency NUL id -> seq (u64 BE), accepted_at (i64 BE),
 *                 for every seq up to intake.meta "indexed"
 *   intake.meta   "indexed" -> u64 BE
 *                 "wal" -> u64 BE, the write-ahead file's generation
 *
 * Ids after "indexed" are found through a table in memory, rebuilt from the
 * chain rows on open, and written to intake.ids in bulk (ledger.c says why).
 *
 * where
 *
 *   link(n) = BLAKE2b-256( link(n-1) || n as u64 BE || record(n) )
 *
 * with link(0) all zeroes and record(n) the bytes stored for event n. A
 * verifier recomputes every link from the first record; the first stored link
 * that differs names the first record that was changed, added or removed.
 * (This detects editing the data, not an attacker who rewrites the whole
 * chain; signing the head is for a later issue.)
 *
 * intake writes through ledger_append(); batonctl reads with
 * ledger_verify(). Both live here so the layout is defined once.
 */
#ifndef BATON_LEDGER_H
#define BATON_LEDGER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bus.h"
#include "store.h"
#include "time.h"

struct wal;

#define LEDGER_CHAIN_TABLE	"intake.chain"
#define LEDGER_IDS_TABLE	"intake.ids"
#define LEDGER_META_TABLE	"intake.meta"
#define LEDGER_LINK_LEN		32
/* Recent ids held in memory before they are written to intake.ids. */
#define LEDGER_RECENT_MAX	65536

struct ledger;

/*
 * Open the ledger's tables in st (read-only stores: they must exist), load
 * the newest link and the ids not yet indexed. pub may be NULL for a
 * reader; ledger_append() then fails.
 * Returns 0 and sets *ret, store errors, -EBADMSG (a malformed chain row),
 * -ENOMEM.
 */
int ledger_open(struct store *st, struct bus_pub *pub, struct ledger **ret);

/* Free it. Takes NULL. */
void ledger_free(struct ledger *l);

/*
 * Find the message agency sent as id. Returns 0 and sets *seq and
 * *accepted_at, -ENOENT.
 */
int ledger_lookup(struct ledger *l, struct store_txn *t, const char *agency,
		  const char *id, uint64_t *seq, instant_t *accepted_at);

/*
 * Append a message to the log in write transaction t: its event (topic,
 * body) through the publisher, its link and its id.
 * Returns 0 and sets *ret_seq, -EEXIST (agency already sent id: nothing
 * is appended; ledger_lookup() gives the first answer), -EINVAL (no
 * publisher, or an empty or oversized agency or id), store errors
 * (-ENOSPC: abort t, call ledger_rollback(), grow, redo), -ENOMEM.
 */
int ledger_append(struct ledger *l, struct store_txn *t, const char *agency,
		  const char *id, instant_t accepted_at, const char *topic,
		  const void *body, size_t len, uint64_t *ret_seq);

/*
 * The write-ahead file (wal.h). With one set, ledger_append() also buffers
 * each record in it, so that a round is made durable by wal_sync() and the
 * store transaction can stay open across rounds, to be committed at a
 * checkpoint: ledger_checkpoint(t), store_commit(t), ledger_committed(),
 * which starts the file over. The WAL then always holds exactly the records
 * the store lacks: those of the generation the last commit named.
 *
 * WAL record: seq, accepted_at (u64 BE), the lengths of topic, agency and
 * id (one byte each), then topic, agency, id and body.
 *
 * w is borrowed; set it once, before any append.
 */
void ledger_set_wal(struct ledger *l, struct wal *w);

/*
 * Append again in t every record the WAL holds that the store lacks, if
 * any can be missing from t: after ledger_set_wal() and after
 * ledger_rollback() (of a transaction that held rounds only the WAL has).
 * Afterwards the WAL appends after them.
 * Returns how many, 0 without a WAL or with nothing to redo; -EBADMSG (a
 * record that does not continue the log: it is not the next sequence, or
 * repeats an id), store errors (-ENOSPC: abort, ledger_rollback(), grow,
 * redo), -ENOMEM, -errno of read.
 */
int64_t ledger_redo(struct ledger *l, struct store_txn *t);

/*
 * Make t a checkpoint: it names the WAL's next generation, which begins
 * when ledger_committed() is called after t commits. Returns 0 or store
 * errors.
 */
int ledger_checkpoint(struct ledger *l, struct store_txn *t);

/* Whether enough ids wait in memory to be worth a ledger_index(). */
bool ledger_index_due(const struct ledger *l);

/*
 * Write every id held in memory to intake.ids in write transaction t
 * (they leave memory at ledger_committed()). Returns 0 or store errors.
 */
int ledger_index(struct ledger *l, struct store_txn *t);

/*
 * The transaction holding appended messages was aborted: forget them, and
 * what the WAL buffered since its last sync, and reload the state of the
 * last commit. Returns 0 or store errors.
 */
int ledger_rollback(struct ledger *l);

/* The transaction holding appended messages was committed (and if it was
 * a checkpoint, the WAL starts its next generation at offset 0). */
void ledger_committed(struct ledger *l);

/*
 * Compute link(ev->seq) from prev into out (out may alias prev).
 * Returns 0, -EIO if libsodium cannot start.
 */
int ledger_link(const uint8_t prev[LEDGER_LINK_LEN],
		const struct bus_event *ev, uint8_t out[LEDGER_LINK_LEN]);

/* Called every 'every' records by ledger_verify() with the count so far. */
typedef void (*ledger_progress_fn)(void *arg, uint64_t done, uint64_t total);

/*
 * Walk the whole log in one read snapshot and check every link.
 * Returns 0 with *count records checked; -EBADMSG with *bad the first
 * sequence whose record or link does not match (a record changed, a link
 * changed, a record missing or malformed); store errors.
 */
int ledger_verify(struct store *st, ledger_progress_fn fn, void *arg,
		  uint64_t *count, uint64_t *bad);

#endif
