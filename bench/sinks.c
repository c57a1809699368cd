/*
 * bench/sinks.c - bench-sinks: a webhook receiver and an SMTP server on
 * 127.0.0.1 that are never the bottleneck of a benchmark.
 *
 * baton-notify's email and webhook throughput can only be measured against
 * real servers, and the Python ones the integration tests use take more
 * CPU per request than the daemon does. This is one thread and one epoll
 * descriptor serving both protocols just far enough to be honest clients'
 * peers:
 *
 *   HTTP/1.1  every POST is read whole (Content-Length; "Expect:
 *             100-continue" is answered) and answered "204 No Content" (or
 *             --http-status), keep-alive, pipelined requests in order;
 *   SMTP      220 greeting, EHLO/HELO, MAIL FROM, RCPT TO, DATA up to
 *             "<CRLF>.<CRLF>", RSET, NOOP, QUIT; 250s; a connection carries
 *             as many messages as the client sends.
 *
 * Nothing is kept of what arrives: requests and messages are counted (see
 * sinks.h; --stats FILE maps the counters for bench-notify) and dropped.
 * Everything is bounded: connections (--max-conns: more are closed at
 * once), a request head or an SMTP command line (over --max-line: an error
 * and the connection closed), a body or message (over --max-body: refused,
 * and the connection closed for HTTP), recipients per message, idle time
 * (--idle). Every listener binds 127.0.0.1 only.
 *
 * --http may be given up to 16 times: one listener each, one set of
 * counters, so that a client sees that many destinations. Once all
 * listen, one line on stdout: "bench-sinks http=PORT[,PORT...] smtp=PORT"
 * (port 0 asks the kernel for a free one). SIGUSR1 prints the counters on
 * one line; SIGTERM or SIGINT prints them and exits 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sinks.h"

#define IN_SIZE		16384	/* per connection; > --max-line's ceiling */
#define OUT_SIZE	1024	/* replies waiting for the socket */
#define OUT_ROOM	256	/* free room needed to take the next request */
#define MAX_RCPT	100	/* RFC 5321's minimum a server must take */
#define EVENTS		64
#define HOST		"bench-sinks"
#define MAX_HTTP	16	/* --http listeners */

enum proto { PROTO_HTTP, PROTO_SMTP };

/* HTTP: reading a head or a body. SMTP: commands, or a message's data. */
enum phase { PHASE_HEAD, PHASE_BODY, PHASE_DATA };

struct options {
	int http_port[MAX_HTTP];	/* as many as nhttp */
	unsigned nhttp;
	int smtp_port;			/* -1: not served */
	const char *stats;
	unsigned max_conns;
	size_t max_line;
	uint64_t max_body;
	int http_status;
	int idle_s;
};

struct listener {
	enum proto proto;
	int fd;
	int port;
};

struct conn {
	struct conn *prev, *next;	/* all open connections, oldest first */
	enum proto proto;
	int fd;
	enum phase phase;
	char in[IN_SIZE];
	size_t in_len;
	char out[OUT_SIZE];
	size_t out_len;
	bool closing;			/* close once out is written */
	bool want_out;			/* EPOLLOUT registered */
	bool in_off;			/* EPOLLIN off: out is full */
	int64_t active_ns;

	/* HTTP */
	uint64_t body_left;
	bool keep_alive;
	bool refused;			/* answer an error once the body is read */

	/* SMTP */
	bool helo, mail;
	unsigned rcpt;
	unsigned dot;			/* progress through CRLF "." CRLF */
	uint64_t data_len;
};

