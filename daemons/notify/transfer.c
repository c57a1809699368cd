/*
 * notify/transfer.c - email and webhook attempts, all at once, none
 * blocking.
 *
 * libcurl's multi interface runs every attempt concurrently on the
 * daemon's one thread. Its sockets are kept in one epoll descriptor
 * (CURLMOPT_SOCKETFUNCTION), which the service loop watches like any other
 * fd, and its timer (CURLMOPT_TIMERFUNCTION) is read by the loop's tick:
 * nothing here ever waits, so a webhook that never answers costs one slot
 * until its timeout, and the feed, the bus and every other destination go
 * on meanwhile.
 *
 * Ownership: a started request belongs to its transfer until the attempt
 * ends; its result is handed to deliver.c (notify_result_add()), which
 * records it in the next round.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <curl/curl.h>

#include "log.h"
#include "notify.h"

struct transfer {
	struct transfer *next, *prev;
	struct notify_curl *c;
	CURL *easy;
	struct notify_request *req;
	struct curl_slist *list;	/* headers, or the recipients */
	size_t off;			/* email: bytes read so far */
	char errbuf[CURL_ERROR_SIZE];
};

struct notify_curl {
	struct notify *n;
	CURLM *multi;
	int epfd;
	int64_t timer_at;		/* monotonic ms; -1: none */
	struct transfer *head;
	size_t count;
};

/* ------------------------------------------------------------ requests */

void notify_request_free(struct notify_request *req)
{
	if (!req)
		return;
	free(req->url);
	free(req->body);
	for (char **p = req->list; p && *p; p++)
		free(*p);
	free(req->list);
	free(req);
}

/* ------------------------------------------------- libcurl's callbacks */

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp,
		     void *socketp)
{
	struct notify_curl *c = userp;
	struct epoll_event ev = { .data.fd = s };

	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(c->epfd, EPOLL_CTL_DEL, s, NULL);
		return 0;
	}
	if (what & CURL_POLL_IN)
		ev.events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev.events |= EPOLLOUT;
	if (epoll_ctl(c->epfd, EPOLL_CTL_MOD, s, &ev) < 0 &&
	    (errno != ENOENT ||
	     epoll_ctl(c->epfd, EPOLL_CTL_ADD, s, &ev) < 0)) {
		log_debug("%s: epoll_ctl: %s", __func__, strerror(errno));
		return -1;
	}
	return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct notify_curl *c = userp;

	c->timer_at = timeout_ms < 0 ? -1 : time_mono() + timeout_ms;
	return 0;
}

/* The email's bytes, as libcurl asks for them. */
static size_t on_read(char *buf, size_t size, size_t nitems, void *userp)
{
	struct transfer *x = userp;
	size_t left = x->req->body_len - x->off, n = size * nitems;

	if (n > left)
		n = left;
	memcpy(buf, x->req->body + x->off, n);
	x->off += n;
	return n;
}

/* A webhook's answer body is not kept. */
static size_t on_write(char *buf, size_t size, size_t nmemb, void *userp)
{
	return size * nmemb;
}

/* ------------------------------------------------------------- engine */

int notify_curl_new(struct notify *n, struct notify_curl **ret)
{
	struct notify_curl *c;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->n = n;
	c->timer_at = -1;
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (c->epfd < 0) {
		int r = -errno;

		free(c);
		return r;
	}
	c->multi = curl_multi_init();
	if (!c->multi) {
		close(c->epfd);
		free(c);
		return -ENOMEM;
	}
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	*ret = c;
	return 0;
}

static void transfer_free(struct transfer *x)
{
	struct notify_curl *c = x->c;

	if (x->prev)
		x->prev->next = x->next;
	else
		c->head = x->next;
	if (x->next)
		x->next->prev = x->prev;
	c->count--;
	curl_multi_remove_handle(c->multi, x->easy);
	curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->list);
	notify_request_free(x->req);
	free(x);
}

void notify_curl_free(struct notify_curl *c)
{
	if (!c)
		return;
	while (c->head)
		transfer_free(c->head);
	curl_multi_cleanup(c->multi);
	close(c->epfd);
	free(c);
}

int notify_curl_fd(const struct notify_curl *c)
{
	return c->epfd;
}

size_t notify_curl_inflight(const struct notify_curl *c)
{
	return c->count;
}

bool notify_curl_busy(const struct notify_curl *c, const void *key,
		      size_t klen)
{
	for (const struct transfer *x = c->head; x; x = x->next)
		if (x->req->klen == klen && memcmp(x->req->key, key, klen) == 0)
			return true;
	return false;
}

int64_t notify_curl_timeout(const struct notify_curl *c)
{
	int64_t left;

	if (c->timer_at < 0)
		return -1;
	left = c->timer_at - time_mono();
	return left < 0 ? 0 : left;
}

