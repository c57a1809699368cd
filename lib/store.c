/*
 * store.c - LMDB environments, named tables and transactions.
 *
 * A thin layer: LMDB already gives us ACID transactions, crash safety and
 * readers that never block the writer. What this file adds is the mapping of
 * LMDB's error codes to negative errnos, named tables opened once, and the
 * two situations LMDB leaves to its user: a full map (the writer grows it)
 * and a map grown by another process (a reader adopts the new size).
 *
 * Environments are opened with MDB_NOTLS so that a read transaction is not
 * tied to a thread, and without MDB_NOSYNC: a commit that returns is on disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "store.h"

#define STORE_DEFAULT_MAP	(64ULL << 20)

struct store {
	MDB_env *env;
	int lock_fd;		/* the writer's claim on the directory */
	bool read_only;
	unsigned ntables;
	MDB_dbi dbi[STORE_MAX_TABLES];
	char *names[STORE_MAX_TABLES];
};

struct store_txn {
	struct store *store;
	MDB_txn *txn;
	bool write;
};

struct store_cursor {
	MDB_cursor *cur;
	bool positioned;	/* seek done, its entry not yet returned */
	MDB_val k, v;
	bool at_end;
};

/* ---- errors ---- */

static int store_errno(int r)
{
	switch (r) {
	case 0:
		return 0;
	case MDB_NOTFOUND:
		return -ENOENT;
	case MDB_MAP_FULL:
		return -ENOSPC;
	case MDB_KEYEXIST:
		return -EEXIST;
	case MDB_READERS_FULL:
	case MDB_TXN_FULL:
	case MDB_CURSOR_FULL:
	case MDB_PAGE_FULL:
		return -EBUSY;
	case MDB_DBS_FULL:
		return -EMFILE;
	case MDB_BAD_VALSIZE:
	case MDB_BAD_DBI:
		return -EINVAL;
	default:
		/* Positive: errno from the system; otherwise LMDB corruption. */
		if (r > 0)
			return -r;
		log_debug("%s: %s", __func__, mdb_strerror(r));
		return -EIO;
	}
}

/* ---- environment ---- */

/* mkdir -p: the state directory and the daemon's directory below it. */
static int make_dirs(const char *path)
{
	char *p = strdup(path);
	int r = 0;

	if (!p)
		return -ENOMEM;
	for (char *c = p + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			r = -errno;
		*c = '/';
		if (r < 0)
			goto out;
	}
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		r = -errno;
out:
	free(p);
	return r;
}

/*
 * One writer per environment: LMDB serialises write transactions but
 * would let a second daemon started by mistake write beside the first
 * and publish the same sequence numbers. An flock on a file of our own
 * (never LMDB's lock.mdb, whose fcntl locks any close would drop) is
 * released by the kernel however the holder dies.
 */
static int claim(struct store *s, const char *path)
{
	char *file;

	if (asprintf(&file, "%s/writer.lock", path) < 0)
		return -ENOMEM;
	s->lock_fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(file);
	if (s->lock_fd < 0)
		return -errno;
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? -EBUSY : -errno;
	return 0;
}

int store_open(const char *path, const struct store_options *opt,
	       struct store **ret)
{
	struct store_options none = { 0 };
	struct store *s = NULL;
	unsigned flags = MDB_NOTLS;
	int r;

	if (!opt)
		opt = &none;
	if (opt->create && !opt->read_only) {
		r = make_dirs(path);
		if (r < 0)
			return r;
	}

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->lock_fd = -1;
	s->read_only = opt->read_only;
	if (!opt->read_only) {
		r = claim(s, path);
		if (r < 0) {
			store_close(s);
			return r;
		}
	}
	r = mdb_env_create(&s->env);
	if (r)
		goto fail;
	r = mdb_env_set_maxdbs(s->env, STORE_MAX_TABLES);
	if (r)
		goto fail;
	/* Readers: batonctl and the daemon's own short snapshots. */
	r = mdb_env_set_maxreaders(s->env, 126);
	if (r)
		goto fail;
	if (!opt->read_only) {
		r = mdb_env_set_mapsize(s->env,
		    opt->map_size ? opt->map_size : STORE_DEFAULT_MAP);
		if (r)
			goto fail;
	} else
		flags |= MDB_RDONLY;
	r = mdb_env_open(s->env, path, flags, 0600);
	if (r)
		goto fail;
	*ret = s;
	return 0;
fail:
	r = store_errno(r);
	store_close(s);
	return r;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < s->ntables; i++)
		free(s->names[i]);
	if (s->env)
		mdb_env_close(s->env);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(s);
}

