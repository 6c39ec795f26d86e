#!/usr/bin/env bash
# WCF on Mono through svcutil: generate the proxies from the served WSDLs with Mono's
# svcutil, compile MonoSvcutilClient.cs with them and run it. Needs Debian's mono-devel
# (svcutil, mcs, mono).
# Usage: mono_svcutil_client.sh SOAP_BASE LOOKUP_BASE TAG  -> one JSON object
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
# svcutil takes a URL (it reads the WSDL through DISCO; a file:// URL gives the same code)
# and refuses a path ending in .wsdl. It writes no configuration and no binding: the
# driver gives each client its binding and address.
svcutil --noLogo -o register.cs "$1/register?wsdl" >/dev/null
svcutil --noLogo -o lookup.cs "$2/user/soap?wsdl" >/dev/null
mcs -nologo -out:client.exe -r:System.ServiceModel -r:System.Runtime.Serialization \
  -r:System.Xml "$src/MonoSvcutilClient.cs" register.cs lookup.cs
mono client.exe "$@"
