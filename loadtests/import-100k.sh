#!/usr/bin/env bash
# User import at scale: starts a release daemon on a fresh data directory, creates a pool that
# auto-verifies email, writes a CSV of N users (100,000 by default; username, email,
# email_verified, given_name, cognito:mfa_enabled) and imports it with `portcullis import`
# (CreateUserImportJob, PUT to the PreSignedUrl, StartUserImportJob, progress until the end).
# Prints the CLI's summary and the elapsed time of the import command.
#
#   loadtests/import-100k.sh [--rows N] [--skip-build]
#
# Port: PORTCULLIS_PORT (9644). The daemon and the work directory are removed on exit.
set -euo pipefail

# shellcheck source=loadtests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"   # sets ROOT and changes into it

ROWS=100000
SKIP_BUILD=0
PORT="${PORTCULLIS_PORT:-9644}"

lt_options 2,10 --rows=ROWS --skip-build+SKIP_BUILD -- "$@"
lt_whole_numbers "$ROWS"

say() { printf '\n[import-100k] %s\n' "$*" >&2; }

lt_init
lt_build
CONFIG="$WORK/portcullis.toml"
lt_write_config "$CONFIG"
# The import's own calls (Describe is polled 4 times a second) go in the last table of the file.
printf 'UserPoolResourceRead = 100000\nUserPoolResourceUpdate = 100000\n' >>"$CONFIG"
DATA="$WORK/data"
LOG="$WORK/daemon.log"
ENDPOINT="https://127.0.0.1:$PORT"

say "starting a release daemon on $ENDPOINT"
lt_start_daemon "$CONFIG" "$DATA" "$PORT" "$LOG"

# A signed cognito-idp call with curl's own SigV4 (the admin key of the dev credentials file).
key_id="$(awk -F' *= *' '/aws_access_key_id/ {print $2}' "$DATA/credentials")"
secret="$(awk -F' *= *' '/aws_secret_access_key/ {print $2}' "$DATA/credentials")"
cognito() {
  curl -sf --cacert "$DATA/tls/ca.pem" --aws-sigv4 "aws:amz:us-east-1:cognito-idp" --user "$key_id:$secret" \
    -H "Content-Type: application/x-amz-json-1.1" -H "X-Amz-Target: AWSCognitoIdentityProviderService.$1" \
    --data "$2" "$ENDPOINT/"
}
pool_id="$(cognito CreateUserPool '{"PoolName": "import-100k", "AutoVerifiedAttributes": ["email"]}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["UserPool"]["Id"])')"

CSV="$WORK/users.csv"
say "writing $ROWS rows to $CSV"
awk -v n="$ROWS" 'BEGIN {
  print "cognito:username,email,email_verified,given_name,cognito:mfa_enabled"
  for (i = 0; i < n; i++) printf "user%07d,user%07d@example.com,true,User %d,false\n", i, i, i
}' >"$CSV"
ls -l "$CSV" >&2

say "portcullis import into $pool_id"
started=$(date +%s.%N)
set +e
"$PORTCULLIS" import --pool-id "$pool_id" --csv "$CSV" --endpoint "$ENDPOINT" --data-dir "$DATA" \
  --job-name import-100k | tee "$WORK/summary.txt"
status=${PIPESTATUS[0]}
set -e
ended=$(date +%s.%N)
elapsed=$(python3 -c "print(f'{$ended - $started:.1f}')")
grep -q "Succeeded: $ROWS imported, 0 failed" "$WORK/summary.txt" || { echo "import did not succeed" >&2; tail -20 "$LOG" >&2; exit 1; }
printf '\n%s rows imported in %s s (%s users/s), including upload and polling\n' "$ROWS" "$elapsed" \
  "$(python3 -c "print(round($ROWS / $elapsed))")"
exit "$status"
