/*
 * notify/mail.c - what an alert says by email.
 *
 * One message per (alert, recipient agency), to all of that agency's
 * addresses, in plain text a duty officer can act on without opening
 * anything: what happened, which task, due when, how late, what to run to
 * see it. Message-ID is derived from the delivery id, so a message sent
 * again after a crash is the same message to every mail system that drops
 * duplicates.
 *
 * Every line ends in CRLF and stays under SMTP's 998 octets; a title or a
 * reason with non-ASCII text goes into the Subject as RFC 2047 encoded
 * words, and control characters in what agencies wrote become blanks, so
 * nothing an agency sends can add a header. libcurl escapes a leading dot.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "notify.h"

/* Longest line written, in bytes, before CRLF. */
#define LINE_MAX_OCTETS	900

/* A growing buffer; on allocation failure it stays failed. */
struct text {
	char *s;
	size_t len, cap;
	bool failed;
};

static void put(struct text *t, const char *s, size_t n)
{
	if (t->failed)
		return;
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 2048;
		char *p;

		while (cap < t->len + n + 1)
			cap *= 2;
		p = realloc(t->s, cap);
		if (!p) {
			t->failed = true;
			return;
		}
		t->s = p;
		t->cap = cap;
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
}

static void puts_(struct text *t, const char *s)
{
	put(t, s, strlen(s));
}

static void putf(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void putf(struct text *t, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		t->failed = true;
	else
		put(t, buf, (size_t)n < sizeof(buf) ? (size_t)n :
		    sizeof(buf) - 1);
}

/*
 * A body line "label: value": control characters become blanks, and a
 * value too long for one line is cut between UTF-8 characters and carried
 * on indented lines.
 */
static void line(struct text *t, const char *label, const char *value)
{
	size_t col = 0;

	if (label)
		putf(t, "%-12s", label);
	for (const char *p = value; *p; p++) {
		unsigned char ch = (unsigned char)*p;

		if (col >= LINE_MAX_OCTETS && (ch & 0xc0) != 0x80) {
			puts_(t, "\r\n            ");
			col = 0;
		}
		put(t, ch < 0x20 || ch == 0x7f ? " " : p, 1);
		col++;
	}
	puts_(t, "\r\n");
}

static bool ascii_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

/*
 * The Subject header: plain when it is printable ASCII, else RFC 2047
 * base64 words of at most 45 octets of text each (75 characters a word),
 * cut between UTF-8 characters, on folded lines.
 */
static void subject(struct text *t, const char *s)
{
	size_t len = strlen(s), at = 0;

	if (ascii_printable(s) && len < LINE_MAX_OCTETS) {
		putf(t, "Subject: %s\r\n", s);
		return;
	}
	puts_(t, "Subject:");
	while (at < len) {
		char b64[sodium_base64_ENCODED_LEN(45,
			sodium_base64_VARIANT_ORIGINAL)];
		size_t n = len - at > 45 ? 45 : len - at;

		while (n > 0 && at + n < len &&
		       ((unsigned char)s[at + n] & 0xc0) == 0x80)
			n--;
		if (n == 0)
			n = len - at > 45 ? 45 : len - at;
		sodium_bin2base64(b64, sizeof(b64),
				  (const unsigned char *)s + at, n,
				  sodium_base64_VARIANT_ORIGINAL);
		putf(t, "%s=?UTF-8?B?%s?=", at ? "\r\n " : " ", b64);
		at += n;
	}
	puts_(t, "\r\n");
}

/* The Message-ID's left part: the delivery id in atext only. */
static void msgid_local(struct text *t, const char *id)
{
	static const char atext[] = "!#$%&'*+-/=?^_`{|}~.";

	for (const char *p = id; *p; p++) {
		unsigned char ch = (unsigned char)*p;

		if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= 'A' && ch <= 'Z') || (ch != '.' && strchr(atext, ch)))
			put(t, p, 1);
		else
			putf(t, "=%02X", ch);
	}
}

/* What the alert announces, in one sentence, for Subject and body. */
static void headline(const struct msg *a, char *buf, size_t size)
{
	const char *task = a->task ? a->task : "-";

	switch (a->alert) {
	case ALERT_TASK_ASSIGNED:
		snprintf(buf, size, "New task %s for %s: %s", task, a->agency,
			 a->title);
		break;
	case ALERT_REMINDER:
		snprintf(buf, size, "Reminder: task %s is due soon: %s", task,
			 a->title);
		break;
	case ALERT_OVERDUE:
		snprintf(buf, size, "Overdue: task %s has passed its "
			 "deadline: %s", task, a->title);
		break;
	case ALERT_ESCALATION:
		snprintf(buf, size, "Escalation %llu to %s: task %s is "
			 "overdue: %s", (unsigned long long)a->level, a->to,
			 task, a->title);
		break;
	case ALERT_MISSING_REPORT:
		snprintf(buf, size, "Missing report: %s has not reported "
			 "%s: %s", a->agency, a->period ? a->period : task,
			 a->title);
		break;
	case ALERT_REFUSED:
		snprintf(buf, size, "Refused: %s", a->title);
		break;
	default:
		snprintf(buf, size, "Alert %s", a->alert_id);
		break;
	}
}

