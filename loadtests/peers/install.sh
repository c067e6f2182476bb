#!/usr/bin/env bash
# Idempotently install the peer Cognito emulators used for throughput comparison:
#   - moto[server]  (PyPI)  into a venv      ($PEERS_DIR/venv)
#   - cognito-local (npm)   into a prefix    ($PEERS_DIR/node)
# Versions are pinned below; bump them deliberately and re-run probe.py.
#
# Usage: loadtests/peers/install.sh            (PEERS_DIR defaults to ~/.cache/portcullis-peers)
set -euo pipefail

MOTO_VERSION="${MOTO_VERSION:-5.2.5}"
COGNITO_LOCAL_VERSION="${COGNITO_LOCAL_VERSION:-5.3.0}"
PEERS_DIR="${PEERS_DIR:-$HOME/.cache/portcullis-peers}"
VENV="$PEERS_DIR/venv"
NODE_PREFIX="$PEERS_DIR/node"
PYTHON="${PYTHON:-python3}"

say() { printf '[peers] %s\n' "$*"; }
mkdir -p "$PEERS_DIR"

# --- moto[server] -----------------------------------------------------------
have_moto=""
if [ -x "$VENV/bin/python" ]; then
  have_moto="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true)"
fi
if [ "$have_moto" = "$MOTO_VERSION" ] && [ -x "$VENV/bin/moto_server" ]; then
  say "moto $MOTO_VERSION already installed in $VENV"
else
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating venv $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  say "installing moto[server]==$MOTO_VERSION into $VENV (was: ${have_moto:-none})"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "moto[server]==$MOTO_VERSION"
  say "moto $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))') installed"
fi

# --- cognito-local ----------------------------------------------------------
CL_PKG="$NODE_PREFIX/node_modules/cognito-local/package.json"
have_cl=""
if [ -f "$CL_PKG" ]; then
  have_cl="$(node -p "require('$CL_PKG').version" 2>/dev/null || true)"
fi
if [ "$have_cl" = "$COGNITO_LOCAL_VERSION" ]; then
  say "cognito-local $COGNITO_LOCAL_VERSION already installed in $NODE_PREFIX"
else
  say "installing cognito-local@$COGNITO_LOCAL_VERSION into $NODE_PREFIX (was: ${have_cl:-none})"
  mkdir -p "$NODE_PREFIX"
  [ -f "$NODE_PREFIX/package.json" ] || echo '{"name":"portcullis-peers","private":true}' > "$NODE_PREFIX/package.json"
  (cd "$NODE_PREFIX" && npm install --silent --no-audit --no-fund --loglevel=error \
     --save-exact "cognito-local@$COGNITO_LOCAL_VERSION" >/dev/null 2>"$PEERS_DIR/npm-install.log") \
    || { say "npm install failed:"; grep -v 'Unknown user config' "$PEERS_DIR/npm-install.log" >&2; exit 1; }
  have_cl="$(node -p "require('$CL_PKG').version")"
  [ "$have_cl" = "$COGNITO_LOCAL_VERSION" ] || { say "cognito-local install failed"; exit 1; }
  say "cognito-local $have_cl installed"
fi

# Record what is installed (read by PEERS.md readers / reports).
{
  echo "moto=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))')"
  echo "cognito-local=$(node -p "require('$CL_PKG').version")"
  echo "python=$("$VENV/bin/python" -c 'import platform; print(platform.python_version())')"
  echo "node=$(node --version)"
} > "$PEERS_DIR/versions.txt"
say "versions recorded in $PEERS_DIR/versions.txt:"
sed 's/^/[peers]   /' "$PEERS_DIR/versions.txt"
