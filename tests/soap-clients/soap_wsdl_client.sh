#!/usr/bin/env bash
# SOAP::WSDL: generate the Perl classes from the served WSDLs and run soap_wsdl_client.pl
# with them. Needs Debian's libsoap-wsdl-perl (wsdl2perl).
# Usage: soap_wsdl_client.sh SOAP_BASE LOOKUP_BASE TAG  -> one JSON object
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# -p: the prefix of the generated packages (HubInterfaces::…, HubElements::…, …).
wsdl2perl -b "$work" -p Hub "$1/register?wsdl" >/dev/null
wsdl2perl -b "$work" -p Look "$2/user/soap?wsdl" >/dev/null
perl -I "$work" "$src/soap_wsdl_client.pl" "$3"
