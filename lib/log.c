/*
 * log.c - the logger: journald with structured fields, or one line on stderr.
 *
 * The destination is decided once, in log_init(), by systemd's own rule:
 * $JOURNAL_STREAM holds "device:inode" of the stream systemd connected to
 * our stderr, and only if stderr is still that stream does journald hear us.
 * Run by hand, or with stderr redirected by a script, the output stays where
 * the operator pointed it.
 *
 * On stderr each entry is built whole in one buffer and written with one
 * write(2): four daemons started by one script share one terminal or file,
 * and an entry of at most PIPE_BUF bytes cannot be split by another's.
 * Newlines inside a message become spaces so that one entry is one line.
 *
 * Priorities follow their names: log_warn/log_warnx are LOG_WARNING,
 * fatal/fatalx LOG_CRIT. Every function keeps errno as it found it, so that a
 * caller may log before it looks at errno.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* The caller's place, not log.c's: see log.h. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "config.h"
#include "log.h"

/* One entry on stderr, and the longest MESSAGE= we send to journald. */
#define LOG_LINE_MAX PIPE_BUF

/* ------------------------------------------------------------------ state */

/* The process-wide state that log.h documents: set once by log_init(). */
static const char *log_ident;
static int log_verbose;
static int log_journal;

/* Whether $JOURNAL_STREAM names the file that fd 2 is. */
static int stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	int n = 0;

	if (!env || sscanf(env, "%llu:%llu%n", &dev, &ino, &n) != 2 ||
	    env[n] != '\0')
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return st.st_dev == dev && st.st_ino == ino;
}

void log_init(const char *ident, int verbose)
{
	int saved = errno;

	log_ident = ident;
	log_verbose = verbose;
	log_journal = stderr_is_journal();
	errno = saved;
}

int log_to_journal(void)
{
	return log_journal;
}

/* Before log_init(), or with a NULL ident, the program's own name. */
static const char *ident(void)
{
	return log_ident ? log_ident : program_invocation_short_name;
}

/* ---------------------------------------------------------------- journald */

/*
 * Each journald field must be one contiguous "KEY=value" iovec, so the
 * caller's fields are laid out in one allocation. Without memory the entry
 * still goes out, without its fields.
 */
static void send_journal(int prio, const struct log_field *fields, size_t n,
			const char *msg)
{
	char message[LOG_LINE_MAX + sizeof "MESSAGE="];
	char priority[sizeof "PRIORITY=" + 12];
	char identifier[sizeof "SYSLOG_IDENTIFIER=" + 64];
	struct iovec base[3], *iov = base;
	size_t i, len = 0, niov = 0;
	char *buf = NULL, *p;

	snprintf(message, sizeof message, "MESSAGE=%s", msg);
	snprintf(priority, sizeof priority, "PRIORITY=%d", prio);
	snprintf(identifier, sizeof identifier, "SYSLOG_IDENTIFIER=%s", ident());

	for (i = 0; i < n; i++)
		if (fields[i].value)
			len += strlen(fields[i].key) + 1 +
			       strlen(fields[i].value) + 1;
	if (len > 0) {
		buf = malloc(len);
		iov = calloc(3 + n, sizeof *iov);
		if (!buf || !iov) {
			free(iov);
			iov = base;
			n = 0;
		}
	}

	iov[niov++] = (struct iovec){ message, strlen(message) };
	iov[niov++] = (struct iovec){ priority, strlen(priority) };
	iov[niov++] = (struct iovec){ identifier, strlen(identifier) };
	p = buf;
	for (i = 0; i < n; i++) {
		int w;

		if (!fields[i].value)
			continue;
		w = sprintf(p, "%s=%s", fields[i].key, fields[i].value);
		iov[niov++] = (struct iovec){ p, (size_t)w };
		p += w + 1;
	}

	/*
	 * Nowhere is left to report a failure to: stderr is journald's own
	 * stream, and libsystemd already drops entries silently when the
	 * journal socket is absent.
	 */
	sd_journal_sendv(iov, (int)niov);

	if (iov != base)
		free(iov);
	free(buf);
}

/* ------------------------------------------------------------------ stderr */

/*
 * Append to line[*len], cut at LOG_LINE_MAX - 1 bytes so that the '\n'
 * still fits and the whole entry is at most PIPE_BUF bytes.
 */
static void append(char *line, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void append(char *line, size_t *len, const char *fmt, ...)
{
	size_t room = LOG_LINE_MAX - *len;
	va_list ap;
	int w;

	va_start(ap, fmt);
	w = vsnprintf(line + *len, room, fmt, ap);
	va_end(ap);
	if (w > 0)
		*len += (size_t)w < room - 1 ? (size_t)w : room - 1;
}

static void send_stderr(const struct log_field *fields, size_t n,
			const char *msg)
{
	char line[LOG_LINE_MAX];
	size_t len = 0, i, off;
	ssize_t w;

	append(line, &len, "%s: %s", ident(), msg);
	for (i = 0; i < n; i++)
		if (fields[i].value)
			append(line, &len, " %s=%s", fields[i].key,
			       fields[i].value);
	for (i = 0; i < len; i++)
		if (line[i] == '\n')
			line[i] = ' ';
	line[len++] = '\n';

	/* Only a signal or a full pipe splits the write; finish the line. */
	for (off = 0; off < len; off += (size_t)w) {
		w = write(STDERR_FILENO, line + off, len - off);
		if (w < 0 && errno == EINTR)
			w = 0;
		else if (w <= 0)
			return;
	}
}

/* ------------------------------------------------------------------ entries */

void log_vmsg(int prio, const struct log_field *fields, size_t n,
	      const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	int saved = errno;

	if (prio == LOG_DEBUG && !log_verbose)
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (log_journal)
		send_journal(prio, fields, n, msg);
	else
		send_stderr(fields, n, msg);
	errno = saved;
}

void log_fields(int prio, const struct log_field *fields, size_t n,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(prio, fields, n, fmt, ap);
	va_end(ap);
}

/* "message: strerror(errnum)", for log_warn() and fatal(). */
static void log_errno(int prio, int errnum, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void log_errno(int prio, int errnum, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];

	vsnprintf(msg, sizeof msg, fmt, ap);
	log_fields(prio, NULL, 0, "%s: %s", msg, strerror(errnum));
}

void log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_errno(LOG_WARNING, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_WARNING, NULL, 0, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_INFO, NULL, 0, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_DEBUG, NULL, 0, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_errno(LOG_CRIT, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_CRIT, NULL, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

void log_config_error(const struct config_error *err, int to_log)
{
	char text[1024];

	config_error_text(err, text, sizeof(text));
	if (to_log)
		log_warnx("%s", text);
	else
		fprintf(stderr, "%s\n", text);
}
