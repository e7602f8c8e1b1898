#!/bin/sh
# Regenerate the TLS test captures: openssl s_server and s_client talk on
# 127.0.0.1 only, tcpdump records the loopback, and the client writes the
# NSS key log.  Each case NAME leaves NAME.pcap and NAME.keylog; the
# plaintext sent is in c2s.txt and s2c.txt (the "k" lines are key updates,
# not data).  Usage: sh gen.sh [case ...]   (needs root for tcpdump)
set -eu
cd "$(dirname "$0")"
[ -f server.key ] || openssl req -x509 -newkey rsa:2048 -nodes -keyout server.key \
	-out server.crt -days 36500 -subj /CN=imap.example.test 2>/dev/null
PORT=${PORT:-14300}
ONLY="$*"
SERVER_OPTS=

server_input() {
	sleep 1.2; printf '* OK [CAPABILITY IMAP4rev1] imapscope test ready\r\n'
	sleep 0.8; [ "$1" = 13 ] && printf 'k\n'
	sleep 0.4; printf '* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na001 OK done\r\n'
	sleep 0.8; printf '* BYE bye\r\na002 OK LOGOUT completed\r\n'
	sleep 1.5
}
client_input() {
	sleep 1.6; printf 'a001 CAPABILITY\r\n'
	sleep 0.8; [ "$1" = 13 ] && printf 'k\n'
	sleep 0.4; printf 'a002 LOGOUT\r\n'
	sleep 1.5
}

run_case() {
	name=$1 ver=$2; shift 2
	if [ -n "$ONLY" ] && ! echo " $ONLY " | grep -q " $name "; then return 0; fi
	PORT=$((PORT + 1))
	rm -f "$name.pcap" "$name.keylog"
	tcpdump -i lo -U -s 0 -w "$name.pcap" "host 127.0.0.1 and tcp port $PORT" 2>/dev/null &
	tpid=$!
	sleep 1
	server_input "$ver" | openssl s_server -accept 127.0.0.1:$PORT -naccept 1 \
		-cert server.crt -key server.key "$@" $SERVER_OPTS >/dev/null 2>&1 &
	spid=$!
	sleep 0.3
	client_input "$ver" | openssl s_client -connect 127.0.0.1:$PORT \
		-keylogfile "$name.keylog" "$@" $CLIENT_OPTS >/dev/null 2>&1 || true
	wait $spid || true
	sleep 0.5
	kill $tpid; wait $tpid || true
	echo "$name: $(wc -c < "$name.pcap") bytes"
}

CLIENT_OPTS=
run_case tls13-aes128gcm 13 -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256
run_case tls13-aes256gcm 13 -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384
run_case tls13-chacha20 13 -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256
run_case tls13-aes128ccm 13 -tls1_3 -ciphersuites TLS_AES_128_CCM_SHA256
run_case tls12-ecdhe-aes128gcm 12 -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256
run_case tls12-ecdhe-chacha20 12 -tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305
run_case tls12-ecdhe-cbc-sha256-etm 12 -tls1_2 -cipher ECDHE-RSA-AES128-SHA256
run_case tls12-rsa-aes256gcm 12 -tls1_2 -cipher AES256-GCM-SHA384
run_case tls12-rsa-aes128ccm 12 -tls1_2 -cipher AES128-CCM
CLIENT_OPTS=-no_etm
run_case tls12-ecdhe-cbc-sha1 12 -tls1_2 -cipher ECDHE-RSA-AES256-SHA
run_case tls12-rsa-cbc-sha256 12 -tls1_2 -cipher AES256-SHA256
CLIENT_OPTS=
run_case tls12-ecdhe-cbc-sha384-etm 12 -tls1_2 -cipher ECDHE-RSA-AES256-SHA384
# a HelloRetryRequest (the client's first key share is not the server's
# group), with SNI and ALPN
SERVER_OPTS="-groups P-256 -alpn imap"
CLIENT_OPTS="-groups X25519:P-256 -servername imap.example.test -alpn imap"
run_case tls13-hrr 13 -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256
SERVER_OPTS= CLIENT_OPTS=
