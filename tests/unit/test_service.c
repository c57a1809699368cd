/*
 * test_service.c - lib/service: the loop, signals and sd_notify, against a
 * real notify socket.
 *
 * Each test binds an AF_UNIX datagram socket in a temporary directory and
 * points $NOTIFY_SOCKET at it, so the test plays systemd and reads exactly
 * the datagrams systemd would. Signals are sent to ourselves with kill():
 * service_new() has blocked them, so they wait on the signalfd and arrive
 * through the loop like they would from systemd.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "config.h"
#include "service.h"
#include "testdir.h"
#include "time.h"

struct fixture {
	char dir[PATH_MAX];
	struct sockaddr_un addr;
	int nfd;			/* the systemd end of $NOTIFY_SOCKET */
	struct service *s;

	/* What the callbacks saw, for the tests to check. */
	int ticks;
	int64_t tick_at[16];
	int reloads;
	int events;
	short revents;
	int64_t start;
	void *zsock[2];
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);

	if (!fx || testdir_make(fx->dir, sizeof fx->dir, "test_service") < 0)
		return -1;
	fx->addr.sun_family = AF_UNIX;
	if (snprintf(fx->addr.sun_path, sizeof fx->addr.sun_path, "%s/notify",
		     fx->dir) >= (int)sizeof fx->addr.sun_path)
		return -1;
	fx->nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fx->nfd < 0 ||
	    bind(fx->nfd, (struct sockaddr *)&fx->addr, sizeof fx->addr) < 0)
		return -1;
	setenv("NOTIFY_SOCKET", fx->addr.sun_path, 1);
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	service_free(fx->s);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	close(fx->nfd);
	testdir_remove(fx->dir);
	free(fx);
	return 0;
}

/* ------------------------------------------------------- notify socket */

