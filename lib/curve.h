/*
 * curve.h - CurveZMQ key files and the socket options that use them.
 *
 * A key file is Baton's INI syntax (config_parse_ini()) with two keys,
 * written by `batonctl keygen`:
 *
 *   public = rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7   ; Z85, 40 characters
 *   secret = JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6   ; absent in a .pub
 *
 * The server's pair (intake's submit socket, notify's feed) is one file
 * readable by the daemons only; its public half is a second file any client
 * may read. A file holding a secret must not be readable by group or others:
 * curve_load() refuses it otherwise, as ssh does, so a leaked permission is
 * an error at start instead of a silent exposure.
 *
 * Keys are ZeroMQ's own (zmq_curve_keypair(), zmq_z85_encode()): nothing
 * here is cryptography, only files and options.
 */
#ifndef BATON_CURVE_H
#define BATON_CURVE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

#define CURVE_KEY_BYTES	32
#define CURVE_Z85_LEN	40	/* without the NUL */

struct curve_keys {
	uint8_t public_key[CURVE_KEY_BYTES];
	uint8_t secret_key[CURVE_KEY_BYTES];
	bool has_secret;
};

/*
 * A new key pair. Returns 0, -ENOTSUP (libzmq built without CURVE).
 */
int curve_generate(struct curve_keys *k);

/*
 * Read a key file. need_secret: the file must hold the secret key.
 * Returns 0; -ENOENT and other -errno if the file cannot be read; -EINVAL
 * (a key that is not 40 Z85 characters, a secret that does not match the
 * public key, no public key, no secret when needed, an unknown key);
 * -EPERM (a secret in a file that group or others may read). *err says
 * where and why, when not NULL.
 */
int curve_load(const char *path, bool need_secret, struct curve_keys *k,
	       struct config_error *err);

/*
 * Write k to path, created with mode 0600 with a secret and 0644 without
 * (never over an existing file):
 * the public key, and the secret when k has it, under a comment naming
 * who the keys are for. Returns 0, -EEXIST, -errno.
 */
int curve_write(const char *path, const struct curve_keys *k,
		const char *comment);

/*
 * The daemons' pair, [baton] server_key, when conf says auth = curve.
 * Returns 1 with *k loaded, 0 with auth = none (*k zeroed), or as
 * curve_load() (and -EINVAL when server_key is not set).
 */
int curve_load_server(const struct config *conf, struct curve_keys *k,
		      struct config_error *err);

/* key as Z85 into out (CURVE_Z85_LEN + 1 bytes). Returns out. */
char *curve_z85(const uint8_t key[CURVE_KEY_BYTES],
		char out[CURVE_Z85_LEN + 1]);

/*
 * Make zsock a CURVE server with k's secret (before bind). zap_domain is
 * the ZAP domain its handshakes are checked under. Returns 0, -errno.
 */
int curve_server(void *zsock, const struct curve_keys *k,
		 const char *zap_domain);

/*
 * Make zsock a CURVE client of the server whose public key is server, with
 * its own pair k (before connect). Returns 0, -errno.
 */
int curve_client(void *zsock, const struct curve_keys *k,
		 const uint8_t server[CURVE_KEY_BYTES]);

#endif
