/*
 * zap.h - the ZeroMQ authentication protocol (ZAP, RFC 27) handler: who
 * a CURVE client is, decided once per connection.
 *
 * libzmq asks the handler bound at inproc://zeromq.zap.01 about every
 * CURVE handshake on every socket of the context, and waits for the
 * answer before it lets the connection carry a single message. This module
 * is that REP socket: the daemon watches it in its loop and, for each
 * request, a callback maps the client's public key to an agency (or
 * refuses it). An accepted connection's messages then carry the agency as
 * "User-Id" and its role as the "Role" property (zmq_msg_gets()), so the
 * daemon reads who sent a message off the message itself, never off its
 * body. A refused client never gets a message through: its handshake fails
 * (a socket monitor sees ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, status 400).
 *
 * Only CURVE is accepted: a NULL or PLAIN handshake on a socket with a ZAP
 * domain is refused, so a misconfigured server can never fall back to
 * trusting everyone.
 */
#ifndef BATON_ZAP_H
#define BATON_ZAP_H

#include <stddef.h>
#include <stdint.h>

#include "agency.h"

struct zap;

/* What the callback is told of a handshake. */
struct zap_request {
	const char *domain;		/* the socket's ZMQ_ZAP_DOMAIN */
	const char *address;		/* the peer's address, as text */
	const uint8_t *key;		/* AGENCY_KEY_BYTES */
};

/*
 * Decide: return the agency key req->key is, to accept it, or NULL to
 * refuse it, with a sentence for the client's status text in why (size
 * bytes). The agency must stay valid until the call returns.
 */
typedef const struct agency *(*zap_fn)(void *arg,
				       const struct zap_request *req,
				       char *why, size_t size);

/*
 * A zap_fn for the daemons' own sockets (the bus, lib/bus.h): accepts the
 * daemons' public key, arg (a struct curve_keys *), as "baton", and refuses
 * every other key.
 */
const struct agency *zap_daemons(void *arg, const struct zap_request *req,
				 char *why, size_t size);

/*
 * Bind the handler in zctx (before any CURVE server socket binds).
 * Returns 0 and sets *ret, -EADDRINUSE (another handler in this context),
 * -errno.
 */
int zap_new(void *zctx, zap_fn fn, void *arg, struct zap **ret);

/* Close and free. Takes NULL. */
void zap_free(struct zap *z);

/* The REP socket, for service_watch(); call zap_on_readable(). */
void *zap_socket(struct zap *z);

/* Answer every request waiting. Returns 0, -errno. */
int zap_on_readable(struct zap *z);

#endif
