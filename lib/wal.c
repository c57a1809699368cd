/*
 * wal.c - the write-ahead file (see wal.h for the format and why).
 *
 * Records are framed into one buffer as they are added, so a round is one
 * pwrite() of contiguous bytes and one fdatasync(). The checksum is keyed
 * SipHash with a fixed key: it guards against torn and stale frames, not an
 * attacker (whoever can write the file can write the store beside it).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wal.h"

#define MAGIC		0x4c415742u	/* "BWAL" little-endian */
#define HEAD		16		/* magic, length, generation */
#define SUM		8
#define MIN_SIZE	(64 * 1024)
#define CHUNK		(1024 * 1024)	/* zeroes per write when making it */

struct wal {
	int fd;
	size_t size;		/* of the file: records never pass it */
	uint64_t gen;
	size_t used;		/* synced bytes of this generation */
	uint8_t *buf;		/* framed records not yet written */
	size_t buf_len, buf_cap;
	uint8_t key[crypto_shorthash_KEYBYTES];
};

/* ---- framing ---- */

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static size_t frame_len(size_t payload)
{
	return HEAD + ((payload + 7) & ~(size_t)7) + SUM;
}

static void frame_sum(const struct wal *w, const uint8_t *frame, size_t len,
		      uint8_t out[SUM])
{
	crypto_shorthash(out, frame, len - SUM, w->key);
}

/* ---- opening ---- */

static int fill(int fd, off_t from, size_t to)
{
	void *zero = calloc(1, CHUNK);
	int r = 0;

	if (!zero)
		return -ENOMEM;
	while ((size_t)from < to) {
		size_t n = to - (size_t)from < CHUNK ? to - (size_t)from : CHUNK;
		ssize_t k = pwrite(fd, zero, n, from);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		from += k;
	}
	free(zero);
	if (r == 0 && fdatasync(fd) < 0)
		r = -errno;
	return r;
}

static int sync_dir(const char *path)
{
	char *dir = strdup(path), *slash;
	int fd, r = 0;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	free(dir);
	return r;
}

int wal_open(const char *path, size_t size, struct wal **ret)
{
	struct wal *w;
	struct stat st;
	bool created;
	int r;

	if (size < MIN_SIZE || size > (size_t)UINT32_MAX * 4)
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = open(path, O_RDWR | O_CLOEXEC);
	created = w->fd < 0 && errno == ENOENT;
	if (created)
		w->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (w->fd < 0 || fstat(w->fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	if ((size_t)st.st_size < size) {
		r = fill(w->fd, st.st_size, size);
		if (r < 0)
			goto fail;
	} else {
		size = (size_t)st.st_size;
	}
	if (created && (r = sync_dir(path)) < 0)
		goto fail;
	w->size = size;
	memcpy(w->key, "baton wal frame.", sizeof(w->key));
	*ret = w;
	return 0;
fail:
	wal_close(w);
	return r;
}

void wal_close(struct wal *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	free(w->buf);
	free(w);
}

/* ---- reading ---- */

int64_t wal_replay(struct wal *w, uint64_t gen, wal_record_fn fn, void *arg)
{
	uint8_t *data;
	size_t off = 0, got = 0;
	int64_t n = 0;
	int r = 0;

	w->gen = gen;
	w->used = 0;
	w->buf_len = 0;
	data = malloc(w->size);
	if (!data)
		return -ENOMEM;
	while (got < w->size) {
		ssize_t k = pread(w->fd, data + got, w->size - got, got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			free(data);
			return -errno;
		}
		if (k == 0)
			break;
		got += (size_t)k;
	}
	while (gen != 0 && got - off >= HEAD + SUM) {
		const uint8_t *f = data + off;
		uint32_t len = get32(f + 4);
		uint8_t sum[SUM];
		size_t flen;

		if (get32(f) != MAGIC || get64(f + 8) != gen)
			break;
		flen = frame_len(len);
		if (flen > got - off)
			break;
		frame_sum(w, f, flen, sum);
		if (memcmp(sum, f + flen - SUM, SUM) != 0)
			break;
		r = fn(arg, f + HEAD, len);
		if (r < 0)
			break;
		off += flen;
		n++;
	}
	w->used = off;
	free(data);
	return r < 0 ? r : n;
}

/* ---- writing ---- */

void wal_reset(struct wal *w, uint64_t gen)
{
	w->gen = gen;
	w->used = 0;
	w->buf_len = 0;
}

int wal_add(struct wal *w, const struct iovec *iov, int n)
{
	size_t len = 0, flen, at;
	uint8_t *f;

	for (int i = 0; i < n; i++)
		len += iov[i].iov_len;
	if (len > UINT32_MAX)
		return -EMSGSIZE;
	flen = frame_len(len);
	if (w->buf_len + flen > w->buf_cap) {
		size_t cap = w->buf_cap ? w->buf_cap : 64 * 1024;
		uint8_t *b;

		while (cap < w->buf_len + flen)
			cap *= 2;
		b = realloc(w->buf, cap);
		if (!b)
			return -ENOMEM;
		w->buf = b;
		w->buf_cap = cap;
	}
	f = w->buf + w->buf_len;
	put32(f, MAGIC);
	put32(f + 4, (uint32_t)len);
	put64(f + 8, w->gen);
	at = HEAD;
	for (int i = 0; i < n; i++) {
		memcpy(f + at, iov[i].iov_base, iov[i].iov_len);
		at += iov[i].iov_len;
	}
	memset(f + at, 0, flen - SUM - at);
	frame_sum(w, f, flen, f + flen - SUM);
	w->buf_len += flen;
	return 0;
}

void wal_discard(struct wal *w)
{
	w->buf_len = 0;
}

int wal_sync(struct wal *w)
{
	size_t done = 0;

	if (w->buf_len == 0)
		return 0;
	if (w->buf_len > w->size - w->used)
		return -ENOSPC;
	while (done < w->buf_len) {
		ssize_t k = pwrite(w->fd, w->buf + done, w->buf_len - done,
				   (off_t)(w->used + done));

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		done += (size_t)k;
	}
	if (fdatasync(w->fd) < 0)
		return -errno;
	w->used += w->buf_len;
	w->buf_len = 0;
	return 0;
}

size_t wal_used(const struct wal *w)
{
	return w->used;
}

size_t wal_buffered(const struct wal *w)
{
	return w->buf_len;
}
