/*
 * bench/harness.h - running real Baton daemons from a benchmark:
 * bench-deadline and bench-notify.
 *
 * Both start the daemons they measure as systemd would: a fresh
 * environment with NOTIFY_SOCKET on a datagram socket the bench binds,
 * output to a log file, a process group of their own and PR_SET_PDEATHSIG
 * (they never outlive the bench, and a wrapper such as strace is stopped
 * with what it runs), READY=1 and STATUS= read back, SIGTERM then SIGKILL
 * to stop them. They also share the chores around that: a temporary
 * directory short enough for ipc:// paths, the files written into it, the
 * machine's load average, a process's CPU time. One copy lives here so
 * that the two programs time and treat their daemons the same way.
 *
 * The clock is load_now_ns() (load.h). Nothing here keeps state of its
 * own: a daemon is the caller's struct harness_daemon. Functions that can
 * fail return 0 or a negative errno; those that know the program's name
 * (prog, or d->prog) also say what failed on stderr, "prog: ...", in the
 * words the programs always used.
 */
#ifndef BATON_BENCH_HARNESS_H
#define BATON_BENCH_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HARNESS_NOTIFY_PATH_MAX	108	/* sun_path */
#define HARNESS_SOCK_PATH_MAX	100	/* an ipc:// socket's path */
/* A run's directory, NUL included: harness_mkdtemp() keeps it shorter. */
#define HARNESS_DIR_MAX		(HARNESS_SOCK_PATH_MAX + 1)

/* One daemon run by the bench, and what it said through $NOTIFY_SOCKET. */
struct harness_daemon {
	const char *prog;	/* "bench-notify": begins messages */
	const char *name;	/* "baton-intake": names it in them */
	char notify_path[HARNESS_NOTIFY_PATH_MAX];
	int notify_fd;		/* -1: none */
	pid_t pid;		/* 0: not running */
	int64_t exec_ns;	/* load_now_ns() once forked */
	int64_t ready_ns;	/* 0: no READY=1 yet from this one */
	int exit_status;	/* of the last one reaped (a wait status) */
	char status[256];	/* its last STATUS=, "" if none */
};

/* Set d up, not running and without a socket. Never fails. */
void harness_daemon_init(struct harness_daemon *d, const char *prog,
			 const char *name);

/*
 * Bind d's notify socket (datagram, non-blocking, close-on-exec) at path.
 * Returns 0, -ENAMETOOLONG if path does not fit in sun_path, or the
 * socket()/bind() error (-EADDRINUSE if path exists).
 */
int harness_notify_open(struct harness_daemon *d, const char *path);

/*
 * Start "bin -c conf", stdin /dev/null, stdout and stderr appended to
 * log_path, with our environment minus systemd's variables plus
 * NOTIFY_SOCKET=d's socket. Clears ready_ns and status; sets pid and
 * exec_ns (taken once fork() has returned: copying this process's page
 * tables is the bench's cost, not the daemon's). Returns 0, -ENOMEM, or
 * the open()/fork() error. A failed exec is the child's exit status 127.
 */
int harness_start(struct harness_daemon *d, const char *bin,
		  const char *conf, const char *log_path);

/*
 * Read every datagram waiting on d's socket: the first READY=1 sets
 * ready_ns to now, STATUS=... is kept in status. Does nothing without a
 * socket. Never fails (an unread socket would only fill).
 */
void harness_read_notify(struct harness_daemon *d, int64_t now);

/* Whether d is not running; reaps it if it has exited (exit_status). */
bool harness_gone(struct harness_daemon *d);

/*
 * SIGTERM to d's group, wait; SIGKILL after timeout_ns. Returns 0 if it
 * exited with status 0 (at once if it was not running), -ETIMEDOUT if it
 * had to be killed, -EIO if it exited otherwise; says which on stderr.
 * How long it took goes to *ret_ns if not NULL.
 */
int harness_stop(struct harness_daemon *d, int64_t timeout_ns,
		 int64_t *ret_ns);

/* Kill d quietly if it still runs (harness_kill()), close its socket. */
void harness_daemon_close(struct harness_daemon *d, int64_t timeout_ns);

/*
 * fork and execve(argv[0], argv, envp) in a process group of its own that
 * dies with this process; in_fd, out_fd, err_fd become its 0, 1, 2 (-1:
 * leave that one as it is); every other descriptor is closed. Only
 * async-signal-safe calls run between fork() and exec (ZeroMQ's threads).
 * Returns 0 and the child in *ret_pid, or fork()'s error.
 */
int harness_spawn(char *const argv[], char *const envp[], int in_fd,
		  int out_fd, int err_fd, pid_t *ret_pid);

/*
 * SIGTERM to pid's group, wait for it up to timeout_ns, then SIGKILL; the
 * child is reaped either way. Returns 0 if it exited in time, -ETIMEDOUT
 * if it was killed, -ESRCH if pid is not a child of ours.
 */
int harness_kill(pid_t pid, int64_t timeout_ns);

/* A wait status as a person reads it ("exit status 1"), into buf. */
const char *harness_exit_text(int status, char *buf, size_t size);

/* Copy the last lines of the log at path to stderr, for an error. */
void harness_show_log(const char *prog, const char *path, int lines);

/* The CPU time of pid so far (user + system), in seconds; 0 if unknown. */
double harness_cpu_seconds(pid_t pid);

/* The 1-minute load average as /proc/loadavg says it, or "unknown". */
void harness_loadavg(char *buf, size_t size);

/*
 * Make "<parent>/<prog>.XXXXXX" (parent NULL: $TMPDIR, else /tmp) into buf
 * (HARNESS_DIR_MAX bytes are enough). longest is the longest path the run
 * puts below it ("/deadline.replay"), which must still fit in
 * HARNESS_SOCK_PATH_MAX. Returns 0, -ENAMETOOLONG, or mkdtemp()'s error;
 * says which on stderr.
 */
int harness_mkdtemp(const char *prog, const char *parent, const char *longest,
		    char *buf, size_t size);

/* Remove dir and everything below it. Returns 0 or the first error. */
int harness_rmtree(const char *dir);

/* Write text to path, created or truncated. Returns 0 or -errno. */
int harness_write_file(const char *path, const char *text);

/*
 * The directory this program's executable is in, into buf. Returns 0,
 * -ENAMETOOLONG, or readlink()'s error.
 */
int harness_exe_dir(char *buf, size_t size);

/*
 * handler on SIGINT, SIGTERM and SIGHUP, without SA_RESTART so that a
 * signal ends a poll or a sleep at once; SIGPIPE ignored.
 */
void harness_signals(void (*handler)(int));

#endif