struct sinks {
	const struct options *opt;
	int ep;
	int sigfd;
	struct listener http[MAX_HTTP], smtp;
	struct conn *head, *tail;
	struct sinks_stats *st;
	struct sinks_stats local;	/* when there is no --stats file */
	bool stop;
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The sink is the only writer; a reader loads each word whole. */
#define BUMP(s, field, n) \
	__atomic_store_n(&(s)->st->field, (s)->st->field + (n), \
			 __ATOMIC_RELAXED)
#define SET(s, field, v) \
	__atomic_store_n(&(s)->st->field, (v), __ATOMIC_RELAXED)

/* ---- connections ---- */

static int watch(struct sinks *s, struct conn *c)
{
	struct epoll_event ev = {
		.events = (c->in_off ? 0 : EPOLLIN) |
			  (c->want_out ? EPOLLOUT : 0),
		.data.ptr = c,
	};

	return epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_close(struct sinks *s, struct conn *c)
{
	epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		s->tail = c->prev;
	SET(s, conns_open, s->st->conns_open - 1);
	free(c);
}

/* Queue a reply. The caller made sure of OUT_ROOM before the request. */
static void reply(struct conn *c, const char *text, size_t len)
{
	if (len > sizeof(c->out) - c->out_len) {
		c->closing = true;	/* cannot happen with OUT_ROOM; be safe */
		return;
	}
	memcpy(c->out + c->out_len, text, len);
	c->out_len += len;
}

static void replys(struct conn *c, const char *text)
{
	reply(c, text, strlen(text));
}

/*
 * Write what is queued. Returns 0, 1 when the connection is to be closed
 * now (written out and closing, or a write error).
 */
static int flush(struct sinks *s, struct conn *c)
{
	while (c->out_len > 0) {
		ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0)
			return 1;
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	if (c->out_len == 0 && c->closing)
		return 1;
	return 0;
}

/* ---- HTTP ---- */

/* The value of header name in head (lines ending in CRLF), or NULL. */
static const char *header(const char *head, size_t len, const char *name,
			  size_t *vlen)
{
	size_t nlen = strlen(name);
	const char *p = memchr(head, '\n', len), *end = head + len;

	while (p && p + 1 < end) {
		const char *line = p + 1, *eol = memchr(line, '\n',
							(size_t)(end - line));

		if (!eol)
			break;
		if ((size_t)(eol - line) > nlen && line[nlen] == ':' &&
		    strncasecmp(line, name, nlen) == 0) {
			const char *v = line + nlen + 1, *ve = eol;

			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' ||
					  ve[-1] == '\t'))
				ve--;
			*vlen = (size_t)(ve - v);
			return v;
		}
		p = eol;
	}
	return NULL;
}

static bool value_is(const char *v, size_t vlen, const char *word)
{
	return v && vlen == strlen(word) && strncasecmp(v, word, vlen) == 0;
}

/* An error answer; the connection closes after it. */
static void http_error(struct sinks *s, struct conn *c, const char *status)
{
	char buf[160];
	int n = snprintf(buf, sizeof(buf), "HTTP/1.1 %s\r\nServer: " HOST
			 "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
			 status);

	reply(c, buf, (size_t)n);
	c->closing = true;
	BUMP(s, http_refused, 1);
}

/* A request read whole: answer it. */
static void http_answer(struct sinks *s, struct conn *c)
{
	char buf[160];
	int n;

	if (c->refused) {
		http_error(s, c, "405 Method Not Allowed");
		return;
	}
	n = snprintf(buf, sizeof(buf), "HTTP/1.1 %d %s\r\nServer: " HOST
		     "\r\n%s%s\r\n", s->opt->http_status,
		     s->opt->http_status == 204 ? "No Content" : "OK",
		     s->opt->http_status == 204 ? "" : "Content-Length: 0\r\n",
		     c->keep_alive ? "" : "Connection: close\r\n");
	reply(c, buf, (size_t)n);
	if (!c->keep_alive)
		c->closing = true;
	if (!s->st->http_first_ns)
		SET(s, http_first_ns, mono_ns());
	SET(s, http_last_ns, mono_ns());
	BUMP(s, http_requests, 1);
}

/*
 * A head is in c->in[0..len) (len includes the blank line): decide what
 * the request is and how long its body.
 */
