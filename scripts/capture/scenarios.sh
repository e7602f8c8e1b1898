# Scenario functions for make-captures.sh (sourced).  Each writes
# captures/NAME.* and captures/NAME.truth.json.
# shellcheck shell=bash

ALL_SCENARIOS=(demo commands fetch-large login-failures auth-mechanisms append idle
	starttls12 starttls13 implicit-ecdhe implicit-rsa compress compress-tls dual-stack
	imaplib imaplib-tls activity activity-starttls activity-compress activity-compress-tls
	activity-qresync activity-uid activity-concurrent curl fetchmail mbsync sclient variants snaplen loss lo64k damaged)

scenario_demo() { run_py demo demo "LOGIN, SELECT, FETCH with a literal, LOGOUT (make demo)"; }
scenario_commands() { run_py commands commands "the whole command set: literal-heavy FETCH, UID commands, lower-case commands, BAD/NO completions"; }
scenario_fetch_large() { run_py fetch-large fetch-large "one ~200 KB FETCH literal in 1448-byte segments"; }
scenario_login_failures() { run_py login-failures login-failures "failed LOGIN and AUTHENTICATE, a cancelled AUTHENTICATE, an unknown mechanism, LOGIN with a literal password"; }
scenario_auth_mechanisms() { run_py auth-mechanisms auth-mechanisms "one session per SASL mechanism Dovecot offers: PLAIN (with and without SASL-IR), LOGIN, CRAM-MD5, DIGEST-MD5, SCRAM-SHA-1, SCRAM-SHA-256, ANONYMOUS"; }
scenario_append() { run_py append append "APPEND with synchronising literals, LITERAL+, MULTIAPPEND, refused APPEND (TRYCREATE), empty message"; }
scenario_idle() { run_py idle idle "IDLE, while another client APPENDs to the same mailbox (EXISTS during IDLE)"; }
scenario_starttls12() { run_py starttls12 starttls12 "STARTTLS, TLS 1.2 (ECDHE), key log"; }
scenario_starttls13() { run_py starttls13 starttls13 "STARTTLS, TLS 1.3, key log"; }
scenario_implicit_ecdhe() { run_py implicit-ecdhe implicit-ecdhe "implicit TLS on 993: TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256, then TLS 1.3; key log"; }
scenario_compress() { run_py compress compress "COMPRESS=DEFLATE on a plain session"; }
scenario_compress_tls() { run_py compress-tls compress-tls "COMPRESS=DEFLATE inside implicit TLS 1.3; key log"; }
scenario_dual_stack() { run_py dual-stack dual-stack "concurrent IPv4 and IPv6 sessions, interleaved and pipelined commands"; }
scenario_imaplib() { run_py imaplib imaplib "python3 imaplib, plain: failed then good LOGIN, LIST, SELECT, SEARCH, FETCH, UID FETCH/SEARCH, STORE, APPEND, CLOSE"; }
scenario_imaplib_tls() { run_py imaplib-tls imaplib-tls "python3 imaplib: STARTTLS (TLS 1.2) and IMAP4_SSL on 993 (TLS 1.3); key log"; }
# Mailbox activity (issue 17): the truth's "activity" lists come from activity.py
ACT="an intruder's session: reads (BODY.PEEK[], partial, RFC822, HEADER.FIELDS, ENVELOPE, BINARY), flags, STORE \\Deleted + EXPUNGE with renumbering, COPY, MOVE, refused COPY (TRYCREATE), APPEND of an RFC 2047/folded/8-bit message, CREATE/RENAME/DELETE, SUBSCRIBE/UNSUBSCRIBE, SEARCH, three pipelined commands, CLOSE"
scenario_activity() { run_py activity activity "$ACT"; }
scenario_activity_starttls() { run_py activity-starttls activity-starttls "$ACT; through STARTTLS (TLS 1.3), key log"; }
scenario_activity_compress() { run_py activity-compress activity-compress "$ACT; inside COMPRESS=DEFLATE"; }
scenario_activity_compress_tls() { run_py activity-compress-tls activity-compress-tls "$ACT; COMPRESS=DEFLATE inside implicit TLS 1.3, key log"; }
scenario_activity_qresync() { run_py activity-qresync activity-qresync "QRESYNC: UID EXPUNGE answered by VANISHED, then a second session's SELECT (QRESYNC ...) with VANISHED (EARLIER) and more UID EXPUNGE"; }
scenario_activity_concurrent() { run_py activity-concurrent activity-concurrent "another session APPENDs and EXPUNGEs under a selected one: EXISTS and EXPUNGE on its NOOP, then reads by sequence number"; }
scenario_activity_uid() { run_py activity-uid activity-uid "a client that works by UID only: UID SEARCH/FETCH/STORE/COPY/MOVE/EXPUNGE, sequence numbers only from the server's answers"; }

