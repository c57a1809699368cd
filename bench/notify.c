/*
 * bench/notify.c - bench-notify: how many emails and webhooks a second
 * baton-notify delivers, and how long an accepted report takes to reach
 * the office alert feed as a task-assigned alert at 5,000 reports/s.
 *
 * The figures: alerts delivered per second to a local webhook
 * receiver and to an SMTP server, and the end-to-end latency report
 * accepted -> alert on the feed, p50 and p99, at 5,000 reports/s; the aim
 * is a p99 under 5 ms. Both depend on the whole pipeline, so this runs the
 * real daemons: baton-intake, baton-router, baton-deadline and
 * baton-notify, each with a $NOTIFY_SOCKET of ours (READY=1), in a fresh
 * temporary directory per run (auth = none, every endpoint an ipc://
 * socket there), with a routes file that sends every report to agency
 * bench-a (or, with --destinations K, report k to bench-<a + k % K> by
 * its locality) and an agencies.conf that says how each is reached. The
 * receivers are bench-sinks (bench/sinks.c), a process per delivery run:
 * an HTTP/1.1 server (K ports) and an SMTP server on 127.0.0.1 whose
 * counters this program reads from a shared file (bench/sinks.h).
 *
 *   webhook, email, both   delivery throughput. With baton-notify not
 *             running, --backlog reports are submitted (one DEALER, a
 *             window of them in flight) and routed: each is a task for
 *             a bench agency, whose agencies.conf entry has a webhook to
 *             the sink, or two addresses and [notify] smtp to the sink, or
 *             both. Once the router and the deadline daemon have applied
 *             all of them, baton-notify is started: it replays the
 *             router's task.created events, stores a task-assigned alert
 *             per task with its rows (journal, feed, and the email and/or
 *             webhook) and delivers them. Timed from its exec: READY=1,
 *             every event applied (its bus.cursor "router"), the sink
 *             holding all N webhooks and/or N emails, and its outbox with
 *             nothing left due (notify.due empty); then every row is
 *             read back and counted by channel and state, and must be
 *             sent. max_inflight is the default (64).
 *   latency   intake -> router -> notify -> feed. bench-a takes the feed
 *             only (no email, no webhook). A SUB on the feed (prefix
 *             "alert.task-assigned.", no high-water mark) runs in a thread
 *             of its own and stamps each alert as it arrives; the main
 *             thread sends reports on --clients DEALER sockets, open loop,
 *             at --rate a second on an absolute schedule (ppoll to the ns,
 *             whatever the answers do), and stamps each ACK. An alert's
 *             id is "T-<intake seq>/1/assigned" and the ACK carries the
 *             seq, so every alert is matched to its report. After
 *             --warmup seconds, --seconds of reports are measured:
 *             feed arrival - ACK receipt, and - send; count, p50, p90,
 *             p99, p99.9, max; and how many were acknowledged but never
 *             seen on the feed. --stages adds SUBs on intake's and the
 *             router's PUB sockets, to split the time between the stages;
 *             --notify-without-intake (a diagnosis) gives baton-notify a
 *             baton.conf whose intake endpoints lead nowhere.
 *
 * Every run is bounded: --backlog and --rate x --seconds are capped, each
 * wait has a deadline (--timeout per run), and on every exit path the
 * daemons and the sink are stopped (SIGTERM, then SIGKILL; they also die
 * with this process: PR_SET_PDEATHSIG) and the directory removed (unless
 * -D). All instants are CLOCK_MONOTONIC in this process, except the
 * sink's, which are CLOCK_MONOTONIC in its own (the same clock).
 * Output: a results block, then one "notify-..." line of key=value pairs
 * per run, for grep.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "config.h"
#include "msg.h"
#include "outbox.h"
#include "store.h"

#include "harness.h"
#include "load.h"
#include "sinks.h"

#define MAX_BACKLOG	1000000
#define MAX_REPORTS	600000		/* --rate x (--warmup + --seconds) */
#define MAX_CLIENTS	64
#define MAX_DESTS	16		/* bench-a .. bench-p */
#define PROBES_MAX	20		/* reports sent to see the feed work */
#define ID_DIGITS	12
#define BURST_MAX	64		/* sends between two reads of answers */
#define POLL_MS		10
#define STORE_EVERY_NS	INT64_C(50000000)	/* reads of a daemon's LMDB */
#define TIMELINE_MAX	3600
#define STOP_WAIT_NS	INT64_C(20000000000)	/* SIGTERM, then SIGKILL */
#define ACK_DRAIN_NS	INT64_C(5000000000)	/* after the last send */
#define FEED_QUIET_NS	INT64_C(3000000000)	/* no alert for that long */
#define KILL_WAIT_NS	INT64_C(5000000000)	/* bench-sinks, at the end */
#define NS		INT64_C(1000000000)
#define PROG		"bench-notify"

extern char **environ;

enum { D_INTAKE, D_ROUTER, D_DEADLINE, D_NOTIFY, ND };
static const char *const dnames[ND] = { "intake", "router", "deadline",
					"notify" };
static const char *const dbins[ND] = { "baton-intake", "baton-router",
				       "baton-deadline", "baton-notify" };

enum run { RUN_WEBHOOK, RUN_EMAIL, RUN_BOTH, RUN_LATENCY, NRUNS };
static const char *const run_names[NRUNS] = { "webhook", "email", "both",
					      "latency" };

struct options {
	uint64_t backlog;
	unsigned window;	/* backlog: reports in flight */
	unsigned dests;		/* agencies, each its own webhook port */
	double rate;
	double seconds;
	double warmup;
	unsigned clients;
	bool runs[NRUNS];
	bool stages;
	bool no_intake;		/* baton-notify without intake's events */
	const char *build;
	const char *dir;
	const char *notify_log;	/* baton-notify's stderr; NULL: a file */
	const char *samples;
	double timeout;		/* per run */
	bool keep;
};

struct daemon {
	struct harness_daemon h;	/* its process and notify socket */
	const char *name;	/* "intake": its state directory */
	char bin[PATH_MAX];
	char conf[PATH_MAX];	/* "": the run's baton.conf */
	char log[PATH_MAX];
	struct store *st;	/* its LMDB, read-only, once it exists */
};

/* One run's directory, configuration and daemons. */
struct env {
	char dir[PATH_MAX];
	char conf_path[PATH_MAX];
	struct config *conf;
	struct daemon d[ND];
	struct outbox ob;
	bool ob_open;
};

struct sinks_proc {
	char bin[PATH_MAX];
	char stats_path[PATH_MAX];
	pid_t pid;
	int out_fd;
	int http_port[MAX_DESTS], smtp_port;
	struct sinks_stats *st;
};

struct bench {
	const struct options *opt;
	char dir[HARNESS_DIR_MAX];
	char build[PATH_MAX];
	char loadavg[64];
	void *zctx;
	struct sinks_proc sinks;
	struct env *env;	/* the current run's, for cleanup */
};

/* A report encoded once, its id's digits patched in place per send. */
struct report {
	uint8_t *buf;
	size_t len;
	char *digits;
	char prefix[8];
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

static double secs(int64_t ns)
{
	return (double)ns / 1e9;
}

static double msec(int64_t ns)
{
	return (double)ns / 1e6;
}

/*
 * The whole machine's busy CPU time so far (every CPU: user, nice, system,
 * irq, softirq, steal), in seconds: with ours, it says how much of the
 * machine other work took during a measurement.
 */
static double machine_busy_seconds(void)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "re");
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n != 8)
		return 0;
	/* user nice system idle iowait irq softirq steal */
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) /
	       (double)sysconf(_SC_CLK_TCK);
}

/* ---- files ---- */

/* snprintf for paths: -ENAMETOOLONG rather than a cut path. */
static int pathf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int pathf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* ---- the daemons ---- */

/* Start a daemon on the run's configuration, output to its log or log_path. */
static int daemon_start(struct env *e, struct daemon *d, const char *log_path)
{
	return harness_start(&d->h, d->bin, d->conf[0] ? d->conf : e->conf_path,
			     log_path ? log_path : d->log);
}

static void show_log(const struct daemon *d)
{
	harness_show_log(PROG, d->log, 15);
}

/*
 * Read every daemon's notifications, and check that each one started is
 * still running. Returns 0, -ECHILD (said which), -EINTR.
 */
static int env_pump(struct env *e)
{
	int64_t now = load_now_ns();
	char text[64];

	if (interrupted)
		return -EINTR;
	for (int i = 0; i < ND; i++) {
		struct daemon *d = &e->d[i];

		harness_read_notify(&d->h, now);
		if (d->h.pid > 0 && harness_gone(&d->h)) {
			fprintf(stderr, "bench-notify: baton-%s exited: %s\n",
				d->name,
				harness_exit_text(d->h.exit_status, text,
						  sizeof(text)));
			show_log(d);
			return -ECHILD;
		}
	}
	return 0;
}

/* Sleep up to ms on the daemons' notify sockets. */
static void env_wait(struct env *e, int ms)
{
	struct pollfd p[ND];

	for (int i = 0; i < ND; i++)
		p[i] = (struct pollfd){ .fd = e->d[i].h.notify_fd,
					.events = POLLIN };
	poll(p, ND, ms);
}

static int wait_ready(struct env *e, int which, int64_t deadline)
{
	struct daemon *d = &e->d[which];
	int r;

	while (!d->h.ready_ns) {
		r = env_pump(e);
		if (r < 0)
			return r;
		if (load_now_ns() > deadline) {
			fprintf(stderr, "bench-notify: baton-%s: no READY=1\n",
				d->name);
			show_log(d);
			return -ETIMEDOUT;
		}
		env_wait(e, POLL_MS);
	}
	return 0;
}

/* ---- a daemon's LMDB, read-only ---- */

static int daemon_store(struct env *e, int which, struct store **ret)
{
	struct daemon *d = &e->d[which];
	struct store_options so = { .read_only = true };
	char *path;
	int r;

	if (!d->st) {
		path = config_state_path(e->conf, d->name);
		if (!path)
			return -ENOMEM;
		r = store_open(path, &so, &d->st);
		free(path);
		if (r < 0) {
			d->st = NULL;
			return r;
		}
	}
	*ret = d->st;
	return 0;
}

