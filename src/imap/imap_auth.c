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

void imap_auth_emit_login(struct imap_session *s, const struct pending *p,
			  enum login_result result, const struct imap_response *resp,
			  int64_t ts)
{
	const struct login_attempt *a = p->login;
	struct event ev = { .type = EV_LOGIN, .ts_us = ts };

	if (a->is_sasl) {
		ev.u.login.user = imap_sasl_user(&a->sasl);
		ev.u.login.mechanism = cslice(a->sasl.mech_name);
		if (s->cfg->show_secrets)
			ev.u.login.secret = imap_sasl_secret(&a->sasl);
	} else {
		ev.u.login.user = a->have_user ? bslice(&a->user) : SLICE_NULL;
		ev.u.login.mechanism = cslice("LOGIN");
		if (s->cfg->show_secrets && a->have_secret)
			ev.u.login.secret = bslice(&a->secret);
	}
	ev.u.login.result = result;
	ev.u.login.tag = (struct buf_slice){ p->tag, p->tag_len };
	/* What carried the command, which is what exposed its secret: an
	 * injected or stripped-STARTTLS login is plain whatever came after. */
	ev.u.login.transport = a->clear ? TRANSPORT_PLAIN : s->transport;
	ev.u.login.cleartext_secret = a->clear && secret_crossed(a);
	ev.u.login.cleartext_after_starttls = a->after_starttls;
	if (resp != NULL) {
		ev.u.login.code = resp->code;
		ev.u.login.text = resp->text;
	}
	imap_session_emit(s, &ev);
}

void imap_auth_login_unknown(struct imap_session *s, const struct pending *p, int64_t ts)
{
	if (!p->login->out_of_state)
		imap_auth_emit_login(s, p, LOGIN_UNKNOWN, NULL, ts);
}

/* --- LOGIN and AUTHENTICATE commands -------------------------------------- */

/* The arguments with the secret token (raw, inside the line) replaced by
 * "***"; raw.ptr NULL or --show-secrets: the arguments as they stand. */
struct buf_slice imap_auth_redacted_args(struct imap_session *s, const struct imap_line *line,
					 const struct imap_command *cmd, struct buf_slice raw)
{
	const uint8_t *a = cmd->args.ptr, *end = line->text.ptr + line->text.len;
	const uint8_t *raw_end;

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
	if (imap_session_tok_is_string(&pt))
		*secret_r = pt.raw;
	a = attempt_new(false, s->cfg->budget);
	if (a == NULL)
		return NULL;
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
	if (ir.type == IMAP_TOK_ATOM && !buf_slice_ieq(ir.value, "="))
		*secret_r = ir.raw;
	a = attempt_new(true, s->cfg->budget);
	if (a == NULL)
		return NULL;
	if (mt.type != IMAP_TOK_ATOM)
		mt.value = cslice("");
	imap_sasl_init(&a->sasl, mt.value.ptr, mt.value.len, s->cfg->budget);
	if (ir.type == IMAP_TOK_ATOM)
		imap_sasl_response(&a->sasl, ir.value.ptr, ir.value.len);
	return a;
}

/* A client line inside AUTHENTICATE: SASL data, shown redacted except for
 * the cancel "*" and the empty "=". */
void imap_auth_sasl_line(struct imap_session *s, const struct imap_line *line)
{
	struct buf_slice t = line->text;
	bool plain = s->cfg->show_secrets || t.len == 0 || buf_slice_ieq(t, "*") || buf_slice_ieq(t, "=");

	imap_sasl_response(&s->sasl->sasl, t.ptr, t.len);
	imap_session_emit_continuation(s, DIR_C2S, plain ? t : cslice(SESS_REDACTED), line->ts_last_us);
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
	buf_reset(&s->user);
	s->have_user = u.ptr != NULL && buf_append(&s->user, u.ptr, u.len) == 0;
}
