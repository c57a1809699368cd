/*
 * wal.h - a write-ahead file: make a round of records durable with one
 * small write and one fdatasync, ahead of the store commit that follows.
 *
 * An LMDB commit is two synchronous writes (the data pages, then the meta
 * page) scattered over the map, tens of kilobytes each round. A write-ahead
 * file is one write of just the new bytes, at the next offset of a file
 * whose blocks were all written once already when it was made. Overwriting
 * such blocks changes no file metadata, so fdatasync() has nothing for the
 * file system's journal and is one device write and flush: on this
 * project's disk about 1.4 times as many a second as appending the same
 * bytes, and 2.8 times as many as one-put LMDB commits (bench-disk;
 * docs/benchmarks.md, "Intake's write-ahead file").
 *
 * Records live in generations. The owner keeps the current generation in
 * its store, commits the store now and then (a checkpoint), and in that
 * commit names the next generation; after the commit it calls wal_reset()
 * and the next record is written at offset 0 again. So the file only ever
 * holds what the store lacks, and which records those are needs no
 * bookkeeping in the file: they are the run of valid records of the store's
 * generation from offset 0. A stale record further on belongs to an older
 * generation, and a torn write fails its checksum; either ends the run.
 *
 * A frame on disk, 8-byte aligned, integers little-endian:
 *
 *   magic u32 "BWAL" | length u32 | generation u64 | payload | pad to 8 |
 *   SipHash-2-4 u64 over everything before it
 *
 * The payload is the owner's (lib/ledger.c defines intake's).
 *
 * Not for two processes at once: the owner holds the store's writer lock.
 * Generation 0 is never valid, so a file of zeroes holds nothing.
 */
#ifndef BATON_WAL_H
#define BATON_WAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct wal;

/* Called with each record's payload, valid during the call. Return 0 to go
 * on, a negative errno to stop the replay with it. */
typedef int (*wal_record_fn)(void *arg, const void *data, size_t len);

/*
 * Open the file at path, creating it, and make it size bytes of written
 * blocks (zeroes are written up to size; a larger file is kept whole). A
 * new file's directory is synced, so the file survives a crash.
 * Nothing is read: call wal_replay() next.
 * Returns 0 and sets *ret, -EINVAL (size under 64 KB or over 16 GB),
 * -ENOMEM, -errno of open(), pwrite(), fdatasync().
 */
int wal_open(const char *path, size_t size, struct wal **ret);

/* Close the file and free. Takes NULL. Buffered records are dropped. */
void wal_close(struct wal *w);

/*
 * Hand fn the payload of every record of generation gen, in order, from
 * offset 0 to the first frame that is not one. Afterwards the generation
 * is gen and the next record goes right after the last one handed over;
 * anything buffered is dropped.
 * Returns the number of records, -ENOMEM, -errno of pread(), or fn's
 * error (the position is then after the records fn accepted).
 */
int64_t wal_replay(struct wal *w, uint64_t gen, wal_record_fn fn, void *arg);

/* Start generation gen (not 0) at offset 0, with nothing buffered. No I/O. */
void wal_reset(struct wal *w, uint64_t gen);

/*
 * Buffer one record, gathered from n pieces. Nothing is written before
 * wal_sync(). Returns 0, -ENOMEM, -EMSGSIZE (more than 4 GB).
 */
int wal_add(struct wal *w, const struct iovec *iov, int n);

/* Drop what was buffered since the last wal_sync(). */
void wal_discard(struct wal *w);

/*
 * Write what is buffered after the last record and fdatasync() the file.
 * Returns 0 (nothing buffered: no I/O), -ENOSPC when it does not fit before
 * the end of the file (nothing written, the buffer kept: commit the store
 * and wal_reset()), -errno of pwrite() or fdatasync(): the file's state is
 * then unknown, and its owner should stop and recover from it on restart.
 */
int wal_sync(struct wal *w);

/* Bytes of records written and synced in this generation. */
size_t wal_used(const struct wal *w);

/* Bytes buffered and not yet written. */
size_t wal_buffered(const struct wal *w);

#endif