/*
 * The sequence of publisher pub that daemon which has applied (its
 * bus.cursor), and when last is not NULL its own newest event (bus.events).
 */
static int read_seqs(struct env *e, int which, const char *pub,
		     uint64_t *applied, uint64_t *last)
{
	store_table_t cursor, events;
	struct store_txn *t;
	struct store *st;
	const void *k, *v;
	size_t klen, vlen;
	int r;

	r = daemon_store(e, which, &st);
	if (r < 0)
		return r;
	r = store_table(st, BUS_CURSOR_TABLE, &cursor);
	if (r == 0 && last)
		r = store_table(st, BUS_EVENTS_TABLE, &events);
	if (r < 0)
		return r;
	r = store_begin(st, false, &t);
	if (r < 0)
		return r;
	*applied = 0;
	if (store_get(t, cursor, pub, strlen(pub), &v, &vlen) == 0 &&
	    vlen == 8)
		*applied = store_u64_from(v);
	if (last) {
		*last = 0;
		if (store_last(t, events, &k, &klen, &v, &vlen) == 0 &&
		    klen == 8)
			*last = store_u64_from(k);
	}
	store_abort(t);
	return 0;
}

/* baton-notify's outbox: rows by channel and state, and how many due. */
static int read_outbox(struct env *e, uint64_t rows[OUTBOX_CHANNELS]
		       [OUTBOX_STATES], uint64_t *due, uint64_t *alerts)
{
	struct store_cursor *c;
	struct store_txn *t;
	struct store *st;
	const void *k, *v;
	size_t klen, vlen;
	int r;

	r = daemon_store(e, D_NOTIFY, &st);
	if (r < 0)
		return r;
	if (!e->ob_open) {
		r = outbox_open(st, &e->ob);
		if (r < 0)
			return r;
		e->ob_open = true;
	}
	r = store_begin(st, false, &t);
	if (r < 0)
		return r;
	r = store_count(t, e->ob.due, due);
	if (r == 0 && alerts)
		r = store_count(t, e->ob.alerts, alerts);
	if (r == 0 && rows) {
		memset(rows, 0, sizeof(uint64_t) * OUTBOX_CHANNELS *
		       OUTBOX_STATES);
		r = store_cursor_open(t, e->ob.rows, &c);
		if (r == 0) {
			store_cursor_seek(c, NULL, 0);
			while (store_cursor_next(c, &k, &klen, &v,
						 &vlen) == 0) {
				struct outbox_key key;
				struct outbox_row row;

				if (outbox_key_parse(k, klen, &key) < 0 ||
				    outbox_get(&e->ob, t, k, klen, &row) < 0)
					continue;
				rows[key.channel][row.state]++;
			}
			store_cursor_close(c);
		}
	}
	store_abort(t);
	return r;
}

/* ---- a run's directory ---- */

/* Append to buf (size bytes, *len used); the text is cut if it must be. */
static void append(char *buf, size_t size, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len += (size_t)n;
}

/*
 * routes.conf: report locality L<i> is a task for bench-<a + i>, with the
 * bundled defaults' shape (a deadline 72h away, one reminder, one
 * escalation: timers for the deadline daemon, none due in a run).
 */
static void routes_text(unsigned dests, char *buf, size_t size)
{
	size_t len = 0;

	append(buf, size, &len,
	       "; written by bench-notify: every report is a task for one of "
	       "the bench agencies\n"
	       "[defaults]\n"
	       "office = office\n"
	       "deadline = 72h\n"
	       "reminders = 24h\n"
	       "escalation = office@+0\n");
	for (unsigned i = 0; i < dests; i++)
		append(buf, size, &len, "\n[rule bench-%c]\n"
		       "category = cybersecurity\n"
		       "locality = L%u\n"
		       "assign = bench-%c\n", 'a' + i, i, 'a' + i);
}

/*
 * agencies.conf for a run: how each bench agency is reached: a webhook
 * (bench-<x> to the sink's x-th port), two addresses, both, or neither.
 */
static void agencies_text(const struct bench *b, enum run run,
			  unsigned dests, char *buf, size_t size)
{
	size_t len = 0;

	append(buf, size, &len, "; written by bench-notify, run %s\n"
	       "[agency office]\nname = the office\n", run_names[run]);
	for (unsigned i = 0; i < dests; i++) {
		append(buf, size, &len, "\n[agency bench-%c]\nname = a bench "
		       "agency\n", 'a' + i);
		if (run == RUN_EMAIL || run == RUN_BOTH)
			append(buf, size, &len, "email = duty@%c.bench.example"
			       ", lead@%c.bench.example\n", 'a' + i, 'a' + i);
		if (run == RUN_WEBHOOK || run == RUN_BOTH)
			append(buf, size, &len, "webhook = http://127.0.0.1:"
			       "%d/hooks/bench-%c\nwebhook_secret = bench-"
			       "notify-secret-0123456789\n",
			       b->sinks.http_port[i], 'a' + i);
	}
}

/*
 * A baton.conf in the run's directory, named name, its path into path:
 * every endpoint an ipc:// socket there; intake publishes on
 * <intake>.pub and <intake>.replay.
 */
static int write_conf(const struct env *e, const char *name, enum run run,
		      const char *intake, const char *smtp, char *path,
		      size_t size)
{
	char text[4096];
	const char *d = e->dir;
	int r;

	r = pathf(text, sizeof(text),
		  "; written by bench-notify, run %s\n"
		  "[baton]\n"
		  "state_dir = %s/state\n"
		  "auth = none\n"
		  "map_size = 1G\n"
		  "routes = routes.conf\n"
		  "agencies = agencies.conf\n"
		  "\n[intake]\n"
		  "rate = 0 ; no per-agency limit: the load is the point\n"
		  "submit = ipc://%s/submit\n"
		  "publish = ipc://%s/%s.pub\n"
		  "replay = ipc://%s/%s.replay\n"
		  "\n[router]\n"
		  "publish = ipc://%s/router.pub\n"
		  "replay = ipc://%s/router.replay\n"
		  "\n[deadline]\n"
		  "publish = ipc://%s/deadline.pub\n"
		  "replay = ipc://%s/deadline.replay\n"
		  "\n[notify]\n"
		  "feed = ipc://%s/feed\n"
		  "office = office\n"
		  "%s",
		  run_names[run], d, d, d, intake, d, intake, d, d, d, d, d,
		  smtp);
	if (r == 0)
		r = pathf(path, size, "%s/%s", d, name);
	if (r == 0)
		r = harness_write_file(path, text);
	return r;
}

/*
 * Make the run's directory: routes, agencies, baton.conf (read back as
 * the daemons will read it), notify sockets.
 */
static int env_create(struct bench *b, enum run run, unsigned dests,
		      struct env **ret)
{
	struct config_error err;
	char path[PATH_MAX], text[8192], smtp[128] = "", etext[1024];
	struct env *e;
	int r;

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (int i = 0; i < ND; i++) {
		harness_daemon_init(&e->d[i].h, PROG, dbins[i]);
		e->d[i].name = dnames[i];
	}
	b->env = e;
	r = pathf(e->dir, sizeof(e->dir), "%s/%s", b->dir, run_names[run]);
	if (r < 0)
		return r;
	if (mkdir(e->dir, 0700) < 0)
		return -errno;
	routes_text(dests, text, sizeof(text));
	r = pathf(path, sizeof(path), "%s/routes.conf", e->dir);
	if (r == 0)
		r = harness_write_file(path, text);
	if (r < 0)
		return r;
	agencies_text(b, run, dests, text, sizeof(text));
	r = pathf(path, sizeof(path), "%s/agencies.conf", e->dir);
	if (r == 0)
		r = harness_write_file(path, text);
	if (r < 0)
		return r;
	if (run == RUN_EMAIL || run == RUN_BOTH)
		snprintf(smtp, sizeof(smtp), "smtp = smtp://127.0.0.1:%d\n"
			 "smtp_from = baton@office.bench.example\n"
			 "smtp_starttls = no\n", b->sinks.smtp_port);
	r = write_conf(e, "baton.conf", run, "intake", smtp, e->conf_path,
		       sizeof(e->conf_path));
	/*
	 * --notify-without-intake: baton-notify alone reads a copy whose
	 * intake endpoints lead nowhere, so it never takes intake's events
	 * in (nor commits its cursor for them). A diagnosis, not Baton.
	 */
	if (r == 0 && b->opt->no_intake)
		r = write_conf(e, "notify.conf", run, "nowhere", smtp,
			       e->d[D_NOTIFY].conf,
			       sizeof(e->d[D_NOTIFY].conf));
	if (r < 0)
		return r;
	r = config_load(e->conf_path, &e->conf, &err);
	if (r < 0) {
		fprintf(stderr, "bench-notify: %s\n",
			config_error_text(&err, etext, sizeof(etext)));
		return r;
	}
	for (int i = 0; i < ND; i++) {
		struct daemon *d = &e->d[i];

		r = pathf(d->bin, sizeof(d->bin), "%s/daemons/%s/baton-%s",
			  b->build, d->name, d->name);
		if (r == 0)
			r = pathf(d->log, sizeof(d->log), "%s/%s.log", e->dir,
				  d->name);
		if (r == 0)
			r = pathf(path, sizeof(path), "%s/%s.sd", e->dir,
				  d->name);
		if (r == 0)
			r = harness_notify_open(&d->h, path);
		if (r < 0)
			return r;
	}
	*ret = e;
	return 0;
}

/* Stop every daemon (notify first), close and remove. 0 if all exited 0. */
static int env_free(struct bench *b, struct env *e)
{
	int r = 0;

	if (!e)
		return 0;
	for (int i = ND - 1; i >= 0; i--)
		if (harness_stop(&e->d[i].h, STOP_WAIT_NS, NULL) < 0) {
			show_log(&e->d[i]);
			r = -EIO;
		}
	for (int i = 0; i < ND; i++) {
		store_close(e->d[i].st);
		harness_daemon_close(&e->d[i].h, STOP_WAIT_NS);
	}
	config_free(e->conf);
	if (e->dir[0] && !b->opt->keep)
		harness_rmtree(e->dir);
	free(e);
	b->env = NULL;
	return r;
}