/* The next datagram, or NULL if none is waiting. */
static const char *next_msg(struct fixture *fx)
{
	static char buf[4096];
	ssize_t n = recv(fx->nfd, buf, sizeof buf - 1, 0);

	if (n < 0) {
		assert_int_equal(errno, EAGAIN);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

static void expect_msg(struct fixture *fx, const char *text)
{
	const char *msg = next_msg(fx);

	assert_non_null(msg);
	assert_string_equal(msg, text);
}

static void expect_no_msg(struct fixture *fx)
{
	assert_null(next_msg(fx));
}

static void new_service(struct fixture *fx)
{
	assert_int_equal(service_new(&fx->s), 0);
}

/* ----------------------------------------------------------- callbacks */

/* Record the call; stop after the fifth, ask for 50 ms in between. */
static int64_t tick_every_50ms(void *arg, int64_t now)
{
	struct fixture *fx = arg;

	fx->tick_at[fx->ticks++] = now;
	if (fx->ticks == 5)
		service_stop(fx->s);
	return 50;
}

/* First call: SIGTERM to ourselves. */
static int64_t tick_sigterm(void *arg, int64_t now)
{
	struct fixture *fx = arg;

	if (fx->ticks++ == 0)
		kill(getpid(), SIGTERM);
	return -1;
}

static int64_t tick_sigint(void *arg, int64_t now)
{
	struct fixture *fx = arg;

	if (fx->ticks++ == 0)
		kill(getpid(), SIGINT);
	return -1;
}

/* First call: SIGHUP; the call after the reload: SIGTERM. */
static int64_t tick_sighup_then_sigterm(void *arg, int64_t now)
{
	struct fixture *fx = arg;

	fx->ticks++;
	if (fx->reloads == 0)
		kill(getpid(), SIGHUP);
	else
		kill(getpid(), SIGTERM);
	return -1;
}

/* While the reload runs, systemd has heard RELOADING=1 and not READY=1. */
static void on_reload(void *arg)
{
	struct fixture *fx = arg;
	const char *msg = next_msg(fx);
	const char *prefix = "RELOADING=1\nMONOTONIC_USEC=";
	struct timespec ts;
	uint64_t usec, now;

	assert_non_null(msg);
	assert_memory_equal(msg, prefix, strlen(prefix));
	usec = strtoull(msg + strlen(prefix), NULL, 10);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	assert_true(usec > 0 && usec <= now && now - usec < 5000000);
	expect_no_msg(fx);
	fx->reloads++;
}

/*
 * Idle: nothing to do for a second (a loop that forgot the watchdog wakes
 * once instead of hanging the test); SIGTERM once 550 ms have gone by.
 */
static int64_t tick_idle_550ms(void *arg, int64_t now)
{
	struct fixture *fx = arg;

	fx->ticks++;
	if (now - fx->start >= 550)
		kill(getpid(), SIGTERM);
	return 1000;
}

/* First call: send on the other end of the watched PAIR socket. */
static int64_t tick_send_pair(void *arg, int64_t now)
{
	struct fixture *fx = arg;

	if (fx->ticks++ == 0)
		assert_int_equal(zmq_send(fx->zsock[1], "hello", 5, 0), 5);
	return -1;
}

static int on_pair(void *arg, short revents)
{
	struct fixture *fx = arg;
	char buf[16];

	fx->events++;
	fx->revents = revents;
	assert_int_equal(zmq_recv(fx->zsock[0], buf, sizeof buf, 0), 5);
	assert_memory_equal(buf, "hello", 5);
	service_stop(fx->s);
	return 0;
}

static int on_fd_fail(void *arg, short revents)
{
	struct fixture *fx = arg;

	fx->events++;
	fx->revents = revents;
	return -EPROTO;
}

static int on_nothing(void *arg, short revents)
{
	return 0;
}

/* ------------------------------------------------------------ sd_notify */

/* READY=1 carries a STATUS=; an unchanged STATUS= is not sent again. */
static void test_ready_and_status(void **state)
{
	struct fixture *fx = *state;

	new_service(fx);
	service_ready(fx->s, "serving %d agencies", 3);
	expect_msg(fx, "READY=1\nSTATUS=serving 3 agencies");
	service_status(fx->s, "serving %d agencies", 3);
	expect_no_msg(fx);
	service_status(fx->s, "behind by %d", 12);
	expect_msg(fx, "STATUS=behind by 12");
	service_status(fx->s, "behind by %d", 12);
	expect_no_msg(fx);
	service_status(fx->s, "caught up");
	expect_msg(fx, "STATUS=caught up");
}

/* Without $NOTIFY_SOCKET nothing is sent and nothing fails. */
static void test_no_notify_socket(void **state)
{
	struct fixture *fx = *state;

	unsetenv("NOTIFY_SOCKET");
	new_service(fx);
	service_ready(fx->s, "up");
	service_on_tick(fx->s, tick_sigterm, fx);
	assert_int_equal(service_run(fx->s), 0);
	expect_no_msg(fx);
}

/* --------------------------------------------------------------- signals */

/* SIGTERM and SIGINT end the loop with 0, and systemd hears STOPPING=1. */
static void test_stop_signals(void **state)
{
	struct fixture *fx = *state;

	new_service(fx);
	service_on_tick(fx->s, tick_sigterm, fx);
	assert_int_equal(service_run(fx->s), 0);
	assert_int_equal(fx->ticks, 1);
	expect_msg(fx, "STOPPING=1");
	expect_no_msg(fx);

	/* The loop can run again, and SIGINT stops it the same way. */
	fx->ticks = 0;
	service_on_tick(fx->s, tick_sigint, fx);
	assert_int_equal(service_run(fx->s), 0);
	assert_int_equal(fx->ticks, 1);
	expect_msg(fx, "STOPPING=1");
}

/* SIGHUP: RELOADING=1, the reload callback, READY=1; the loop goes on. */
static void test_sighup_reloads(void **state)
{
	struct fixture *fx = *state;

	new_service(fx);
	service_on_tick(fx->s, tick_sighup_then_sigterm, fx);
	service_on_reload(fx->s, on_reload, fx);
	assert_int_equal(service_run(fx->s), 0);
	assert_int_equal(fx->reloads, 1);
	assert_int_equal(fx->ticks, 2);
	/* RELOADING=1 was read by on_reload(). */
	expect_msg(fx, "READY=1");
	expect_msg(fx, "STOPPING=1");
	expect_no_msg(fx);
}

/* service_free() hands the signals back as it found them. */
static void test_free_restores_signals(void **state)
{
	struct fixture *fx = *state;
	struct sigaction sa, before;
	sigset_t mask;

	assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &mask), 0);
	assert_false(sigismember(&mask, SIGTERM));
	assert_int_equal(sigaction(SIGPIPE, NULL, &before), 0);
	new_service(fx);
	assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &mask), 0);
	assert_true(sigismember(&mask, SIGTERM));
	assert_true(sigismember(&mask, SIGINT));
	assert_true(sigismember(&mask, SIGHUP));
	assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
	assert_ptr_equal(sa.sa_handler, SIG_IGN);

	service_free(fx->s);
	fx->s = NULL;
	assert_int_equal(pthread_sigmask(SIG_SETMASK, NULL, &mask), 0);
	assert_false(sigismember(&mask, SIGTERM));
	assert_false(sigismember(&mask, SIGHUP));
	assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
	assert_ptr_equal(sa.sa_handler, before.sa_handler);
}