static void http_head(struct sinks *s, struct conn *c, size_t len)
{
	const char *v;
	size_t vlen;
	char *end;
	const char *sp = memchr(c->in, ' ', len);
	const char *eol = memchr(c->in, '\r', len);
	uint64_t body = 0;

	if (!sp || !eol || sp > eol || eol - c->in < 14 ||
	    memcmp(eol - 8, "HTTP/1.", 7) != 0) {
		http_error(s, c, "400 Bad Request");
		return;
	}
	c->refused = !(sp - c->in == 4 && memcmp(c->in, "POST", 4) == 0);
	c->keep_alive = eol[-1] == '1';	/* HTTP/1.1; 1.0 closes */
	v = header(c->in, len, "Connection", &vlen);
	if (value_is(v, vlen, "close"))
		c->keep_alive = false;
	else if (value_is(v, vlen, "keep-alive"))
		c->keep_alive = true;
	if (header(c->in, len, "Transfer-Encoding", &vlen)) {
		http_error(s, c, "411 Length Required");
		return;
	}
	v = header(c->in, len, "Content-Length", &vlen);
	if (v) {
		char num[24];

		if (vlen == 0 || vlen >= sizeof(num)) {
			http_error(s, c, "400 Bad Request");
			return;
		}
		memcpy(num, v, vlen);
		num[vlen] = '\0';
		errno = 0;
		body = strtoull(num, &end, 10);
		if (errno || *end || num[0] == '-') {
			http_error(s, c, "400 Bad Request");
			return;
		}
	}
	if (body > s->opt->max_body) {
		http_error(s, c, "413 Content Too Large");
		return;
	}
	c->body_left = body;
	c->phase = PHASE_BODY;
	v = header(c->in, len, "Expect", &vlen);
	if (body > 0 && value_is(v, vlen, "100-continue") &&
	    c->in_len == len)
		replys(c, "HTTP/1.1 100 Continue\r\n\r\n");
}

/* Take what c->in holds. Returns how many bytes were used. */
static size_t http_input(struct sinks *s, struct conn *c)
{
	size_t used = 0;

	while (!c->closing && used < c->in_len &&
	       sizeof(c->out) - c->out_len >= OUT_ROOM) {
		const char *p = c->in + used;
		size_t left = c->in_len - used;

		if (c->phase == PHASE_BODY) {
			size_t n = left < c->body_left ? left :
				   (size_t)c->body_left;

			c->body_left -= n;
			used += n;
			BUMP(s, http_bytes, n);
			if (c->body_left > 0)
				break;
			http_answer(s, c);
			c->phase = PHASE_HEAD;
			continue;
		}
		{
			const char *end = memmem(p, left, "\r\n\r\n", 4);
			size_t len;

			if (!end) {
				if (left > s->opt->max_line)
					http_error(s, c, "431 Request Header "
						   "Fields Too Large");
				break;
			}
			len = (size_t)(end - p) + 4;
			if (len > s->opt->max_line) {
				http_error(s, c, "431 Request Header Fields "
					   "Too Large");
				break;
			}
			/* http_head() reads c->in: move the head there. */
			if (used > 0) {
				memmove(c->in, p, left);
				c->in_len = left;
				used = 0;
			}
			http_head(s, c, len);
			used += len;
			if (c->phase == PHASE_BODY && c->body_left == 0) {
				http_answer(s, c);
				c->phase = PHASE_HEAD;
			}
		}
	}
	return used;
}

/* ---- SMTP ---- */

static void smtp_reset(struct conn *c)
{
	c->mail = false;
	c->rcpt = 0;
}

static void smtp_refuse(struct sinks *s, struct conn *c, const char *text)
{
	replys(c, text);
	BUMP(s, smtp_refused, 1);
}

/* Whether line (len bytes, no CRLF) starts with verb, case aside. */
static bool verb(const char *line, size_t len, const char *v)
{
	size_t n = strlen(v);

	return len >= n && strncasecmp(line, v, n) == 0 &&
	       (len == n || line[n] == ' ' || line[n] == ':');
}

