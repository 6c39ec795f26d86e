#!/usr/bin/env bash
# The README's quick start, run with checks against a running system (scripts/run.sh):
#   register over SOAP, log in, read the profile, write a session, read the last
#   connection, upload and list an image (and see an anonymous overwrite refused),
#   refresh the token, log out (and see the token refused).
#
#   scripts/quickstart.sh     exit 0 when every answer has the expected status, else 1
#
# Each step prints the curl command it runs; a new user (quickstart_<random>) each time.
# HUB_HOST (default 127.0.0.1) is where the services listen, on services.toml's ports.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
SCRIPT=quickstart
host=${HUB_HOST:-127.0.0.1}

. scripts/lib/registry.sh
declare -A port
while read -r name p _; do port[$name]=$p; done < <(registry_services "$root/services.toml")
for s in auth user-soap session images connected; do
  [ -n "${port[$s]:-}" ] || { echo "$SCRIPT: $s is not in services.toml" >&2; exit 1; }
done
AUTH=http://$host:${port[auth]} SOAP=http://$host:${port[user-soap]} SESSION=http://$host:${port[session]}
IMAGES=http://$host:${port[images]} CONNECTED=http://$host:${port[connected]}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
body=$tmp/body

# step WANT_STATUS DESCRIPTION CURL_ARGS...: runs curl, the answer in $body; exits 1 on any
# other status (or when the service does not answer), showing the answer. WANT_STATUS may
# list several, separated by `|`.
step() {
  local want=$1 what=$2 status
  shift 2
  printf '\n%s: %s\n  curl' "$SCRIPT" "$what"; printf ' %q' "$@"; printf '\n'
  status=$(curl -sS -o "$body" -w '%{http_code}' "$@") || status="no answer"
  if [[ "|$want|" != *"|$status|"* ]]; then
    printf '%s: FAILED: %s: HTTP %s, expected %s:\n' "$SCRIPT" "$what" "$status" "$want" >&2
    cat "$body" >&2 2>/dev/null; echo >&2
    exit 1
  fi
  printf '  -> %s %s\n' "$status" "$(head -c 300 "$body")"
}
# json_field KEY: a string value of the JSON answer (flat objects of the services).
json_field() { sed -nE 's/.*"'"$1"'" *: *"([^"]*)".*/\1/p' "$body"; }
expect_in_body() { grep -qF -- "$1" "$body" || { echo "$SCRIPT: FAILED: no '$1' in the answer" >&2; exit 1; }; }

user="quickstart_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
dni="qs$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')" # at most 20 characters
password="quickstart-$user"

step 200 "register $user over SOAP (user-soap POST /register)" \
  -X POST "$SOAP/register" -H 'Content-Type: text/xml; charset=utf-8' --data \
  "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:u=\"http://example.com/user\"><soapenv:Body><u:RegisterUser><u:username>$user</u:username><u:password>$password</u:password><u:first_name>Ana</u:first_name><u:last_name>Quick</u:last_name><u:dni>$dni</u:dni><u:email>$user@example.com</u:email><u:city>Madrid</u:city></u:RegisterUser></soapenv:Body></soapenv:Envelope>"
user_id=$(sed -nE 's/.*<[A-Za-z0-9]*:?id>([^<]+)<\/[A-Za-z0-9]*:?id>.*/\1/p' "$body")
[ -n "$user_id" ] || { echo "$SCRIPT: FAILED: no <id> in the registration reply" >&2; exit 1; }

step 200 "log in (auth POST /login)" \
  -X POST "$AUTH/login" -H 'Content-Type: application/json' \
  --data "{\"username\":\"$user\",\"password\":\"$password\"}"
token=$(json_field token) refresh=$(json_field refresh_token)
if [ -z "$token" ] || [ -z "$refresh" ]; then echo "$SCRIPT: FAILED: no token or refresh_token" >&2; exit 1; fi

step 200 "read the profile (auth GET /profile)" "$AUTH/profile" -H "Authorization: Bearer $token"
expect_in_body "\"username\":\"$user\""

# 201 creates the session, 200 updates it: the login's event usually created it already.
step '200|201' "write a session (session POST /api/sessions)" \
  -X POST "$SESSION/api/sessions" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' --data '{"data":{"text":"hello from the quick start"}}'

step 200 "read the last connection (connected GET /last-connection)" "$CONNECTED/last-connection?username=$user"
expect_in_body "\"lastConnection\""

# A 1x1 PNG, named after the user id: the name is the user's, as front-ends upload it.
cp tests/fixtures/1x1.png "$tmp/$user_id.png"
step 200 "upload an image, anonymously: a new name (images POST /upload_image)" \
  -X POST "$IMAGES/upload_image" -F "file=@$tmp/$user_id.png;type=image/png"
expect_in_body '"url"'
step 409 "upload it again without a token: an existing name is refused" \
  -X POST "$IMAGES/upload_image" -F "file=@$tmp/$user_id.png;type=image/png"
step 200 "replace it with the owner's token" \
  -X POST "$IMAGES/upload_image" -H "Authorization: Bearer $token" -F "file=@$tmp/$user_id.png;type=image/png"
step 200 "list the images (images GET /list_images)" "$IMAGES/list_images"
expect_in_body "$user_id.png"

step 200 "refresh the token (auth POST /token/refresh)" \
  -X POST "$AUTH/token/refresh" -H 'Content-Type: application/json' --data "{\"refresh_token\":\"$refresh\"}"
token=$(json_field token)
[ -n "$token" ] || { echo "$SCRIPT: FAILED: no token in the refresh answer" >&2; exit 1; }

step 200 "log out (auth POST /logout)" -X POST "$AUTH/logout" -H "Authorization: Bearer $token"
step 401 "the token is refused after logout (auth GET /profile)" "$AUTH/profile" -H "Authorization: Bearer $token"

printf '\n%s: every step answered as expected (user %s, id %s)\n' "$SCRIPT" "$user" "$user_id"
