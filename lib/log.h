/*
 * log.h - the daemons' one voice: journald with structured fields when
 * systemd is listening, stderr otherwise.
 *
 * Modelled on OpenBSD's log.c: log_warn() appends strerror(errno),
 * log_warnx() does not; fatal()/fatalx() log and exit(1) and are kept for
 * broken invariants. lib/ calls only log_debug(); daemons decide what is worth
 * more. The destination is chosen once by log_init() and is the one piece of
 * process-wide state in lib/: a logger is by nature one per process, and
 * passing it through every call would buy nothing.
 *
 * Journald is used when $JOURNAL_STREAM names the device and inode of our
 * stderr (systemd's own rule, sd_journal_stream_fd(3)); then each entry
 * carries PRIORITY, SYSLOG_IDENTIFIER and the caller's fields (no CODE_FUNC:
 * these are functions, not macros, so the caller's name is not known here;
 * put it in the message where it matters). On stderr an entry is one line,
 * "ident: message KEY=value ...", written with one write(2).
 *
 * log_warn/log_warnx log at LOG_WARNING, log_info at LOG_INFO, log_debug at
 * LOG_DEBUG (only when verbose), fatal/fatalx at LOG_CRIT. None of them
 * changes errno.
 */
#ifndef BATON_LOG_H
#define BATON_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <syslog.h>

/* A structured field for journald, e.g. { "REPORT_ID", "r-17" }. */
struct log_field {
	const char *key;	/* upper case, as journald wants */
	const char *value;
};

/*
 * Set the identifier ("baton-intake") and verbosity (0: info and above,
 * 1: debug too). Call once, first thing in main(). ident is not copied.
 */
void log_init(const char *ident, int verbose);

/* Whether entries go to journald (1) or stderr (0). */
int log_to_journal(void);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/*
 * Log at syslog priority prio with n structured fields. On stderr the fields
 * follow the message as " KEY=value". Fields with a NULL value are skipped.
 */
void log_fields(int prio, const struct log_field *fields, size_t n,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

struct config_error;

/*
 * What is wrong with a configuration file, as "file:line: what": logged
 * with log_warnx() when to_log (a reload), else one line on stderr (a
 * start, --check), where the operator typing the command reads it.
 */
void log_config_error(const struct config_error *err, int to_log);

void log_vmsg(int prio, const struct log_field *fields, size_t n,
	      const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

#endif