static void smtp_command(struct sinks *s, struct conn *c, const char *line,
			 size_t len)
{
	char buf[256];

	if (verb(line, len, "EHLO")) {
		snprintf(buf, sizeof(buf), "250-" HOST "\r\n250-PIPELINING\r\n"
			 "250-8BITMIME\r\n250 SIZE %" PRIu64 "\r\n",
			 s->opt->max_body);
		replys(c, buf);
		c->helo = true;
		smtp_reset(c);
	} else if (verb(line, len, "HELO")) {
		replys(c, "250 " HOST "\r\n");
		c->helo = true;
		smtp_reset(c);
	} else if (verb(line, len, "MAIL FROM")) {
		if (!c->helo)
			smtp_refuse(s, c, "503 5.5.1 EHLO first\r\n");
		else if (c->mail)
			smtp_refuse(s, c, "503 5.5.1 nested MAIL\r\n");
		else {
			c->mail = true;
			replys(c, "250 2.1.0 OK\r\n");
		}
	} else if (verb(line, len, "RCPT TO")) {
		if (!c->mail)
			smtp_refuse(s, c, "503 5.5.1 MAIL first\r\n");
		else if (c->rcpt >= MAX_RCPT)
			smtp_refuse(s, c, "452 4.5.3 too many recipients\r\n");
		else {
			c->rcpt++;
			replys(c, "250 2.1.5 OK\r\n");
		}
	} else if (verb(line, len, "DATA")) {
		if (!c->rcpt) {
			smtp_refuse(s, c, "503 5.5.1 RCPT first\r\n");
			return;
		}
		replys(c, "354 end data with <CR><LF>.<CR><LF>\r\n");
		c->phase = PHASE_DATA;
		c->dot = 2;		/* as if just after a CRLF */
		c->data_len = 0;
	} else if (verb(line, len, "RSET")) {
		smtp_reset(c);
		replys(c, "250 2.0.0 OK\r\n");
	} else if (verb(line, len, "NOOP")) {
		replys(c, "250 2.0.0 OK\r\n");
	} else if (verb(line, len, "QUIT")) {
		replys(c, "221 2.0.0 bye\r\n");
		c->closing = true;
	} else {
		smtp_refuse(s, c, "502 5.5.2 command not implemented\r\n");
	}
}

/* The end of a message's data: accept or refuse it. */
static void smtp_end(struct sinks *s, struct conn *c)
{
	c->phase = PHASE_HEAD;
	if (c->data_len > s->opt->max_body) {
		smtp_refuse(s, c, "552 5.3.4 message too big\r\n");
	} else {
		replys(c, "250 2.0.0 OK: queued\r\n");
		if (!s->st->smtp_first_ns)
			SET(s, smtp_first_ns, mono_ns());
		SET(s, smtp_last_ns, mono_ns());
		BUMP(s, smtp_messages, 1);
		BUMP(s, smtp_recipients, c->rcpt);
		BUMP(s, smtp_bytes, c->data_len);
	}
	smtp_reset(c);
}

/*
 * Data until CRLF "." CRLF, matched byte by byte so that nothing of the
 * message is held: c->dot is how much of "\r\n.\r\n" was just seen.
 * Returns how many bytes were used; the phase is HEAD again at the end.
 */
static size_t smtp_data(struct sinks *s, struct conn *c, const char *p,
			size_t n)
{
	size_t i;

	for (i = 0; i < n && c->phase == PHASE_DATA; i++) {
		switch (p[i]) {
		case '\r':
			c->dot = c->dot == 3 ? 4 : 1;
			break;
		case '\n':
			if (c->dot == 4) {
				/* ".\r" was counted; it is not the message's. */
				c->data_len = c->data_len >= 2 ?
					      c->data_len - 2 : 0;
				smtp_end(s, c);
				continue;
			}
			c->dot = c->dot == 1 ? 2 : 0;
			break;
		case '.':
			c->dot = c->dot == 2 ? 3 : 0;
			break;
		default:
			c->dot = 0;
			break;
		}
		c->data_len++;
	}
	return i;
}

