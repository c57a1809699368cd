/*
 * store.h - one LMDB environment per daemon, named tables, transactions.
 *
 * Each daemon owns one environment under state_dir/<daemon>/ and is its only
 * writer; batonctl opens the same environments read-only, which LMDB allows
 * from other processes through its lock file. Tables are LMDB named
 * databases, opened once at start-up by name and used through a small
 * integer handle.
 *
 * The map is LMDB's upper bound on the file size. When a write transaction
 * fills it, the store says -ENOSPC, the caller aborts the transaction, calls
 * store_grow() and redoes its work: MDB_MAP_FULL is a reason to grow, never
 * an error a client sees. A reader in another process finds the map grown
 * and adopts the new size by itself.
 *
 * Errors: every function returns 0 or a negative errno. LMDB's own codes are
 * mapped: MDB_NOTFOUND -> -ENOENT, MDB_MAP_FULL -> -ENOSPC,
 * MDB_KEYEXIST -> -EEXIST, MDB_READERS_FULL/MDB_TXN_FULL -> -EBUSY,
 * corruption and version mismatches -> -EIO.
 *
 * Never keep a read transaction open across the event loop: it pins the
 * pages it sees and the file grows without bound. A read-only store adopts
 * a grown map in store_begin(), which LMDB allows only while that process
 * has no other transaction open on it: read-only users take one snapshot
 * at a time.
 */
#ifndef BATON_STORE_H
#define BATON_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct store_txn;
struct store_cursor;

typedef unsigned store_table_t;

#define STORE_MAX_TABLES	32

struct store_options {
	uint64_t map_size;	/* initial map size; 0: 64 MiB */
	bool read_only;		/* batonctl: no writes, tables must exist */
	bool create;		/* create the directory (mode 0700) if missing */
};

/* store_put() flags */
#define STORE_NOOVERWRITE	0x1	/* -EEXIST if the key is there */
#define STORE_APPEND		0x2	/* the key sorts after every other */

/*
 * Open (creating if opt->create) the environment in directory path. A
 * writer holds an exclusive lock on path/writer.lock until store_close():
 * a second writer gets -EBUSY; readers are never refused.
 * Returns 0 and sets *ret, -ENOENT if the directory or environment is
 * missing, -EBUSY, -EACCES, -EIO (not an LMDB environment), -ENOMEM.
 */
int store_open(const char *path, const struct store_options *opt,
	       struct store **ret);

/* Close the environment. Every transaction must be finished. Takes NULL. */
void store_close(struct store *s);

/*
 * Open the table called name (created unless the store is read-only).
 * Call at start-up, with no transaction in progress.
 * Returns 0 and sets *ret, -ENOENT (read-only and missing), -EMFILE (more
 * than STORE_MAX_TABLES).
 */
int store_table(struct store *s, const char *name, store_table_t *ret);

/*
 * Begin a transaction: a write transaction when write is true (one at a
 * time), a read snapshot otherwise.
 * Returns 0 and sets *ret, -EROFS (write on a read-only store), -EBUSY.
 */
int store_begin(struct store *s, bool write, struct store_txn **ret);

/*
 * Commit and free the transaction (for a read snapshot: just free it).
 * Returns 0, -ENOSPC (map full: the transaction is gone, grow and redo),
 * -EIO. The txn is freed in every case.
 */
int store_commit(struct store_txn *t);

/* Abort and free a transaction. Takes NULL. */
void store_abort(struct store_txn *t);

/*
 * Look up key. Returns 0 and points *val and *vlen into the map (valid until the
 * transaction ends, read-only), -ENOENT.
 */
int store_get(struct store_txn *t, store_table_t tab, const void *key,
	      size_t klen, const void **val, size_t *vlen);

/*
 * Store key -> val. flags: STORE_NOOVERWRITE, STORE_APPEND.
 * Returns 0, -EEXIST, -ENOSPC (map full: abort, grow, redo), -EINVAL
 * (empty or oversized key, or APPEND out of order), -EIO.
 */
int store_put(struct store_txn *t, store_table_t tab, const void *key,
	      size_t klen, const void *val, size_t vlen, unsigned flags);

/* Delete key. Returns 0, -ENOENT, -ENOSPC, -EIO. */
int store_del(struct store_txn *t, store_table_t tab, const void *key,
	      size_t klen);

/* The number of entries in a table as seen by t. Returns 0 or -EIO. */
int store_count(struct store_txn *t, store_table_t tab, uint64_t *ret);

/*
 * The last (greatest) key of a table and its value, pointing into the map.
 * Returns 0, -ENOENT (empty table).
 */
int store_last(struct store_txn *t, store_table_t tab, const void **key,
	       size_t *klen, const void **val, size_t *vlen);

/*
 * Double the map size (or set it to at least min_size, whichever is larger).
 * Call with no transaction in progress. Returns 0, -ENOMEM, -EIO.
 */
int store_grow(struct store *s, uint64_t min_size);

/*
 * Write a consistent, compacted copy of the environment into directory dir
 * (created mode 0700; it must not hold a data.mdb already), as of one read
 * snapshot: safe while the writer runs, and it blocks nobody. The copy is
 * an environment store_open() opens like the original.
 * Returns 0, -EEXIST (dir holds a copy already), -errno.
 */
int store_copy(struct store *s, const char *dir);

/* Current map size and bytes in use (last page * page size). */
int store_usage(struct store *s, uint64_t *map_size, uint64_t *used);

/*
 * A cursor walks a table in key order within one transaction.
 * store_cursor_seek() positions it at the first key >= key (key NULL: the
 * first key of the table); store_cursor_next() then returns each entry in
 * turn. Both return 0, or -ENOENT past the end.
 */
int store_cursor_open(struct store_txn *t, store_table_t tab,
		      struct store_cursor **ret);
int store_cursor_seek(struct store_cursor *c, const void *key, size_t klen);
int store_cursor_next(struct store_cursor *c, const void **key, size_t *klen,
		      const void **val, size_t *vlen);
/* Close a cursor. Takes NULL. Must happen before its transaction ends. */
void store_cursor_close(struct store_cursor *c);

/* Big-endian u64 keys: they sort numerically under LMDB's memcmp order. */
void store_u64_key(uint64_t v, uint8_t out[8]);
uint64_t store_u64_from(const void *p);

#endif
