// gSOAP (C++): register, a duplicate, a lookup, through stubs generated from the served WSDLs
// (gsoap_client.sh builds this twice: with soapcpp2 -1 for SOAP 1.1, -2 for SOAP 1.2).
// Usage: ./client TAG [limit]  -> one JSON object (tests/tests/it/soap_clients.rs)
#include <iostream>
#include <string>

#include "soapUserLookupSoapBindingProxy.h"
#include "soapUserServiceSoapBindingProxy.h"
#include "UserServiceSoapBinding.nsmap"

static std::string json(const std::string &s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

int main(int argc, char **argv) {
  if (argc != 2 && argc != 3) return 2;
  // SOAP_C_UTFSTRING: std::string members hold UTF-8 as is.
  UserServiceSoapBindingProxy service(SOAP_C_UTFSTRING);
  _ns1__RegisterUser user;
  const std::string v = service.soap->version == 2 ? "12" : "11", tag = argv[1];
  user.username = "gsoap" + v + "_" + tag;
  user.password = "s3cret!pw";
  user.first_USCOREname = "Ana";
  user.last_USCOREname = "Peña";
  user.dni = "G" + v + tag;
  user.email = "gsoap" + v + "." + tag + "@example.com";
  user.city = "Málaga";
  _ns2__registerUserResponse reply;
  if (argc == 3 && std::string(argv[2]) == "limit") {
    // Over the registration limit: SOAP_FAULT, its detail the typed RateLimitFault.
    for (int i = 0;; i++) {
      const std::string n = std::to_string(i);
      user.username = "gsoaplimit" + v + "_" + n + "_" + tag;
      user.dni = "GL" + v + n + tag;
      user.email = "gsoaplimit" + v + "." + n + "." + tag + "@example.com";
      if (service.RegisterUser(&user, reply) == SOAP_FAULT) {
        const SOAP_ENV__Fault *fault = service.soap->fault;
        const SOAP_ENV__Detail *detail = v == "12" ? fault->SOAP_ENV__Detail : fault->detail;
        const _ns2__RateLimitFault *f = detail ? detail->ns2__RateLimitFault : nullptr;
        std::cout << "{\"limit" << v << "\":{\"after\":" << i << ",\"retryAfterSeconds\":"
                  << (f ? f->retryAfterSeconds : -1)
                  << ",\"reason\":" << json(service.soap_fault_string()) << "}}" << std::endl;
        return 0;
      }
    }
  }
  if (service.RegisterUser(&user, reply) != SOAP_OK) {
    service.soap_stream_fault(std::cerr);
    return 1;
  }
  std::string out = "{\"register" + v + "\":{\"message\":" + json(reply.message) +
                    ",\"id\":" + json(reply.id ? *reply.id : "") +
                    ",\"username\":" + json(user.username) + "},";
  // A fault makes the call return SOAP_FAULT; the typed detail is in the fault's detail
  // (SOAP 1.1) or SOAP_ENV__Detail (SOAP 1.2).
  if (service.RegisterUser(&user, reply) == SOAP_FAULT) {
    const SOAP_ENV__Fault *fault = service.soap->fault;
    const SOAP_ENV__Detail *detail = v == "12" ? fault->SOAP_ENV__Detail : fault->detail;
    const _ns2__RegistrationFault *f = detail ? detail->ns2__RegistrationFault : nullptr;
    out += "\"duplicate" + v + "\":{\"field\":" + json(f && f->field ? *f->field : "") +
           ",\"reason\":" + json(service.soap_fault_string()) + "},";
  } else {
    out += "\"duplicate" + v + "\":\"no fault\",";
  }
  UserLookupSoapBindingProxy lookup(SOAP_C_UTFSTRING);
  _ns3__getUserByUsername query;
  query.username = user.username;
  _ns3__getUserByUsernameResponse found;
  if (lookup.getUserByUsername(&query, found) != SOAP_OK) {
    lookup.soap_stream_fault(std::cerr);
    return 1;
  }
  std::cout << out << "\"lookup" << v << "\":{\"id\":" << json(found.id)
            << ",\"username\":" << json(found.username) << "}}\n";
  return 0;
}
