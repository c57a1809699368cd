/*
 * intake/submit.c - the submit socket: decode, validate, store, answer.
 *
 * One round of the loop takes every submission waiting on the ROUTER socket
 * (up to max_batch), validates each, appends all the accepted ones to the
 * log's open LMDB transaction, makes the round durable with ONE fdatasync
 * (group commit: the whole difference between a few thousand and a few
 * hundred thousand reports a second), and only then answers. The flush is
 * of the write-ahead file, and the transaction is committed at the next
 * checkpoint (see "the open transaction" below). An ACK is therefore never
 * sent for something a crash could take back; a client that gets no answer
 * resends the same id and is answered from the id index.
 *
 * The agency of a message is decided in one place, message_agency(): the
 * trusted field with auth = none, the connection's key otherwise.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "intake.h"
#include "log.h"
#include "msg.h"

#define GROW_TRIES	16	/* map doublings per round before giving up */
#define LOG_PER_SECOND	20	/* refusals logged per second */

struct submission {
	zmq_msg_t id;		/* the ROUTER envelope */
	zmq_msg_t body;
	bool req;		/* a REQ client: answer with an empty delimiter */
	bool malformed;		/* not one body frame */
	struct msg m;
	struct msg_error err;	/* err.code != CODE_NONE: refused */
	const char *agency;	/* points into m */
	/* the answer */
	uint64_t seq;
	instant_t accepted_at;
	bool duplicate;
};

/* ---- set-up ---- */

