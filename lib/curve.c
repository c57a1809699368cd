/*
 * curve.c - CurveZMQ key files and socket options.
 *
 * The file is read with config_parse_ini(), so a mistake in it is reported
 * at its line like any other Baton file. A secret key is only ever copied
 * into the caller's struct and into the socket option; the text it was read
 * from is wiped before the buffer is freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "curve.h"

struct load {
	struct curve_keys *k;
	bool has_public;
};

static int parse_key(struct config_error *err, const char *name,
		     const char *value, uint8_t out[CURVE_KEY_BYTES])
{
	if (strlen(value) != CURVE_Z85_LEN || !zmq_z85_decode(out, value))
		return config_fail(err, 0, "invalid %s key: expected %d Z85 "
				   "characters", name, CURVE_Z85_LEN);
	return 0;
}

static int on_line(void *user, const char *section, const char *name,
		   const char *value, struct config_error *err)
{
	struct load *l = user;
	int r;

	if (!section)
		return 0;
	if (!name)
		return config_fail(err, 0, "unexpected section [%s]: a key "
				   "file holds public = and secret =",
				   section);
	if (strcmp(name, "public") == 0) {
		if (l->has_public)
			return config_fail(err, 0, "duplicate key 'public'");
		r = parse_key(err, name, value, l->k->public_key);
		l->has_public = r == 0;
		return r;
	}
	if (strcmp(name, "secret") == 0) {
		if (l->k->has_secret)
			return config_fail(err, 0, "duplicate key 'secret'");
		r = parse_key(err, name, value, l->k->secret_key);
		l->k->has_secret = r == 0;
		return r;
	}
	return config_fail(err, 0, "unknown key '%s': a key file holds "
			   "public = and secret =", name);
}

int curve_generate(struct curve_keys *k)
{
	char pub[CURVE_Z85_LEN + 1], sec[CURVE_Z85_LEN + 1];
	int r = 0;

	if (zmq_curve_keypair(pub, sec) < 0)
		return -errno;
	if (!zmq_z85_decode(k->public_key, pub) ||
	    !zmq_z85_decode(k->secret_key, sec))
		r = -EINVAL;
	k->has_secret = r == 0;
	sodium_memzero(sec, sizeof(sec));
	return r;
}

int curve_load(const char *path, bool need_secret, struct curve_keys *k,
	       struct config_error *err)
{
	struct config_error e = { .line = 0 };
	struct load l = { .k = k };
	char derived[CURVE_Z85_LEN + 1], sec[CURVE_Z85_LEN + 1];
	struct stat st;
	int r;

	memset(k, 0, sizeof(*k));
	snprintf(e.file, sizeof(e.file), "%s", path);
	r = config_parse_ini(path, on_line, &l, &e);
	if (r == 0 && !l.has_public)
		r = config_fail(&e, 0, "no public key");
	if (r == 0 && need_secret && !k->has_secret)
		r = config_fail(&e, 0, "no secret key: this is a public key "
				"file, and a key pair is needed here");
	if (r == 0 && k->has_secret) {
		/* A secret whose public half is another: a pasting mistake. */
		zmq_z85_encode(sec, k->secret_key, CURVE_KEY_BYTES);
		if (zmq_curve_public(derived, sec) < 0 ||
		    !zmq_z85_decode((uint8_t *)sec, derived) ||
		    memcmp(sec, k->public_key, CURVE_KEY_BYTES) != 0)
			r = config_fail(&e, 0, "the secret key does not belong "
					"to the public key");
		sodium_memzero(sec, sizeof(sec));
	}
	if (r == 0 && k->has_secret && stat(path, &st) == 0 &&
	    (st.st_mode & 077)) {
		r = -EPERM;
		snprintf(e.msg, sizeof(e.msg), "holds a secret key but group "
			 "or others may read it (mode %03o): chmod 600 it",
			 (unsigned)(st.st_mode & 0777));
		e.line = 0;
	}
	if (r < 0) {
		sodium_memzero(k, sizeof(*k));
		if (err)
			*err = e;
	}
	return r;
}

int curve_load_server(const struct config *conf, struct curve_keys *k,
		      struct config_error *err)
{
	int r;

	memset(k, 0, sizeof(*k));
	if (conf->auth == CONFIG_AUTH_NONE)
		return 0;
	if (!conf->server_key) {
		if (err) {
			snprintf(err->file, sizeof(err->file), "%s",
				 conf->path);
			err->line = 0;
			snprintf(err->msg, sizeof(err->msg), "auth = curve "
				 "needs [baton] server_key (batonctl keygen "
				 "--server makes it)");
		}
		return -EINVAL;
	}
	r = curve_load(conf->server_key, true, k, err);
	return r < 0 ? r : 1;
}

char *curve_z85(const uint8_t key[CURVE_KEY_BYTES],
		char out[CURVE_Z85_LEN + 1])
{
	zmq_z85_encode(out, key, CURVE_KEY_BYTES);
	return out;
}

int curve_write(const char *path, const struct curve_keys *k,
		const char *comment)
{
	char pub[CURVE_Z85_LEN + 1], sec[CURVE_Z85_LEN + 1];
	char text[512];
	int fd, n, r = 0;

	curve_z85(k->public_key, pub);
	if (k->has_secret)
		curve_z85(k->secret_key, sec);
	n = snprintf(text, sizeof(text),
		     "; %s\n; %s\npublic = %s\n%s%s%s",
		     comment, k->has_secret ?
		     "Keep this file secret: whoever reads it holds the key." :
		     "The public half only: give it to whoever needs it.",
		     pub, k->has_secret ? "secret = " : "",
		     k->has_secret ? sec : "", k->has_secret ? "\n" : "");
	sodium_memzero(sec, sizeof(sec));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		  k->has_secret ? 0600 : 0644);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	if (n < 0 || (size_t)n >= sizeof(text) ||
	    write(fd, text, (size_t)n) != n || fsync(fd) < 0)
		r = n < 0 || (size_t)n >= sizeof(text) ? -EINVAL : -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0)
		unlink(path);
out:
	sodium_memzero(text, sizeof(text));
	return r;
}

int curve_server(void *zsock, const struct curve_keys *k,
		 const char *zap_domain)
{
	int one = 1;

	if (!k->has_secret)
		return -EINVAL;
	if (zmq_setsockopt(zsock, ZMQ_CURVE_SERVER, &one, sizeof(one)) < 0 ||
	    zmq_setsockopt(zsock, ZMQ_CURVE_SECRETKEY, k->secret_key,
			   CURVE_KEY_BYTES) < 0 ||
	    zmq_setsockopt(zsock, ZMQ_ZAP_DOMAIN, zap_domain,
			   strlen(zap_domain)) < 0)
		return -errno;
	return 0;
}

int curve_client(void *zsock, const struct curve_keys *k,
		 const uint8_t server[CURVE_KEY_BYTES])
{
	if (!k->has_secret)
		return -EINVAL;
	if (zmq_setsockopt(zsock, ZMQ_CURVE_SERVERKEY, server,
			   CURVE_KEY_BYTES) < 0 ||
	    zmq_setsockopt(zsock, ZMQ_CURVE_PUBLICKEY, k->public_key,
			   CURVE_KEY_BYTES) < 0 ||
	    zmq_setsockopt(zsock, ZMQ_CURVE_SECRETKEY, k->secret_key,
			   CURVE_KEY_BYTES) < 0)
		return -errno;
	return 0;
}
