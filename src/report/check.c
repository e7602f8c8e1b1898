/* --check: the rules of report/check.h judged on each event's facts.
 *
 * Every rule reads what the session already knows: the state and the
 * capabilities in force (ev->facts), the command's id and its row in the
 * vocabulary (states allowed, the capability that brings it), its decoded
 * arguments, and the wire facts (ev->wire, IMAP_FACTS_WIRE) that only the
 * lexer and the session see.  Where the session could not see everything
 * (WIRE_LOSSY: picked up mid-stream, a gap, a line it could not read) or a
 * command in flight may still change the state or the capabilities
 * (WIRE_PENDING_CHANGE), the rules that depend on it stay silent: a
 * checker that cries wolf is not read. */
#include "report/check.h"

#include <stdlib.h>
#include <string.h>

#include "imap/imap_sasl.h"
#include "report/render.h"

#define CHECK_LINE_MAX      1024	/* offending line shown, then "..." */
#define CHECK_PER_RULE_SHOWN 10		/* findings of one rule shown per session */
#define CHECK_MAX_SESSIONS  65536	/* sessions counted one by one */
#define CHECK_SESSIONS0     16

static const struct check_rule_def check_rules[CHECK_N_RULES] = {
#define CHECK_ROW_(id, name, side, sev, rfc, expl, ex) \
	[CHECK_##id] = { name, side, sev, rfc, expl, ex },
	CHECK_RULES(CHECK_ROW_)
#undef CHECK_ROW_
};

const struct check_rule_def *check_rule(enum check_rule r)
{
	return (unsigned)r < CHECK_N_RULES ? &check_rules[r] : NULL;
}

const char *check_side_name(enum check_side s)
{
	switch (s) {
	case CHECK_CLIENT: return "client";
	case CHECK_SERVER: return "server";
	case CHECK_EITHER: return "either";
	}
	return "?";
}

const char *check_severity_name(enum check_severity s)
{
	return s == CHECK_ERROR ? "error" : "warning";
}

int check_print_catalogue(FILE *fp)
{
	fputs("imapscope --check rules: id, side, severity, RFC; what breaks it; an example.\n"
	      "side \"either\" is whoever sent the line.\n", fp);
	for (size_t i = 0; i < CHECK_N_RULES; i++) {
		const struct check_rule_def *d = &check_rules[i];

		fprintf(fp, "\n%s  %s  %s  %s\n    %s\n    e.g. %s\n", d->id,
			check_side_name(d->side), check_severity_name(d->severity), d->rfc,
			d->explanation, d->example);
	}
	return fflush(fp) == 0 && !ferror(fp) ? 0 : -1;
}

/* --- the stage ---------------------------------------------------------- */

struct check_session {
	uint64_t id;
	uint64_t commands;
	uint32_t n[CHECK_N_RULES];
};

struct check {
	struct output inner;
	struct check_opts opts;
	struct buf line;		/* the offending line being shown */
	struct check_session *sess;	/* sessions with findings, by id */
	size_t n_sess, cap_sess;
	uint64_t sess_over;		/* findings of sessions past the cap */
	uint64_t total[CHECK_N_RULES];
	uint64_t sessions, commands;
	uint64_t not_shown;		/* past CHECK_PER_RULE_SHOWN */
};

static struct check_session *check_session_find(struct check *c, uint64_t id, bool add)
{
	size_t lo = 0, hi = c->n_sess;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->sess[mid].id == id)
			return &c->sess[mid];
		if (c->sess[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!add)
		return NULL;
	if (c->n_sess == c->cap_sess) {
		struct check_session *ns = mem_grow_array(c->opts.budget, c->sess, &c->cap_sess,
							  sizeof *ns, CHECK_SESSIONS0,
							  CHECK_MAX_SESSIONS);

		if (ns == NULL)
			return NULL;
		c->sess = ns;
	}
	memmove(&c->sess[lo + 1], &c->sess[lo], (c->n_sess - lo) * sizeof *c->sess);
	memset(&c->sess[lo], 0, sizeof *c->sess);
	c->sess[lo].id = id;
	c->n_sess++;
	return &c->sess[lo];
}

/* The line an event was made from, as the timeline shows it (wire bytes;
 * the outputs escape them).  Cut at CHECK_LINE_MAX. */
static int line_put(struct buf *b, struct buf_slice s)
{
	size_t room = CHECK_LINE_MAX > b->len ? CHECK_LINE_MAX - b->len : 0;

	if (s.ptr == NULL || s.len == 0)
		return 0;
	if (s.len <= room)
		return output_put(b, s.ptr, s.len);
	return output_put(b, s.ptr, room) | LIT(b, "...");
}

static int line_code(struct buf *b, struct buf_slice code)
{
	if (code.ptr == NULL)
		return 0;
	return LIT(b, " [") | line_put(b, code) | LIT(b, "]");
}

static int line_rest(struct buf *b, struct buf_slice s)
{
	return s.ptr != NULL && s.len != 0 ? LIT(b, " ") | line_put(b, s) : 0;
}

static struct buf_slice check_line(struct check *c, const struct event *ev)
{
	struct buf *b = &c->line;
	int rc = 0;

	buf_reset(b);
	switch (ev->type) {
	case EV_COMMAND:
		rc = line_put(b, ev->u.command.tag) | LIT(b, " ") | line_put(b, ev->u.command.name) |
		     line_rest(b, ev->u.command.args);
		break;
	case EV_UNTAGGED:
		rc = LIT(b, "* ") | line_put(b, ev->u.untagged.text);
		break;
	case EV_RESPONSE:
		rc = line_put(b, ev->u.response.tag) | LIT(b, " ") |
		     line_put(b, ev->u.response.status) | line_code(b, ev->u.response.code) |
		     line_rest(b, ev->u.response.text);
		break;
	case EV_GREETING:
		rc = LIT(b, "* ") | line_put(b, ev->u.greeting.status) |
		     line_code(b, ev->u.greeting.code) | line_rest(b, ev->u.greeting.text);
		break;
	case EV_CONTINUATION:
		if (ev->u.continuation.dir == DIR_S2C)
			rc = LIT(b, "+") | line_rest(b, ev->u.continuation.text);
		else
			rc = line_put(b, ev->u.continuation.text);
		break;
	default:
		return SLICE_NULL;
	}
	if (rc != 0)
		return SLICE_NULL;
	return (struct buf_slice){ b->data ? b->data : (const uint8_t *)"", b->len };
}

static enum check_side wire_side(const struct event *ev)
{
	return ev->wire & WIRE_S2C ? CHECK_SERVER : CHECK_CLIENT;
}

/* A finding about ev, right after it. */
static void check_emit(struct check *c, const struct event *ev, enum check_rule r,
		       enum check_side side)
{
	const struct check_rule_def *d = &check_rules[r];
	struct check_session *cs = check_session_find(c, ev->session, true);
	struct event f = *ev;

	c->total[r]++;
	if (cs == NULL) {
		c->sess_over++;
	} else if (cs->n[r]++ >= CHECK_PER_RULE_SHOWN) {
		c->not_shown++;
		return;
	}
	f.type = EV_FINDING;
	f.truncated = f.unsynchronised = false;
	f.changed = 0;
	f.wire = 0;
	memset(&f.u, 0, sizeof f.u);
	f.u.finding.rule = d->id;
	f.u.finding.severity = check_severity_name(d->severity);
	f.u.finding.side = check_side_name(d->side == CHECK_EITHER ? side : d->side);
	f.u.finding.rfc = d->rfc;
	f.u.finding.explanation = d->explanation;
	if (ev->type == EV_NOTICE) {
		f.u.finding.line = ev->u.notice.text ? (struct buf_slice){
			(const uint8_t *)ev->u.notice.text, strlen(ev->u.notice.text) } : SLICE_NULL;
		f.u.finding.line_made = true;
	} else {
		f.u.finding.line = check_line(c, ev);
	}
	c->inner.ops->event(c->inner.ctx, &f);
	if (c->opts.tap.ops != NULL)
		c->opts.tap.ops->event(c->opts.tap.ctx, &f);
}

/* --- the rules ------------------------------------------------------------ */

/* What the wire showed of any line, client's or server's. */
static void check_line_facts(struct check *c, const struct event *ev)
{
	unsigned w = ev->wire;
	enum check_side side = wire_side(ev);

	if (w & (WIRE_BARE_LF | WIRE_BARE_CR))
		check_emit(c, ev, CHECK_BARE_NEWLINE, side);
	if (w & WIRE_NUL)
		check_emit(c, ev, CHECK_NUL_IN_LINE, side);
	if ((w & WIRE_LONG) && side == CHECK_CLIENT)
		check_emit(c, ev, CHECK_LINE_TOO_LONG, side);
	if (w & WIRE_LIT_MISMATCH)
		check_emit(c, ev, CHECK_LITERAL_SIZE_MISMATCH, side);
	if (w & WIRE_INJECTED)
		check_emit(c, ev, CHECK_INJECTED_BEFORE_TLS, side);
}

/* Commands an IMAP4rev2 server offers whatever else it lists (RFC 9051
 * section 1 and appendix E: the extensions folded into the base). */
static bool in_rev2(enum imap_cap_id cap)
{
	switch (cap) {
	case IMAP_CAP_NAMESPACE: case IMAP_CAP_UNSELECT: case IMAP_CAP_UIDPLUS:
	case IMAP_CAP_ESEARCH: case IMAP_CAP_ENABLE: case IMAP_CAP_IDLE:
	case IMAP_CAP_SASL_IR: case IMAP_CAP_LIST_EXTENDED: case IMAP_CAP_LIST_STATUS:
	case IMAP_CAP_MOVE: case IMAP_CAP_LITERAL_MINUS: case IMAP_CAP_BINARY:
	case IMAP_CAP_SPECIAL_USE:
		return true;
	default:
		return false;
	}
}

static bool has_cap(const struct imap_capset *caps, enum imap_cap_id cap)
{
	return capset_has(caps, cap) || (in_rev2(cap) && capset_has(caps, IMAP_CAP_IMAP4REV2));
}

/* The capability a command needs, where the list names it the way the
 * vocabulary does; IMAP_CAP_N: none, or not one to judge (THREAD=x and
 * SORT=x forms, capabilities outside IMAP_CAPS). */
static enum imap_cap_id command_cap(enum imap_cmd_id id)
{
	const char *name = imap_vocab_command_def(id)->capability;
	enum imap_cap_id cap;

	if (name == NULL)
		return IMAP_CAP_N;
	cap = imap_vocab_cap((const uint8_t *)name, strlen(name));
	return cap == IMAP_CAP_THREAD || cap == IMAP_CAP_SORT ? IMAP_CAP_N : cap;
}

static bool starts_ci(struct buf_slice s, const char *w)
{
	size_t n = strlen(w);

	if (s.ptr == NULL || s.len < n)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((s.ptr[i] | 0x20) != (w[i] | 0x20))
			return false;
	return s.len == n || s.ptr[n] == ' ' || s.ptr[n] == '(';
}

/* An argument of an extension: CONDSTORE's and QRESYNC's words (QRESYNC
 * implies CONDSTORE, RFC 7162 section 3.2.3), ESEARCH's RETURN, SASL-IR's
 * initial response. */
static bool argument_unadvertised(const struct event *ev, const struct imap_capset *caps)
{
	const struct command_facts *cf = ev->u.command.facts;

	if ((ev->wire & WIRE_CONDSTORE_ARG) && !has_cap(caps, IMAP_CAP_CONDSTORE) &&
	    !has_cap(caps, IMAP_CAP_QRESYNC))
		return true;
	if ((ev->wire & WIRE_QRESYNC_ARG) && !has_cap(caps, IMAP_CAP_QRESYNC))
		return true;
	switch (cf->id) {
	case IMAP_CMD_SEARCH:
	case IMAP_CMD_UID_SEARCH:
		return starts_ci(cf->items, "RETURN") && !has_cap(caps, IMAP_CAP_ESEARCH);
	case IMAP_CMD_AUTHENTICATE:
		return (ev->wire & WIRE_SASL_IR) && !has_cap(caps, IMAP_CAP_SASL_IR);
	default:
		return false;
	}
}

/* AUTHENTICATE with a mechanism that AUTH= does not name; a mechanism
 * the session has no bit for is not judged. */
static bool mechanism_unadvertised(const struct command_facts *cf, const struct imap_capset *caps)
{
	enum imap_sasl_mech m;

	if (cf->mechanism.ptr == NULL)
		return false;
	m = imap_sasl_mech_from_name(cf->mechanism.ptr, cf->mechanism.len);
	return m != IMAP_SASL_OTHER && (caps->auth >> m & 1) == 0;
}

static void check_literals(struct check *c, const struct event *ev, const struct imap_capset *caps)
{
	unsigned w = ev->wire;
	bool plus = has_cap(caps, IMAP_CAP_LITERAL_PLUS);
	bool minus = has_cap(caps, IMAP_CAP_LITERAL_MINUS);

	if (w & WIRE_LOSSY)
		return;		/* a "+" or a capability list may be in a gap */
	if (w & WIRE_LIT_EARLY)
		check_emit(c, ev, CHECK_LITERAL_BEFORE_CONTINUATION, CHECK_CLIENT);
	if (!caps->known || (w & WIRE_PENDING_CHANGE))
		return;
	if ((w & (WIRE_LIT_PLUS | WIRE_LIT_MINUS)) && !plus && !minus)
		check_emit(c, ev, CHECK_LITERAL_PLUS_NOT_ADVERTISED, CHECK_CLIENT);
	else if ((w & WIRE_LIT_BIG) && !plus)
		check_emit(c, ev, CHECK_LITERAL_MINUS_TOO_LARGE, CHECK_CLIENT);
}

/* State and capabilities, where they are sure: the session saw it all
 * and no command in flight may change them before this one runs. */
static void check_state_caps(struct check *c, const struct event *ev)
{
	const struct session_facts *sf = ev->facts;
	const struct command_facts *cf = ev->u.command.facts;
	const struct imap_capset *caps = &sf->caps;
	enum imap_cap_id cap;

	if (ev->wire & (WIRE_LOSSY | WIRE_PENDING_CHANGE) || sf->logout_sent ||
	    cf->id == IMAP_CMD_UNKNOWN)
		return;
	if (cf->id == IMAP_CMD_COMPRESS && sf->compressed)
		check_emit(c, ev, CHECK_COMPRESS_TWICE, CHECK_CLIENT);
	if (cf->id == IMAP_CMD_COMPRESS && sf->state == IMAP_STATE_NOT_AUTH)
		check_emit(c, ev, CHECK_COMPRESS_BEFORE_AUTH, CHECK_CLIENT);
	else if (sf->state != IMAP_STATE_LOGOUT &&
		 !(imap_vocab_command_def(cf->id)->states & (1u << sf->state)))
		check_emit(c, ev, CHECK_COMMAND_WRONG_STATE, CHECK_CLIENT);
	if (!caps->known)
		return;
	/* after a login, a LOGIN is out of state, whatever the list says */
	if (cf->id == IMAP_CMD_LOGIN && sf->state == IMAP_STATE_NOT_AUTH &&
	    capset_has(caps, IMAP_CAP_LOGINDISABLED))
		check_emit(c, ev, CHECK_LOGIN_DISABLED, CHECK_CLIENT);
	cap = command_cap(cf->id);
	if ((cap != IMAP_CAP_N && !has_cap(caps, cap)) || argument_unadvertised(ev, caps))
		check_emit(c, ev, CHECK_CAPABILITY_NOT_ADVERTISED, CHECK_CLIENT);
	if (cf->id == IMAP_CMD_AUTHENTICATE && mechanism_unadvertised(cf, caps))
		check_emit(c, ev, CHECK_AUTH_MECHANISM_NOT_ADVERTISED, CHECK_CLIENT);
}

static void check_command(struct check *c, const struct event *ev)
{
	unsigned w = ev->wire;

	if (w & WIRE_TAG_INVALID)
		check_emit(c, ev, CHECK_TAG_INVALID, CHECK_CLIENT);
	/* a completion lost in a gap leaves a tag, or IDLE, in flight */
	if ((w & WIRE_TAG_REUSED) && !(w & WIRE_LOSSY))
		check_emit(c, ev, CHECK_TAG_REUSED, CHECK_CLIENT);
	if ((w & WIRE_IN_IDLE) && !(w & WIRE_LOSSY))
		check_emit(c, ev, CHECK_IDLE_NOT_DONE, CHECK_CLIENT);
	check_literals(c, ev, &ev->facts->caps);
	check_state_caps(c, ev);
}

static void check_notice(struct check *c, const struct event *ev)
{
	enum check_side side = wire_side(ev);

	switch (ev->u.notice.kind) {
	case NOTICE_UNPARSED_LINE:
		if ((ev->wire & (WIRE_UNPARSED | WIRE_S2C)) == (WIRE_UNPARSED | WIRE_S2C))
			check_emit(c, ev, CHECK_UNTAGGED_MALFORMED, CHECK_SERVER);
		else if (ev->wire & WIRE_TAG_INVALID)
			check_emit(c, ev, CHECK_TAG_INVALID, CHECK_CLIENT);
		break;
	case NOTICE_STARTTLS_NOT_NEGOTIATED:
		if (ev->wire & (WIRE_C2S | WIRE_S2C))
			check_emit(c, ev, CHECK_PLAINTEXT_AFTER_STARTTLS, side);
		break;
	default:
		break;
	}
}

static void check_judge(struct check *c, const struct event *ev)
{
	/* what a gap cut or sync never confirmed is no evidence */
	if (ev->truncated || ev->unsynchronised)
		return;
	switch (ev->type) {
	case EV_COMMAND:
		check_line_facts(c, ev);
		check_command(c, ev);
		break;
	case EV_GREETING:
		check_line_facts(c, ev);
		break;
	case EV_CONTINUATION:
		check_line_facts(c, ev);
		if (ev->wire & WIRE_CONT_UNEXPECTED)
			check_emit(c, ev, CHECK_CONTINUATION_UNEXPECTED, CHECK_SERVER);
		break;
	case EV_UNTAGGED:
		check_line_facts(c, ev);
		if (ev->wire & WIRE_EXPUNGE_IN_FSS)
			check_emit(c, ev, CHECK_EXPUNGE_DURING_COMMAND, CHECK_SERVER);
		if (ev->wire & WIRE_UID_MISSING)
			check_emit(c, ev, CHECK_FETCH_WITHOUT_UID, CHECK_SERVER);
		break;
	case EV_RESPONSE:
		check_line_facts(c, ev);
		if (ev->wire & WIRE_TAG_UNKNOWN)
			check_emit(c, ev, CHECK_TAGGED_UNKNOWN_TAG, CHECK_SERVER);
		break;
	case EV_NOTICE:
		check_notice(c, ev);
		break;
	default:
		break;
	}
}

static void check_tally_end(struct check *c, const struct event *ev)
{
	struct check_session *cs;
	uint64_t n = ev->u.end.summary != NULL ? ev->u.end.summary->commands : 0;

	c->sessions++;
	c->commands += n;
	if ((cs = check_session_find(c, ev->session, false)) != NULL)
		cs->commands = n;
}

static void check_event(void *ctx, const struct event *ev)
{
	struct check *c = ctx;

	if (!c->opts.findings_only)
		c->inner.ops->event(c->inner.ctx, ev);
	if (ev->wire != 0 || ev->type == EV_NOTICE)
		check_judge(c, ev);
	if (ev->type == EV_SESSION_END)
		check_tally_end(c, ev);
}

/* --- the counts ------------------------------------------------------------ */

static uint64_t sum_rules(const uint32_t *n, enum check_severity sev, bool any)
{
	uint64_t t = 0;

	for (size_t i = 0; i < CHECK_N_RULES; i++)
		if (any || check_rules[i].severity == sev)
			t += n[i];
	return t;
}

/* ": rule N, rule N" for the rules counted. */
static void print_rules_32(FILE *fp, const uint32_t *n)
{
	const char *sep = ": ";

	for (size_t i = 0; i < CHECK_N_RULES; i++) {
		if (n[i] == 0)
			continue;
		fprintf(fp, "%s%s %u", sep, check_rules[i].id, n[i]);
		sep = ", ";
	}
}

static void print_plural(FILE *fp, uint64_t n, const char *noun)
{
	fprintf(fp, "%llu %s%s", (unsigned long long)n, noun, n == 1 ? "" : "s");
}

static void print_counts(struct check *c, FILE *fp)
{
	uint64_t all = 0, err = 0;
	const char *on = c->opts.color ? "\x1b[1;31m" : "", *off = c->opts.color ? "\x1b[0m" : "";

	for (size_t i = 0; i < CHECK_N_RULES; i++) {
		all += c->total[i];
		if (check_rules[i].severity == CHECK_ERROR)
			err += c->total[i];
	}
	fprintf(fp, "%s-- checks:%s ", all ? on : "", all ? off : "");
	print_plural(fp, all, "finding");
	fprintf(fp, " (%llu error%s, %llu warning%s) in %zu of ", (unsigned long long)err,
		err == 1 ? "" : "s", (unsigned long long)(all - err), all - err == 1 ? "" : "s",
		c->n_sess);
	print_plural(fp, c->sessions, "session");
	fputs(", ", fp);
	print_plural(fp, c->commands, "command");
	fputs("\n", fp);
	for (size_t i = 0; i < c->n_sess; i++) {
		const struct check_session *cs = &c->sess[i];
		uint64_t e = sum_rules(cs->n, CHECK_ERROR, false), t = sum_rules(cs->n, 0, true);

		fprintf(fp, "   #%llu: ", (unsigned long long)cs->id);
		print_plural(fp, t, "finding");
		fprintf(fp, " (%llu error%s) in ", (unsigned long long)e, e == 1 ? "" : "s");
		print_plural(fp, cs->commands, "command");
		print_rules_32(fp, cs->n);
		fputs("\n", fp);
	}
	if (c->sess_over != 0)
		fprintf(fp, "   %llu findings of sessions past %d not counted by session\n",
			(unsigned long long)c->sess_over, CHECK_MAX_SESSIONS);
	if (c->not_shown != 0)
		fprintf(fp, "   %llu findings not shown: over %d of one rule in a session\n",
			(unsigned long long)c->not_shown, CHECK_PER_RULE_SHOWN);
}

static int check_finish(void *ctx)
{
	struct check *c = ctx;
	int rc = c->inner.ops->finish(c->inner.ctx);

	if (c->opts.counts_fp != NULL) {
		print_counts(c, c->opts.counts_fp);
		if (fflush(c->opts.counts_fp) != 0 && rc == 0)
			rc = -1;
	}
	return rc;
}

static void check_flush(void *ctx)
{
	struct check *c = ctx;

	if (c->inner.ops->flush != NULL)
		c->inner.ops->flush(c->inner.ctx);
}

static void check_free(void *ctx)
{
	struct check *c = ctx;

	if (c == NULL)
		return;
	c->inner.ops->free(c->inner.ctx);
	buf_free(&c->line);
	if (c->sess != NULL)
		mem_release(c->opts.budget, c->cap_sess * sizeof *c->sess);
	free(c->sess);
	free(c);
}

/* Each instance's ops carry its inner output's facts too. */
struct check_out {
	struct check c;
	struct output_ops ops;
};

int check_new(struct output *out_r, struct output inner, const struct check_opts *opts)
{
	struct check_out *co = calloc(1, sizeof *co);

	if (co == NULL) {
		inner.ops->free(inner.ctx);
		return -1;
	}
	co->c.inner = inner;
	co->c.opts = *opts;
	buf_init(&co->c.line, CHECK_LINE_MAX + 16, opts->budget);
	co->ops = (struct output_ops){
		.event = check_event,
		.finish = check_finish,
		.free = check_free,
		.flush = check_flush,
		.facts = inner.ops->facts | IMAP_FACTS_WIRE | IMAP_FACTS_FETCH,
	};
	out_r->ops = &co->ops;
	out_r->ctx = &co->c;
	return 0;
}
