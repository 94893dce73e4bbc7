#!/usr/bin/env bash
# Checks the layering of DESIGN.md §8: a source under src/<layer>/ includes project headers
# only from its own layer and the layers listed above it, and only src/crypto (plus the TLS
# listener in src/net) includes GnuTLS or nettle headers. Usage: check_layers.sh SRC_DIR
set -euo pipefail
src=${1:?usage: check_layers.sh SRC_DIR}
layers=(util crypto net signer acme store cluster hooks challenge reconcile privsep serve daemon cli)
fail=0

index_of() {
    local i
    for i in "${!layers[@]}"; do
        [ "${layers[$i]}" = "$1" ] && { echo "$i"; return; }
    done
    echo -1
}

for ((li = 0; li < ${#layers[@]}; li++)); do
    layer=${layers[$li]}
    [ -d "$src/$layer" ] || continue
    for f in "$src/$layer"/*.[ch]; do
        [ -e "$f" ] || continue
        while IFS= read -r inc; do
            dep=${inc%%/*}
            di=$(index_of "$dep")
            if [ "$di" -lt 0 ]; then
                echo "$f: includes \"$inc\" from an unknown layer" >&2
                fail=1
            elif [ "$di" -gt "$li" ]; then
                echo "$f: layer $layer includes \"$inc\" from layer $dep above it" >&2
                fail=1
            fi
        done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
        if grep -Eq '^[[:space:]]*#[[:space:]]*include[[:space:]]*<(gnutls|nettle)/' "$f"; then
            case "$layer/$(basename "$f")" in
            crypto/* | net/tls*) ;;
            *)
                echo "$f: only src/crypto and the TLS listener may include GnuTLS/nettle" >&2
                fail=1
                ;;
            esac
        fi
    done
done
# src/reconcile reaches the CA only through engine.h's plain data (DESIGN.md §8): only
# engine_acme.c, the implementation over src/acme, and engine_mgmt.c, the one for a central
# certificate server (it checks chains and parses Retry-After as src/acme does), include acme/
# headers. The pure helpers the rest of it needs live below src/acme (crypto/keyauth.h,
# crypto/crl_reason.h) or in it (reconcile/policy.h).
if [ -d "$src/reconcile" ]; then
    for f in "$src/reconcile"/*.[ch]; do
        case "$(basename "$f")" in engine_acme.c | engine_mgmt.c) continue ;; esac
        if grep -Eq '^[[:space:]]*#[[:space:]]*include[[:space:]]*"acme/' "$f"; then
            echo "$f: only engine_acme.c and engine_mgmt.c of src/reconcile may include acme/ headers" >&2
            fail=1
        fi
    done
fi
[ "$fail" = 0 ] && echo "layers: ok"
exit "$fail"
