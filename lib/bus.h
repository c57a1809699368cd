/*
 * bus.h - sequenced publish/subscribe that never loses an event.
 *
 * ZeroMQ PUB drops messages to slow or absent subscribers, so a publisher
 * here stores each event in its own LMDB, in the caller's write transaction,
 * before it sends it, and numbers it: 1, 2, 3, ... with no gap. An event on
 * the wire is three frames: topic, 8-byte big-endian sequence, msgpack body.
 * When idle for a second the publisher sends topic "hb" with its newest
 * sequence, so that a subscriber learns it is behind even when nothing new
 * happens. Next to the PUB socket sits a ROUTER replay socket that answers
 * {"type":"replay","from":N} with every stored event from N on, then
 * {"type":"replay-end","last":M} (the Clone pattern of the ZeroMQ guide).
 *
 * A subscriber takes every topic (sequences cover all of them) and hands
 * events to the daemon strictly in order. It stores the last sequence it
 * applied in the same transaction as the daemon's effect, so an event is
 * applied exactly once across crashes. It asks for a replay when it starts,
 * when it sees a gap, and when a heartbeat is ahead of it.
 *
 * Replays are served in slices from short read transactions, with
 * ZMQ_ROUTER_MANDATORY: a subscriber whose queue is full (EAGAIN) is resumed
 * on a later tick rather than silently losing the rest.
 *
 * On one host the endpoints are ipc:// files that only the daemons' user
 * may open (bus_bind()). Across hosts (tcp://) and with keys given, every
 * bus socket speaks CURVE with the daemons' one key pair: publishers are
 * CURVE servers under ZAP domain BUS_ZAP_DOMAIN, subscribers CURVE clients
 * of that same key, and the publishing process's ZAP handler lets in that
 * key alone (zap_daemons()).
 */
#ifndef BATON_BUS_H
#define BATON_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "curve.h"
#include "store.h"

struct bus_pub;
struct bus_sub;

/* The ZAP domain of the bus's sockets. */
#define BUS_ZAP_DOMAIN		"bus"

/* The table the publisher keeps its events in: seq (u64 BE) -> record. */
#define BUS_EVENTS_TABLE	"bus.events"
/* The table a subscriber keeps its position in: publisher name -> u64 BE. */
#define BUS_CURSOR_TABLE	"bus.cursor"

/* An event as stored and sent. Pointers are borrowed (see each use). */
struct bus_event {
	uint64_t seq;
	const char *topic;
	size_t topic_len;
	const void *body;
	size_t body_len;
};

/*
 * Decode a stored event record (the value of BUS_EVENTS_TABLE) into ev,
 * pointing into rec. Returns 0, -EBADMSG if the record is malformed (a
 * topic empty, longer than MSG_TOPIC_MAX or past the record).
 */
int bus_record_parse(uint64_t seq, const void *rec, size_t len,
		     struct bus_event *ev);

/*
 * Bind zsock to ep. An ipc:// socket file is then made owner-only (0600):
 * only the daemons' own user may connect to it, whatever the umask.
 * Returns 0, -errno (zmq_bind()'s, chmod()'s).
 */
int bus_bind(void *zsock, const char *ep);

/* ---- publisher ---- */

/*
 * Create a publisher over store st (which it opens BUS_EVENTS_TABLE in),
 * binding pub_ep (PUB) and replay_ep (ROUTER). zctx is the ZeroMQ context.
 * keys: the daemons' pair, for CURVE on tcp:// endpoints; NULL: none.
 * Returns 0 and sets *ret, -EADDRINUSE and other bind errors as -errno,
 * store errors.
 */
int bus_pub_new(void *zctx, struct store *st, const char *pub_ep,
		const char *replay_ep, const struct curve_keys *keys,
		struct bus_pub **ret);

/* Close the sockets and free. Takes NULL. */
void bus_pub_free(struct bus_pub *p);

/*
 * Store an event in write transaction t and give it the next sequence
 * (*ret_seq, may be NULL). Nothing is sent until bus_pub_flush().
 * Returns 0, -EINVAL (empty or too long topic), store errors (-ENOSPC:
 * abort t, call bus_pub_rollback(), grow, redo).
 */
int bus_pub_append(struct bus_pub *p, struct store_txn *t, const char *topic,
		   const void *body, size_t len, uint64_t *ret_seq);

/* The transaction holding appended events was aborted: forget them. */
void bus_pub_rollback(struct bus_pub *p);

