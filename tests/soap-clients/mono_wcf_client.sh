#!/usr/bin/env bash
# WCF on Mono: compile MonoWcfClient.cs (its contracts written by hand, see the file) against
# Mono's System.ServiceModel and run it. Needs Debian's mono-devel (mcs, mono).
# Usage: mono_wcf_client.sh SOAP_BASE LOOKUP_BASE TAG [limit]  -> one JSON object
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mcs -nologo -out:"$work/client.exe" -r:System.ServiceModel -r:System.Runtime.Serialization \
  "$src/MonoWcfClient.cs"
mono "$work/client.exe" "$@"
