/*
 * config.h - baton.conf, the one INI file every program reads.
 *
 * The file is parsed by inih into a struct config of typed values, checked
 * against a table of known sections and keys: an unknown section or key, a
 * value of the wrong shape, a key given twice or a missing required key is
 * an error naming the file and the line, so a typo never silently falls
 * back to a default. Relative paths in the file are taken relative to the
 * file's directory. Comments start a line with ';' or '#', or follow a
 * value as " ; ..."; a line holds at most 199 characters (inih's buffer).
 *
 * Ownership: a struct config owns every string in it; config_free() frees
 * them all. The daemons keep the config they loaded until they exit or load
 * a new one on SIGHUP.
 */
#ifndef BATON_CONFIG_H
#define BATON_CONFIG_H

#include <stddef.h>
#include <stdint.h>

/* /etc/baton/baton.conf when installed with PREFIX=/usr. */
#define CONFIG_DEFAULT_PATH BATON_SYSCONFDIR "/baton/baton.conf"

/* How baton-notify secures its SMTP session (libcurl's CURLOPT_USE_SSL). */
enum config_tls {
	CONFIG_TLS_STARTTLS = 0, /* "yes": STARTTLS, or no mail at all */
	CONFIG_TLS_TRY,		/* "try": STARTTLS when offered */
	CONFIG_TLS_NONE,	/* "no": plain text; a relay on loopback */
};

enum config_auth {
	CONFIG_AUTH_CURVE = 0,	/* the default: keys decide the agency */
	CONFIG_AUTH_NONE,	/* loopback development and tests only */
};

/* Where and why loading failed: the daemon prints it as "file:line: msg". */
struct config_error {
	char file[512];
	int line;		/* 0 when the error is not about one line */
	char msg[256];
};

struct config {
	char *path;		/* the file loaded, as given */
	char *dir;		/* its directory, absolute, for relative paths */

	/* [baton] */
	char *state_dir;	/* absolute; default /var/lib/baton */
	enum config_auth auth;	/* default curve */
	char *agencies;		/* absolute after loading; NULL if unset */
	char *routes;
	char *calendar;
	char *server_key;	/* CURVE: the daemons' key pair; NULL if unset */
	char *server_public;	/* its public half, for clients; NULL: unset */
	uint64_t map_size;	/* initial LMDB map size, bytes; default 64 MiB */

	/* [intake] */
	struct {
		char *submit;		/* default tcp://127.0.0.1:7400 */
		char *publish;		/* default ipc:///run/baton/intake.pub */
		char *replay;		/* default ipc:///run/baton/intake.replay */
		uint64_t max_message_size; /* ZMQ_MAXMSGSIZE; default 1 MiB */
		uint32_t max_batch;	/* submissions per round, 1..65536;
					 * default 1024 */
		int64_t checkpoint_ms;	/* a round answered from the write-ahead
					 * file waits at most this long for its
					 * commit; 0: commit every round;
					 * default 10ms */
		uint32_t rate;		/* submissions a second per agency,
					 * 0: no limit; default 1000 */
		uint32_t burst;		/* the bucket: default 2000 */
		uint64_t max_body;	/* a report's body field; default and
					 * at most MSG_BODY_MAX */
	} intake;

	/*
	 * [router], [deadline]: the next daemons' event endpoints; default
	 * ipc:///run/baton/<section>.pub and ipc:///run/baton/<section>.replay
	 */
	struct {
		char *publish;
		char *replay;
	} router, deadline;

	/* [notify] */
	struct {
		char *feed;		/* default tcp://127.0.0.1:7410 */
		char *office;		/* the agency told of refusals and
					   missing reports; default office */
		char *smtp;		/* smtp:// or smtps:// URL; NULL: no
					   email */
		char *smtp_from;	/* envelope and From: address */
		enum config_tls smtp_starttls;	/* default yes */
		char *smtp_user;	/* NULL: no login */
		char *smtp_password;
		char *ca;		/* CA certificates (PEM) that TLS to
					   the SMTP server and https webhooks
					   trusts; NULL: the system's */
		uint32_t max_attempts;	/* then dead; default 12 */
		int64_t max_age_ms;	/* or this old: dead; default 2d */
		int64_t retry_min_ms;	/* first backoff; default 30s */
		int64_t retry_max_ms;	/* backoff ceiling; default 1h */
		int64_t timeout_ms;	/* one attempt; default 30s */
		uint32_t max_inflight;	/* concurrent attempts; default 64 */
	} notify;

	/* [batonctl] */
	struct {
		char *key;		/* its CURVE pair (an operator's) */
	} batonctl;
};

/*
 * Load and validate the file at path.
 * Returns 0 and sets *ret (owned by the caller, free with config_free()),
 * -ENOENT/-EACCES/... if the file cannot be read, -EINVAL if it is not
 * valid, -ENOMEM. On every error *err says where and why, when err is
 * not NULL.
 */
int config_load(const char *path, struct config **ret,
		struct config_error *err);

/*
 * The error as a person reads it: "file:line: msg", or "file: msg" when it
 * is not about one line, in buf. Returns buf.
 */
char *config_error_text(const struct config_error *err, char *buf,
			size_t size);

/* Free a config. Takes NULL. */
void config_free(struct config *c);

/*
 * The state directory of one daemon: state_dir/<name>, in a new string the
 * caller frees. Returns NULL on allocation failure.
 */
char *config_state_path(const struct config *c, const char *name);

/*
 * Parse a size such as "1048576", "64K", "1M", "2G" (binary multiples; a
 * trailing "iB" or "B" is accepted: "64KiB"). Returns 0, -EINVAL or -ERANGE.
 */
int config_parse_size(const char *text, uint64_t *ret);

/*
 * The INI reading behind config_load(), for Baton's other files
 * (routes.conf, ...), which name their own sections and keys: the same
 * syntax, comments and line limit, and errors at the same lines.
 *
 * fn is called in file order: once for each "[section]" header (name and
 * value NULL), once for each "name = value" (section is the one it is in,
 * in full, or "" before any header), and once at the end of the file
 * (section, name and value NULL). err->file is path and err->line the line
 * of the header or key (at the end: the number of lines read). On a mistake
 * fn writes a sentence into err->msg, may point err->line at an earlier line
 * that the mistake is about (a section without a key it needs), and returns
 * a negative errno; fn is then not called again. It returns 0 otherwise.
 *
 * Returns 0; -ENOENT and other -errno if the file cannot be read; what fn
 * returned; -EINVAL for a line that is not "[section]" or "key = value",
 * or longer than 199 characters (of that and fn's mistake, the one on the
 * earlier line is reported); -ENOMEM. On every error *err says where and
 * why, as for config_load(), when err is not NULL.
 */
/*
 * For config_ini_fn callbacks: say what is wrong in err->msg, at line
 * (0: the line being read, already in err->line). Returns -EINVAL.
 */
int config_fail(struct config_error *err, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* For config_ini_fn callbacks: say that memory ran out. Returns -ENOMEM. */
int config_nomem(struct config_error *err);

typedef int config_ini_fn(void *user, const char *section, const char *name,
			  const char *value, struct config_error *err);

int config_parse_ini(const char *path, config_ini_fn *fn, void *user,
		     struct config_error *err);

#endif
