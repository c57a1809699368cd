/*
 * zap.c - the ZAP handler: RFC 27's request and reply frames.
 *
 * A request is six frames (version, request id, domain, address, identity,
 * mechanism) and the mechanism's credentials (none for NULL, the client's
 * public key for CURVE); a reply is six (version, request id, status code,
 * status text, user id, metadata). Every request gets a reply, even a
 * malformed one (status 500, with an empty request id if none could be
 * read): libzmq holds the handshake until it does, and a REP socket that
 * does not answer can never read again. The metadata is
 * ZMTP's property list: one byte of name length, the name, four bytes of
 * big-endian value length, the value.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "curve.h"
#include "zap.h"

#define ZAP_ENDPOINT	"inproc://zeromq.zap.01"
#define ZAP_FRAMES_MAX	16

struct zap {
	void *sock;			/* REP */
	zap_fn fn;
	void *arg;
};

int zap_new(void *zctx, zap_fn fn, void *arg, struct zap **ret)
{
	struct zap *z = calloc(1, sizeof(*z));
	int zero = 0, r;

	if (!z)
		return -ENOMEM;
	z->fn = fn;
	z->arg = arg;
	z->sock = zmq_socket(zctx, ZMQ_REP);
	if (!z->sock) {
		r = -errno;
		free(z);
		return r;
	}
	zmq_setsockopt(z->sock, ZMQ_LINGER, &zero, sizeof(zero));
	if (zmq_bind(z->sock, ZAP_ENDPOINT) < 0) {
		r = -errno;
		zap_free(z);
		return r;
	}
	*ret = z;
	return 0;
}

void zap_free(struct zap *z)
{
	if (!z)
		return;
	if (z->sock)
		zmq_close(z->sock);
	free(z);
}

const struct agency *zap_daemons(void *arg, const struct zap_request *req,
				 char *why, size_t size)
{
	static const struct agency daemons = {
		.name = "baton", .title = "the Baton daemons",
		.role = AGENCY_ROLE_OPERATOR, .feed = true,
	};
	const struct curve_keys *k = arg;

	if (memcmp(req->key, k->public_key, CURVE_KEY_BYTES) == 0)
		return &daemons;
	snprintf(why, size, "not the daemons' key");
	return NULL;
}

void *zap_socket(struct zap *z)
{
	return z->sock;
}

/* A frame as a NUL-terminated string in buf; "" when it does not fit. */
static const char *text(zmq_msg_t *m, char *buf, size_t size)
{
	size_t n = zmq_msg_size(m);

	if (n >= size || memchr(zmq_msg_data(m), '\0', n))
		n = 0;
	memcpy(buf, zmq_msg_data(m), n);
	buf[n] = '\0';
	return buf;
}

static int send_reply(struct zap *z, zmq_msg_t *request_id, const char *code,
		      const char *why, const struct agency *a)
{
	zmq_msg_t none;
	uint8_t meta[64];
	const char *role = a ? agency_role_name(a->role) : NULL;
	size_t mlen = 0, rlen = role ? strlen(role) : 0;
	int r;

	if (role) {
		meta[0] = 4;
		memcpy(meta + 1, "Role", 4);
		meta[5] = meta[6] = meta[7] = 0;
		meta[8] = (uint8_t)rlen;
		memcpy(meta + 9, role, rlen);
		mlen = 9 + rlen;
	}
	/* Without a request id to echo, an empty one: REP must answer. */
	zmq_msg_init(&none);
	r = zmq_send(z->sock, "1.0", 3, ZMQ_SNDMORE);
	if (r >= 0)
		r = zmq_msg_send(request_id ? request_id : &none, z->sock,
				 ZMQ_SNDMORE);
	zmq_msg_close(&none);
	if (r >= 0)
		r = zmq_send(z->sock, code, strlen(code), ZMQ_SNDMORE);
	if (r >= 0)
		r = zmq_send(z->sock, why, strlen(why), ZMQ_SNDMORE);
	if (r >= 0)
		r = zmq_send(z->sock, a ? a->name : "", a ? strlen(a->name) : 0,
			     ZMQ_SNDMORE);
	if (r >= 0)
		r = zmq_send(z->sock, meta, mlen, 0);
	return r < 0 ? -errno : 0;
}

/* Read one request and answer it. Returns 1, 0 if none waits, -errno. */
static int handle_one(struct zap *z)
{
	zmq_msg_t f[ZAP_FRAMES_MAX];
	char version[8], domain[256], address[128], mechanism[16];
	char why[256] = "";
	const struct agency *a = NULL;
	size_t n = 0;
	int more = 1, r = 1;

	while (more && n < ZAP_FRAMES_MAX) {
		zmq_msg_init(&f[n]);
		if (zmq_msg_recv(&f[n], z->sock, n ? 0 : ZMQ_DONTWAIT) < 0) {
			r = errno == EAGAIN && n == 0 ? 0 : -errno;
			zmq_msg_close(&f[n]);
			more = 0;
			break;
		}
		more = zmq_msg_more(&f[n]);
		n++;
	}
	while (more) {			/* more frames than any request has */
		zmq_msg_t extra;

		zmq_msg_init(&extra);
		if (zmq_msg_recv(&extra, z->sock, 0) < 0)
			more = 0;
		else
			more = zmq_msg_more(&extra);
		zmq_msg_close(&extra);
	}
	if (r <= 0)
		goto out;
	/* Six frames and the mechanism's credentials (none for NULL). */
	if (n < 6 || strcmp(text(&f[0], version, sizeof(version)), "1.0")) {
		r = send_reply(z, n >= 2 ? &f[1] : NULL, "500",
			       "malformed ZAP request", NULL);
		r = r < 0 ? r : 1;
		goto out;
	}
	text(&f[2], domain, sizeof(domain));
	text(&f[3], address, sizeof(address));
	text(&f[5], mechanism, sizeof(mechanism));
	if (strcmp(mechanism, "CURVE") != 0 || n != 7 ||
	    zmq_msg_size(&f[6]) != AGENCY_KEY_BYTES) {
		snprintf(why, sizeof(why), "CURVE required");
	} else {
		struct zap_request req = {
			.domain = domain, .address = address,
			.key = zmq_msg_data(&f[6]),
		};

		a = z->fn(z->arg, &req, why, sizeof(why));
	}
	r = send_reply(z, &f[1], a ? "200" : "400", a ? "OK" : why, a);
	if (r == 0)
		r = 1;
out:
	for (size_t i = 0; i < n; i++)
		zmq_msg_close(&f[i]);
	return r;
}

int zap_on_readable(struct zap *z)
{
	int r;

	while ((r = handle_one(z)) > 0)
		;
	return r;
}
