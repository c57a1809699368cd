/*
 * service.h - a daemon's life cycle: signals, the main loop, sd_notify.
 *
 * The loop is one zmq_poll() over the daemon's sockets and a signalfd, so
 * that SIGTERM, SIGINT and SIGHUP arrive as ordinary readable events between
 * two batches of work and never in the middle of a transaction. Each watched
 * socket has a callback; a tick callback says when the daemon next needs to
 * wake (heartbeats, replay sessions, timers), so the loop sleeps exactly
 * until then and never busy-waits.
 *
 * systemd: READY=1 once the daemon says so, STATUS= whenever it has news,
 * WATCHDOG=1 from the loop at half the interval systemd asks for (a stuck
 * loop is then restarted), RELOADING=1 around SIGHUP, STOPPING=1 on the way
 * out. Without $NOTIFY_SOCKET all of these do nothing.
 */
#ifndef BATON_SERVICE_H
#define BATON_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

struct service;

/* What every daemon takes on its command line. */
struct service_args {
	const char *config;	/* -c FILE; default CONFIG_DEFAULT_PATH */
	bool check;		/* --check: validate the configuration, exit */
	bool verbose;		/* -v: debug messages too */
};

/*
 * Read a daemon's command line: -c/--config FILE, --check, -v/--verbose,
 * --version and -h/--help, the same for every daemon. name is the
 * program ("baton-router"); about is what --help says it does, printed
 * after the synopsis and before the options. --help and --version are
 * answered on stdout, a bad argument with one line on stderr.
 * Returns -1 with *ret filled when the daemon should go on, or the exit
 * status to end with: 0 after --help or --version, 2 on bad usage.
 */
int service_args(int argc, char **argv, const char *name, const char *about,
		 struct service_args *ret);

struct config;
struct curve_keys;
struct store;
struct config_error;
struct zap;

/*
 * The start every daemon shares: read the command line (service_args()),
 * log as name (log_init()), and load the configuration file it names,
 * printing "file:line: what is wrong" on stderr if it cannot.
 * Returns -1 with *args and *conf (free it with config_free()) filled when
 * the daemon should go on, or the exit status to end with: 0 after --help
 * or --version, 1 for a configuration that does not load, 2 on bad usage.
 */
int service_init(int argc, char **argv, const char *name, const char *about,
		 struct service_args *args, struct config **conf);

/*
 * Called when a watched socket or fd is ready (revents: ZMQ_POLLIN/OUT/ERR).
 * Return 0 to go on, a negative errno to stop the loop with that error.
 */
typedef int (*service_io_fn)(void *arg, short revents);

/*
 * Called on every loop iteration with the monotonic clock. Returns how many
 * milliseconds the loop may sleep before the next call, or -1 for as long
 * as no event arrives.
 */
typedef int64_t (*service_tick_fn)(void *arg, int64_t now_mono_ms);

/* Called on SIGHUP, between RELOADING=1 and READY=1. */
typedef void (*service_reload_fn)(void *arg);

/*
 * Block SIGTERM, SIGINT and SIGHUP, ignore SIGPIPE, open the signalfd and
 * read the watchdog interval from the environment ($WATCHDOG_USEC, for us
 * only if $WATCHDOG_PID is our pid). The signal mask is per thread: call it
 * before starting any thread of your own (libzmq's threads block all
 * signals by themselves).
 * Returns 0 and sets *ret, -errno.
 */
int service_new(struct service **ret);

/*
 * Free it, putting back the signal mask and SIGPIPE's disposition. A stop
 * signal still pending then takes its default action. Takes NULL.
 */
void service_free(struct service *s);

/*
 * Watch a ZeroMQ socket (zsock) or, with zsock NULL, a file descriptor for
 * events (ZMQ_POLLIN, ZMQ_POLLOUT). At most 16 watches.
 * Returns 0, -EMFILE.
 */
int service_watch(struct service *s, void *zsock, int fd, short events,
		  service_io_fn fn, void *arg);

/*
 * For a daemon whose bus sockets may cross hosts: with auth = curve, load
 * the daemons' pair ([baton] server_key) into *k and bind a ZAP handler
 * (*zap; free it with zap_free() after the sockets close) that lets the
 * daemons' own key alone onto this process's CURVE sockets, answered in the
 * loop of s. With auth = none nothing (*k zeroed, *zap NULL).
 * Returns 1 (keys loaded), 0 (auth = none), or -errno with *err saying why.
 */
int service_bus_keys(struct service *s, void *zctx,
		     const struct config *conf, struct curve_keys *k,
		     struct zap **zap, struct config_error *err);

/*
 * Open (creating it) the daemon's own store, state_dir/name, with the
 * configured map size. Returns 0 and sets *ret, or -errno with *err naming
 * the directory and saying why (-EBUSY: another baton-name holds it).
 */
int service_store_open(const struct config *conf, const char *name,
		       struct store **ret, struct config_error *err);

/* The tick and reload callbacks; either may be NULL. */
void service_on_tick(struct service *s, service_tick_fn fn, void *arg);
void service_on_reload(struct service *s, service_reload_fn fn, void *arg);

/*
 * Run the loop until SIGTERM/SIGINT or a callback fails. Sends
 * STOPPING=1 before returning.
 * Returns 0 after a stop signal, or the callback's negative errno.
 */
int service_run(struct service *s);

/* Ask the loop to return after the current iteration. */
void service_stop(struct service *s);

/* sd_notify READY=1 with a STATUS= line (printf-style). */
void service_ready(struct service *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* sd_notify STATUS= (printf-style); not sent again if unchanged. */
void service_status(struct service *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Whether systemd's watchdog is on for us. */
bool service_watchdog_enabled(const struct service *s);

#endif
