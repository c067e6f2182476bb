#!/usr/bin/env bash
# Provisions a SoftHSM2 token for a production-mode Portcullis (dev mode does this by itself).
# Usage: hsm/provision-token.sh TOKEN_DIR [LABEL]
#   Writes TOKEN_DIR/softhsm2.conf from hsm/softhsm2.conf.template, initialises a token with
#   LABEL (default "portcullis"), and stores random SO and user PINs in TOKEN_DIR/so-pin and
#   TOKEN_DIR/pin (mode 0600). Point hsm.pin_file at TOKEN_DIR/pin and export
#   SOFTHSM2_CONF=TOKEN_DIR/softhsm2.conf for the service (see systemd/portcullis.service).
set -euo pipefail
dir=${1:?usage: provision-token.sh TOKEN_DIR [LABEL]}
label=${2:-portcullis}
here=$(cd "$(dirname "$0")" && pwd)
command -v softhsm2-util >/dev/null || { echo "softhsm2-util not found: apt-get install softhsm2" >&2; exit 1; }
mkdir -p "$dir/tokens"
chmod 700 "$dir"
tokens=$(cd "$dir/tokens" && pwd)
sed "s|@TOKEN_DIR@|$tokens|" "$here/softhsm2.conf.template" > "$dir/softhsm2.conf"
export SOFTHSM2_CONF="$dir/softhsm2.conf"
if softhsm2-util --show-slots | grep -q "Label:.*\b$label\b"; then
  echo "token '$label' already exists in $tokens"; exit 0
fi
umask 077
head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$dir/so-pin"
head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$dir/pin"
softhsm2-util --init-token --free --label "$label" --so-pin "$(cat "$dir/so-pin")" --pin "$(cat "$dir/pin")"
echo "token '$label' initialised; user PIN in $dir/pin; export SOFTHSM2_CONF=$dir/softhsm2.conf"
