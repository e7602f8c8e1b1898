/* LOGIN and AUTHENTICATE (see imap_session_int.h): the attempts a session
 * waits on, the SASL lines in between, the login events their completions
 * make, and the redaction of passwords and SASL data unless --show-secrets.
 * The mechanisms themselves are decoded by imap/imap_sasl.h. */
#include <stdlib.h>
#include <string.h>

#include "imap/imap_lexer.h"
#include "imap/imap_parser.h"
#include "imap/imap_sasl.h"
#include "imap_session_int.h"

#define SESS_MAX_SECRET   8192		/* LOGIN password kept (--show-secrets) */
/* Bytes of an uncaptured command's answer searched for proof of a login:
 * servers say it first, and a flood of long orphan answers then costs a
 * constant per line. */
#define AUTH_PROOF_SCAN   256
#define SESS_REDACTED     "***"

/* --- login attempts ------------------------------------------------------ */

/* Up to IMAP_MAX_PENDING_TAGS of these (each with 9 KB of user and secret)
 * may wait per session, so they are charged to the run's budget. */
static struct login_attempt *attempt_new(bool is_sasl, struct mem_budget *budget)
{
	struct login_attempt *a;

	if (mem_charge(budget, sizeof *a) != 0)
		return NULL;
	a = calloc(1, sizeof *a);
	if (a == NULL) {
		mem_release(budget, sizeof *a);
		return NULL;
	}
	a->budget = budget;
	a->is_sasl = is_sasl;
	buf_init(&a->user, SESS_MAX_LOGIN, budget);
	buf_init(&a->secret, SESS_MAX_SECRET, budget);
	return a;
}

void imap_auth_attempt_free(struct login_attempt *a)
{
	if (a == NULL)
		return;
	if (a->is_sasl)
		imap_sasl_free(&a->sasl);
	buf_free(&a->user);
	buf_free(&a->secret);
	mem_release(a->budget, sizeof *a);
	free(a);
}

/* --- login events -------------------------------------------------------- */

/* Did the password or token itself cross the wire (so in clear, when the
 * transport was plain)?  Challenge-response mechanisms never send it. */
static bool secret_crossed(const struct login_attempt *a)
{
	if (!a->is_sasl)
		return a->secret_sent;
	switch (a->sasl.mech) {
	case IMAP_SASL_PLAIN:
	case IMAP_SASL_LOGIN:
	case IMAP_SASL_XOAUTH2:
	case IMAP_SASL_OAUTHBEARER:
		return a->sasl.have_secret;	/* not when cancelled first */
	default:
		return false;
	}
}

/* A client that cancels its SASL exchange gave up; it did not guess wrong. */
static enum login_result final_result(const struct login_attempt *a, enum login_result r)
{
	if (r != LOGIN_OK && a->is_sasl && a->sasl.cancelled)
		return LOGIN_ABORTED;
	return r;
}

/* Stamped when the command was sent, whenever its answer came (or the
 * session ended without one): that is when the attempt was made. */
void imap_auth_emit_login(struct imap_session *s, const struct pending *p,
			  enum login_result result, const struct imap_response *resp)
{
	const struct login_attempt *a = p->login;
	/* from the command that carried the secret to the answer */
	struct event ev = { .type = EV_LOGIN, .ts_us = a->ts_us, .frame = a->frame,
			    .frame_last = s->cur_line != NULL ? s->cur_line->frame_last : 0 };

	if (a->is_sasl) {
		ev.u.login.user = imap_sasl_user(&a->sasl);
		ev.u.login.authzid = imap_sasl_authzid(&a->sasl);
		ev.u.login.mechanism = cslice(a->sasl.mech_name);
		if (s->cfg->show_secrets)
			ev.u.login.secret = imap_sasl_secret(&a->sasl);
	} else {
		ev.u.login.user = a->have_user ? bslice(&a->user) : SLICE_NULL;
		ev.u.login.mechanism = cslice("LOGIN");
		if (s->cfg->show_secrets && a->have_secret)
			ev.u.login.secret = bslice(&a->secret);
	}
	ev.u.login.result = final_result(a, result);
	ev.u.login.tag = (struct buf_slice){ p->tag, p->tag_len };
	/* What carried the command, which is what exposed its secret: an
	 * injected or stripped-STARTTLS login is plain whatever came after. */
	ev.u.login.transport = a->clear ? TRANSPORT_PLAIN : s->facts.transport;
	ev.u.login.cleartext_secret = a->clear && secret_crossed(a);
	ev.u.login.cleartext_after_starttls = a->after_starttls;
	if (resp != NULL) {
		ev.u.login.code = resp->code;
		ev.u.login.text = resp->text;
	}
	imap_session_emit(s, &ev);
}