scenario_implicit_rsa() {
	run_py implicit-rsa implicit-rsa "implicit TLS 1.2 with RSA key exchange (AES128-GCM-SHA256): key log, and decryptable with --rsa-key tls/server.key alone"
	python3 - "$OUT/implicit-rsa.truth.json" <<'PY'
import json, sys
p = sys.argv[1]; t = json.load(open(p)); t["rsa_key"] = "tls/server.key"
json.dump(t, open(p, "w"), indent=1, ensure_ascii=False)
PY
}

# ---------------------------------------------------------------- stock clients
NSX() { ip netns exec "$NS" "$@"; }

scenario_curl() {
	local name=curl kl=$OUT/curl.keylog lg=$W/logs/curl.log u
	log "scenario $name"
	reset_mail ns
	rm -f "$kl" "$lg"
	cap_start "$OUT/$name.pcap" "$NS" lo
	for u in 'imap://127.0.0.1/' 'imap://127.0.0.1/INBOX;UID=1' 'imap://127.0.0.1/INBOX?SUBJECT%20IMAP'; do
		NSX curl -sS --verbose -u alice:alice-pw "$u" -o /dev/null 2>>"$lg"
	done
	NSX curl -sS --verbose -u bob:bob-pw --login-options AUTH=LOGIN 'imap://127.0.0.1/INBOX;UID=3' -o /dev/null 2>>"$lg"
	NSX curl -sS --verbose -u alice:alice-pw --login-options AUTH=CRAM-MD5 'imap://127.0.0.1/INBOX;UID=2;SECTION=HEADER' -o /dev/null 2>>"$lg"
	NSX curl -sS --verbose -u alice:wrong 'imap://127.0.0.1/INBOX' -o /dev/null 2>>"$lg" || true
	NSX curl -sS --verbose -u alice:alice-pw -X 'EXAMINE Archive' 'imap://127.0.0.1/' -o /dev/null 2>>"$lg"
	NSX env SSLKEYLOGFILE="$kl" curl -sS --verbose -k --ssl-reqd -u alice:alice-pw 'imap://127.0.0.1/INBOX;UID=4' -o /dev/null 2>>"$lg"
	NSX env SSLKEYLOGFILE="$kl" curl -sS --verbose -k -u alice:alice-pw 'imaps://127.0.0.1/INBOX;UID=1' -o /dev/null 2>>"$lg"
	cap_stop_all
	mapfile -t k < <(keylog_opt "$kl")
	assemble "$name" "$name.pcap" "curl 7.88 (--verbose is the truth): LIST, FETCH by UID, SEARCH, AUTH=LOGIN, AUTH=CRAM-MD5, a failed login, a custom EXAMINE, STARTTLS (--ssl-reqd) and imaps://; key log" \
		--log "curl:$lg" "${k[@]}"
}

scenario_fetchmail() {
	local name=fetchmail lg=$W/logs/fetchmail.log rc=$W/fetchmailrc
	log "scenario $name"
	reset_mail ns
	cat >"$rc" <<-EOF
	set no syslog
	poll 127.0.0.1 protocol IMAP port 143 auth password
	  user alice password alice-pw is root here
	  sslproto '' keep fetchall mda "/bin/cat >/dev/null"
	EOF
	chmod 600 "$rc"
	cap_start "$OUT/$name.pcap" "$NS" lo
	NSX env HOME="$W" FETCHMAILHOME="$W" fetchmail -v -f "$rc" --nodetach >"$lg" 2>&1 || true
	cap_stop_all
	assemble "$name" "$name.pcap" "fetchmail 6.4 (-v is the truth): fetch all of INBOX without deleting" --log "fetchmail:$lg"
}