static int start_daemons(struct bench *b, struct env *e, const int *which,
			 size_t n, int64_t deadline)
{
	int r;

	for (size_t i = 0; i < n; i++) {
		struct daemon *d = &e->d[which[i]];
		const char *log = which[i] == D_NOTIFY ? b->opt->notify_log :
				  NULL;

		r = daemon_start(e, d, log);
		if (r < 0) {
			fprintf(stderr, "bench-notify: %s: %s\n", d->bin,
				strerror(-r));
			return r;
		}
	}
	for (size_t i = 0; i < n; i++) {
		r = wait_ready(e, which[i], deadline);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- the sink ---- */

static int sinks_start(struct bench *b, enum run run)
{
	struct sinks_proc *s = &b->sinks;
	char *argv[2 * MAX_DESTS + 8], line[256], *at;
	unsigned argc = 0;
	size_t len = 0;
	int pipefd[2], fd, r;
	int64_t deadline = load_now_ns() + 10 * NS;
	void *p;

	if (pathf(s->stats_path, sizeof(s->stats_path), "%s/sinks-%s.stats",
		  b->dir, run_names[run]) < 0)
		return -ENAMETOOLONG;
	argv[argc++] = s->bin;
	for (unsigned i = 0; i < b->opt->dests; i++) {
		argv[argc++] = "--http";
		argv[argc++] = "0";
	}
	argv[argc++] = "--smtp";
	argv[argc++] = "0";
	argv[argc++] = "--stats";
	argv[argc++] = s->stats_path;
	argv[argc] = NULL;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	r = harness_spawn(argv, environ, -1, pipefd[1], -1, &s->pid);
	close(pipefd[1]);
	if (r < 0) {
		s->pid = 0;
		close(pipefd[0]);
		return r;
	}
	s->out_fd = pipefd[0];
	/* "bench-sinks http=PORT smtp=PORT" once both listen. */
	while (!memchr(line, '\n', len)) {
		struct pollfd pf = { .fd = s->out_fd, .events = POLLIN };
		ssize_t n;

		if (interrupted || load_now_ns() > deadline ||
		    len == sizeof(line) - 1)
			return -ETIMEDOUT;
		if (poll(&pf, 1, POLL_MS) <= 0)
			continue;
		n = read(s->out_fd, line + len, sizeof(line) - 1 - len);
		if (n <= 0)
			return -EIO;
		len += (size_t)n;
		line[len] = '\0';
	}
	/* "bench-sinks http=P1[,P2...] smtp=Q" */
	at = strstr(line, "http=");
	for (unsigned i = 0; at && i < b->opt->dests; i++) {
		char *end;

		s->http_port[i] = (int)strtol(at + (i ? 1 : 5), &end, 10);
		if (s->http_port[i] <= 0)
			return -EPROTO;
		at = end;
	}
	at = strstr(line, "smtp=");
	if (!at || sscanf(at, "smtp=%d", &s->smtp_port) != 1 ||
	    s->smtp_port <= 0)
		return -EPROTO;
	fd = open(s->stats_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	p = mmap(NULL, sizeof(*s->st), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	s->st = p;
	return 0;
}

static void sinks_stop(struct bench *b)
{
	struct sinks_proc *s = &b->sinks;

	if (s->pid > 0) {
		harness_kill(s->pid, KILL_WAIT_NS);
		s->pid = 0;
	}
	if (s->st)
		munmap(s->st, sizeof(*s->st));
	s->st = NULL;
	if (s->out_fd >= 0)
		close(s->out_fd);
	s->out_fd = -1;
}

/* One counter, read whole. */
#define SINK(b, field) __atomic_load_n(&(b)->sinks.st->field, __ATOMIC_RELAXED)

/* ---- reports ---- */

/*
 * Encode a report of ours once, id "<prefix>-<12 digits>", and find the
 * digits to patch. The reporting agency is bench-src (auth = none).
 */
static int report_build(struct report *rp, const char *prefix,
			unsigned dest)
{
	char id[64], locality[16];
	struct msg m = {
		.type = MSG_REPORT, .id = id, .agency = "bench-src",
		.locality = locality,
		.kind = KIND_INCIDENT, .category = CATEGORY_CYBERSECURITY,
		.severity = SEVERITY_LOW,
		.title = "bench-notify: synthetic incident",
		.body = "A report made by bench-notify; every one becomes a "
			"task for a bench agency and a task-assigned alert.",
	};
	void *buf;
	size_t len;
	uint8_t *at;
	int r;

	snprintf(locality, sizeof(locality), "L%u", dest);
	snprintf(rp->prefix, sizeof(rp->prefix), "%s-", prefix);
	snprintf(id, sizeof(id), "%s%0*u", rp->prefix, ID_DIGITS, 0);
	r = msg_encode(&m, &buf, &len);
	if (r < 0)
		return r;
	at = memmem(buf, len, id, strlen(id));
	if (!at) {
		free(buf);
		return -EINVAL;
	}
	rp->buf = buf;
	rp->len = len;
	rp->digits = (char *)at + strlen(rp->prefix);
	return 0;
}

static void report_set(struct report *rp, uint64_t n)
{
	for (int i = ID_DIGITS - 1; i >= 0; i--) {
		rp->digits[i] = (char)('0' + n % 10);
		n /= 10;
	}
}

/* The number in an id of ours with this prefix; 0 if it is not one. */
static uint64_t report_number(const struct report *rp, const char *id)
{
	size_t plen = strlen(rp->prefix);
	uint64_t n = 0;

	if (!id || strncmp(id, rp->prefix, plen) != 0 ||
	    strlen(id) != plen + ID_DIGITS)
		return 0;
	for (const char *p = id + plen; *p; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	return n;
}

static void *dealer(struct bench *b, struct env *e)
{
	int zero = 0, hwm = 100000;
	void *s = zmq_socket(b->zctx, ZMQ_DEALER);

	if (!s)
		return NULL;
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	if (zmq_connect(s, e->conf->intake.submit) < 0) {
		zmq_close(s);
		return NULL;
	}
	return s;
}

/* An answer: 1 and *n, *seq for an ACK of ours, 0 for a NACK, -1 other. */
static int answer(const struct report *rp, const void *data, size_t size,
		  uint64_t *n, uint64_t *seq)
{
	struct msg a = { 0 };
	struct msg_error err;
	int r = -1;

	if (msg_decode(data, size, MSG_CTX_ANSWER, &a, &err) < 0) {
		msg_free(&a);
		return -1;
	}
	*n = report_number(rp, a.id);
	*seq = a.seq;
	if (*n && a.type == MSG_ACK && !a.duplicate)
		r = 1;
	else if (*n && a.type == MSG_NACK) {
		fprintf(stderr, "bench-notify: NACK %s: %s: %s\n", a.id,
			msg_code_name(a.code), a.error ? a.error : "");
		r = 0;
	}
	msg_free(&a);
	return r;
}

/*
 * Submit n reports on one DEALER, window in flight; every one must be
 * acknowledged. *max_seq is the highest intake sequence.
 */
static int submit_backlog(struct bench *b, struct env *e, uint64_t n,
			  uint64_t *max_seq, int64_t deadline)
{
	struct report rps[MAX_DESTS] = { { 0 } };
	unsigned dests = b->opt->dests;
	uint64_t sent = 0, acked = 0, k, seq;
	void *s = dealer(b, e);
	zmq_msg_t msg;
	int r = 0;

	*max_seq = 0;
	if (!s)
		return -errno;
	/* Report k goes to bench-<a + k % dests>. */
	for (unsigned i = 0; r == 0 && i < dests; i++)
		r = report_build(&rps[i], "b", i);
	if (r < 0) {
		for (unsigned i = 0; i < dests; i++)
			free(rps[i].buf);
		zmq_close(s);
		return r;
	}
	zmq_msg_init(&msg);
	while (acked < n && r == 0) {
		zmq_pollitem_t it = { .socket = s, .events = ZMQ_POLLIN };

		while (sent < n && sent - acked < b->opt->window) {
			struct report *rp = &rps[++sent % dests];

			report_set(rp, sent);
			if (zmq_send(s, rp->buf, rp->len, 0) < 0) {
				r = -errno;
				break;
			}
		}
		if (r < 0)
			break;
		if (load_now_ns() > deadline) {
			fprintf(stderr, "bench-notify: %" PRIu64 " of %" PRIu64
				" reports acknowledged in time\n", acked, n);
			r = -ETIMEDOUT;
			break;
		}
		r = env_pump(e);
		if (r < 0)
			break;
		if (zmq_poll(&it, 1, POLL_MS) <= 0)
			continue;
		while (zmq_msg_recv(&msg, s, ZMQ_DONTWAIT) >= 0) {
			int a = answer(&rps[0], zmq_msg_data(&msg),
				       zmq_msg_size(&msg), &k, &seq);

			if (a <= 0) {
				r = -EPROTO;
				break;
			}
			acked++;
			if (seq > *max_seq)
				*max_seq = seq;
		}
	}
	zmq_msg_close(&msg);
	zmq_close(s);
	for (unsigned i = 0; i < dests; i++)
		free(rps[i].buf);
	return r;
}

/*
 * Wait until the router has applied intake up to seq, and the deadline
 * daemon everything the router published: the machine is then quiet.
 * *router_last is the router's newest event.
 */
static int wait_routed(struct env *e, uint64_t seq, uint64_t *router_last,
		       int64_t deadline)
{
	uint64_t applied = 0, dl = 0;
	int r;

	for (;;) {
		r = env_pump(e);
		if (r < 0)
			return r;
		if (read_seqs(e, D_ROUTER, "intake", &applied,
			      router_last) == 0 && applied >= seq &&
		    read_seqs(e, D_DEADLINE, "router", &dl, NULL) == 0 &&
		    dl >= *router_last)
			return 0;
		if (load_now_ns() > deadline) {
			fprintf(stderr, "bench-notify: the router applied %"
				PRIu64 " of %" PRIu64 ", the deadline daemon "
				"%" PRIu64 " of %" PRIu64 " in time\n",
				applied, seq, dl, *router_last);
			return -ETIMEDOUT;
		}
		env_wait(e, 20);
	}
}

/* ---- throughput ---- */

struct sample {
	double t;		/* s since notify's exec */
	uint64_t hooks, mails;
};

struct tp_result {
	bool ran, measured, ok;	/* measured: every figure below is in */
	uint64_t n;
	bool hook, mail;
	double submit_s, route_s;
	int64_t ready_ns, ingest_ns, hook_done_ns, mail_done_ns, outbox_ns;
	int64_t hook_first_ns, hook_last_ns, mail_first_ns, mail_last_ns;
	uint64_t hooks, mails, rcpts, hook_refused, mail_refused;
	uint64_t conns_http, conns_smtp;
	uint64_t rows[OUTBOX_CHANNELS][OUTBOX_STATES];
	uint64_t alerts;
	double notify_cpu, sinks_cpu;
	struct sample timeline[TIMELINE_MAX];
	size_t ntimeline;
};

static int run_throughput(struct bench *b, enum run run, struct tp_result *res)
{
	static const int first[] = { D_INTAKE, D_ROUTER, D_DEADLINE };
	const struct options *o = b->opt;
	int64_t deadline = load_now_ns() + (int64_t)(o->timeout * 1e9);
	uint64_t max_seq = 0, router_last = 0, applied = 0, due = 1;
	uint64_t h0, m0, r0, hr0, mr0, ch0, cm0;
	int64_t t0, exec, next_store = 0, next_sample;
	double sinks_cpu0;
	struct daemon *nd;
	struct env *e;
	int r;

	res->ran = true;
	res->n = o->backlog;
	res->hook = run == RUN_WEBHOOK || run == RUN_BOTH;
	res->mail = run == RUN_EMAIL || run == RUN_BOTH;
	/* A sink of its own: counters and first instants from zero. */
	r = sinks_start(b, run);
	if (r < 0) {
		fprintf(stderr, "bench-notify: bench-sinks: %s\n",
			strerror(-r));
		return r;
	}
	r = env_create(b, run, o->dests, &e);
	if (r < 0) {
		fprintf(stderr, "bench-notify: %s: %s\n", run_names[run],
			strerror(-r));
		return r;
	}
	nd = &e->d[D_NOTIFY];
	r = start_daemons(b, e, first, 3, deadline);
	if (r < 0)
		return r;

	/* 1. The backlog, with baton-notify not running. */
	printf("%s: submitting %" PRIu64 " reports...\n", run_names[run],
	       o->backlog);
	fflush(stdout);
	t0 = load_now_ns();
	r = submit_backlog(b, e, o->backlog, &max_seq, deadline);
	if (r < 0)
		return r;
	res->submit_s = secs(load_now_ns() - t0);
	r = wait_routed(e, max_seq, &router_last, deadline);
	if (r < 0)
		return r;
	res->route_s = secs(load_now_ns() - t0);

	/* 2. baton-notify on it. */
	h0 = SINK(b, http_requests);
	m0 = SINK(b, smtp_messages);
	r0 = SINK(b, smtp_recipients);
	hr0 = SINK(b, http_refused);
	mr0 = SINK(b, smtp_refused);
	ch0 = SINK(b, conns_http);
	cm0 = SINK(b, conns_smtp);
	sinks_cpu0 = harness_cpu_seconds(b->sinks.pid);
	printf("%s: %" PRIu64 " tasks routed in %.2f s; starting "
	       "baton-notify...\n", run_names[run], router_last,
	       res->route_s);
	fflush(stdout);
	r = daemon_start(e, nd, o->notify_log);
	if (r < 0)
		return r;
	exec = nd->h.exec_ns;
	next_sample = exec + NS;
	for (;;) {
		int64_t now;
		uint64_t h, m;

		r = env_pump(e);
		if (r < 0)
			return r;
		now = load_now_ns();
		if (nd->h.ready_ns && !res->ready_ns)
			res->ready_ns = nd->h.ready_ns - exec;
		h = SINK(b, http_requests) - h0;
		m = SINK(b, smtp_messages) - m0;
		if (res->hook && !res->hook_done_ns && h >= o->backlog)
			res->hook_done_ns = now - exec;
		if (res->mail && !res->mail_done_ns && m >= o->backlog)
			res->mail_done_ns = now - exec;
		if (now >= next_sample && res->ntimeline < TIMELINE_MAX) {
			res->timeline[res->ntimeline++] = (struct sample){
				.t = secs(now - exec), .hooks = h, .mails = m,
			};
			next_sample += NS;
		}
		if (now >= next_store) {
			next_store = now + STORE_EVERY_NS;
			if (!res->ingest_ns &&
			    read_seqs(e, D_NOTIFY, "router", &applied,
				      NULL) == 0 && applied >= router_last)
				res->ingest_ns = now - exec;
			if (res->ingest_ns &&
			    (!res->hook || res->hook_done_ns) &&
			    (!res->mail || res->mail_done_ns) &&
			    read_outbox(e, NULL, &due, NULL) == 0 &&
			    due == 0) {
				res->outbox_ns = now - exec;
				break;
			}
		}
		if (now > deadline) {
			fprintf(stderr, "bench-notify: %s: not done in time: "
				"%" PRIu64 " webhooks, %" PRIu64 " emails of %"
				PRIu64 "; notify applied router seq %" PRIu64
				" of %" PRIu64 ", %" PRIu64 " due (notify "
				"says: %s)\n", run_names[run], h, m,
				o->backlog, applied, router_last, due,
				nd->h.status);
			show_log(nd);
			return -ETIMEDOUT;
		}
		env_wait(e, POLL_MS);
	}
	res->notify_cpu = harness_cpu_seconds(nd->h.pid);
	res->sinks_cpu = harness_cpu_seconds(b->sinks.pid) - sinks_cpu0;
	res->hooks = SINK(b, http_requests) - h0;
	res->mails = SINK(b, smtp_messages) - m0;
	res->rcpts = SINK(b, smtp_recipients) - r0;
	res->hook_refused = SINK(b, http_refused) - hr0;
	res->mail_refused = SINK(b, smtp_refused) - mr0;
	res->conns_http = SINK(b, conns_http) - ch0;
	res->conns_smtp = SINK(b, conns_smtp) - cm0;
	if (res->hook) {
		res->hook_first_ns = SINK(b, http_first_ns) - exec;
		res->hook_last_ns = SINK(b, http_last_ns) - exec;
	}
	if (res->mail) {
		res->mail_first_ns = SINK(b, smtp_first_ns) - exec;
		res->mail_last_ns = SINK(b, smtp_last_ns) - exec;
	}
	r = read_outbox(e, res->rows, &due, &res->alerts);
	if (r < 0) {
		fprintf(stderr, "bench-notify: reading the outbox: %s\n",
			strerror(-r));
		return r;
	}
	res->measured = true;
	/* Every delivery the run asked for is sent, once. */
	res->ok = res->alerts == o->backlog &&
		  res->rows[OUTBOX_FEED][OUTBOX_SENT] == o->backlog &&
		  res->rows[OUTBOX_JOURNAL][OUTBOX_SENT] == o->backlog &&
		  res->rows[OUTBOX_WEBHOOK][OUTBOX_SENT] ==
		  (res->hook ? o->backlog : 0) &&
		  res->rows[OUTBOX_EMAIL][OUTBOX_SENT] ==
		  (res->mail ? o->backlog : 0) &&
		  res->hooks == (res->hook ? o->backlog : 0) &&
		  res->mails == (res->mail ? o->backlog : 0);
	r = env_free(b, e);
	sinks_stop(b);
	return r;
}

/* ---- latency ---- */

/* What the feed thread records, indexed by intake sequence. */
struct feed {
	void *zctx;
	const struct env *e;
	bool stages;
	uint64_t max_seq;
	int64_t *feed_ns;	/* alert on the feed */
	int64_t *intake_ns;	/* report.accepted on intake's PUB */
	int64_t *router_ns;	/* task.created on the router's PUB */
	uint64_t received, duplicates, other;
	int ready;		/* sockets connected: atomic */
	int stop;		/* atomic */
	int failed;
};

struct lat_result {
	bool ran, done;		/* done: every figure below is in */
	uint64_t total, measured, acked, nacked, unanswered, missing;
	uint64_t feed_received, feed_duplicates, feed_other;
	double send_rate;		/* achieved, measured window */
	int64_t send_late_p99, send_late_max;	/* behind schedule, ns */
	int64_t q_ack[6], q_send[6], q_rtt[6];	/* p50 p90 p99 p99.9 max */
	int64_t q_stage[3][6];		/* send->intake pub, ->router, ->feed */
	uint64_t nstage;
	double cpu[ND];
	double cpu_self;		/* this program, its threads */
	double cpu_machine;		/* every process */
	double window_s;
	uint64_t probes;
};

static const double quantiles[] = { 0.50, 0.90, 0.99, 0.999, 1.0 };
#define NQ	5

/* The seq in "T-<seq>/<plan>/assigned" or "T-<seq>"; 0 if not. */
static uint64_t task_seq(const char *s)
{
	uint64_t v = 0;

	if (!s || s[0] != 'T' || s[1] != '-' || s[2] < '0' || s[2] > '9')
		return 0;
	for (s += 2; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (uint64_t)(*s - '0');
	return *s == '\0' || *s == '/' ? v : 0;
}

static void stamp(int64_t *slot, int64_t t, uint64_t *dup)
{
	if (__atomic_load_n(slot, __ATOMIC_RELAXED))
		(*dup)++;
	else
		__atomic_store_n(slot, t, __ATOMIC_RELEASE);
}

/* Read one message of up to 3 frames; the time its first frame came. */
static int recv_parts(void *sock, zmq_msg_t part[3], int *n, int64_t *at)
{
	int more = 1;
	size_t sz = sizeof(more);

	*n = 0;
	while (more) {
		zmq_msg_t extra, *p = *n < 3 ? &part[*n] : &extra;

		zmq_msg_init(p);
		if (zmq_msg_recv(p, sock, *n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
			zmq_msg_close(p);
			return *n == 0 ? -1 : 0;
		}
		if (*n == 0)
			*at = load_now_ns();
		zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz);
		if (p == &extra)
			zmq_msg_close(p);
		else
			(*n)++;
	}
	return 0;
}

static void close_parts(zmq_msg_t part[3], int n)
{
	for (int i = 0; i < n; i++)
		zmq_msg_close(&part[i]);
}

/* topic, body: the office feed. */
static void on_feed(struct feed *f, void *sock)
{
	zmq_msg_t part[3];
	int64_t at = 0;
	int n;

	while (recv_parts(sock, part, &n, &at) == 0) {
		struct msg m = { 0 };
		uint64_t seq = 0;

		if (n == 2 && msg_decode_event("alert.task-assigned", 19,
					       zmq_msg_data(&part[1]),
					       zmq_msg_size(&part[1]), &m,
					       NULL) == 0)
			seq = task_seq(m.alert_id);
		msg_free(&m);
		if (seq > 0 && seq <= f->max_seq) {
			f->received++;
			stamp(&f->feed_ns[seq], at, &f->duplicates);
		} else {
			f->other++;
		}
		close_parts(part, n);
	}
}

/* topic, seq, body: a bus event. */
static void on_tap(struct feed *f, void *sock, bool router)
{
	zmq_msg_t part[3];
	int64_t at = 0;
	int n;

	while (recv_parts(sock, part, &n, &at) == 0) {
		uint64_t seq = 0, dup = 0;

		if (n == 3 && zmq_msg_size(&part[1]) == 8) {
			seq = store_u64_from(zmq_msg_data(&part[1]));
			if (router) {
				struct msg m = { 0 };

				if (msg_decode_event(zmq_msg_data(&part[0]),
						     zmq_msg_size(&part[0]),
						     zmq_msg_data(&part[2]),
						     zmq_msg_size(&part[2]),
						     &m, NULL) == 0)
					seq = task_seq(m.task);
				else
					seq = 0;
				msg_free(&m);
			}
		}
		if (seq > 0 && seq <= f->max_seq)
			stamp(router ? &f->router_ns[seq] : &f->intake_ns[seq],
			      at, &dup);
		close_parts(part, n);
	}
}

static void *sub(struct feed *f, const char *ep, const char *prefix)
{
	int zero = 0;
	void *s = zmq_socket(f->zctx, ZMQ_SUB);

	if (!s)
		return NULL;
	/* Keep everything: a full queue here would drop what is measured. */
	zmq_setsockopt(s, ZMQ_RCVHWM, &zero, sizeof(zero));
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(s, ZMQ_SUBSCRIBE, prefix, strlen(prefix));
	if (zmq_connect(s, ep) < 0) {
		zmq_close(s);
		return NULL;
	}
	return s;
}

static void *feed_main(void *arg)
{
	struct feed *f = arg;
	void *socks[3] = { NULL, NULL, NULL };
	int n = f->stages ? 3 : 1;

	socks[0] = sub(f, f->e->conf->notify.feed, "alert.task-assigned.");
	if (f->stages) {
		socks[1] = sub(f, f->e->conf->intake.publish,
			       "report.accepted");
		socks[2] = sub(f, f->e->conf->router.publish, "task.created");
	}
	for (int i = 0; i < n; i++)
		if (!socks[i])
			f->failed = 1;
	__atomic_store_n(&f->ready, 1, __ATOMIC_RELEASE);
	while (!f->failed && !__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
		zmq_pollitem_t it[3];

		for (int i = 0; i < n; i++)
			it[i] = (zmq_pollitem_t){ .socket = socks[i],
						  .events = ZMQ_POLLIN };
		if (zmq_poll(it, n, 100) <= 0)
			continue;
		if (it[0].revents)
			on_feed(f, socks[0]);
		if (n > 1 && it[1].revents)
			on_tap(f, socks[1], false);
		if (n > 2 && it[2].revents)
			on_tap(f, socks[2], true);
	}
	for (int i = 0; i < 3; i++)
		if (socks[i])
			zmq_close(socks[i]);
	return NULL;
}

/* The sender's side, indexed by report number (1..total). */
struct sender {
	struct report rp;
	void *socks[MAX_CLIENTS];
	int fds[MAX_CLIENTS];
	unsigned n;
	int64_t *sched_ns, *sent_ns, *ack_ns;
	uint64_t *seq;
	uint64_t total, sent, acked, nacked, bad;
};

/* Read every answer waiting on every DEALER. */
static void drain_answers(struct sender *s)
{
	zmq_msg_t msg;

	zmq_msg_init(&msg);
	for (unsigned i = 0; i < s->n; i++) {
		while (zmq_msg_recv(&msg, s->socks[i], ZMQ_DONTWAIT) >= 0) {
			int64_t at = load_now_ns();
			uint64_t k, seq;
			int a = answer(&s->rp, zmq_msg_data(&msg),
				       zmq_msg_size(&msg), &k, &seq);

			if (a < 0 || k == 0 || k > s->total || s->ack_ns[k]) {
				s->bad++;
				continue;
			}
			s->ack_ns[k] = at;
			s->seq[k] = seq;
			if (a == 1)
				s->acked++;
			else
				s->nacked++;
		}
	}
	zmq_msg_close(&msg);
}

/* Send report k now on its client's socket. */
static int send_report(struct sender *s, uint64_t k)
{
	void *sock = s->socks[k % s->n];

	report_set(&s->rp, k);
	s->sent_ns[k] = load_now_ns();
	if (zmq_send(sock, s->rp.buf, s->rp.len, ZMQ_DONTWAIT) < 0) {
		s->sent_ns[k] = 0;
		return -errno;
	}
	s->sent++;
	return 0;
}

/*
 * Sleep until until_ns at most (POLL_MS at most), waking for answers. The
 * daemons' notify sockets are read by env_pump() every POLL_MS instead:
 * a STATUS= datagram would wake this at once, and again, until then.
 */
static void sender_wait(struct sender *s, int64_t until_ns)
{
	struct pollfd p[MAX_CLIENTS];
	int64_t left = until_ns - load_now_ns();
	struct timespec ts;
	unsigned n = 0;

	if (left <= 0)
		return;
	if (left > POLL_MS * INT64_C(1000000))
		left = POLL_MS * INT64_C(1000000);
	ts.tv_sec = (time_t)(left / NS);
	ts.tv_nsec = (long)(left % NS);
	for (unsigned i = 0; i < s->n; i++)
		p[n++] = (struct pollfd){ .fd = s->fds[i], .events = POLLIN };
	ppoll(p, n, &ts, NULL);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank quantiles of v[0..n) (sorted here) into q[NQ]. */
static void quantiles_of(int64_t *v, size_t n, int64_t *q)
{
	qsort(v, n, sizeof(*v), cmp_i64);
	for (int i = 0; i < NQ; i++) {
		size_t rank = (size_t)(quantiles[i] * (double)n + 0.999999);

		if (n == 0) {
			q[i] = 0;
			continue;
		}
		if (rank < 1)
			rank = 1;
		q[i] = v[rank > n ? n - 1 : rank - 1];
	}
}

static int write_samples(const struct bench *b, const struct sender *s,
			 const struct feed *f, int64_t t0)
{
	FILE *out = fopen(b->opt->samples, "we");

	if (!out)
		return -errno;
	fprintf(out, "# report seq sched_us sent_us ack_us feed_us "
		"intake_pub_us router_pub_us (since the first send; -1: "
		"none)\n");
	for (uint64_t k = 1; k <= s->total; k++) {
		uint64_t q = s->seq[k];
		int64_t fe = q && q <= f->max_seq ? f->feed_ns[q] : 0;
		int64_t in = q && q <= f->max_seq && f->intake_ns ?
			     f->intake_ns[q] : 0;
		int64_t ro = q && q <= f->max_seq && f->router_ns ?
			     f->router_ns[q] : 0;

#define US(x) ((x) ? ((x) - t0) / 1000 : -1)
		fprintf(out, "%" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64
			" %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 "\n",
			k, q, US(s->sched_ns[k]), US(s->sent_ns[k]),
			US(s->ack_ns[k]), US(fe), US(in), US(ro));
#undef US
	}
	return fclose(out) == 0 ? 0 : -errno;
}

static int run_latency(struct bench *b, struct lat_result *res)
{
	static const int all[] = { D_INTAKE, D_ROUTER, D_DEADLINE, D_NOTIFY };
	const struct options *o = b->opt;
	int64_t deadline = load_now_ns() + (int64_t)(o->timeout * 1e9);
	int64_t t0, t_measure, t_end, last_feed, next_pump, *lat = NULL;
	struct sender s = { 0 };
	struct feed f = { 0 };
	pthread_t thread;
	bool thread_started = false;
	double cpu0[ND] = { 0 }, self0 = 0, machine0 = 0;
	bool cpu_taken = false;
	uint64_t last_received = 0, probe_seq = 0, k;
	struct env *e;
	int r;

	res->ran = true;
	r = env_create(b, RUN_LATENCY, 1, &e);
	if (r < 0) {
		fprintf(stderr, "bench-notify: latency: %s\n", strerror(-r));
		return r;
	}
	r = start_daemons(b, e, all, ND, deadline);
	if (r < 0)
		return r;

	s.total = (uint64_t)(o->rate * (o->warmup + o->seconds));
	s.n = o->clients;
	res->total = s.total;
	s.sched_ns = calloc(s.total + 1, sizeof(int64_t));
	s.sent_ns = calloc(s.total + 1, sizeof(int64_t));
	s.ack_ns = calloc(s.total + 1, sizeof(int64_t));
	s.seq = calloc(s.total + 1, sizeof(uint64_t));
	f.max_seq = s.total + PROBES_MAX + 64;
	f.feed_ns = calloc(f.max_seq + 1, sizeof(int64_t));
	if (o->stages) {
		f.intake_ns = calloc(f.max_seq + 1, sizeof(int64_t));
		f.router_ns = calloc(f.max_seq + 1, sizeof(int64_t));
	}
	lat = calloc(s.total + 1, sizeof(int64_t));
	if (!s.sched_ns || !s.sent_ns || !s.ack_ns || !s.seq || !f.feed_ns ||
	    !lat || (o->stages && (!f.intake_ns || !f.router_ns))) {
		r = -ENOMEM;
		goto out;
	}
	r = report_build(&s.rp, "l", 0);
	for (unsigned i = 0; r == 0 && i < s.n; i++) {
		size_t sz = sizeof(s.fds[i]);

		s.socks[i] = dealer(b, e);
		if (!s.socks[i] || zmq_getsockopt(s.socks[i], ZMQ_FD,
						  &s.fds[i], &sz) < 0)
			r = -EIO;
	}
	if (r < 0)
		goto out;

	/* The feed's subscriber, in a thread of its own. */
	f.zctx = b->zctx;
	f.e = e;
	f.stages = o->stages;
	r = -pthread_create(&thread, NULL, feed_main, &f);
	if (r < 0)
		goto out;
	thread_started = true;
	while (!__atomic_load_n(&f.ready, __ATOMIC_ACQUIRE))
		usleep(1000);
	if (f.failed) {
		r = -EIO;
		goto out;
	}

	/*
	 * Probes, one at a time, until one comes out on the feed (and on
	 * the taps): every subscription is then in place. Their numbers
	 * are past the run's, so they never count.
	 */
	for (res->probes = 1; res->probes <= PROBES_MAX; res->probes++) {
		int64_t until = load_now_ns() + NS;
		bool seen = false;

		report_set(&s.rp, 900000000000 + res->probes);
		if (zmq_send(s.socks[0], s.rp.buf, s.rp.len, 0) < 0) {
			r = -errno;
			goto out;
		}
		while (!seen && load_now_ns() < until) {
			zmq_msg_t msg;
			zmq_pollitem_t it = { .socket = s.socks[0],
					      .events = ZMQ_POLLIN };

			r = env_pump(e);
			if (r < 0)
				goto out;
			if (!probe_seq && zmq_poll(&it, 1, POLL_MS) > 0) {
				zmq_msg_init(&msg);
				if (zmq_msg_recv(&msg, s.socks[0],
						 ZMQ_DONTWAIT) >= 0) {
					uint64_t kk;

					if (answer(&s.rp, zmq_msg_data(&msg),
						   zmq_msg_size(&msg), &kk,
						   &probe_seq) != 1)
						probe_seq = 0;
				}
				zmq_msg_close(&msg);
				continue;
			}
			if (probe_seq && probe_seq <= f.max_seq &&
			    __atomic_load_n(&f.feed_ns[probe_seq],
					    __ATOMIC_ACQUIRE) &&
			    (!o->stages ||
			     (__atomic_load_n(&f.intake_ns[probe_seq],
					      __ATOMIC_ACQUIRE) &&
			      __atomic_load_n(&f.router_ns[probe_seq],
					      __ATOMIC_ACQUIRE))))
				seen = true;
			else
				usleep(2000);
		}
		probe_seq = 0;
		if (seen)
			break;
	}
	if (res->probes > PROBES_MAX) {
		fprintf(stderr, "bench-notify: no probe came out on the "
			"feed\n");
		r = -ETIMEDOUT;
		goto out;
	}
	printf("latency: feed subscribed after %" PRIu64 " probe(s); sending "
	       "%" PRIu64 " reports at %.0f/s on %u DEALER(s)...\n",
	       res->probes, s.total, o->rate, s.n);
	fflush(stdout);

	/* The run: report k is due at t0 + (k - 1) / rate, whatever else. */
	t0 = load_now_ns() + 2000000;
	t_measure = t0 + (int64_t)(o->warmup * 1e9);
	t_end = t0 + (int64_t)((double)s.total * 1e9 / o->rate);
	for (k = 1; k <= s.total; k++)
		s.sched_ns[k] = t0 + (int64_t)((double)(k - 1) * 1e9 /
					       o->rate);
	k = 1;
	next_pump = 0;
	while (k <= s.total) {
		int64_t now = load_now_ns();
		unsigned burst = 0;

		if (!cpu_taken && now >= t_measure) {
			for (int i = 0; i < ND; i++)
				cpu0[i] = harness_cpu_seconds(e->d[i].h.pid);
			self0 = harness_cpu_seconds(getpid());
			machine0 = machine_busy_seconds();
			cpu_taken = true;
		}
		while (k <= s.total && s.sched_ns[k] <= now &&
		       burst++ < BURST_MAX) {
			r = send_report(&s, k);
			if (r == -EAGAIN)
				break;		/* the queue is full: later */
			if (r < 0) {
				fprintf(stderr, "bench-notify: send: %s\n",
					zmq_strerror(-r));
				goto out;
			}
			k++;
		}
		drain_answers(&s);
		if (now >= next_pump) {
			next_pump = now + POLL_MS * INT64_C(1000000);
			r = env_pump(e);
			if (r < 0)
				goto out;
			if (now > deadline) {
				r = -ETIMEDOUT;
				goto out;
			}
		}
		if (k <= s.total)
			sender_wait(&s, s.sched_ns[k]);
	}
	for (int i = 0; i < ND; i++)
		res->cpu[i] = harness_cpu_seconds(e->d[i].h.pid) - cpu0[i];
	res->cpu_self = harness_cpu_seconds(getpid()) - self0;
	res->cpu_machine = machine_busy_seconds() - machine0;
	res->window_s = secs(load_now_ns() - t_measure);

	/* Every answer, then every alert (or none for FEED_QUIET_NS). */
	while (s.acked + s.nacked < s.sent && load_now_ns() < t_end +
	       ACK_DRAIN_NS) {
		drain_answers(&s);
		r = env_pump(e);
		if (r < 0)
			goto out;
		sender_wait(&s, load_now_ns() + POLL_MS * INT64_C(1000000));
	}
	last_feed = load_now_ns();
	for (;;) {
		uint64_t got = __atomic_load_n(&f.received, __ATOMIC_RELAXED);

		if (got != last_received) {
			last_received = got;
			last_feed = load_now_ns();
		}
		if (got >= s.acked + res->probes ||
		    load_now_ns() - last_feed > FEED_QUIET_NS ||
		    load_now_ns() > deadline)
			break;
		r = env_pump(e);
		if (r < 0)
			goto out;
		env_wait(e, POLL_MS);
	}
	__atomic_store_n(&f.stop, 1, __ATOMIC_RELEASE);
	pthread_join(thread, NULL);
	thread_started = false;

	/* ---- figures ---- */
	{
		int64_t *ack = lat, *snd, *rtt, *late, *st[3];
		size_t n = 0, ns = 0;
		uint64_t sent_measured = 0;

		snd = calloc(s.total + 1, sizeof(int64_t));
		rtt = calloc(s.total + 1, sizeof(int64_t));
		late = calloc(s.total + 1, sizeof(int64_t));
		for (int i = 0; i < 3; i++)
			st[i] = o->stages ? calloc(s.total + 1,
						   sizeof(int64_t)) : NULL;
		if (!snd || !rtt || !late ||
		    (o->stages && (!st[0] || !st[1] || !st[2]))) {
			free(snd);
			free(rtt);
			free(late);
			for (int i = 0; i < 3; i++)
				free(st[i]);
			r = -ENOMEM;
			goto out;
		}
		for (k = 1; k <= s.total; k++) {
			uint64_t q = s.seq[k];
			int64_t fe;

			if (s.sched_ns[k] < t_measure)
				continue;
			res->measured++;
			if (!s.sent_ns[k])
				continue;
			sent_measured++;
			late[sent_measured - 1] = s.sent_ns[k] - s.sched_ns[k];
			if (!s.ack_ns[k]) {
				res->unanswered++;
				continue;
			}
			if (!q || q > f.max_seq) {
				res->nacked++;
				continue;
			}
			res->acked++;
			fe = f.feed_ns[q];
			if (!fe) {
				res->missing++;
				continue;
			}
			ack[n] = fe - s.ack_ns[k];
			snd[n] = fe - s.sent_ns[k];
			rtt[n] = s.ack_ns[k] - s.sent_ns[k];
			n++;
			if (o->stages && f.intake_ns[q] && f.router_ns[q]) {
				st[0][ns] = f.intake_ns[q] - s.sent_ns[k];
				st[1][ns] = f.router_ns[q] - f.intake_ns[q];
				st[2][ns] = fe - f.router_ns[q];
				ns++;
			}
		}
		quantiles_of(ack, n, res->q_ack);
		quantiles_of(snd, n, res->q_send);
		quantiles_of(rtt, n, res->q_rtt);
		{
			int64_t q[NQ];

			quantiles_of(late, sent_measured, q);
			res->send_late_p99 = q[2];
			res->send_late_max = q[4];
		}
		for (int i = 0; o->stages && i < 3; i++)
			quantiles_of(st[i], ns, res->q_stage[i]);
		res->nstage = ns;
		res->done = true;
		res->send_rate = (double)sent_measured / o->seconds;
		res->feed_received = f.received;
		res->feed_duplicates = f.duplicates;
		res->feed_other = f.other;
		free(snd);
		free(rtt);
		free(late);
		for (int i = 0; i < 3; i++)
			free(st[i]);
	}
	if (o->samples) {
		r = write_samples(b, &s, &f, t0);
		if (r < 0)
			fprintf(stderr, "bench-notify: %s: %s\n", o->samples,
				strerror(-r));
	}
	r = 0;
out:
	if (thread_started) {
		__atomic_store_n(&f.stop, 1, __ATOMIC_RELEASE);
		pthread_join(thread, NULL);
	}
	for (unsigned i = 0; i < s.n; i++)
		if (s.socks[i])
			zmq_close(s.socks[i]);
	free(s.rp.buf);
	free(s.sched_ns);
	free(s.sent_ns);
	free(s.ack_ns);
	free(s.seq);
	free(f.feed_ns);
	free(f.intake_ns);
	free(f.router_ns);
	free(lat);
	if (r < 0)
		return r;
	return env_free(b, e);
}

/* ---- the report ---- */

static double rate(uint64_t n, int64_t ns)
{
	return ns > 0 ? (double)n / secs(ns) : 0;
}

static void print_throughput(const struct bench *b, enum run run,
			     const struct tp_result *t)
{
	static const char *states[] = { "pending", "sent", "retrying",
					"dead" };
	const char *ch[] = { "feed", "journal", "email", "webhook" };
	size_t step;

	printf("%s: %" PRIu64 " task-assigned alerts to %u agenc%s (%s%s%s), "
	       "backlog submitted in %.2f s, routed by %.2f s\n",
	       run_names[run], t->n, b->opt->dests,
	       b->opt->dests == 1 ? "y" : "ies", t->hook ? "webhook" : "",
	       t->hook && t->mail ? " + " : "", t->mail ? "email" : "",
	       t->submit_s, t->route_s);
	printf("  baton-notify from exec: READY=1 %.1f ms, all %" PRIu64
	       " events applied %.2f s, outbox empty %.2f s\n",
	       msec(t->ready_ns), t->n, secs(t->ingest_ns),
	       secs(t->outbox_ns));
	if (t->hook)
		printf("  webhooks  %7" PRIu64 " at the sink, first %.2f s, "
		       "last %.2f s from exec: %.0f/s from exec, %.0f/s "
		       "first to last; %" PRIu64 " connections, %" PRIu64
		       " refused\n", t->hooks, secs(t->hook_first_ns),
		       secs(t->hook_last_ns), rate(t->hooks, t->hook_last_ns),
		       rate(t->hooks > 0 ? t->hooks - 1 : 0,
			    t->hook_last_ns - t->hook_first_ns),
		       t->conns_http, t->hook_refused);
	if (t->mail)
		printf("  emails    %7" PRIu64 " at the sink (%" PRIu64
		       " recipients), first %.2f s, last %.2f s from exec: "
		       "%.0f/s from exec, %.0f/s first to last; %" PRIu64
		       " connections, %" PRIu64 " refused\n", t->mails,
		       t->rcpts, secs(t->mail_first_ns),
		       secs(t->mail_last_ns), rate(t->mails, t->mail_last_ns),
		       rate(t->mails > 0 ? t->mails - 1 : 0,
			    t->mail_last_ns - t->mail_first_ns),
		       t->conns_smtp, t->mail_refused);
	printf("  CPU: baton-notify %.2f s (%.0f%% of one CPU from exec to "
	       "empty), bench-sinks %.2f s\n", t->notify_cpu,
	       t->outbox_ns ? 100.0 * t->notify_cpu / secs(t->outbox_ns) : 0,
	       t->sinks_cpu);
	printf("  outbox: %" PRIu64 " alerts;", t->alerts);
	for (int c = 0; c < OUTBOX_CHANNELS; c++) {
		bool any = false;

		for (int s = 0; s < OUTBOX_STATES; s++)
			if (t->rows[c][s]) {
				printf("%s %s %" PRIu64, any ? "," : "", any ?
				       states[s] : ch[c], t->rows[c][s]);
				if (!any)
					printf(" %s", states[s]);
				any = true;
			}
		if (any)
			printf(";");
	}
	printf(" %s\n", t->ok ? "every delivery sent once" :
	       "NOT every delivery sent exactly once");
	/* At most about 20 samples: a long run is shown every k seconds. */
	step = t->ntimeline > 20 ? (t->ntimeline + 19) / 20 : 1;
	printf("  at the sink (webhooks/emails), every %zu s from exec:",
	       step);
	for (size_t i = step - 1; i < t->ntimeline; i += step)
		printf(" %" PRIu64 "/%" PRIu64,
		       t->hooks ? t->timeline[i].hooks : 0,
		       t->mails ? t->timeline[i].mails : 0);
	printf("\n");
}

static void print_q(const char *what, const int64_t *q)
{
	printf("  %-34s p50 %7.3f  p90 %7.3f  p99 %7.3f  p99.9 %7.3f  max "
	       "%8.3f ms\n", what, msec(q[0]), msec(q[1]), msec(q[2]),
	       msec(q[3]), msec(q[4]));
}

/* The machine's busy time in the window that was not ours. */
static double others(const struct lat_result *l)
{
	double ours = l->cpu_self;

	for (int i = 0; i < ND; i++)
		ours += l->cpu[i];
	return l->cpu_machine > ours ? l->cpu_machine - ours : 0;
}

static void print_latency(const struct bench *b, const struct lat_result *l)
{
	const struct options *o = b->opt;

	printf("latency: %.0f reports/s for %.1f s after %.1f s of warm-up "
	       "(%" PRIu64 " reports, %" PRIu64 " measured) on %u DEALER(s); "
	       "bench-a takes the feed only; baton-notify's log: %s\n",
	       o->rate, o->seconds, o->warmup, l->total, l->measured,
	       o->clients, o->notify_log ? o->notify_log : "a file");
	if (o->no_intake)
		printf("  DIAGNOSIS: baton-notify does not follow intake's "
		       "events (--notify-without-intake)\n");
	if (o->stages)
		printf("  with --stages: two more subscribers, on intake's and "
		       "the router's events\n");
	printf("  sent %.0f/s in the window; behind schedule p99 %.3f ms, max "
	       "%.3f ms\n", l->send_rate, msec(l->send_late_p99),
	       msec(l->send_late_max));
	printf("  measured: %" PRIu64 " acknowledged, %" PRIu64 " refused, %"
	       PRIu64 " unanswered, %" PRIu64 " never on the feed; the feed "
	       "carried %" PRIu64 " (%" PRIu64 " twice, %" PRIu64 " other)\n",
	       l->acked, l->nacked, l->unanswered, l->missing,
	       l->feed_received, l->feed_duplicates, l->feed_other);
	print_q("feed - ACK received", l->q_ack);
	print_q("feed - report sent", l->q_send);
	print_q("ACK - report sent", l->q_rtt);
	if (o->stages && l->nstage) {
		printf("  stages (%" PRIu64 " reports seen on both taps):\n",
		       l->nstage);
		print_q("sent -> intake's report.accepted", l->q_stage[0]);
		print_q("-> router's task.created", l->q_stage[1]);
		print_q("-> alert on the feed", l->q_stage[2]);
	}
	printf("  CPU in the window (%% of one CPU): intake %.0f, router %.0f, "
	       "deadline %.0f, notify %.0f, bench-notify %.0f; the machine "
	       "%.0f of %ld, other processes %.0f\n",
	       100 * l->cpu[D_INTAKE] / l->window_s,
	       100 * l->cpu[D_ROUTER] / l->window_s,
	       100 * l->cpu[D_DEADLINE] / l->window_s,
	       100 * l->cpu[D_NOTIFY] / l->window_s,
	       100 * l->cpu_self / l->window_s,
	       100 * l->cpu_machine / l->window_s,
	       100 * sysconf(_SC_NPROCESSORS_ONLN),
	       100 * others(l) / l->window_s);
}

static void report(const struct bench *b, const struct tp_result *tp,
		   const struct lat_result *lat, int argc, char **argv)
{
	const struct options *o = b->opt;
	struct utsname u;

	uname(&u);
	printf("\n== bench-notify results\n");
	printf("command:");
	for (int i = 0; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\nmachine: %ld CPUs, %s %s, load average %s at the start; "
	       "state in %s\n", sysconf(_SC_NPROCESSORS_ONLN), u.sysname,
	       u.release, b->loadavg, b->dir);
	printf("daemons: %s/daemons/*/baton-*\n", b->build);
	for (int r = 0; r < RUN_LATENCY; r++)
		if (tp[r].measured)
			print_throughput(b, (enum run)r, &tp[r]);
	if (lat->done)
		print_latency(b, lat);
	if (lat->done) {
		double p99 = msec(lat->q_ack[2]);

		printf("aim\n  p99 feed - ACK under 5 ms at %.0f reports/s:  "
		       "%.3f ms  %s\n", o->rate, p99, p99 < 5 &&
		       lat->missing == 0 ? "met" : "NOT met");
	}
	printf("\n");
	for (int r = 0; r < RUN_LATENCY; r++) {
		const struct tp_result *t = &tp[r];

		if (!t->measured)
			continue;
		printf("notify-throughput run=%s n=%" PRIu64 " destinations=%u"
		       " webhooks=%"
		       PRIu64 " emails=%" PRIu64 " webhooks_per_s=%.0f "
		       "emails_per_s=%.0f webhooks_window_per_s=%.0f "
		       "emails_window_per_s=%.0f ready_ms=%.1f ingest_s=%.2f "
		       "outbox_empty_s=%.2f notify_cpu_s=%.2f ok=%d\n",
		       run_names[r], t->n, o->dests, t->hooks, t->mails,
		       t->hook ? rate(t->hooks, t->hook_last_ns) : 0,
		       t->mail ? rate(t->mails, t->mail_last_ns) : 0,
		       t->hook ? rate(t->hooks - 1, t->hook_last_ns -
				      t->hook_first_ns) : 0,
		       t->mail ? rate(t->mails - 1, t->mail_last_ns -
				      t->mail_first_ns) : 0,
		       msec(t->ready_ns), secs(t->ingest_ns),
		       secs(t->outbox_ns), t->notify_cpu, t->ok);
	}
	if (lat->done)
		printf("notify-latency rate=%.0f seconds=%g measured=%" PRIu64
		       " missing=%" PRIu64 " p50_ms=%.3f p90_ms=%.3f "
		       "p99_ms=%.3f p999_ms=%.3f max_ms=%.3f "
		       "send_p50_ms=%.3f send_p99_ms=%.3f ack_p99_ms=%.3f "
		       "others_cpu_pct=%.0f stages=%d notify_without_intake=%d\n",
		       o->rate, o->seconds, lat->measured, lat->missing,
		       msec(lat->q_ack[0]), msec(lat->q_ack[1]),
		       msec(lat->q_ack[2]), msec(lat->q_ack[3]),
		       msec(lat->q_ack[4]), msec(lat->q_send[0]),
		       msec(lat->q_send[2]), msec(lat->q_rtt[2]),
		       100 * others(lat) / lat->window_s, o->stages,
		       o->no_intake);
}

/* ---- options ---- */

static void usage(FILE *f)
{
	fprintf(f,
"usage: bench-notify [--backlog N] [--rate R] [--seconds S] [--warmup W]\n"
"                    [--clients C] [--runs LIST] [--window K]\n"
"                    [--destinations K] [--stages]\n"
"                    [--notify-without-intake] [--build DIR] [--dir DIR]\n"
"                    [--notify-log PATH] [--samples FILE] [--timeout S]\n"
"                    [-D]\n"
"\n"
"Run baton-intake, baton-router, baton-deadline and baton-notify against\n"
"bench-sinks (a webhook receiver and an SMTP server on 127.0.0.1), each run\n"
"in a fresh temporary directory:\n"
"  webhook, email, both  N reports (default 20000) routed while\n"
"           baton-notify is stopped, then baton-notify started on that\n"
"           backlog: webhooks and emails a second at the sink, until its\n"
"           outbox has nothing due; every row must be sent\n"
"  latency  R reports a second (default 5000) for W + S seconds (default\n"
"           1 + 10) on C DEALERs (default 4), open loop; the time from the\n"
"           ACK (and from the send) to the task-assigned alert on the\n"
"           office feed: p50, p90, p99, p99.9, max, and alerts missing\n"
"\n"
"  --runs LIST        comma-separated, of webhook,email,both,latency\n"
"                     (default all four, in that order)\n"
"  --window K         backlog reports in flight (default 256)\n"
"  --destinations K   webhook, email, both: spread the tasks over K\n"
"                     agencies (default 1), each with a webhook on a port\n"
"                     of its own: K destinations for baton-notify\n"
"  --stages           also time intake's and the router's events (two more\n"
"                     subscribers) to split the latency by stage\n"
"  --notify-without-intake  a diagnosis: baton-notify alone reads a\n"
"                     baton.conf whose intake endpoints lead nowhere, so\n"
"                     it does not follow intake's events (operators'\n"
"                     retry commands)\n"
"  --build DIR        the build directory (default: the one this program\n"
"                     is in): DIR/daemons/*/baton-*, DIR/bench/bench-sinks\n"
"  --dir DIR          where the temporary directory goes (default $TMPDIR,\n"
"                     else /tmp); ipc:// paths must stay short\n"
"  --notify-log PATH  baton-notify's stderr, with its journal line per\n"
"                     alert (default: a file in the run's directory)\n"
"  --samples FILE     latency: every report's instants, one line each\n"
"  --timeout S        give up on a run after S seconds (default 600)\n"
"  -D, --keep         keep the temporary directory\n"
"\n"
"Limits: N at most 1000000, R x (W + S) at most 600000. Exit status 0 if\n"
"every run was measured and every delivery made, whether or not the aim\n"
"was met (the results say); 1 otherwise.\n");
}

static int parse_runs(const char *s, bool *runs)
{
	char buf[128], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", s);
	memset(runs, 0, sizeof(bool) * NRUNS);
	for (char *w = strtok_r(buf, ",", &save); w;
	     w = strtok_r(NULL, ",", &save)) {
		int i;

		for (i = 0; i < NRUNS; i++)
			if (strcmp(w, run_names[i]) == 0)
				break;
		if (i == NRUNS) {
			fprintf(stderr, "bench-notify: --runs: unknown run "
				"'%s'\n", w);
			return -EINVAL;
		}
		runs[i] = true;
	}
	return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		{ "backlog", required_argument, NULL, 'n' },
		{ "window", required_argument, NULL, 'k' },
		{ "destinations", required_argument, NULL, 'K' },
		{ "rate", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 's' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "clients", required_argument, NULL, 'c' },
		{ "runs", required_argument, NULL, 'R' },
		{ "stages", no_argument, NULL, 'S' },
		{ "notify-without-intake", no_argument, NULL, 'I' },
		{ "build", required_argument, NULL, 'b' },
		{ "dir", required_argument, NULL, 'd' },
		{ "notify-log", required_argument, NULL, 'l' },
		{ "samples", required_argument, NULL, 'o' },
		{ "timeout", required_argument, NULL, 't' },
		{ "keep", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	double v;
	int c, r = 0;

	while (r == 0 && (c = getopt_long(argc, argv, "Dh", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			r = load_parse_number(PROG, "backlog", optarg, 1,
					      MAX_BACKLOG, &v);
			o->backlog = (uint64_t)v;
			break;
		case 'k':
			r = load_parse_number(PROG, "window", optarg, 1, 10000,
					      &v);
			o->window = (unsigned)v;
			break;
		case 'K':
			r = load_parse_number(PROG, "destinations", optarg, 1,
					      MAX_DESTS, &v);
			o->dests = (unsigned)v;
			break;
		case 'r':
			r = load_parse_number(PROG, "rate", optarg, 1, 200000,
					      &o->rate);
			break;
		case 's':
			r = load_parse_number(PROG, "seconds", optarg, 0.1, 600,
				      &o->seconds);
			break;
		case 'w':
			r = load_parse_number(PROG, "warmup", optarg, 0, 60,
					      &o->warmup);
			break;
		case 'c':
			r = load_parse_number(PROG, "clients", optarg, 1,
					      MAX_CLIENTS, &v);
			o->clients = (unsigned)v;
			break;
		case 'R':
			r = parse_runs(optarg, o->runs);
			break;
		case 'S':
			o->stages = true;
			break;
		case 'I':
			o->no_intake = true;
			break;
		case 'b':
			o->build = optarg;
			break;
		case 'd':
			o->dir = optarg;
			break;
		case 'l':
			o->notify_log = optarg;
			break;
		case 'o':
			o->samples = optarg;
			break;
		case 't':
			r = load_parse_number(PROG, "timeout", optarg, 1, 7200,
					      &o->timeout);
			break;
		case 'D':
			o->keep = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (r == 0 && optind != argc) {
		usage(stderr);
		return -EINVAL;
	}
	if (r == 0 && o->rate * (o->warmup + o->seconds) > MAX_REPORTS) {
		fprintf(stderr, "bench-notify: --rate x (--warmup + --seconds) "
			"is more than %d reports\n", MAX_REPORTS);
		return -EINVAL;
	}
	return r;
}

/* The build directory: --build, or the parent of this program's. */
static int find_build(struct bench *b)
{
	char self[PATH_MAX], *slash;
	int r;

	if (b->opt->build) {
		if (!realpath(b->opt->build, b->build))
			return -errno;
		return 0;
	}
	r = harness_exe_dir(self, sizeof(self));
	if (r < 0)
		return r;
	slash = strrchr(self, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	snprintf(b->build, sizeof(b->build), "%s", self);
	return 0;
}

static void cleanup(struct bench *b)
{
	env_free(b, b->env);
	sinks_stop(b);
	if (b->zctx)
		zmq_ctx_term(b->zctx);
	if (!b->dir[0])
		return;
	if (b->opt->keep)
		fprintf(stderr, "bench-notify: kept %s\n", b->dir);
	else
		harness_rmtree(b->dir);
}

int main(int argc, char **argv)
{
	struct options opt = {
		.backlog = 20000, .window = 256, .dests = 1, .rate = 5000,
		.seconds = 10,
		.warmup = 1, .clients = 4, .timeout = 600,
		.runs = { true, true, true, true },
	};
	struct bench b = { .opt = &opt, .sinks = { .out_fd = -1 } };
	static struct tp_result tp[RUN_LATENCY];
	struct lat_result lat = { 0 };
	bool any = false;
	int r = 0;

	if (parse_options(argc, argv, &opt) < 0)
		return 2;
	if (find_build(&b) < 0) {
		fprintf(stderr, "bench-notify: cannot find the build "
			"directory: say --build\n");
		return 1;
	}
	for (int i = 0; i < ND; i++) {
		char path[PATH_MAX];

		if (pathf(path, sizeof(path), "%s/daemons/%s/baton-%s",
			  b.build, dnames[i], dnames[i]) < 0 ||
		    access(path, X_OK) < 0) {
			fprintf(stderr, "bench-notify: %s: not built\n", path);
			return 1;
		}
	}
	if (pathf(b.sinks.bin, sizeof(b.sinks.bin), "%s/bench/bench-sinks",
		  b.build) < 0 || access(b.sinks.bin, X_OK) < 0) {
		fprintf(stderr, "bench-notify: %s: not built\n", b.sinks.bin);
		return 1;
	}
	if (harness_mkdtemp(PROG, opt.dir, "/latency/deadline.replay", b.dir,
			    sizeof(b.dir)) < 0)
		return 1;
	harness_signals(on_signal);
	harness_loadavg(b.loadavg, sizeof(b.loadavg));

	b.zctx = zmq_ctx_new();
	if (!b.zctx) {
		fprintf(stderr, "bench-notify: zmq_ctx_new: %s\n",
			strerror(errno));
		cleanup(&b);
		return 1;
	}
	for (int i = 0; r == 0 && i < RUN_LATENCY; i++) {
		if (!opt.runs[i])
			continue;
		r = run_throughput(&b, (enum run)i, &tp[i]);
		if (r == 0 && !tp[i].ok) {
			fprintf(stderr, "bench-notify: %s: not every delivery "
				"was made exactly once\n", run_names[i]);
			r = -EPROTO;
		}
	}
	if (r == 0 && opt.runs[RUN_LATENCY]) {
		r = run_latency(&b, &lat);
		if (r == 0 && lat.missing) {
			fprintf(stderr, "bench-notify: latency: %" PRIu64
				" alerts never came out on the feed\n",
				lat.missing);
			r = -EPROTO;
		}
	}
	for (int i = 0; i < RUN_LATENCY; i++)
		any |= tp[i].measured;
	if (any || lat.done)
		report(&b, tp, &lat, argc, argv);
	if (r == -EINTR)
		fprintf(stderr, "bench-notify: interrupted\n");
	cleanup(&b);
	return r == 0 ? 0 : 1;
}
