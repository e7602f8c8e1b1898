#!/usr/bin/env bash
# The layer rule of docs/ARCHITECTURE.md, checked: a layer may include and
# call only itself and the layers beneath it.
#
#   scripts/check-layers.sh [BUILD]
#
# Includes are read from src/LAYER and include/LAYER.  When BUILD (default
# build) holds the objects, their symbols are checked too: an object of a
# layer may not use a function or variable defined by a layer it may not
# include (a forward declaration would otherwise slip past the include
# check).  Top-level src/*.c (main.c, run.c) are the wiring: they may use
# every layer.  Exits 1, naming each crossing, when one is found.
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}

# LAYER: the layers it may use, itself included.
declare -A allowed=(
	[util]="util"
	[net]="util net"
	[tls]="util tls"
	[imap]="util imap"
	[report]="util imap report"
)
fail=0

may_use() {	# may_use LAYER OTHER
	case " ${allowed[$1]} " in *" $2 "*) return 0 ;; esac
	return 1
}

for layer in "${!allowed[@]}"; do
	while IFS=: read -r file line inc; do
		other=${inc%%/*}
		[ -n "${allowed[$other]+x}" ] || continue
		if ! may_use "$layer" "$other"; then
			echo "layers: $file:$line: $layer includes $inc"
			fail=1
		fi
	done < <(grep -rnoE '^#include *"[a-z_]+/[a-z_0-9]+\.h"' "src/$layer" "include/$layer" 2>/dev/null |
		 sed -E 's/#include *"([^"]+)"/\1/')
done

# Symbols: which layer defines each, then who uses it.
if compgen -G "$BUILD/src/*/*.o" >/dev/null && command -v nm >/dev/null; then
	syms=$(for layer in "${!allowed[@]}"; do
		for o in "$BUILD/src/$layer"/*.o; do
			[ -e "$o" ] || continue
			nm "$o" | awk -v l="$layer" -v o="${o#"$BUILD"/}" \
				'$1 == "U" { print "U", l, o, $2 } $2 ~ /^[TDBRC]$/ { print "D", l, o, $3 }'
		done
	done)
	rules=$(for layer in "${!allowed[@]}"; do echo "A $layer ${allowed[$layer]}"; done)
	crossings=$(printf '%s\n%s\n' "$rules" "$syms" | awk '
		$1 == "A" { for (i = 3; i <= NF; i++) ok[$2 " " $i] = 1; next }
		$1 == "D" { owner[$4] = $2; next }
		$1 == "U" { use[++n] = $0 }
		END {
			for (i = 1; i <= n; i++) {
				split(use[i], f, " ")
				o = owner[f[4]]
				if (o != "" && !((f[2] " " o) in ok))
					print "layers: " f[3] ": " f[2] " uses " f[4] " of " o
			}
		}')
	if [ -n "$crossings" ]; then
		echo "$crossings"
		fail=1
	fi
fi
[ $fail = 0 ] && echo "layers: every include and call stays within the allowed layers"
exit $fail