int store_table(struct store *s, const char *name, store_table_t *ret)
{
	struct store_txn *t;
	int r;

	for (unsigned i = 0; i < s->ntables; i++)
		if (strcmp(s->names[i], name) == 0) {
			*ret = i;
			return 0;
		}
	if (s->ntables == STORE_MAX_TABLES)
		return -EMFILE;
	s->names[s->ntables] = strdup(name);
	if (!s->names[s->ntables])
		return -ENOMEM;
	r = store_begin(s, !s->read_only, &t);
	if (r < 0)
		goto fail;
	r = store_errno(mdb_dbi_open(t->txn, name,
	    s->read_only ? 0 : MDB_CREATE, &s->dbi[s->ntables]));
	if (r < 0) {
		store_abort(t);
		goto fail;
	}
	/* A handle opened in a transaction is valid for others once it commits. */
	r = store_commit(t);
	if (r < 0)
		goto fail;
	*ret = s->ntables++;
	return 0;
fail:
	free(s->names[s->ntables]);
	s->names[s->ntables] = NULL;
	return r;
}

int store_grow(struct store *s, uint64_t min_size)
{
	MDB_envinfo info;
	uint64_t size;
	int r;

	r = mdb_env_info(s->env, &info);
	if (r)
		return store_errno(r);
	size = (uint64_t)info.me_mapsize * 2;
	if (size < min_size)
		size = min_size;
	log_debug("%s: map %zu -> %" PRIu64, __func__, info.me_mapsize, size);
	return store_errno(mdb_env_set_mapsize(s->env, size));
}

int store_copy(struct store *s, const char *dir)
{
	char path[PATH_MAX];
	int r;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if ((size_t)snprintf(path, sizeof(path), "%s/data.mdb", dir) >=
	    sizeof(path))
		return -ENAMETOOLONG;
	if (access(path, F_OK) == 0)
		return -EEXIST;
	r = mdb_env_copy2(s->env, dir, MDB_CP_COMPACT);
	if (r)
		return store_errno(r);
	/* LMDB creates it with 0644: a copy is as private as the original. */
	return chmod(path, 0600) < 0 ? -errno : 0;
}

int store_usage(struct store *s, uint64_t *map_size, uint64_t *used)
{
	MDB_envinfo info;
	MDB_stat st;
	int r;

	r = mdb_env_info(s->env, &info);
	if (!r)
		r = mdb_env_stat(s->env, &st);
	if (r)
		return store_errno(r);
	*map_size = info.me_mapsize;
	*used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	return 0;
}

/* ---- transactions ---- */

int store_begin(struct store *s, bool write, struct store_txn **ret)
{
	struct store_txn *t;
	int r;

	if (write && s->read_only)
		return -EROFS;
	t = malloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->store = s;
	t->write = write;
	r = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
	if (r == MDB_MAP_RESIZED) {
		/* The writer grew the map since we opened: adopt its size. */
		r = mdb_env_set_mapsize(s->env, 0);
		if (!r)
			r = mdb_txn_begin(s->env, NULL,
			    write ? 0 : MDB_RDONLY, &t->txn);
	}
	if (r) {
		free(t);
		return store_errno(r);
	}
	*ret = t;
	return 0;
}

int store_commit(struct store_txn *t)
{
	int r;

	/*
	 * Read snapshots are committed too, not aborted: a table handle opened
	 * in a read-only store's snapshot survives only a commit.
	 */
	r = mdb_txn_commit(t->txn);	/* frees the MDB_txn even on error */
	free(t);
	return store_errno(r);
}

void store_abort(struct store_txn *t)
{
	if (!t)
		return;
	mdb_txn_abort(t->txn);
	free(t);
}

/* ---- data ---- */

