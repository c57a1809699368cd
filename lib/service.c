/*
 * service.c - the daemons' life cycle: one zmq_poll() loop, signals as
 * events, and the sd_notify protocol.
 *
 * Signals are blocked and read from a signalfd polled next to the sockets,
 * so no handler ever runs in the middle of an LMDB transaction and there is
 * no volatile flag to race with: SIGTERM is simply one more readable fd,
 * seen between two batches of work. SIGPIPE is ignored, as a write to a
 * closed pipe or socket is an error to return, not a reason to die.
 *
 * The loop sleeps until the earliest of: an event, the time the tick
 * callback asked for, and the next watchdog ping. The watchdog is pinged from
 * the loop itself, never from a timer thread, so a loop that stops turning
 * stops pinging and systemd restarts it: that is the point of the watchdog.
 *
 * Without $NOTIFY_SOCKET every sd_notify() call is a no-op inside libsystemd,
 * so the same code runs under systemd, by hand and in tests.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <zmq.h>

#include "config.h"
#include "curve.h"
#include "log.h"
#include "service.h"
#include "store.h"
#include "zap.h"
#include "time.h"

#define SERVICE_MAX_WATCHES 16

struct watch {
	service_io_fn fn;
	void *arg;
};

struct service {
	/*
	 * items[0] is the signalfd, items[1 + i] is watches[i]: one array
	 * that zmq_poll() takes as it is, grown in place by service_watch().
	 */
	zmq_pollitem_t items[1 + SERVICE_MAX_WATCHES];
	struct watch watches[SERVICE_MAX_WATCHES];
	size_t nwatch;
	int sfd;

	service_tick_fn tick;
	void *tick_arg;
	service_reload_fn reload;
	void *reload_arg;
	bool stop;

	int64_t watchdog_ms;	/* half of systemd's interval; 0: off */
	int64_t watchdog_last;	/* time_mono() of the last WATCHDOG=1 */

	/* What service_new() changed, for service_free() to put back. */
	bool masked;
	sigset_t old_mask;
	struct sigaction old_sigpipe;

	/* The last STATUS= sent: a daemon may report after every batch. */
	char status[256];
};

/* ------------------------------------------------------------ life cycle */

int service_new(struct service **ret)
{
	struct sigaction ignore = { .sa_handler = SIG_IGN };
	struct service *s;
	uint64_t usec = 0;
	sigset_t mask;
	int r;

	s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->sfd = -1;

	r = sd_watchdog_enabled(0, &usec);
	if (r < 0)
		goto fail;
	if (r > 0) {
		/* Ping at half the interval; a sub-millisecond one, every ms. */
		s->watchdog_ms = (int64_t)(usec / 2000);
		if (s->watchdog_ms == 0)
			s->watchdog_ms = 1;
	}

	/*
	 * pthread_sigmask() sets the mask of this thread only: libzmq's own
	 * threads block every signal, so the signalfd sees all of ours as
	 * long as the daemon starts no other thread before this call.
	 */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	r = -pthread_sigmask(SIG_BLOCK, &mask, &s->old_mask);
	if (r < 0)
		goto fail;
	s->masked = true;
	if (sigaction(SIGPIPE, &ignore, &s->old_sigpipe) < 0) {
		r = -errno;
		goto fail;
	}

	s->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->sfd < 0) {
		r = -errno;
		goto fail;
	}
	s->items[0] = (zmq_pollitem_t){ .fd = s->sfd, .events = ZMQ_POLLIN };

	*ret = s;
	return 0;
fail:
	service_free(s);
	return r;
}

void service_free(struct service *s)
{
	if (!s)
		return;
	if (s->sfd >= 0)
		close(s->sfd);
	/*
	 * A stop signal still pending now takes its default action: with no
	 * loop left to hear it, terminating is what it asks for.
	 */
	if (s->masked) {
		sigaction(SIGPIPE, &s->old_sigpipe, NULL);
		pthread_sigmask(SIG_SETMASK, &s->old_mask, NULL);
	}
	free(s);
}

int service_watch(struct service *s, void *zsock, int fd, short events,
		  service_io_fn fn, void *arg)
{
	if (s->nwatch == SERVICE_MAX_WATCHES)
		return -EMFILE;
	s->items[1 + s->nwatch] = (zmq_pollitem_t){
		.socket = zsock, .fd = fd, .events = events,
	};
	s->watches[s->nwatch] = (struct watch){ fn, arg };
	s->nwatch++;
	return 0;
}

void service_on_tick(struct service *s, service_tick_fn fn, void *arg)
{
	s->tick = fn;
	s->tick_arg = arg;
}

void service_on_reload(struct service *s, service_reload_fn fn, void *arg)
{
	s->reload = fn;
	s->reload_arg = arg;
}

void service_stop(struct service *s)
{
	s->stop = true;
}

bool service_watchdog_enabled(const struct service *s)
{
	return s->watchdog_ms > 0;
}

/* -------------------------------------------------------------- sd_notify */

void service_ready(struct service *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->status, sizeof s->status, fmt, ap);
	va_end(ap);
	sd_notifyf(0, "READY=1\nSTATUS=%s", s->status);
}

void service_status(struct service *s, const char *fmt, ...)
{
	char status[sizeof s->status];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(status, sizeof status, fmt, ap);
	va_end(ap);
	if (strcmp(status, s->status) == 0)
		return;
	memcpy(s->status, status, sizeof status);
	sd_notifyf(0, "STATUS=%s", s->status);
}

static void watchdog_ping(struct service *s, int64_t now)
{
	sd_notify(0, "WATCHDOG=1");
	s->watchdog_last = now;
}

/*
 * RELOADING=1 carries the monotonic time in µs: systemd 253's
 * Type=notify-reload uses it to tell this reload from an older one; 252
 * ignores it.
 */