/* RFC 5322 date of an instant, in UTC. */
static void date(instant_t at, char *buf, size_t size)
{
	time_t s = (time_t)(at / TIME_MS_PER_S);
	struct tm tm;

	gmtime_r(&s, &tm);
	strftime(buf, size, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

static void compose(const struct notify *n, const struct msg *a,
		    const struct agency *ag, const char *id, struct text *t)
{
	const char *from = n->conf->notify.smtp_from;
	const char *domain = strchr(from, '@') + 1;
	char head[MSG_TITLE_MAX + 256], when[TIME_INSTANT_LEN], gap[32];
	char buf[1024];
	const struct agency *resp;

	headline(a, head, sizeof(head));
	date(a->fired_at, buf, sizeof(buf));
	putf(t, "Date: %s\r\n", buf);
	putf(t, "From: Baton <%s>\r\n", from);
	puts_(t, "To: ");
	for (size_t i = 0; i < ag->nemail; i++)
		putf(t, "%s<%s>", i ? ",\r\n " : "", ag->email[i]);
	puts_(t, "\r\n");
	snprintf(buf, sizeof(buf), "%s%s", a->drill ? "[DRILL] " : "",
		 head);
	subject(t, buf);
	puts_(t, "Message-ID: <");
	msgid_local(t, id);
	putf(t, "@%s>\r\n", domain);
	puts_(t, "Auto-Submitted: auto-generated\r\n");
	putf(t, "X-Baton-Alert: %s\r\n", a->alert_id);
	puts_(t, "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n");

	if (a->drill)
		line(t, NULL, "THIS IS A DRILL.");
	line(t, NULL, head);
	puts_(t, "\r\n");
	if (a->task)
		line(t, "Task:", a->task);
	line(t, "Title:", a->title);
	resp = agency_find(n->agencies, a->agency);
	snprintf(buf, sizeof(buf), "%s%s%s%s", a->agency, resp ? " (" : "",
		 resp ? resp->title : "", resp ? ")" : "");
	line(t, "Agency:", buf);
	if (a->category != CATEGORY_NONE) {
		snprintf(buf, sizeof(buf), "%s%s%s",
			 msg_category_name(a->category),
			 a->severity ? ", severity " : "",
			 a->severity ? msg_severity_name(a->severity) : "");
		line(t, "Category:", buf);
	}
	if (a->period)
		line(t, "Period:", a->period);
	if (a->alert != ALERT_REFUSED) {
		line(t, "Due:", time_format_instant(a->due_at, when,
						    sizeof(when)));
		if (a->fired_at > a->due_at)
			line(t, "Late by:", time_format_duration(
				a->fired_at - a->due_at, gap, sizeof(gap)));
	}
	if (a->alert == ALERT_ESCALATION) {
		snprintf(buf, sizeof(buf), "level %llu, to %s",
			 (unsigned long long)a->level, a->to);
		line(t, "Escalated:", buf);
	}
	if (a->reason)
		line(t, "Reason:", a->reason);
	if (a->rule)
		line(t, "Rule:", a->rule);
	snprintf(buf, sizeof(buf), "%s, at %s%s", a->alert_id,
		 time_format_instant(a->fired_at, when, sizeof(when)),
		 a->late ? " (late: Baton was down when it was due)" : "");
	line(t, "Alert:", buf);
	puts_(t, "\r\n");
	if (a->task) {
		snprintf(buf, sizeof(buf), "batonctl task %s", a->task);
		line(t, "To see it:", buf);
	}
	line(t, NULL, "-- ");
	line(t, NULL, "Sent by Baton for the Steering Committee Office. "
	     "Do not reply: report progress through Baton.");
}

int notify_mail(const struct notify *n, const struct msg *a,
		const struct agency *ag, const char *id,
		struct notify_request *req)
{
	struct text t = { 0 };
	size_t off = 0;

	if (!ag->nemail || !n->conf->notify.smtp)
		return -EINVAL;
	req->list = calloc(ag->nemail + 2, sizeof(char *));
	if (!req->list)
		return -ENOMEM;
	if (asprintf(&req->list[0], "<%s>", n->conf->notify.smtp_from) < 0) {
		req->list[0] = NULL;
		return -ENOMEM;
	}
	for (size_t i = 0; i < ag->nemail; i++) {
		if (asprintf(&req->list[i + 1], "<%s>", ag->email[i]) < 0) {
			req->list[i + 1] = NULL;
			return -ENOMEM;
		}
		off += (size_t)snprintf(req->target + off,
					off < sizeof(req->target) ?
					sizeof(req->target) - off : 0,
					"%s%s", i ? ", " : "", ag->email[i]);
		if (off >= sizeof(req->target))
			off = sizeof(req->target) - 1;
	}
	req->url = strdup(n->conf->notify.smtp);
	compose(n, a, ag, id, &t);
	if (!req->url || t.failed) {
		free(t.s);
		return -ENOMEM;
	}
	req->body = t.s;
	req->body_len = t.len;
	return 0;
}