/*
 * The transaction holding appended events was committed: send them.
 * Returns 0, or a store error (the events stay stored and reach
 * subscribers through replay).
 */
int bus_pub_flush(struct bus_pub *p);

/* The newest committed sequence (0 before the first event). */
uint64_t bus_pub_last(const struct bus_pub *p);

/* The replay socket, for service_watch(); call bus_pub_on_replay(). */
void *bus_pub_replay_socket(struct bus_pub *p);

/* Read and start serving replay requests. Returns 0. */
int bus_pub_on_replay(struct bus_pub *p);

/*
 * Heartbeats and replay sessions: call on every loop iteration.
 * Returns how many ms until it needs to run again.
 */
int64_t bus_pub_tick(struct bus_pub *p, int64_t now_mono_ms);

/* ---- subscriber ---- */

/*
 * Apply one event inside write transaction t. ev points into the
 * subscriber's buffers, valid during the call. Return 0, or a negative
 * errno to abort the whole batch (-ENOSPC: the subscriber grows the store
 * and redoes it; anything else: it is returned by bus_sub_process()).
 */
typedef int (*bus_apply_fn)(void *arg, struct store_txn *t,
			    const struct bus_event *ev);

/* Called after the batch's transaction commits or aborts (may be NULL). */
typedef void (*bus_done_fn)(void *arg, bool committed);

/*
 * Whether the daemon wants event ev at all (may be NULL: every event). An
 * event it does not want is passed over, never handed to apply, and a
 * batch of only such events is not a transaction: the position is stored
 * with a later batch (at most 65,536 events on), by bus_sub_tick() once
 * they have paused for a second, or when the subscriber is freed; a crash
 * replays them. Must give the same answer every time.
 */
typedef bool (*bus_wants_fn)(void *arg, const struct bus_event *ev);

struct bus_sub_handler {
	bus_apply_fn apply;
	bus_done_fn done;
	bus_wants_fn wants;
	void *arg;
};

/*
 * Create a subscriber to publisher name (e.g. "intake"), connecting to its
 * PUB socket pub_ep and replay socket replay_ep. Its position is kept in
 * st's BUS_CURSOR_TABLE under name. It asks for a replay at once. keys:
 * the daemons' pair, for CURVE on tcp:// endpoints; NULL: none.
 * Returns 0 and sets *ret, or -errno.
 */
int bus_sub_new(void *zctx, struct store *st, const char *name,
		const char *pub_ep, const char *replay_ep,
		const struct curve_keys *keys, const struct bus_sub_handler *h,
		struct bus_sub **ret);

/* Close the sockets and free. Takes NULL. */
void bus_sub_free(struct bus_sub *s);

/* The two sockets to watch for ZMQ_POLLIN; call bus_sub_on_readable(). */
void *bus_sub_socket(struct bus_sub *s);
void *bus_sub_replay_socket(struct bus_sub *s);

/*
 * Read what has arrived on both sockets and apply every event that is next
 * in order, in one transaction per batch.
 * Returns 0, or the apply callback's or the store's error.
 */
int bus_sub_on_readable(struct bus_sub *s);

/*
 * Re-ask for a replay that got no answer, and store a position that
 * passed-over events moved once they pause. Call on every loop iteration.
 * Returns how many ms until it needs to run again, -1 if never.
 */
int64_t bus_sub_tick(struct bus_sub *s, int64_t now_mono_ms);

/* The last sequence applied (and committed). */
uint64_t bus_sub_applied(const struct bus_sub *s);

/* The newest sequence the publisher has announced (0 when unknown). */
uint64_t bus_sub_known(const struct bus_sub *s);

/*
 * Whether the subscriber has heard from the publisher since it started
 * (a replay-end or a heartbeat) and applied everything announced so far:
 * what it knows is as complete as it can tell.
 */
bool bus_sub_synced(const struct bus_sub *s);

/*
 * Whether the publisher has gone back in time: two heartbeats in a row
 * announced a newest sequence below what this subscriber applied, so its
 * store was replaced by an older one or removed, and its new events will
 * be dropped as already applied until their numbers pass ours. That loses
 * events, and only an operator can say which store is right, so the daemon
 * must say it loudly. Returns true once per such episode, with a sentence
 * saying so in buf (size bytes); false otherwise.
 */
bool bus_sub_stale(struct bus_sub *s, char *buf, size_t size);

#endif
