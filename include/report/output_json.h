/* -F json: the timeline as JSON Lines, one object per event (docs/contract.md). */
#ifndef IMAPSCOPE_REPORT_OUTPUT_JSON_H
#define IMAPSCOPE_REPORT_OUTPUT_JSON_H

#include <stdio.h>

#include "imap/imap_event.h"
#include "report/render.h"	/* struct output_time */
#include "util/buf.h"

/* The "v" key that opens every JSON line imapscope writes (-F json, and
 * --summary and --logins with -F json): the version of the line format of
 * docs/contract.md and docs/events.schema.json.  2 added v and the flow
 * keys (flow_id, community_id, src_ip, src_port, dest_ip, dest_port). */
#define OUTPUT_JSON_VERSION "2"

/* Make a JSON Lines output writing to fp (not closed by the output; the
 * caller closes it after finish and free).  0, or -1 if out of memory. */
int output_json_new(struct output *out_r, FILE *fp) WUR;

/* Append the event as one JSON object and its '\n' to b, the same bytes
 * output_json_new writes.  tc may be NULL (no caching).  0, or -1 if b could
 * not grow (b then holds a partial line: the caller cuts it off). */
int output_json_append_event(struct buf *b, struct output_time *tc,
			     const struct event *ev) WUR;

/* Append ev's frame keys (",\"frame\":12", then frame_last and pcap where
 * the contract puts them), or nothing when its frame is not known. */
int output_json_append_frames(struct buf *b, const struct event *ev) WUR;

/* Append the flow's keys (",\"flow_id\":...,\"dest_port\":143"), or
 * nothing when f is NULL or its af 0.  0, or -1 if b could not grow. */
int output_json_append_flow(struct buf *b, const struct event_flow *f) WUR;

#endif