void imap_auth_login_unknown(struct imap_session *s, const struct pending *p)
{
	if (!p->login->out_of_state)
		imap_auth_emit_login(s, p, LOGIN_UNKNOWN, NULL);
}

/* --- logins the server confirmed ------------------------------------------ */

static uint8_t auth_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
}

/* Does s contain word (lower case ASCII), not glued to a letter before it
 * ("Unauthenticated" is no proof)? */
static bool auth_has_word(struct buf_slice s, const char *word)
{
	size_t n = strlen(word);

	if (s.len > AUTH_PROOF_SCAN)
		s.len = AUTH_PROOF_SCAN;
	for (size_t i = 0; s.ptr != NULL && i + n <= s.len; i++) {
		size_t k = 0;

		while (k < n && auth_lower(s.ptr[i + k]) == (uint8_t)word[k])
			k++;
		if (k == n && (i == 0 || !((s.ptr[i - 1] | 0x20) >= 'a' && (s.ptr[i - 1] | 0x20) <= 'z')))
			return true;
	}
	return false;
}

/* Words servers answer a successful LOGIN or AUTHENTICATE with (Dovecot,
 * Exchange, Coremail, Gmail, Cyrus, Courier).  "not authenticated" is said
 * in NO and BAD, which never get here. */
static bool auth_text_proves(const struct imap_response *r)
{
	static const char *const words[] = {
		"logged in", "login completed", "login ok", "authenticated",
		"authenticate completed", "authentication successful",
	};

	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (auth_has_word(r->text, words[i]) || auth_has_word(r->code, words[i]))
			return true;
	return false;
}

/* A tagged OK of a command that was not captured, which only SELECT or
 * EXAMINE give: "[READ-WRITE]", "[READ-ONLY]", "SELECT completed". */
static const char *auth_select_answer(const struct imap_response *r)
{
	if (auth_has_word(r->text, "examine"))
		return "EXAMINE";
	if (auth_has_word(r->code, "read-write") || auth_has_word(r->code, "read-only") ||
	    auth_has_word(r->text, "select"))
		return "SELECT";
	return NULL;
}

/* "SELECT OK after no captured login: <the line>" into s->args. */
static struct buf_slice auth_evidence(struct imap_session *s, const char *cmd,
				      struct buf_slice line)
{
	static const char mid[] = " OK after no captured login: ";

	if (cmd == NULL)
		return line;
	buf_reset(&s->args);
	if (buf_append(&s->args, cmd, strlen(cmd)) != 0 ||
	    buf_append(&s->args, mid, sizeof mid - 1) != 0 ||
	    buf_append(&s->args, line.ptr, line.len) != 0)
		return line;	/* cannot happen: sized for a line and more */
	return bslice(&s->args);
}

void imap_auth_infer(struct imap_session *s, const struct imap_line *line,
		     const struct imap_response *r, const struct pending *p)
{
	struct event ev = { .type = EV_LOGIN, .ts_us = line->ts_last_us };
	const char *proof = NULL;

	if (s->state_before != IMAP_STATE_NOT_AUTH || r->id != IMAP_R_OK)
		return;
	if (p != NULL) {
		/* A command the vocabulary does not allow before
		 * authentication (RFC 9051 6.3, 6.4 and the extensions'). */
		if (!imap_vocab_needs_auth(p->id))
			return;
		proof = p->name;
	} else if (!auth_text_proves(r)) {
		if ((proof = auth_select_answer(r)) == NULL)
			return;
	}
	if (s->facts.state == IMAP_STATE_NOT_AUTH)	/* proven once is enough */
		imap_facts_set_state(s, IMAP_STATE_AUTH);
	ev.u.login.mechanism = SLICE_NULL;
	ev.u.login.result = LOGIN_OK;
	ev.u.login.tag = r->tag;
	/* the answer's own way: plain when it came in clear */
	ev.u.login.transport = s->pl.path[line->dir].in_clear ? TRANSPORT_PLAIN : s->facts.transport;
	ev.u.login.code = r->code;
	ev.u.login.text = r->text;
	ev.u.login.inferred = true;
	ev.u.login.evidence = auth_evidence(s, proof, line->text);
	imap_session_emit(s, &ev);
}

/* --- LOGIN and AUTHENTICATE commands -------------------------------------- */

/* Append v as an IMAP quoted string (\\ and \" escaped; the outputs
 * escape what a terminal must not see). */
static int auth_put_quoted(struct buf *b, struct buf_slice v)
{
	int rc = buf_append(b, "\"", 1);

	for (size_t i = 0; i < v.len && rc == 0; i++) {
		if (v.ptr[i] == '"' || v.ptr[i] == '\\')
			rc = buf_append(b, "\\", 1);
		if (rc == 0)
			rc = buf_append(b, v.ptr + i, 1);
	}
	return rc == 0 ? buf_append(b, "\"", 1) : rc;
}

