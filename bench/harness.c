/*
 * bench/harness.c - starting, watching and stopping real daemons for
 * bench-deadline and bench-notify (harness.h says what and why).
 *
 * This process has ZeroMQ's threads, so between fork() and exec the child
 * makes only async-signal-safe calls: the environment and every path are
 * prepared before fork(). A daemon's exit is seen by polling waitpid()
 * with WNOHANG, never by SIGCHLD: the benches' loops already wake every
 * few milliseconds, and no handler has to share state with them.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "load.h"

#define WAIT_STEP_US	1000	/* between looks at a stopping child */

extern char **environ;

void harness_daemon_init(struct harness_daemon *d, const char *prog,
			 const char *name)
{
	memset(d, 0, sizeof(*d));
	d->prog = prog;
	d->name = name;
	d->notify_fd = -1;
}

int harness_notify_open(struct harness_daemon *d, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(path);

	if (len >= sizeof(sa.sun_path) || len >= sizeof(d->notify_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, len + 1);
	memcpy(d->notify_path, path, len + 1);
	d->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC |
			      SOCK_NONBLOCK, 0);
	if (d->notify_fd < 0)
		return -errno;
	if (bind(d->notify_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return 0;
}

/* Our environment, minus systemd's, plus notify ("NOTIFY_SOCKET=..."). */
static char **daemon_env(const char *notify)
{
	static const char *drop[] = {
		"NOTIFY_SOCKET=", "JOURNAL_STREAM=", "WATCHDOG_USEC=",
		"WATCHDOG_PID=", "LISTEN_FDS=", "LISTEN_PID=",
	};
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		bool keep = true;

		for (size_t j = 0; j < sizeof(drop) / sizeof(drop[0]); j++)
			if (strncmp(environ[i], drop[j], strlen(drop[j])) == 0)
				keep = false;
		if (keep)
			env[k++] = environ[i];
	}
	env[k++] = (char *)notify;
	env[k] = NULL;
	return env;
}

int harness_spawn(char *const argv[], char *const envp[], int in_fd,
		  int out_fd, int err_fd, pid_t *ret_pid)
{
	pid_t parent = getpid(), pid;

	pid = fork();
	if (pid == 0) {
		/*
		 * Never outlive the bench, even if it is killed outright; a
		 * group of its own, so that a wrapper (strace, perf) is
		 * stopped with what it runs.
		 */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if (in_fd >= 0)
			dup2(in_fd, 0);
		if (out_fd >= 0)
			dup2(out_fd, 1);
		if (err_fd >= 0)
			dup2(err_fd, 2);
		close_range(3, ~0U, 0);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	if (pid < 0)
		return -errno;
	setpgid(pid, pid);	/* whichever runs first */
	*ret_pid = pid;
	return 0;
}

int harness_start(struct harness_daemon *d, const char *bin,
		  const char *conf, const char *log_path)
{
	char notify[sizeof(d->notify_path) + 16];
	char *argv[] = { (char *)bin, "-c", (char *)conf, NULL };
	char **env = NULL;
	int out = -1, null = -1, r;

	snprintf(notify, sizeof(notify), "NOTIFY_SOCKET=%s", d->notify_path);
	env = daemon_env(notify);
	if (!env)
		return -ENOMEM;
	out = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (out < 0) {
		r = -errno;
		goto out;
	}
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0) {
		r = -errno;
		goto out;
	}
	d->ready_ns = 0;
	d->status[0] = '\0';
	r = harness_spawn(argv, env, null, out, out, &d->pid);
	/* The clock starts once fork() has returned here. */
	d->exec_ns = load_now_ns();
	if (r < 0)
		d->pid = 0;
out:
	if (out >= 0)
		close(out);
	if (null >= 0)
		close(null);
	free(env);
	return r;
}

void harness_read_notify(struct harness_daemon *d, int64_t now)
{
	char buf[4096];
	ssize_t n;

	if (d->notify_fd < 0)
		return;
	while ((n = recv(d->notify_fd, buf, sizeof(buf) - 1, 0)) > 0) {
		char *save = NULL;

		buf[n] = '\0';
		for (char *line = strtok_r(buf, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			if (strcmp(line, "READY=1") == 0 && !d->ready_ns)
				d->ready_ns = now;
			else if (strncmp(line, "STATUS=", 7) == 0)
				snprintf(d->status, sizeof(d->status), "%s",
					 line + 7);
		}
	}
}

bool harness_gone(struct harness_daemon *d)
{
	int st;

	if (d->pid <= 0)
		return true;
	if (waitpid(d->pid, &st, WNOHANG) != d->pid)
		return false;
	d->exit_status = st;
	d->pid = 0;
	return true;
}

int harness_stop(struct harness_daemon *d, int64_t timeout_ns,
		 int64_t *ret_ns)
{
	int64_t start = load_now_ns();
	char text[64];

	if (ret_ns)
		*ret_ns = 0;
	if (d->pid <= 0)
		return 0;
	kill(-d->pid, SIGTERM);
	while (!harness_gone(d)) {
		if (load_now_ns() - start > timeout_ns) {
			kill(-d->pid, SIGKILL);
			waitpid(d->pid, &d->exit_status, 0);
			d->pid = 0;
			fprintf(stderr, "%s: %s did not stop in %.0f s: "
				"killed\n", d->prog, d->name,
				(double)timeout_ns / 1e9);
			return -ETIMEDOUT;
		}
		usleep(WAIT_STEP_US);
	}
	if (ret_ns)
		*ret_ns = load_now_ns() - start;
	d->ready_ns = 0;
	if (!WIFEXITED(d->exit_status) || WEXITSTATUS(d->exit_status) != 0) {
		fprintf(stderr, "%s: %s stopped with %s\n", d->prog, d->name,
			harness_exit_text(d->exit_status, text,
					  sizeof(text)));
		return -EIO;
	}
	return 0;
}

void harness_daemon_close(struct harness_daemon *d, int64_t timeout_ns)
{
	if (d->pid > 0) {
		harness_kill(d->pid, timeout_ns);
		d->pid = 0;
	}
	if (d->notify_fd >= 0)
		close(d->notify_fd);
	d->notify_fd = -1;
}

int harness_kill(pid_t pid, int64_t timeout_ns)
{
	int64_t start = load_now_ns();
	pid_t r;

	kill(-pid, SIGTERM);
	while ((r = waitpid(pid, NULL, WNOHANG)) == 0 ||
	       (r < 0 && errno == EINTR)) {
		if (load_now_ns() - start > timeout_ns) {
			kill(-pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return -ETIMEDOUT;
		}
		usleep(WAIT_STEP_US);
	}
	return r == pid ? 0 : -ESRCH;
}

const char *harness_exit_text(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, size, "wait status %d", status);
	return buf;
}

void harness_show_log(const char *prog, const char *path, int lines)
{
	char cmd[PATH_MAX + 32];

	fprintf(stderr, "%s: the end of %s:\n", prog, path);
	snprintf(cmd, sizeof(cmd), "tail -n %d '%s' >&2", lines, path);
	if (system(cmd) != 0)
		fprintf(stderr, "(could not read it)\n");
}

double harness_cpu_seconds(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After the command name in parentheses: fields 3.. ; 14 and 15. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%llu %llu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

void harness_loadavg(char *buf, size_t size)
{
	FILE *f = fopen("/proc/loadavg", "re");

	if (!f || !fgets(buf, (int)size, f))
		snprintf(buf, size, "unknown");
	if (f)
		fclose(f);
	buf[strcspn(buf, " ")] = '\0';	/* the 1-minute one */
}

int harness_mkdtemp(const char *prog, const char *parent, const char *longest,
		    char *buf, size_t size)
{
	const char *tmp = parent ? parent : getenv("TMPDIR");
	int n;

	n = snprintf(buf, size, "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp",
		     prog);
	if (n < 0 || (size_t)n >= size ||
	    (size_t)n + strlen(longest) > HARNESS_SOCK_PATH_MAX) {
		fprintf(stderr, "%s: %s: too long for ipc:// sockets; say "
			"--dir with a shorter one\n", prog, buf);
		return -ENAMETOOLONG;
	}
	if (!mkdtemp(buf)) {
		int r = -errno;

		fprintf(stderr, "%s: mkdtemp %s: %s\n", prog, buf,
			strerror(-r));
		return r;
	}
	return 0;
}

static int rm_entry(const char *p, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	return remove(p) < 0 ? -errno : 0;
}

int harness_rmtree(const char *dir)
{
	int r = nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);

	if (r == -1)
		return -errno;
	return r;
}

int harness_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");	/* e: O_CLOEXEC */

	if (!f)
		return -errno;
	fputs(text, f);
	if (fclose(f) != 0)
		return -errno;
	return 0;
}

int harness_exe_dir(char *buf, size_t size)
{
	ssize_t n;
	char *slash;

	if (size < 2)
		return -ENAMETOOLONG;
	n = readlink("/proc/self/exe", buf, size - 1);
	if (n < 0)
		return -errno;
	if ((size_t)n == size - 1)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	return 0;
}

void harness_signals(void (*handler)(int))
{
	struct sigaction sa = { .sa_handler = handler };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}