static size_t smtp_input(struct sinks *s, struct conn *c)
{
	size_t used = 0;

	while (!c->closing && used < c->in_len &&
	       sizeof(c->out) - c->out_len >= OUT_ROOM) {
		const char *p = c->in + used, *eol;
		size_t left = c->in_len - used, len;

		if (c->phase == PHASE_DATA) {
			used += smtp_data(s, c, p, left);
			continue;
		}
		eol = memchr(p, '\n', left);
		if (!eol) {
			if (left > s->opt->max_line) {
				smtp_refuse(s, c, "500 5.5.2 line too long"
					    "\r\n");
				c->closing = true;
			}
			break;
		}
		len = (size_t)(eol - p) + 1;
		if (len > s->opt->max_line) {
			smtp_refuse(s, c, "500 5.5.2 line too long\r\n");
			c->closing = true;
			break;
		}
		smtp_command(s, c, p, len >= 2 && eol[-1] == '\r' ? len - 2 :
			     len - 1);
		used += len;
	}
	return used;
}

/* ---- the loop ---- */

/* Take what c->in holds, as far as the room for replies allows. */
static void take_input(struct sinks *s, struct conn *c)
{
	size_t used = c->proto == PROTO_HTTP ? http_input(s, c) :
		      smtp_input(s, c);

	memmove(c->in, c->in + used, c->in_len - used);
	c->in_len -= used;
}

static void on_readable(struct sinks *s, struct conn *c)
{
	ssize_t n;

	if (c->in_len == sizeof(c->in))
		return;		/* full: waiting for out to drain */
	n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* The peer is gone or closed its side: nothing more comes;
		 * what is queued is still written if it can be. */
		c->closing = true;
		return;
	}
	c->in_len += (size_t)n;
	c->active_ns = mono_ns();
	take_input(s, c);
}

/* After any event: write, and watch for what is needed next. */
static void settle(struct sinks *s, struct conn *c)
{
	bool out, off;

	for (;;) {
		size_t before = c->in_len;

		if (flush(s, c)) {
			conn_close(s, c);
			return;
		}
		/* Replies drained: take what was held back, if any. */
		if (c->in_len == 0 || c->closing || c->out_len > 0)
			break;
		take_input(s, c);
		if (c->in_len == before && c->out_len == 0)
			break;		/* an incomplete request: wait */
	}
	out = c->out_len > 0;
	off = c->in_len == sizeof(c->in) || c->closing;
	if (out != c->want_out || off != c->in_off) {
		c->want_out = out;
		c->in_off = off;
		if (watch(s, c) < 0)
			conn_close(s, c);
	}
}

static void on_accept(struct sinks *s, struct listener *l)
{
	for (int i = 0; i < 64; i++) {
		int one = 1, fd = accept4(l->fd, NULL, NULL,
					  SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN };
		struct conn *c;

		if (fd < 0)
			return;
		if (s->st->conns_open >= s->opt->max_conns ||
		    !(c = calloc(1, sizeof(*c)))) {
			close(fd);
			BUMP(s, conns_refused, 1);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		c->proto = l->proto;
		c->active_ns = mono_ns();
		ev.data.ptr = c;
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			BUMP(s, conns_refused, 1);
			continue;
		}
		c->prev = s->tail;
		if (s->tail)
			s->tail->next = c;
		else
			s->head = c;
		s->tail = c;
		SET(s, conns_open, s->st->conns_open + 1);
		if (l->proto == PROTO_HTTP) {
			BUMP(s, conns_http, 1);
		} else {
			BUMP(s, conns_smtp, 1);
			replys(c, "220 " HOST " ESMTP\r\n");
		}
		settle(s, c);
	}
}

/* Close connections idle for longer than --idle. */
static void sweep(struct sinks *s, int64_t now)
{
	int64_t idle = (int64_t)s->opt->idle_s * 1000000000;
	struct conn *c = s->head, *next;

	for (; c; c = next) {
		next = c->next;
		if (now - c->active_ns > idle)
			conn_close(s, c);
	}
}

static void print_counts(const struct sinks *s, FILE *f)
{
	const struct sinks_stats *st = s->st;

	fprintf(f, "sinks http_requests=%" PRIu64 " http_refused=%" PRIu64
		" smtp_messages=%" PRIu64 " smtp_recipients=%" PRIu64
		" smtp_refused=%" PRIu64 " conns_http=%" PRIu64
		" conns_smtp=%" PRIu64 " conns_refused=%" PRIu64
		" conns_open=%" PRIu64 "\n", st->http_requests,
		st->http_refused, st->smtp_messages, st->smtp_recipients,
		st->smtp_refused, st->conns_http, st->conns_smtp,
		st->conns_refused, st->conns_open);
	fflush(f);
}