/* --show-secrets: LOGIN's user and password as they were sent, literals
 * included ("{8}" alone would hide the very secret asked for); a literal
 * not kept whole stays "{N}". */
static struct buf_slice auth_login_args_shown(struct imap_session *s, const struct imap_line *line,
					      const struct imap_command *cmd)
{
	const uint8_t *from = cmd->args.ptr, *end = line->text.ptr + line->text.len;
	struct imap_tok_cursor c;
	struct imap_tok t;
	int rc = 0;

	buf_reset(&s->args);
	imap_tok_init(&c, line, cmd->args_off);
	while (rc == 0 && imap_tok_next(&c, &t) != IMAP_TOK_END) {
		if (t.type != IMAP_TOK_LITERAL || t.lit->kept.ptr == NULL)
			continue;
		rc = buf_append(&s->args, from, (size_t)(t.raw.ptr - from)) |
		     auth_put_quoted(&s->args, t.lit->kept);
		from = t.raw.ptr + t.raw.len;
	}
	if (rc != 0 || buf_append(&s->args, from, (size_t)(end - from)) != 0)
		return cmd->args;	/* too long to show whole: as it stands */
	return bslice(&s->args);
}

/* The arguments with the secret token (raw, inside the line) replaced by
 * "***"; raw.ptr NULL or --show-secrets: the arguments as they stand
 * (LOGIN's literals shown). */
struct buf_slice imap_auth_redacted_args(struct imap_session *s, const struct imap_line *line,
					 const struct imap_command *cmd, struct buf_slice raw)
{
	const uint8_t *a = cmd->args.ptr, *end = line->text.ptr + line->text.len;
	const uint8_t *raw_end;

	if (s->cfg->show_secrets && cmd->id == IMAP_CMD_LOGIN && line->n_lits > 0)
		return auth_login_args_shown(s, line, cmd);
	if (raw.ptr == NULL || s->cfg->show_secrets)
		return cmd->args;
	raw_end = raw.ptr + raw.len;
	buf_reset(&s->args);
	if (buf_append(&s->args, a, (size_t)(raw.ptr - a)) != 0 ||
	    buf_append(&s->args, SESS_REDACTED, strlen(SESS_REDACTED)) != 0 ||
	    buf_append(&s->args, raw_end, (size_t)(end - raw_end)) != 0) {
		buf_reset(&s->args);	/* cannot happen: sized for a line */
		if (buf_append(&s->args, SESS_REDACTED, strlen(SESS_REDACTED)) != 0)
			return cslice(SESS_REDACTED);
	}
	return bslice(&s->args);
}

/* --- secrets told to the tap (--follow) ---------------------------------- */

static void auth_tap_mark(struct imap_session *s, uint64_t off, uint64_t len)
{
	struct imap_tap_mark m = { IMAP_TAP_SECRET, DIR_C2S, off, len };

	if (len != 0)
		s->cfg->tap.mark(s->cfg->tap.ctx, s->id, &m);
}

/* From off to the end of the client's final stream so far, which is the
 * end of the line being read (a line read again after a refused literal
 * ends earlier: more is hidden then, never less). */
static void auth_tap_to_end(struct imap_session *s, uint64_t off)
{
	uint64_t end = s->pl.plain_off[DIR_C2S];

	auth_tap_mark(s, off, end > off ? end - off : 0);
}

void imap_auth_tap_hide(struct imap_session *s, uint64_t off, uint64_t len)
{
	if (s->cfg->tap.mark == NULL || s->cfg->show_secrets)
		return;
	if (len == UINT64_MAX)
		auth_tap_to_end(s, off);
	else
		auth_tap_mark(s, off, len);
}

/* Where the secret token raw (or the literal lit) of a client line lies in
 * the stream.  The line text skips each literal's line end and contents,
 * so past a literal's marker the text goes on right after its contents. */
static void auth_tap_secret(struct imap_session *s, const struct imap_line *line,
			    struct buf_slice raw, const struct imap_literal *lit)
{
	uint64_t base = line->off_first;
	size_t pos, base_pos = 0, i;

	if (s->cfg->tap.mark == NULL || s->cfg->show_secrets || raw.ptr == NULL)
		return;
	if (lit != NULL) {
		auth_tap_mark(s, lit->off, lit->size);
		return;
	}
	if (line->overlong || line->damaged || raw.ptr < line->text.ptr) {
		auth_tap_to_end(s, line->off_first);	/* the text is not the stream */
		return;
	}
	pos = (size_t)(raw.ptr - line->text.ptr);
	for (i = 0; i < line->n_lits && line->lits[i].text_off <= pos; i++) {
		base = line->lits[i].off + line->lits[i].size;
		base_pos = line->lits[i].text_off;
	}
	auth_tap_mark(s, base + (pos - base_pos), raw.len);
}