/* The options of an email attempt: envelope, message, TLS, login. */
static int setup_mail(struct notify_curl *c, struct transfer *x)
{
	const struct config *conf = c->n->conf;
	struct notify_request *req = x->req;
	long tls = conf->notify.smtp_starttls == CONFIG_TLS_STARTTLS ?
		   CURLUSESSL_ALL : conf->notify.smtp_starttls ==
		   CONFIG_TLS_TRY ? CURLUSESSL_TRY : CURLUSESSL_NONE;

	for (char **p = req->list + 1; *p; p++) {
		struct curl_slist *l = curl_slist_append(x->list, *p);

		if (!l)
			return -ENOMEM;
		x->list = l;
	}
	curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(x->easy, CURLOPT_MAIL_FROM, req->list[0]);
	curl_easy_setopt(x->easy, CURLOPT_MAIL_RCPT, x->list);
	curl_easy_setopt(x->easy, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(x->easy, CURLOPT_READDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(x->easy, CURLOPT_INFILESIZE_LARGE,
			 (curl_off_t)req->body_len);
	if (strncmp(req->url, "smtp://", 7) == 0)
		curl_easy_setopt(x->easy, CURLOPT_USE_SSL, tls);
	if (conf->notify.smtp_user) {
		curl_easy_setopt(x->easy, CURLOPT_USERNAME,
				 conf->notify.smtp_user);
		curl_easy_setopt(x->easy, CURLOPT_PASSWORD,
				 conf->notify.smtp_password ?
				 conf->notify.smtp_password : "");
	}
	return 0;
}

/* The options of a webhook attempt: a POST with its headers. */
static int setup_webhook(struct transfer *x)
{
	struct notify_request *req = x->req;

	for (char **p = req->list; *p; p++) {
		struct curl_slist *l = curl_slist_append(x->list, *p);

		if (!l)
			return -ENOMEM;
		x->list = l;
	}
	curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->list);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, req->body);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)req->body_len);
	curl_easy_setopt(x->easy, CURLOPT_USERAGENT,
			 "baton-notify/" BATON_VERSION);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_write);
	return 0;
}

int notify_curl_start(struct notify_curl *c, struct notify_request *req)
{
	int64_t timeout = c->n->conf->notify.timeout_ms;
	struct transfer *x;
	int r;

	x = calloc(1, sizeof(*x));
	if (!x) {
		notify_request_free(req);
		return -ENOMEM;
	}
	x->c = c;
	x->req = req;
	x->easy = curl_easy_init();
	if (!x->easy) {
		notify_request_free(req);
		free(x);
		return -ENOMEM;
	}
	x->next = c->head;
	if (c->head)
		c->head->prev = x;
	c->head = x;
	c->count++;
	curl_easy_setopt(x->easy, CURLOPT_URL, req->url);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, (long)timeout);
	curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(timeout < 10000 ? timeout : 10000));
	if (c->n->conf->notify.ca)
		curl_easy_setopt(x->easy, CURLOPT_CAINFO, c->n->conf->notify.ca);
	r = req->channel == OUTBOX_EMAIL ? setup_mail(c, x) :
	    setup_webhook(x);
	if (r == 0 && curl_multi_add_handle(c->multi, x->easy) != CURLM_OK)
		r = -ENOMEM;
	if (r < 0) {
		transfer_free(x);
		return r;
	}
	return 0;
}

/* An attempt ended: its result, for deliver.c. */
static void finish(struct notify_curl *c, struct transfer *x, CURLcode code)
{
	struct notify_result *res = calloc(1, sizeof(*res));
	long status = 0;

	if (!res) {
		/* Unrecorded: the row's lease runs out and it goes again. */
		log_warnx("%s: %s", __func__, strerror(ENOMEM));
		c->n->dests[x->req->dest].inflight--;
		transfer_free(x);
		return;
	}
	memcpy(res->key, x->req->key, x->req->klen);
	res->klen = x->req->klen;
	res->dest = x->req->dest;
	snprintf(res->target, sizeof(res->target), "%s", x->req->target);
	if (code != CURLE_OK) {
		snprintf(res->error, sizeof(res->error), "%.*s",
			 (int)sizeof(res->error) - 1,
			 x->errbuf[0] ? x->errbuf : curl_easy_strerror(code));
	} else if (x->req->channel == OUTBOX_WEBHOOK) {
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
		res->ok = status >= 200 && status < 300;
		/* The receiver refuses it, and will again: no use retrying.
		 * Timeouts and rate limits are worth another attempt. */
		res->permanent = status >= 400 && status < 500 &&
				 status != 408 && status != 429;
		if (!res->ok)
			snprintf(res->error, sizeof(res->error),
				 "HTTP status %ld", status);
	} else {
		res->ok = true;
	}
	transfer_free(x);
	notify_result_add(c->n, res, time_now());
}

int notify_curl_run(struct notify_curl *c, bool timeout)
{
	struct epoll_event evs[32];
	CURLMsg *msg;
	int running, left, nev;

	if (timeout) {
		c->timer_at = -1;
		curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0,
					 &running);
	}
	nev = epoll_wait(c->epfd, evs, 32, 0);
	if (nev < 0 && errno != EINTR)
		return -errno;
	for (int i = 0; i < nev; i++) {
		int flags = 0;

		if (evs[i].events & EPOLLIN)
			flags |= CURL_CSELECT_IN;
		if (evs[i].events & EPOLLOUT)
			flags |= CURL_CSELECT_OUT;
		if (evs[i].events & (EPOLLERR | EPOLLHUP))
			flags |= CURL_CSELECT_ERR;
		curl_multi_socket_action(c->multi, evs[i].data.fd, flags,
					 &running);
	}
	while ((msg = curl_multi_info_read(c->multi, &left))) {
		struct transfer *x;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
				  (char **)&x);
		finish(c, x, msg->data.result);
	}
	return 0;
}
