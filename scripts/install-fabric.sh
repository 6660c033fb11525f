#!/usr/bin/env bash
# Builds the Fabric v3.1.5 and Fabric CA v1.5.21 binaries offline from the vendored source archives and caches them outside the repo.
set -euo pipefail

FABRIC_VERSION=3.1.5
FABRIC_COMMIT=86c1172bec37e6590c6b1ae6f847833df48d65fc
FABRIC_SHA256=eb0c5820b5f455f3ae3f0548f9012551fb2d380ae1591d5a9eb33f3bebb079d9
CA_VERSION=1.5.21
CA_COMMIT=f355456a72323ae2a4a250fdecb8744a8c041150
CA_SHA256=46b4aea5d1eddd06dc71672913cf5fb7e76e7f0f7c4652f54244cf782fbad93d
GO_MIN=1.26.4
FABRIC_COMMANDS=(peer orderer configtxgen configtxlator osnadmin cryptogen)
CA_COMMANDS=(fabric-ca-server fabric-ca-client)

here=$(cd "$(dirname "$0")" && pwd)
usage() {
  cat <<USAGE
Usage: scripts/install-fabric.sh [--print-bin] [--force]

Builds Fabric v${FABRIC_VERSION} (${FABRIC_COMMANDS[*]}) and Fabric CA
v${CA_VERSION} (${CA_COMMANDS[*]}) from the upstream source archives with
their vendored dependencies, offline (-mod=vendor, GOPROXY=off), after
checking each archive's sha256. The binaries are cached in
\$SF2C_FABRIC_HOME/bin (default: \$HOME/.cache/sf2c/fabric-${FABRIC_VERSION}),
keyed by the archives' checksums: a complete cache is reused as it is.

  --print-bin   only print the binary directory (installing first if needed)
  --force       rebuild even if the cache is complete

Environment:
  SF2C_FABRIC_SOURCES  folder holding fabric-v${FABRIC_VERSION}.tar.gz and
                       fabric-ca-v${CA_VERSION}.tar.gz (default: ../shared/fabric
                       beside the checkout)
  SF2C_FABRIC_HOME     cache folder (default above)
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

SOURCES=${SF2C_FABRIC_SOURCES:-$here/../../shared/fabric}
FABRIC_HOME=${SF2C_FABRIC_HOME:-$HOME/.cache/sf2c/fabric-${FABRIC_VERSION}}
BIN=$FABRIC_HOME/bin
STAMP=$FABRIC_HOME/installed.txt
log() { if [ "$print_bin" = 1 ]; then echo "$*" >&2; else echo "$*"; fi; }
die() { echo "install-fabric: $*" >&2; exit 1; }

stamp_text() {
  printf 'fabric=%s commit=%s sha256=%s\nfabric-ca=%s commit=%s sha256=%s\n' \
    "$FABRIC_VERSION" "$FABRIC_COMMIT" "$FABRIC_SHA256" "$CA_VERSION" "$CA_COMMIT" "$CA_SHA256"
}

complete() {
  [ -f "$STAMP" ] && [ "$(head -n2 "$STAMP")" = "$(stamp_text)" ] || return 1
  for c in "${FABRIC_COMMANDS[@]}" "${CA_COMMANDS[@]}"; do [ -x "$BIN/$c" ] || return 1; done
}

if [ "$force" = 0 ] && complete; then
  if [ "$print_bin" = 1 ]; then echo "$BIN"; else log "Fabric v$FABRIC_VERSION and Fabric CA v$CA_VERSION already installed in $BIN"; fi
  exit 0
fi

command -v go >/dev/null 2>&1 || die "'go' is not on PATH; install Go >= $GO_MIN (Fabric v$FABRIC_VERSION's go.mod requires it)"
go_have=$(go env GOVERSION | sed 's/^go//')
if [ "$(printf '%s\n%s\n' "$GO_MIN" "$go_have" | sort -V | head -n1)" != "$GO_MIN" ]; then
  die "Go $go_have is older than $GO_MIN, which Fabric v$FABRIC_VERSION's go.mod requires; install a newer Go"
fi
command -v sha256sum >/dev/null 2>&1 || die "'sha256sum' is not on PATH (coreutils)"
command -v gcc >/dev/null 2>&1 || die "'gcc' is not on PATH; Fabric CA's SQLite driver needs cgo (apt-get install build-essential)"

# check_archive FILE SHA256: refuse a missing or altered archive before anything is unpacked.
check_archive() {
  local file=$1 want=$2 have
  [ -f "$file" ] || die "source archive $file is missing; set SF2C_FABRIC_SOURCES to the folder that holds it"
  have=$(sha256sum "$file" | cut -d' ' -f1)
  [ "$have" = "$want" ] || die "checksum mismatch for $file: sha256 $have, expected $want; the archive is not the pinned upstream tag"
}

fabric_tgz=$SOURCES/fabric-v${FABRIC_VERSION}.tar.gz
ca_tgz=$SOURCES/fabric-ca-v${CA_VERSION}.tar.gz
log "Checking source archives in $SOURCES"
check_archive "$fabric_tgz" "$FABRIC_SHA256"
check_archive "$ca_tgz" "$CA_SHA256"

work=$(mktemp -d "${TMPDIR:-/tmp}/sf2c-fabric-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$BIN.new"
rm -f "$BIN.new"/*
# Go's build cache (0.6 GB) is only worth keeping for a rebuild: unless GOCACHE is set it lives
# in the work folder and goes with it; earlier installs kept it in the cache folder.
rm -rf "$FABRIC_HOME/go-build-cache"
export GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local GOCACHE=${GOCACHE:-$work/go-build-cache}

# build NAME ARCHIVE LDFLAGS CMD...: unpack one archive and build its commands one by one.
build() {
  local name=$1 archive=$2 ldflags=$3; shift 3
  local src=$work/$name i=0 start
  mkdir -p "$src"
  log "Unpacking $(basename "$archive")"
  tar -xzf "$archive" -C "$src"
  for c in "$@"; do
    i=$((i + 1))
    log "  [$name $i/$#] go build ./cmd/$c"
    start=$(date +%s)
    (cd "$src" && go build -trimpath -ldflags "$ldflags" -o "$BIN.new/$c" "./cmd/$c") \
      || die "building $c from $(basename "$archive") failed (see the go output above)"
    log "        done in $(( $(date +%s) - start )) s"
  done
}

log "Building with Go $go_have into $BIN (offline, vendored dependencies)"
build fabric "$fabric_tgz" \
  "-X github.com/hyperledger/fabric/common/metadata.Version=$FABRIC_VERSION -X github.com/hyperledger/fabric/common/metadata.CommitSHA=${FABRIC_COMMIT:0:7}" \
  "${FABRIC_COMMANDS[@]}"
CGO_ENABLED=1 build fabric-ca "$ca_tgz" \
  "-X github.com/hyperledger/fabric-ca/lib/metadata.Version=$CA_VERSION" \
  "${CA_COMMANDS[@]}"

rm -rf "$BIN"
mv "$BIN.new" "$BIN"
{ stamp_text; printf 'go=%s\n' "$go_have"; } > "$STAMP"
"$BIN/peer" version | grep -q "Version: $FABRIC_VERSION" || die "$BIN/peer does not report version $FABRIC_VERSION"
if [ "$print_bin" = 1 ]; then echo "$BIN"; else log "Fabric v$FABRIC_VERSION and Fabric CA v$CA_VERSION installed in $BIN"; fi