/* An unrelated signal interrupting zmq_poll() does not end the loop. */
static volatile sig_atomic_t usr1_seen;

static void on_usr1(int sig)
{
	usr1_seen = 1;
}

static void *send_usr1(void *arg)
{
	struct timespec delay = { 0, 100 * 1000000 };

	nanosleep(&delay, NULL);
	pthread_kill(*(pthread_t *)arg, SIGUSR1);
	return NULL;
}

/* Second call (after the EINTR): SIGTERM. */
static int64_t tick_second_sigterm(void *arg, int64_t now)
{
	struct fixture *fx = arg;

	if (fx->ticks++ == 1)
		kill(getpid(), SIGTERM);
	return -1;
}

static void test_eintr_continues(void **state)
{
	struct fixture *fx = *state;
	struct sigaction sa = { .sa_handler = on_usr1 }, old;
	pthread_t self = pthread_self(), helper;

	/* No SA_RESTART: the handler makes zmq_poll() fail with EINTR. */
	assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
	new_service(fx);	/* first, so the helper inherits the mask */
	assert_int_equal(pthread_create(&helper, NULL, send_usr1, &self), 0);
	service_on_tick(fx->s, tick_second_sigterm, fx);
	assert_int_equal(service_run(fx->s), 0);
	pthread_join(helper, NULL);
	sigaction(SIGUSR1, &old, NULL);
	assert_true(usr1_seen);
	assert_int_equal(fx->ticks, 2);
}

/* -------------------------------------------------------------- watchdog */