scenario_mbsync() {
	local name=mbsync lg=$W/logs/mbsync.log rc=$W/mbsyncrc
	log "scenario $name"
	reset_mail ns
	rm -rf "$W/mbsync-local"
	mkdir -p "$W/mbsync-local"
	cat >"$rc" <<-EOF
	IMAPAccount corpus
	Host 127.0.0.1
	Port 143
	User alice
	Pass alice-pw
	SSLType None
	AuthMechs LOGIN

	IMAPStore remote
	Account corpus

	MaildirStore local
	Path $W/mbsync-local/
	Inbox $W/mbsync-local/INBOX
	SubFolders Verbatim

	Channel sync
	Far :remote:
	Near :local:
	Patterns INBOX Archive
	Create Near
	Sync Pull
	SyncState *
	EOF
	cap_start "$OUT/$name.pcap" "$NS" lo
	NSX mbsync -c "$rc" -D -a >"$lg" 2>&1
	cap_stop_all
	assemble "$name" "$name.pcap" "mbsync (isync 1.4, -D is the truth): pull INBOX and Archive into an empty Maildir" --log "mbsync:$lg"
}

# sclient_feed LOG: feed IMAP lines (stdin "tag command") with pauses; log C:/S:
sclient_run() {    # sclient_run LOG PHASE s_client-args... < script
	local lg=$1 phase=$2
	shift 2
	echo "TLS $phase" >>"$lg"
	local script
	script=$(cat)
	{ sleep 1; while IFS= read -r l; do printf '%s\n' "$l"; sleep 0.4; done <<<"$script"; sleep 1; } |
		NSX openssl s_client -quiet -crlf -ign_eof -servername imap.example.test "$@" 2>>"$W/logs/s_client.err" |
		tr -d '\r' | sed 's/^/S: /' >>"$lg.out"
	sed 's/^/C: /' <<<"$script" >>"$lg"
	cat "$lg.out" >>"$lg"
	rm -f "$lg.out"
}

scenario_sclient() {
	local name=s_client kl=$OUT/s_client.keylog
	log "scenario $name"
	reset_mail ns
	rm -f "$kl" "$W/logs"/sclient*.log
	cap_start "$OUT/$name.pcap" "$NS" lo
	# s_client -starttls imap sends ". CAPABILITY" and ". STARTTLS" itself
	printf 'C: . CAPABILITY\nS: . OK\nC: . STARTTLS\nS: . OK\n' >"$W/logs/sclient1.log"
	sclient_run "$W/logs/sclient1.log" starttls -connect 127.0.0.1:143 -starttls imap -tls1_2 -keylogfile "$kl" <<-'EOF'
	s01 LOGIN alice alice-pw
	s02 SELECT INBOX
	s03 FETCH 1:2 BODY[]
	s04 LOGOUT
	EOF
	sclient_run "$W/logs/sclient2.log" implicit -connect 127.0.0.1:993 -tls1_2 -cipher AES128-GCM-SHA256 -keylogfile "$kl" <<-'EOF'
	s01 LOGIN bob bob-pw
	s02 EXAMINE INBOX
	s03 FETCH 3 (BODY[TEXT])
	s04 LOGOUT
	EOF
	cap_stop_all
	assemble "$name" "$name.pcap" "openssl s_client: STARTTLS with TLS 1.2 (ECDHE), then implicit TLS 1.2 with RSA key exchange (AES128-GCM-SHA256); key log, and tls/server.key for the RSA session" \
		--log "sclient:$W/logs/sclient1.log" --log "sclient:$W/logs/sclient2.log" --keylog "$kl" --rsa-key "$OUT/tls/server.key"
}

# ---------------------------------------------------------------- capture formats
# One session captured four ways at once: pcapng (dumpcap), nanosecond pcap,
# -i any (Linux cooked v2), and plain pcap.
scenario_variants() {
	local name=formats
	log "scenario variants"
	reset_mail ns
	rm -f "$W/frag/$name.json"
	cap_start "$OUT/$name.pcap" "$NS" lo
	cap_start "$OUT/$name-nano.pcap" "$NS" lo --time-stamp-precision=nano
	cap_start "$OUT/$name-any.pcap" "$NS" any -y LINUX_SLL2
	cap_start_dumpcap "$OUT/$name-dumpcap.pcapng" "$NS"
	NSX python3 "$TOOLS/scenarios.py" demo --truth "$W/frag/$name.json"
	cap_stop_all
	local f
	for f in "$name.pcap" "$name-nano.pcap" "$name-any.pcap" "$name-dumpcap.pcapng"; do
		assemble "${f%.*}" "$f" "the demo session, captured at once as pcap, nanosecond pcap, -i any (LINUX_SLL2) and pcapng (dumpcap)" \
			--fragment "$W/frag/$name.json"
	done
}