int submit_open(struct intake *in)
{
	int zero = 0, one = 1;
	int64_t maxsize = (int64_t)in->conf->intake.max_message_size;

	in->batch_cap = in->conf->intake.max_batch;
	in->batch = calloc(in->batch_cap, sizeof(*in->batch));
	if (!in->batch)
		return -ENOMEM;
	in->submit = zmq_socket(in->zctx, ZMQ_ROUTER);
	if (!in->submit)
		return -errno;
	zmq_setsockopt(in->submit, ZMQ_LINGER, &zero, sizeof(zero));
	/* Count answers we cannot deliver instead of dropping them unseen. */
	zmq_setsockopt(in->submit, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
	/* Oversized frames never reach us: ZeroMQ drops the connection. */
	zmq_setsockopt(in->submit, ZMQ_MAXMSGSIZE, &maxsize, sizeof(maxsize));
	if (in->conf->auth == CONFIG_AUTH_CURVE) {
		int r = curve_server(in->submit, &in->server, "submit");

		if (r < 0)
			return r;
	}
	return bus_bind(in->submit, in->conf->intake.submit);
}

void submit_close(struct intake *in)
{
	if (in->submit)
		zmq_close(in->submit);
	in->submit = NULL;
	free(in->batch);
	in->batch = NULL;
}

/* ---- receiving ---- */

/*
 * Receive one message into s: [id][body] from DEALER, [id][][body] from
 * REQ. Anything else is marked malformed (and answered) after its frames
 * are drained. Returns 1, 0 when nothing is waiting, -errno.
 */
static int receive(struct intake *in, struct submission *s)
{
	int more, nparts = 1;
	size_t sz = sizeof(more);
	zmq_msg_t extra;

	memset(s, 0, sizeof(*s));
	zmq_msg_init(&s->id);
	zmq_msg_init(&s->body);
	if (zmq_msg_recv(&s->id, in->submit, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&s->id);
		zmq_msg_close(&s->body);
		return errno == EAGAIN ? 0 : -errno;
	}
	zmq_getsockopt(in->submit, ZMQ_RCVMORE, &more, &sz);
	while (more) {
		zmq_msg_init(&extra);
		if (zmq_msg_recv(&extra, in->submit, 0) < 0) {
			zmq_msg_close(&extra);
			break;
		}
		nparts++;
		zmq_getsockopt(in->submit, ZMQ_RCVMORE, &more, &sz);
		if (nparts == 2) {
			zmq_msg_move(&s->body, &extra);
		} else if (nparts == 3 && zmq_msg_size(&s->body) == 0) {
			s->req = true;	/* the empty frame was REQ's delimiter */
			zmq_msg_move(&s->body, &extra);
		} else {
			s->malformed = true;
		}
		zmq_msg_close(&extra);
	}
	if (nparts < 2)
		s->malformed = true;
	return 1;
}

static void release(struct submission *s)
{
	msg_free(&s->m);
	zmq_msg_close(&s->id);
	zmq_msg_close(&s->body);
}

/* ---- deciding ---- */

static void refuse(struct submission *s, enum msg_code code,
		   const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void refuse(struct submission *s, enum msg_code code,
		   const char *field, const char *fmt, ...)
{
	va_list ap;

	s->err.code = code;
	snprintf(s->err.field, sizeof(s->err.field), "%s", field);
	va_start(ap, fmt);
	vsnprintf(s->err.text, sizeof(s->err.text), fmt, ap);
	va_end(ap);
}

/*
 * The one place that decides who sent a message. With auth = none the
 * agency field is required and trusted (PROTOCOL.md). With CURVE the
 * connection's key decided it at the handshake (auth.c): the agency is the
 * message's User-Id and its role the Role property; an agency field may
 * only repeat it, and only an operator key sends commands.
 */
static int message_agency(struct intake *in, struct submission *s)
{
	const char *user, *role;

	if (in->conf->auth == CONFIG_AUTH_NONE) {
		if (!s->m.agency) {
			refuse(s, CODE_INVALID, "agency",
			       "agency: required when authentication is off");
			return -EINVAL;
		}
		s->agency = s->m.agency;
		return 0;
	}
	user = zmq_msg_gets(&s->body, "User-Id");
	role = zmq_msg_gets(&s->body, "Role");
	if (!user || !*user || !role) {
		refuse(s, CODE_UNAUTHORIZED, "", "no authenticated key on this "
		       "connection");
		return -EACCES;
	}
	s->agency = user;
	if (s->m.agency && strcmp(s->m.agency, user) != 0) {
		refuse(s, CODE_FORBIDDEN, "agency", "agency: this key is %s's; "
		       "it may not speak for %s", user, s->m.agency);
		return -EPERM;
	}
	if (s->m.type == MSG_COMMAND && strcmp(role, "operator") != 0) {
		refuse(s, CODE_FORBIDDEN, "op", "op: commands need an operator "
		       "key; %s's key is an %s key", user, role);
		return -EPERM;
	}
	return 0;
}

/* Decode and validate; what is refused here never reaches the log. */
static void validate(struct intake *in, struct submission *s)
{
	if (s->malformed) {
		refuse(s, CODE_INVALID, "",
		       "expected exactly one body frame");
		return;
	}
	if (msg_decode(zmq_msg_data(&s->body), zmq_msg_size(&s->body),
		       MSG_CTX_SUBMIT, &s->m, &s->err) < 0)
		return;
	if (message_agency(in, s) < 0)
		return;
	if (s->m.body && strlen(s->m.body) > in->conf->intake.max_body) {
		refuse(s, CODE_TOO_LARGE, "body", "body: longer than %" PRIu64
		       " bytes ([intake] max_body)", in->conf->intake.max_body);
		return;
	}
	if (!limit_take(in->limit, s->agency, time_mono()))
		refuse(s, CODE_BUSY, "", "busy: %s has sent more than %" PRIu32
		       " a second; resend later", s->agency,
		       in->conf->intake.rate);
}

/* ---- committing ---- */

/*
 * Store every valid submission of the batch in transaction t. A resent id,
 * whether from an earlier round or earlier in this one, takes the first
 * answer. Returns 0 or a store error.
 */
static int store_batch(struct intake *in, struct store_txn *t, uint32_t n)
{
	instant_t now = time_now();
	int r;

	for (uint32_t i = 0; i < n; i++) {
		struct submission *s = &in->batch[i];
		struct msg ev;
		void *body;
		size_t len;

		if (s->err.code != CODE_NONE)
			continue;
		ev = s->m;
		ev.type = s->m.type == MSG_REPORT ? MSG_REPORT_ACCEPTED :
						    MSG_COMMAND_ACCEPTED;
		ev.agency = s->agency;
		ev.accepted_at = now;
		r = msg_encode(&ev, &body, &len);
		if (r < 0)
			return r;
		r = ledger_append(in->ledger, t, s->agency, s->m.id, now,
				  msg_topic(ev.type), body, len, &s->seq);
		free(body);
		s->duplicate = r == -EEXIST;
		if (s->duplicate)
			r = ledger_lookup(in->ledger, t, s->agency, s->m.id,
					  &s->seq, &s->accepted_at);
		else
			s->accepted_at = now;
		if (r < 0)
			return r;
	}
	/* Now and then the ids kept in memory go to their index, here. */
	if (ledger_index_due(in->ledger))
		return ledger_index(in->ledger, t);
	return 0;
}

/*
 * The open transaction. Rounds append to it and it is committed only at a
 * checkpoint: [intake] checkpoint after it was opened, or once the WAL
 * holds INTAKE_WAL_CHECKPOINT bytes. Until then each round is made durable
 * by the WAL alone: one small overwrite and one fdatasync (lib/wal.h says
 * why that is cheaper than a commit); a round too large for what is left
 * of the WAL is made durable by a checkpoint instead. Whatever goes wrong
 * with the transaction, it is dropped and opened again from the WAL, which
 * has every round answered since the last checkpoint: ledger_redo().
 *
 * The cost: events are published at the checkpoint, so subscribers and
 * batonctl see a report up to [intake] checkpoint after its ACK.
 */
static int txn_open(struct intake *in)
{
	int64_t n;
	int r;

	r = store_begin(in->store, true, &in->txn);
	if (r < 0) {
		in->txn = NULL;
		return r;
	}
	in->txn_since = time_mono();
	n = ledger_redo(in->ledger, in->txn);
	return n < 0 ? (int)n : 0;
}

/* Drop the open transaction (if any) and the ledger's view of it. */
static int txn_drop(struct intake *in)
{
	if (in->txn)
		store_abort(in->txn);
	in->txn = NULL;
	return ledger_rollback(in->ledger);
}

/* Commit the open transaction as a checkpoint, then publish. */
static int txn_commit(struct intake *in)
{
	struct store_txn *t = in->txn;
	int r;

	in->txn = NULL;
	r = ledger_checkpoint(in->ledger, t);
	if (r < 0) {
		store_abort(t);
		return r;
	}
	r = store_commit(t);
	if (r < 0)
		return r;
	ledger_committed(in->ledger);
	in->commits++;
	r = bus_pub_flush(in->pub);
	if (r < 0)	/* stored; subscribers get it by replay */
		log_warnx("%s: publish: %s", __func__, strerror(-r));
	return 0;
}

static bool checkpoint_due(const struct intake *in, int64_t now)
{
	return in->txn &&
	       (now - in->txn_since >= in->conf->intake.checkpoint_ms ||
		wal_used(in->wal) >= INTAKE_WAL_CHECKPOINT);
}

/* Make the round just appended durable: by the WAL, or by a checkpoint
 * when one is due anyway or the round does not fit the WAL. */
static int make_durable(struct intake *in)
{
	int r;

	if (!checkpoint_due(in, time_mono())) {
		r = wal_sync(in->wal);
		if (r == 0)
			in->wal_syncs++;
		if (r != -ENOSPC)
			return r;
	}
	return txn_commit(in);
}

/*
 * Append the batch and make it durable, growing the map as often as it
 * fills: a full map is a reason to grow, never an answer. With
 * commit_only, nothing is appended: the open transaction is committed.
 * Returns 0 or the error every valid submission is then refused with.
 */
static int durable_batch(struct intake *in, uint32_t n, bool commit_only)
{
	int r, rr;

	for (int tries = 0;; tries++) {
		r = in->txn ? 0 : txn_open(in);
		if (r == 0 && !commit_only)
			r = store_batch(in, in->txn, n);
		if (r == 0)
			r = commit_only ? txn_commit(in) : make_durable(in);
		if (r == 0)
			return 0;
		rr = txn_drop(in);
		if (rr < 0)
			return rr;
		if (r != -ENOSPC || tries == GROW_TRIES)
			return r;
		r = store_grow(in->store, 0);
		if (r < 0)
			return r;
		log_info("%s: LMDB map full, grown and retrying", __func__);
	}
}

int submit_recover(struct intake *in, int64_t *redone)
{
	uint64_t before = bus_pub_last(in->pub);
	int r;

	r = durable_batch(in, 0, true);
	*redone = (int64_t)(bus_pub_last(in->pub) - before);
	return r;
}

int submit_checkpoint(struct intake *in)
{
	return in->txn ? durable_batch(in, 0, true) : 0;
}

int64_t submit_tick(struct intake *in, int64_t now)
{
	int64_t period = in->conf->intake.checkpoint_ms;
	int r;

	if (checkpoint_due(in, now)) {
		r = durable_batch(in, 0, true);
		if (r < 0)	/* the WAL has it; the next tick tries again */
			log_warnx("%s: checkpoint: %s", __func__,
				  strerror(-r));
	}
	/* Nothing open, or a failed checkpoint: look again a period on. */
	if (!in->txn || now - in->txn_since >= period)
		return period > 0 ? period : 1000;
	return in->txn_since + period - now;
}

/* ---- answering ---- */

static void log_refusal(struct intake *in, const struct submission *s)
{
	int64_t now = time_mono();
	struct log_field f[] = {
		{ "REPORT_ID", s->m.id },
		{ "AGENCY", s->agency },
		{ "NACK_CODE", msg_code_name(s->err.code) },
	};

	if (now - in->log_window >= 1000) {
		if (in->log_suppressed)
			log_info("%" PRIu64 " more refusals not logged",
				 in->log_suppressed);
		in->log_window = now;
		in->log_in_window = 0;
		in->log_suppressed = 0;
	}
	if (in->log_in_window++ >= LOG_PER_SECOND) {
		in->log_suppressed++;
		return;
	}
	log_fields(LOG_NOTICE, f, 3, "refused %s: %s",
		   s->m.id ? s->m.id : "(no id)", s->err.text);
}

static void answer(struct intake *in, struct submission *s)
{
	struct msg a = { .id = s->m.id };
	zmq_msg_t id;
	void *buf;
	size_t len;
	int r;

	if (s->err.code != CODE_NONE) {
		a.type = MSG_NACK;
		a.code = s->err.code;
		a.error = s->err.text;
		in->refused++;
		log_refusal(in, s);
	} else {
		a.type = MSG_ACK;
		a.seq = s->seq;
		a.accepted_at = s->accepted_at;
		a.duplicate = s->duplicate;
		if (s->duplicate)
			in->duplicates++;
		else
			in->accepted++;
		char seq[24];

		snprintf(seq, sizeof(seq), "%" PRIu64, s->seq);
		struct log_field f[] = {
			{ "REPORT_ID", s->m.id },
			{ "AGENCY", s->agency },
			{ "SEQ", seq },
		};
		log_fields(LOG_DEBUG, f, 3, "%s %s as %" PRIu64,
			   s->duplicate ? "resent" : "accepted", s->m.id,
			   s->seq);
	}
	if (msg_encode(&a, &buf, &len) < 0) {
		in->dropped_answers++;
		return;
	}
	zmq_msg_init(&id);
	zmq_msg_copy(&id, &s->id);
	r = zmq_msg_send(&id, in->submit, ZMQ_SNDMORE | ZMQ_DONTWAIT);
	if (r >= 0 && s->req)
		r = zmq_send(in->submit, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
	if (r >= 0)
		r = zmq_send(in->submit, buf, len, ZMQ_DONTWAIT);
	if (r < 0) {
		/* Gone or not reading: it resends the id and gets this again. */
		zmq_msg_close(&id);
		in->dropped_answers++;
	}
	free(buf);
}

/* ---- the round ---- */

int submit_on_readable(void *arg, short revents)
{
	struct intake *in = arg;
	uint32_t n = 0, valid = 0;
	int r;

	while (n < in->batch_cap) {
		r = receive(in, &in->batch[n]);
		if (r <= 0)
			break;
		validate(in, &in->batch[n]);
		if (in->batch[n].err.code == CODE_NONE)
			valid++;
		n++;
	}
	if (n == 0)
		return 0;

	/* A round of refusals only has nothing to commit. */
	r = valid > 0 ? durable_batch(in, n, false) : 0;
	if (r < 0) {
		log_warnx("%s: commit of %" PRIu32 " submissions failed: %s",
			  __func__, n, strerror(-r));
		for (uint32_t i = 0; i < n; i++)
			if (in->batch[i].err.code == CODE_NONE)
				refuse(&in->batch[i], CODE_INTERNAL, "",
				       "could not store the message; resend it");
	}
	for (uint32_t i = 0; i < n; i++) {
		answer(in, &in->batch[i]);
		release(&in->batch[i]);
	}
	return 0;
}
