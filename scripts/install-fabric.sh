#!/usr/bin/env bash
# Installs the Fabric v3.1.5 command-line binaries from the Go module proxy into a cache outside the repo.
set -euo pipefail

FABRIC_VERSION=3.1.5
# Fabric's module path has no /v3 suffix, so the v3.1.5 tag is named by its commit.
FABRIC_COMMIT=86c1172bec37e6590c6b1ae6f847833df48d65fc
GO_MIN=1.26.4
COMMANDS=(peer orderer configtxgen configtxlator osnadmin cryptogen)

usage() {
  cat <<USAGE
Usage: scripts/install-fabric.sh [--print-bin] [--force]

Builds Fabric v${FABRIC_VERSION} (${COMMANDS[*]}) with 'go install' and caches
them in \$SF2C_FABRIC_HOME (default: \$HOME/.cache/sf2c/fabric-${FABRIC_VERSION}).
Does nothing when the cache already holds this version.

  --print-bin   only print the binary directory (installing first if needed)
  --force       rebuild even if the cache is complete
USAGE
}

print_bin=0
force=0
for arg in "$@"; do
  case "$arg" in
    --print-bin) print_bin=1 ;;
    --force) force=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install-fabric: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

FABRIC_HOME=${SF2C_FABRIC_HOME:-$HOME/.cache/sf2c/fabric-${FABRIC_VERSION}}
BIN=$FABRIC_HOME/bin
STAMP=$FABRIC_HOME/installed.txt
log() { [ "$print_bin" = 1 ] && echo "$*" >&2 || echo "$*"; }

complete() {
  [ -f "$STAMP" ] && grep -qx "commit=$FABRIC_COMMIT" "$STAMP" || return 1
  for c in "${COMMANDS[@]}"; do [ -x "$BIN/$c" ] || return 1; done
}

if [ "$force" = 0 ] && complete; then
  if [ "$print_bin" = 1 ]; then echo "$BIN"; else log "Fabric v$FABRIC_VERSION already installed in $BIN"; fi
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "install-fabric: 'go' is not on PATH; install Go >= $GO_MIN (Fabric v$FABRIC_VERSION's go.mod requires it)" >&2
  exit 1
fi
go_have=$(go env GOVERSION | sed 's/^go//')
if [ "$(printf '%s\n%s\n' "$GO_MIN" "$go_have" | sort -V | head -n1)" != "$GO_MIN" ]; then
  echo "install-fabric: Go $go_have is older than $GO_MIN, which Fabric v$FABRIC_VERSION's go.mod requires; install a newer Go" >&2
  exit 1
fi

mkdir -p "$BIN"
log "Installing Fabric v$FABRIC_VERSION (commit $FABRIC_COMMIT) with Go $go_have into $BIN"
i=0
for c in "${COMMANDS[@]}"; do
  i=$((i + 1))
  log "  [$i/${#COMMANDS[@]}] go install github.com/hyperledger/fabric/cmd/$c"
  start=$(date +%s)
  out=$(mktemp)
  if ! GOBIN="$BIN" GOTOOLCHAIN=local GOFLAGS=-mod=mod go install "github.com/hyperledger/fabric/cmd/$c@$FABRIC_COMMIT" 2>"$out"; then
    cat "$out" >&2
    if grep -q '403 Forbidden' "$out"; then
      echo "install-fabric: the Go module proxy ($(go env GOPROXY)) refused github.com/hyperledger/fabric@$FABRIC_COMMIT (403)." >&2
      echo "install-fabric: Fabric cannot be built from this machine's registries; nothing was installed." >&2
    else
      echo "install-fabric: building $c failed (see the go output above)" >&2
    fi
    rm -f "$out"
    exit 1
  fi
  rm -f "$out"
  log "        done in $(( $(date +%s) - start )) s"
done
printf 'version=%s\ncommit=%s\ngo=%s\n' "$FABRIC_VERSION" "$FABRIC_COMMIT" "$go_have" > "$STAMP"
if [ "$print_bin" = 1 ]; then echo "$BIN"; else log "Fabric v$FABRIC_VERSION installed in $BIN"; fi
