/*
 * fuzz_bus.c - a stored bus record, as a replay reads it back from LMDB:
 * bus_record_parse(), then the body it points at through
 * msg_decode_event() under the topic it names, as a subscriber would.
 *
 * The input is the record itself: one byte of topic length, the topic,
 * the msgpack body. The sequence is taken from the input's hash, so that
 * the parser's copy of it is checked too.
 */
#include "bus.h"
#include "fuzz_msg.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *end = data + size;
	struct bus_event ev;
	struct fuzz_way w = { .event = true };
	char name[96];
	uint64_t seq = fuzz_hash(data, size);
	int r;

	memset(&ev, 0xa5, sizeof ev);
	r = bus_record_parse(seq, data, size, &ev);
	if (r < 0) {
		FUZZ_CHECK(r == -EBADMSG, "bus_record_parse() returned %d", r);
		return 0;
	}
	FUZZ_CHECK(r == 0, "bus_record_parse() returned %d", r);

	/* Everything it points at lies inside the record, and all of it. */
	FUZZ_CHECK(ev.seq == seq, "bus_record_parse() changed the sequence");
	FUZZ_CHECK(ev.topic_len >= 1, "bus_record_parse(): empty topic");
	FUZZ_CHECK((const uint8_t *)ev.topic >= data &&
		   (const uint8_t *)ev.topic + ev.topic_len <= end,
		   "bus_record_parse(): topic outside the record");
	FUZZ_CHECK((const uint8_t *)ev.body >= (const uint8_t *)ev.topic +
		   ev.topic_len && (const uint8_t *)ev.body + ev.body_len == end,
		   "bus_record_parse(): body is not the rest of the record");

	w.topic = ev.topic;
	w.topic_len = ev.topic_len;
	snprintf(name, sizeof name, "bus record (topic %.*s)",
		 (int)(ev.topic_len < 40 ? ev.topic_len : 40), ev.topic);
	w.name = name;
	fuzz_msg_one(&w, ev.body, ev.body_len);
	return 0;
}