/* LOGIN SP userid SP password: the user is shown, the password only with
 * --show-secrets.  *secret_r gets the password token to redact. */
struct login_attempt *imap_auth_login_command(struct imap_session *s, const struct imap_line *line,
					      const struct imap_command *cmd,
					      struct buf_slice *secret_r)
{
	struct imap_tok_cursor c;
	struct imap_tok ut, pt;
	struct login_attempt *a;

	imap_tok_init(&c, line, cmd->args_off);
	imap_tok_next(&c, &ut);
	imap_tok_next(&c, &pt);
	if (imap_session_tok_is_string(&pt)) {
		*secret_r = pt.raw;
		auth_tap_secret(s, line, pt.raw, pt.type == IMAP_TOK_LITERAL ? pt.lit : NULL);
	}
	a = attempt_new(false, s->cfg->budget);
	if (a == NULL)
		return NULL;
	a->ts_us = line->ts_first_us;
	a->frame = line->frame_first;
	a->have_user = imap_session_tok_value(&a->user, &ut) == 0;
	a->have_secret = imap_session_tok_value(&a->secret, &pt) == 0;
	a->secret_sent = imap_session_tok_is_string(&pt);
	return a;
}

/* AUTHENTICATE SP mech [SP initial-response] (RFC 4959 SASL-IR). */
struct login_attempt *imap_auth_authenticate_command(struct imap_session *s, const struct imap_line *line,
						     const struct imap_command *cmd,
						     struct buf_slice *secret_r)
{
	struct imap_tok_cursor c;
	struct imap_tok mt, ir;
	struct login_attempt *a;

	imap_tok_init(&c, line, cmd->args_off);
	imap_tok_next(&c, &mt);
	imap_tok_next(&c, &ir);
	if (ir.type == IMAP_TOK_ATOM && !buf_slice_ieq(ir.value, "=")) {
		*secret_r = ir.raw;
		auth_tap_secret(s, line, ir.raw, NULL);
	}
	a = attempt_new(true, s->cfg->budget);
	if (a == NULL)
		return NULL;
	a->ts_us = line->ts_first_us;
	a->frame = line->frame_first;
	if (mt.type != IMAP_TOK_ATOM)
		mt.value = cslice("");
	imap_sasl_init(&a->sasl, mt.value.ptr, mt.value.len, s->cfg->budget);
	if (ir.type == IMAP_TOK_ATOM)
		(void)imap_sasl_response(&a->sasl, ir.value.ptr, ir.value.len);
	return a;
}

/* A client line inside AUTHENTICATE: SASL data, shown redacted except for
 * the cancel "*" and the empty "="; with --show-secrets as sent and
 * decoded (what this answer carried). */
void imap_auth_sasl_line(struct imap_session *s, const struct imap_line *line)
{
	struct buf_slice t = line->text;
	bool show = s->cfg->show_secrets;
	bool plain = show || t.len == 0 || buf_slice_ieq(t, "*") || buf_slice_ieq(t, "=");
	struct event ev = { .type = EV_CONTINUATION, .ts_us = line->ts_last_us };
	const struct imap_sasl *sasl = &s->sasl->sasl;
	int got = imap_sasl_response(&s->sasl->sasl, t.ptr, t.len);

	ev.u.continuation.dir = DIR_C2S;
	ev.u.continuation.kind = CONT_SASL;
	ev.u.continuation.text = plain ? t : cslice(SESS_REDACTED);
	if (!plain && s->cfg->tap.mark != NULL && !line->overlong && line->n_lits == 0)
		auth_tap_mark(s, line->off_first, t.len);	/* its line end stays */
	else if (!plain && s->cfg->tap.mark != NULL)
		auth_tap_to_end(s, line->off_first);
	if (show && (got & IMAP_SASL_GOT_USER))
		ev.u.continuation.user = imap_sasl_user(sasl);
	if (show && (got & IMAP_SASL_GOT_AUTHZID))
		ev.u.continuation.authzid = imap_sasl_authzid(sasl);
	if (show && (got & IMAP_SASL_GOT_SECRET))
		ev.u.continuation.secret = imap_sasl_secret(sasl);
	imap_session_emit(s, &ev);
}

/* The login that succeeded, for --extract's index. */
void imap_auth_remember_user(struct imap_session *s, const struct login_attempt *a)
{
	struct buf_slice u = SLICE_NULL;

	if (a == NULL)
		return;
	if (a->is_sasl)
		u = imap_sasl_user(&a->sasl);
	else if (a->have_user)
		u = bslice(&a->user);
	imap_facts_set_user(s, u);
}