int store_get(struct store_txn *t, store_table_t tab, const void *key,
	      size_t klen, const void **val, size_t *vlen)
{
	MDB_val k = { klen, (void *)key }, v;
	int r;

	r = mdb_get(t->txn, t->store->dbi[tab], &k, &v);
	if (r)
		return store_errno(r);
	*val = v.mv_data;
	*vlen = v.mv_size;
	return 0;
}

int store_put(struct store_txn *t, store_table_t tab, const void *key,
	      size_t klen, const void *val, size_t vlen, unsigned flags)
{
	MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };
	unsigned f = 0;
	int r;

	if (klen == 0)
		return -EINVAL;
	if (flags & STORE_NOOVERWRITE)
		f |= MDB_NOOVERWRITE;
	if (flags & STORE_APPEND)
		f |= MDB_APPEND;
	r = mdb_put(t->txn, t->store->dbi[tab], &k, &v, f);
	/* LMDB says KEYEXIST for an append that does not sort last. */
	if (r == MDB_KEYEXIST && (flags & STORE_APPEND))
		return -EINVAL;
	return store_errno(r);
}

int store_del(struct store_txn *t, store_table_t tab, const void *key,
	      size_t klen)
{
	MDB_val k = { klen, (void *)key };

	return store_errno(mdb_del(t->txn, t->store->dbi[tab], &k, NULL));
}

int store_count(struct store_txn *t, store_table_t tab, uint64_t *ret)
{
	MDB_stat st;
	int r;

	r = mdb_stat(t->txn, t->store->dbi[tab], &st);
	if (r)
		return store_errno(r);
	*ret = st.ms_entries;
	return 0;
}

int store_last(struct store_txn *t, store_table_t tab, const void **key,
	       size_t *klen, const void **val, size_t *vlen)
{
	MDB_cursor *c;
	MDB_val k, v;
	int r;

	r = mdb_cursor_open(t->txn, t->store->dbi[tab], &c);
	if (r)
		return store_errno(r);
	r = mdb_cursor_get(c, &k, &v, MDB_LAST);
	mdb_cursor_close(c);
	if (r)
		return store_errno(r);
	if (key) {
		*key = k.mv_data;
		*klen = k.mv_size;
	}
	if (val) {
		*val = v.mv_data;
		*vlen = v.mv_size;
	}
	return 0;
}

/* ---- cursors ---- */

int store_cursor_open(struct store_txn *t, store_table_t tab,
		      struct store_cursor **ret)
{
	struct store_cursor *c;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	r = mdb_cursor_open(t->txn, t->store->dbi[tab], &c->cur);
	if (r) {
		free(c);
		return store_errno(r);
	}
	*ret = c;
	return 0;
}

int store_cursor_seek(struct store_cursor *c, const void *key, size_t klen)
{
	int r;

	if (key) {
		c->k.mv_data = (void *)key;
		c->k.mv_size = klen;
		r = mdb_cursor_get(c->cur, &c->k, &c->v, MDB_SET_RANGE);
	} else
		r = mdb_cursor_get(c->cur, &c->k, &c->v, MDB_FIRST);
	c->positioned = r == 0;
	c->at_end = r != 0;
	return store_errno(r);
}

int store_cursor_next(struct store_cursor *c, const void **key, size_t *klen,
		      const void **val, size_t *vlen)
{
	int r;

	if (c->at_end)
		return -ENOENT;
	if (c->positioned)
		c->positioned = false;
	else {
		r = mdb_cursor_get(c->cur, &c->k, &c->v, MDB_NEXT);
		if (r) {
			c->at_end = true;
			return store_errno(r);
		}
	}
	if (key) {
		*key = c->k.mv_data;
		*klen = c->k.mv_size;
	}
	if (val) {
		*val = c->v.mv_data;
		*vlen = c->v.mv_size;
	}
	return 0;
}

void store_cursor_close(struct store_cursor *c)
{
	if (!c)
		return;
	mdb_cursor_close(c->cur);
	free(c);
}

/* ---- keys ---- */

void store_u64_key(uint64_t v, uint8_t out[8])
{
	for (int i = 7; i >= 0; i--) {
		out[i] = v & 0xff;
		v >>= 8;
	}
}

uint64_t store_u64_from(const void *p)
{
	const uint8_t *b = p;
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}