static void on_signal(struct sinks *s)
{
	struct signalfd_siginfo si;

	while (read(s->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGUSR1)
			print_counts(s, stdout);
		else
			s->stop = true;
	}
}

static int run(struct sinks *s)
{
	struct epoll_event evs[EVENTS];
	int64_t next_sweep = mono_ns() + 1000000000;

	while (!s->stop) {
		int n = epoll_wait(s->ep, evs, EVENTS, 1000);
		int64_t now;

		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &s->smtp || ((struct listener *)p >= s->http &&
					       (struct listener *)p <
					       s->http + MAX_HTTP)) {
				on_accept(s, p);
			} else if (p == &s->sigfd) {
				on_signal(s);
			} else {
				struct conn *c = p;

				if (evs[i].events & (EPOLLIN | EPOLLHUP |
						     EPOLLERR))
					on_readable(s, c);
				settle(s, c);
			}
		}
		now = mono_ns();
		if (now >= next_sweep) {
			sweep(s, now);
			next_sweep = now + 1000000000;
		}
	}
	return 0;
}

/* ---- set-up ---- */

static int listen_on(struct sinks *s, struct listener *l, int port)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),	/* only */
		.sin_port = htons((uint16_t)port),
	};
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = l };
	socklen_t len = sizeof(sa);
	int one = 1;

	l->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		return -errno;
	setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(l->fd, 512) < 0 ||
	    getsockname(l->fd, (struct sockaddr *)&sa, &len) < 0 ||
	    epoll_ctl(s->ep, EPOLL_CTL_ADD, l->fd, &ev) < 0)
		return -errno;
	l->port = ntohs(sa.sin_port);
	return 0;
}

static int open_stats(struct sinks *s, const char *path)
{
	int fd;
	void *p;

	if (!path) {
		s->st = &s->local;
		return 0;
	}
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, sizeof(struct sinks_stats)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	p = mmap(NULL, sizeof(struct sinks_stats), PROT_READ | PROT_WRITE,
		 MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	s->st = p;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: bench-sinks [--http PORT]... [--smtp PORT] [--stats FILE]\n"
"                   [--max-conns N] [--max-line BYTES] [--max-body BYTES]\n"
"                   [--http-status 200|204] [--idle SECONDS]\n"
"\n"
"Serve an HTTP/1.1 webhook receiver (every POST answered 204, keep-alive)\n"
"and a minimal SMTP server (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) on\n"
"127.0.0.1, counting what they accept and keeping none of it. PORT 0 takes\n"
"a free port; --http may be given up to 16 times (one listener each, the\n"
"same counters); a protocol without its option is not served. Once\n"
"listening, prints \"bench-sinks http=PORT[,PORT...] smtp=PORT\".\n"
"SIGUSR1 prints the counters, SIGTERM prints them and exits. --stats FILE\n"
"maps the counters there (bench/sinks.h) for another process to read.\n"
"\n"
"Limits: --max-conns (default 512; more are closed at once), --max-line\n"
"(a request head or a command line, default 8192), --max-body (a request\n"
"body or a message, default 1048576), --idle (close a connection idle that\n"
"long, default 120).\n");
}