scenario_snaplen() {
	local name=snaplen200
	log "scenario $name"
	reset_mail ns
	cap_start "$OUT/$name.pcap" "$NS" lo -s 200
	NSX python3 "$TOOLS/scenarios.py" snaplen --truth "$W/frag/$name.json"
	cap_stop_all
	assemble "$name" "$name.pcap" "captured with -s 200: every packet longer than 200 bytes is cut (the payload is lost, not the packet)" \
		--fragment "$W/frag/$name.json" --check-mode ghosts
}

# Loss: netem if the kernel has it; otherwise iptables drops 5% of received
# TCP segments after the capture point, so TCP really retransmits them.
scenario_loss() {
	local name=loss how
	log "scenario $name"
	reset_mail ns
	if NSX tc qdisc add dev lo root netem loss 5% 2>/dev/null; then
		how="tc netem loss 5% on lo (dropped before the capture point: the capture shows holes filled by retransmissions)"
	else
		IPT_RULE=(INPUT -p tcp -m statistic --mode random --probability 0.05 -j DROP)
		NSX iptables -A "${IPT_RULE[@]}"
		how="this kernel has no netem: iptables INPUT drops 5% of TCP segments after the capture point, so the capture shows each dropped segment and its real retransmission"
	fi
	cap_start "$OUT/$name.pcap" "$NS" lo
	NSX python3 "$TOOLS/scenarios.py" loss --truth "$W/frag/$name.json"
	cap_stop_all
	NSX tc qdisc del dev lo root 2>/dev/null || true
	if [ ${#IPT_RULE[@]} -gt 0 ]; then NSX iptables -D "${IPT_RULE[@]}"; IPT_RULE=(); fi
	assemble "$name" "$name.pcap" "5% packet loss with real retransmissions: $how" --fragment "$W/frag/$name.json"
}

# 64 KB segments: a second Dovecot on the default namespace's loopback
# (offloads left as they are), ports 143/993 on 127.0.0.1 only.
scenario_lo64k() {
	local name=lo64k-fetch-large
	log "scenario $name"
	if ss -ltnH 'sport = :143 or sport = :993' | grep -q .; then
		log "skipping $name: port 143 or 993 is busy on the default namespace"
		return 0
	fi
	write_conf def 127.0.0.1
	reset_mail def
	start_dovecot def
	cap_start "$OUT/$name.pcap" "" lo
	python3 "$TOOLS/scenarios.py" fetch-large --truth "$W/frag/$name.json"
	cap_stop_all
	kill -TERM "${DOVECOT_PIDS[-1]}"; wait "${DOVECOT_PIDS[-1]}" || true
	unset 'DOVECOT_PIDS[-1]'
	assemble "$name" "$name.pcap" "the fetch-large session on the default loopback: TSO/GSO on, segments up to 64 KB" \
		--fragment "$W/frag/$name.json"
}

# Damaged files derived from fetch-large and commands.
scenario_damaged() {
	log "scenario damaged (derived files)"
	[ -e "$OUT/fetch-large.truth.json" ] || scenario_fetch_large
	[ -e "$OUT/commands.truth.json" ] || scenario_commands
	local P="python3 $TOOLS/pcaptool.py"
	$P start-mid "$OUT/commands.pcap" "$OUT/cut-mid-session.pcap" \
		"$OUT/commands.truth.json" "$OUT/cut-mid-session.truth.json" --mark fetch-literals
	$P start-in-literal "$OUT/fetch-large.pcap" "$OUT/cut-start-in-literal.pcap" \
		"$OUT/fetch-large.truth.json" "$OUT/cut-start-in-literal.truth.json" --mark big-fetch
	$P end-in-literal "$OUT/fetch-large.pcap" "$OUT/cut-end-in-literal.pcap" \
		"$OUT/fetch-large.truth.json" "$OUT/cut-end-in-literal.truth.json" --mark big-fetch
	$P remove-segments "$OUT/fetch-large.pcap" "$OUT/segments-removed.pcap" \
		"$OUT/fetch-large.truth.json" "$OUT/segments-removed.truth.json" --mark big-fetch --count 3
}
