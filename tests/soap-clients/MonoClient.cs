// Mono's ASMX client (the .NET Framework "Add Web Reference" stack): register over SOAP 1.1
// and 1.2, a duplicate, a lookup over SOAP and over HTTP GET; through proxies generated with
//   wsdl -n:Hub.Soap11 -out:register11.cs SOAP_BASE/register?wsdl
//   wsdl -protocol:SOAP12 -n:Hub.Soap12 -out:register12.cs SOAP_BASE/register?wsdl
//   wsdl -n:Hub.Lookup -out:lookup.cs LOOKUP_BASE/user/soap?wsdl
//   wsdl -protocol:HttpGet -n:Hub.Get -out:lookupget.cs LOOKUP_BASE/user/soap?wsdl
// Usage: mono client.exe TAG [limit]  -> one JSON object (tests/tests/it/soap_clients.rs)
using System;
using System.Text;
using System.Web.Services.Protocols;
using System.Xml;

static class MonoClient {
    static string Json(string s) =>
        s == null ? "null" : "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    // A fault is a SoapException; Detail is the fault's detail element, untyped.
    static string Fault(SoapException e) {
        var ns = new XmlNamespaceManager(new NameTable());
        ns.AddNamespace("us", "http://example.com/userservice");
        var field = e.Detail?.SelectSingleNode("us:RegistrationFault/us:field", ns);
        return "{\"field\":" + Json(field?.InnerText) + ",\"reason\":" + Json(e.Message) + "}";
    }

    static void Main(string[] args) {
        string tag = args[0];
        var out_ = new StringBuilder("{");
        // One proxy class per protocol: the generated methods are the same.
        var soap11 = new Hub.Soap11.UserService();
        var soap12 = new Hub.Soap12.UserService();
        if (args.Length > 1 && args[1] == "limit") {
            // Over the registration limit: a SoapException whose Detail holds the WSDL's
            // RateLimitFault, read like the RegistrationFault.
            for (int i = 0; ; i++) {
                try {
                    string id;
                    soap11.RegisterUser("monolimit" + i + "_" + tag, "s3cret!pw", "Ana", "Peña", "ML" + i + tag,
                        "monolimit" + i + "." + tag + "@example.com", "Málaga", out id);
                } catch (SoapException e) {
                    var ns = new XmlNamespaceManager(new NameTable());
                    ns.AddNamespace("us", "http://example.com/userservice");
                    var secs = e.Detail?.SelectSingleNode("us:RateLimitFault/us:retryAfterSeconds", ns);
                    Console.WriteLine("{\"limit\":{\"after\":" + i + ",\"retryAfterSeconds\":" + (secs?.InnerText ?? "null")
                        + ",\"reason\":" + Json(e.Message) + "}}");
                    return;
                }
            }
        }
        string username11 = "mono11_" + tag;
        foreach (var v in new[] { "11", "12" }) {
            string username = "mono" + v + "_" + tag, email = "mono" + v + "." + tag + "@example.com";
            Func<string> register = () => {
                string id;
                string message = v == "11"
                    ? soap11.RegisterUser(username, "s3cret!pw", "Ana", "Peña", "M" + v + tag, email, "Málaga", out id)
                    : soap12.RegisterUser(username, "s3cret!pw", "Ana", "Peña", "M" + v + tag, email, "Málaga", out id);
                return "{\"message\":" + Json(message) + ",\"id\":" + Json(id) + ",\"username\":" + Json(username) + "}";
            };
            out_.Append("\"register" + v + "\":" + register() + ",");
            try {
                register();
                out_.Append("\"duplicate" + v + "\":\"no fault\",");
            } catch (SoapException e) {
                out_.Append("\"duplicate" + v + "\":" + Fault(e) + ",");
            }
        }
        // The lookup's username is both sent and returned: a ref parameter; the id is the
        // return value.
        string name = username11;
        string found = new Hub.Lookup.UserLookupService().getUserByUsername(ref name);
        out_.Append("\"lookup\":{\"id\":" + Json(found) + ",\"username\":" + Json(name) + "},");
        // The HTTP GET binding returns the response element as an object.
        var get = new Hub.Get.UserLookupService().getUserByUsername(username11);
        out_.Append("\"lookup_get\":{\"id\":" + Json(get.id) + ",\"username\":" + Json(get.username) + "}}");
        Console.WriteLine(out_);
    }
}