static int parse_int(const char *name, const char *s, long lo, long hi,
		     long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "bench-sinks: --%s: expected %ld to %ld\n",
			name, lo, hi);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		{ "http", required_argument, NULL, 'H' },
		{ "smtp", required_argument, NULL, 'S' },
		{ "stats", required_argument, NULL, 's' },
		{ "max-conns", required_argument, NULL, 'c' },
		{ "max-line", required_argument, NULL, 'l' },
		{ "max-body", required_argument, NULL, 'b' },
		{ "http-status", required_argument, NULL, 'x' },
		{ "idle", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long v = 0;
	int c, r = 0;

	while (r == 0 && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'H':
			if (o->nhttp == MAX_HTTP) {
				fprintf(stderr, "bench-sinks: --http: at most "
					"%d\n", MAX_HTTP);
				r = -EINVAL;
				break;
			}
			r = parse_int("http", optarg, 0, 65535, &v);
			o->http_port[o->nhttp++] = (int)v;
			break;
		case 'S':
			r = parse_int("smtp", optarg, 0, 65535, &v);
			o->smtp_port = (int)v;
			break;
		case 's':
			o->stats = optarg;
			break;
		case 'c':
			r = parse_int("max-conns", optarg, 1, 65536, &v);
			o->max_conns = (unsigned)v;
			break;
		case 'l':
			r = parse_int("max-line", optarg, 64, IN_SIZE / 2, &v);
			o->max_line = (size_t)v;
			break;
		case 'b':
			r = parse_int("max-body", optarg, 0, 1L << 30, &v);
			o->max_body = (uint64_t)v;
			break;
		case 'x':
			r = parse_int("http-status", optarg, 200, 204, &v);
			if (r == 0 && v != 200 && v != 204) {
				fprintf(stderr, "bench-sinks: --http-status: "
					"200 or 204\n");
				r = -EINVAL;
			}
			o->http_status = (int)v;
			break;
		case 'i':
			r = parse_int("idle", optarg, 1, 86400, &v);
			o->idle_s = (int)v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (r == 0 && (optind != argc ||
		       (o->nhttp == 0 && o->smtp_port < 0))) {
		usage(stderr);
		return -EINVAL;
	}
	return r;
}

int main(int argc, char **argv)
{
	struct options opt = {
		.smtp_port = -1, .max_conns = 512,
		.max_line = 8192, .max_body = 1048576, .http_status = 204,
		.idle_s = 120,
	};
	struct sinks s = {
		.opt = &opt, .ep = -1, .sigfd = -1,
		.smtp = { .proto = PROTO_SMTP, .fd = -1 },
	};
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &s.sigfd };
	sigset_t mask;
	int r;

	if (parse_options(argc, argv, &opt) < 0)
		return 2;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	r = open_stats(&s, opt.stats);
	if (r < 0) {
		fprintf(stderr, "bench-sinks: %s: %s\n", opt.stats,
			strerror(-r));
		return 1;
	}
	s.ep = epoll_create1(EPOLL_CLOEXEC);
	s.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s.ep < 0 || s.sigfd < 0 ||
	    epoll_ctl(s.ep, EPOLL_CTL_ADD, s.sigfd, &ev) < 0) {
		fprintf(stderr, "bench-sinks: %s\n", strerror(errno));
		return 1;
	}
	for (unsigned i = 0; i < opt.nhttp; i++) {
		s.http[i].proto = PROTO_HTTP;
		r = listen_on(&s, &s.http[i], opt.http_port[i]);
		if (r < 0) {
			fprintf(stderr, "bench-sinks: HTTP on 127.0.0.1:%d: "
				"%s\n", opt.http_port[i], strerror(-r));
			return 1;
		}
	}
	if (opt.smtp_port >= 0 && (r = listen_on(&s, &s.smtp,
						 opt.smtp_port)) < 0) {
		fprintf(stderr, "bench-sinks: SMTP on 127.0.0.1:%d: %s\n",
			opt.smtp_port, strerror(-r));
		return 1;
	}
	SET(&s, magic, SINKS_MAGIC);
	printf("bench-sinks http=");
	for (unsigned i = 0; i < opt.nhttp; i++)
		printf("%s%d", i ? "," : "", s.http[i].port);
	printf("%s smtp=%d\n", opt.nhttp ? "" : "0",
	       s.smtp.fd >= 0 ? s.smtp.port : 0);
	fflush(stdout);
	r = run(&s);
	while (s.head)
		conn_close(&s, s.head);
	print_counts(&s, stdout);
	if (r < 0)
		fprintf(stderr, "bench-sinks: epoll_wait: %s\n", strerror(-r));
	return r < 0 ? 1 : 0;
}