static void reload(struct service *s)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
		   (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
	if (s->reload)
		s->reload(s->reload_arg);
	sd_notify(0, "READY=1");
}

/* ------------------------------------------------------------------- loop */

/* Act on every signal queued on the signalfd. Returns 0, -errno. */
static int read_signals(struct service *s)
{
	struct signalfd_siginfo si;
	ssize_t n;

	for (;;) {
		n = read(s->sfd, &si, sizeof si);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0)
			return -errno;
		if (n != sizeof si)
			return -EIO;
		if (si.ssi_signo == SIGHUP)
			reload(s);
		else
			s->stop = true;		/* SIGTERM, SIGINT */
	}
}

/* How long zmq_poll() may sleep: the tick's wish, capped by the watchdog. */
static long poll_timeout(struct service *s, int64_t now, int64_t wish)
{
	int64_t until_ping;

	if (wish < 0)
		wish = -1;
	if (s->watchdog_ms > 0) {
		until_ping = s->watchdog_last + s->watchdog_ms - now;
		if (until_ping < 0)
			until_ping = 0;
		if (wish < 0 || until_ping < wish)
			wish = until_ping;
	}
	return (long)wish;
}

int service_run(struct service *s)
{
	int64_t now, wish;
	size_t i;
	int r = 0;

	s->stop = false;
	if (s->watchdog_ms > 0)
		watchdog_ping(s, time_mono());
	while (!s->stop) {
		now = time_mono();
		if (s->watchdog_ms > 0 && now - s->watchdog_last >= s->watchdog_ms)
			watchdog_ping(s, now);
		wish = s->tick ? s->tick(s->tick_arg, now) : -1;
		if (s->stop)
			break;

		if (zmq_poll(s->items, (int)(1 + s->nwatch),
			     poll_timeout(s, now, wish)) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		/* A callback may add a watch: its revents start at 0. */
		for (i = 0; i < s->nwatch; i++) {
			short revents = s->items[1 + i].revents;

			if (revents == 0)
				continue;
			r = s->watches[i].fn(s->watches[i].arg, revents);
			if (r < 0)
				goto out;
		}
		if (s->items[0].revents) {
			r = read_signals(s);
			if (r < 0)
				break;
		}
	}
out:
	sd_notify(0, "STOPPING=1");
	return r;
}

/* ---- the command line ---- */

static void args_usage(FILE *f, const char *name, const char *about)
{
	fprintf(f,
"usage: %s [-c FILE] [--check] [-v] [--version] [--help]\n"
"\n"
"%s\n"
"  -c, --config FILE  configuration file (default %s)\n"
"      --check        check the configuration, print what is wrong with\n"
"                     file and line, exit\n"
"  -v, --verbose      log debug messages too\n"
"      --version      print the version and exit\n"
"  -h, --help         print this help and exit\n",
		name, about, CONFIG_DEFAULT_PATH);
}

int service_args(int argc, char **argv, const char *name, const char *about,
		 struct service_args *ret)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*ret = (struct service_args){ .config = CONFIG_DEFAULT_PATH };
	optind = 0;
	while ((c = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			ret->config = optarg;
			break;
		case 'C':
			ret->check = true;
			break;
		case 'v':
			ret->verbose = true;
			break;
		case 'V':
			printf("%s %s\n", name, BATON_VERSION);
			return 0;
		case 'h':
			args_usage(stdout, name, about);
			return 0;
		default:	/* getopt said what was wrong */
			fprintf(stderr, "see '%s --help'\n", name);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument '%s' (see '%s "
			"--help')\n", name, argv[optind], name);
		return 2;
	}
	return -1;
}

int service_init(int argc, char **argv, const char *name, const char *about,
		 struct service_args *args, struct config **conf)
{
	struct config_error err;
	int r;

	r = service_args(argc, argv, name, about, args);
	if (r >= 0)
		return r;
	log_init(name, args->verbose);
	if (config_load(args->config, conf, &err) < 0) {
		log_config_error(&err, 0);
		return 1;
	}
	return -1;
}

static int on_zap(void *arg, short revents)
{
	int r = zap_on_readable(arg);

	if (r < 0)
		log_debug("%s: %s", __func__, zmq_strerror(-r));
	return 0;
}

int service_bus_keys(struct service *s, void *zctx,
		     const struct config *conf, struct curve_keys *k,
		     struct zap **zap, struct config_error *err)
{
	int r;

	*zap = NULL;
	r = curve_load_server(conf, k, err);
	if (r <= 0)
		return r;
	r = zap_new(zctx, zap_daemons, k, zap);
	if (r == 0)
		r = service_watch(s, zap_socket(*zap), -1, ZMQ_POLLIN, on_zap,
				  *zap);
	if (r < 0) {
		snprintf(err->file, sizeof(err->file), "%s", conf->path);
		err->line = 0;
		snprintf(err->msg, sizeof(err->msg), "ZAP handler: %s",
			 zmq_strerror(-r));
		return r;
	}
	return 1;
}

int service_store_open(const struct config *conf, const char *name,
		       struct store **ret, struct config_error *err)
{
	struct store_options so = {
		.map_size = conf->map_size, .create = true,
	};
	char *dir = config_state_path(conf, name);
	int r;

	if (!dir)
		return -ENOMEM;
	r = store_open(dir, &so, ret);
	if (r < 0) {
		snprintf(err->file, sizeof(err->file), "%s", dir);
		err->line = 0;
		if (r == -EBUSY)
			snprintf(err->msg, sizeof(err->msg), "in use: is "
				 "another baton-%s running on this "
				 "configuration?", name);
		else
			snprintf(err->msg, sizeof(err->msg), "%s",
				 strerror(-r));
	}
	free(dir);
	return r;
}