static void test_watchdog_env(void **state)
{
	struct fixture *fx = *state;
	char pid[32];

	new_service(fx);
	assert_false(service_watchdog_enabled(fx->s));
	service_free(fx->s);
	fx->s = NULL;

	/* Another process's watchdog is not ours. */
	setenv("WATCHDOG_USEC", "200000", 1);
	snprintf(pid, sizeof pid, "%d", (int)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	new_service(fx);
	assert_false(service_watchdog_enabled(fx->s));
	service_free(fx->s);
	fx->s = NULL;

	snprintf(pid, sizeof pid, "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	new_service(fx);
	assert_true(service_watchdog_enabled(fx->s));
}

/*
 * With a 200 ms watchdog, an idle loop whose tick asks to sleep for a second
 * still wakes every 100 ms to ping: about six pings in 550 ms, not one, and
 * not a busy loop either.
 */
static void test_watchdog_pings_while_idle(void **state)
{
	struct fixture *fx = *state;
	const char *msg;
	char pid[32];
	int pings = 0;

	setenv("WATCHDOG_USEC", "200000", 1);
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	new_service(fx);
	service_on_tick(fx->s, tick_idle_550ms, fx);
	fx->start = time_mono();
	assert_int_equal(service_run(fx->s), 0);

	while ((msg = next_msg(fx)) && strcmp(msg, "WATCHDOG=1") == 0)
		pings++;
	assert_non_null(msg);
	assert_string_equal(msg, "STOPPING=1");
	assert_true(pings >= 5 && pings <= 8);
	assert_true(fx->ticks >= 5 && fx->ticks <= 12);
}

/* ---------------------------------------------------------------- watches */

/* A message on a watched ZeroMQ socket runs its callback with ZMQ_POLLIN. */
static void test_zmq_socket_watch(void **state)
{
	struct fixture *fx = *state;
	void *ctx = zmq_ctx_new();

	assert_non_null(ctx);
	new_service(fx);
	fx->zsock[0] = zmq_socket(ctx, ZMQ_PAIR);
	fx->zsock[1] = zmq_socket(ctx, ZMQ_PAIR);
	assert_int_equal(zmq_bind(fx->zsock[0], "inproc://test-service"), 0);
	assert_int_equal(zmq_connect(fx->zsock[1], "inproc://test-service"), 0);
	assert_int_equal(service_watch(fx->s, fx->zsock[0], -1, ZMQ_POLLIN,
				       on_pair, fx), 0);
	service_on_tick(fx->s, tick_send_pair, fx);

	assert_int_equal(service_run(fx->s), 0);
	assert_int_equal(fx->events, 1);
	assert_true(fx->revents & ZMQ_POLLIN);
	expect_msg(fx, "STOPPING=1");

	zmq_close(fx->zsock[0]);
	zmq_close(fx->zsock[1]);
	zmq_ctx_term(ctx);
}

/* A callback's error stops the loop and is what service_run() returns. */
static void test_callback_error_stops(void **state)
{
	struct fixture *fx = *state;
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	new_service(fx);
	assert_int_equal(service_watch(fx->s, NULL, p[0], ZMQ_POLLIN,
				       on_fd_fail, fx), 0);
	assert_int_equal(service_run(fx->s), -EPROTO);
	assert_int_equal(fx->events, 1);
	assert_true(fx->revents & ZMQ_POLLIN);
	expect_msg(fx, "STOPPING=1");
	close(p[0]);
	close(p[1]);
}

static void test_watch_limit(void **state)
{
	struct fixture *fx = *state;
	int i;

	new_service(fx);
	for (i = 0; i < 16; i++)
		assert_int_equal(service_watch(fx->s, NULL, fx->nfd,
					       ZMQ_POLLIN, on_nothing, fx), 0);
	assert_int_equal(service_watch(fx->s, NULL, fx->nfd, ZMQ_POLLIN,
				       on_nothing, fx), -EMFILE);
}

/* ------------------------------------------------------------------- tick */

/* The loop sleeps for what the tick asks, neither much less nor much more. */
static void test_tick_sets_sleep(void **state)
{
	struct fixture *fx = *state;
	int i;

	new_service(fx);
	service_on_tick(fx->s, tick_every_50ms, fx);
	assert_int_equal(service_run(fx->s), 0);
	assert_int_equal(fx->ticks, 5);
	for (i = 1; i < 5; i++) {
		int64_t gap = fx->tick_at[i] - fx->tick_at[i - 1];

		assert_true(gap >= 50);
		assert_true(gap < 250);
	}
	/* service_stop() from the tick ends the loop before it sleeps again. */
	expect_msg(fx, "STOPPING=1");
}

/* ---- the command line ---- */

static int args(struct service_args *a, int argc, ...)
{
	char *argv[8];
	va_list ap;

	va_start(ap, argc);
	for (int i = 0; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[argc] = NULL;
	return service_args(argc, argv, "baton-test", "Tests.\n", a);
}

/* Every daemon's options: defaults, -c, --check, -v; the exit statuses. */
static void test_args(void **state)
{
	struct service_args a;

	assert_int_equal(args(&a, 1, "baton-test"), -1);
	assert_string_equal(a.config, CONFIG_DEFAULT_PATH);
	assert_false(a.check);
	assert_false(a.verbose);
	assert_int_equal(args(&a, 5, "baton-test", "-c", "/x/b.conf",
			      "--check", "-v"), -1);
	assert_string_equal(a.config, "/x/b.conf");
	assert_true(a.check);
	assert_true(a.verbose);
	assert_int_equal(args(&a, 2, "baton-test", "--config=/y.conf"), -1);
	assert_string_equal(a.config, "/y.conf");
	assert_int_equal(args(&a, 2, "baton-test", "--help"), 0);
	assert_int_equal(args(&a, 2, "baton-test", "--version"), 0);
	assert_int_equal(args(&a, 2, "baton-test", "--bogus"), 2);
	assert_int_equal(args(&a, 2, "baton-test", "extra"), 2);
	assert_int_equal(args(&a, 2, "baton-test", "-c"), 2);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args),
		T(test_ready_and_status),
		T(test_no_notify_socket),
		T(test_stop_signals),
		T(test_sighup_reloads),
		T(test_free_restores_signals),
		T(test_eintr_continues),
		T(test_watchdog_env),
		T(test_watchdog_pings_while_idle),
		T(test_zmq_socket_watch),
		T(test_callback_error_stops),
		T(test_watch_limit),
		T(test_tick_sets_sleep),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
