#!/usr/bin/env bash
# Runs every end-to-end test (tests/e2e/test_*.sh and test_*.py) against the
# binary in $IMAPSCOPE; exits non-zero if any fails.
set -u
here=$(cd "$(dirname "$0")" && pwd)
export IMAPSCOPE=${IMAPSCOPE:-$here/../../imapscope}
export REPO=$(cd "$here/../.." && pwd)
# The third-party captures: tests that need them skip, in one line, when
# this holds none (PUBLIC set to an empty folder proves a lone clone).
export PUBLIC=${PUBLIC-$REPO/../shared/captures/public}
fail=0
n=0
for t in "$here"/test_*.sh "$here"/test_*.py; do
	[ -e "$t" ] || continue
	n=$((n + 1))
	echo "== e2e $(basename "$t")"
	case "$t" in
	*.py) python3 "$t" || { echo "FAILED: $t"; fail=1; } ;;
	*) bash "$t" || { echo "FAILED: $t"; fail=1; } ;;
	esac
done
echo "e2e: $n test files, $([ $fail = 0 ] && echo all passed || echo FAILURES)"
exit $fail
