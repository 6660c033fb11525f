# Finds the Fabric binaries installed by scripts/install-fabric.sh, without installing anything.
# shellcheck shell=bash

FABRIC_COMMANDS=(peer orderer configtxgen configtxlator osnadmin cryptogen)

# Sets FABRIC_BIN, or fails naming the install script.
require_fabric() {
  local home=${SF2C_FABRIC_HOME:-$HOME/.cache/sf2c/fabric-3.1.5} missing=() c
  for c in "${FABRIC_COMMANDS[@]}"; do
    [ -x "$home/bin/$c" ] || missing+=("$c")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    die "the Fabric v3.1.5 binaries are not installed (missing in $home/bin: ${missing[*]}); run scripts/install-fabric.sh first"
  fi
  # The install script is the authority on where they live; with a complete cache it only prints.
  FABRIC_BIN=$("$REPO_ROOT/scripts/install-fabric.sh" --print-bin) ||
    die "scripts/install-fabric.sh --print-bin failed; run scripts/install-fabric.sh and read its message"
}
