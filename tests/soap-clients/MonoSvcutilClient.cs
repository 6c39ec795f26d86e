// WCF on Mono with the code Mono's svcutil generates from the served WSDLs (register.cs,
// lookup.cs; see mono_svcutil_client.sh), over basicHttpBinding (SOAP 1.1) and a
// CustomBinding with MessageVersion.Soap12WSAddressing10 (SOAP 1.2 with WS-Addressing).
//
// What svcutil generates, printed under "generated" by reflection: per service a contract
// interface and a ClientBase proxy whose operation takes the request's fields as strings
// and returns one string, with no FaultContract; and the WSDL's request and reply
// elements as DataContract classes (namespaces example.com.user, example.com.userservice,
// www.example.org.webservice). No class for the fault details.
//
// The generated proxy, printed under "proxy_…": its registration is refused ("Unknown
// operation"), its lookup returns null, its unknown user throws a SerializationException.
// The generated data contracts sent through the binding's own channel, printed under
// "register…", "duplicate…", "invalid…", "lookup…", "missing…": a reply with its id, and
// each fault as an untyped MessageFault (Code, Reason, the detail's XML).
// Usage: mono client.exe SOAP_BASE LOOKUP_BASE TAG  -> one JSON object
using System;
using System.Linq;
using System.Reflection;
using System.ServiceModel;
using System.ServiceModel.Channels;
using System.Text;
using System.Xml;

static class MonoSvcutilClient {
    const string RegisterAction = "http://example.com/userservice/RegisterUser";
    const string LookupAction = "http://www.example.org/webservice/getUserByUsername";

    static string Json(string s) =>
        s == null ? "null" : "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    // SOAP 1.2 with WS-Addressing 1.0, for the WSDL's SOAP 1.2 port.
    static Binding Soap12() =>
        new CustomBinding(new TextMessageEncodingBindingElement(MessageVersion.Soap12WSAddressing10, Encoding.UTF8),
            new HttpTransportBindingElement());

    // A generated operation as C# declares it, with its fault contracts.
    static string Operation(Type contract, string name) {
        MethodInfo m = contract.GetMethod(name);
        var parameters = string.Join(", ", m.GetParameters().Select(p => p.ParameterType.Name + " " + p.Name));
        return "{\"signature\":" + Json(m.ReturnType.Name + " " + m.Name + "(" + parameters + ")")
            + ",\"faultContracts\":" + m.GetCustomAttributes(typeof(FaultContractAttribute), false).Length + "}";
    }

    // What the generated proxy threw.
    static string Thrown(Exception e) {
        var f = e as FaultException;
        return "{\"exception\":" + Json(e.GetType().FullName) + ",\"code\":" + Json(f == null ? null : f.Code.Name)
            + ",\"reason\":" + Json(e.Message) + "}";
    }

    // One request through the binding's own channel, its body a generated data contract.
    static Message Call(IChannelFactory<IRequestChannel> factory, MessageVersion version, string url,
            string action, object body) {
        var channel = factory.CreateChannel(new EndpointAddress(url));
        channel.Open();
        var request = Message.CreateMessage(version, action, body);
        if (version.Addressing != AddressingVersion.None) {
            // As the proxy does: To and a MessageID (its anonymous ReplyTo is the default).
            request.Headers.To = new Uri(url);
            request.Headers.MessageId = new UniqueId();
        }
        // Buffered (the binding's default transfer mode): readable once the channel is closed.
        var reply = channel.Request(request);
        channel.Close();
        return reply;
    }

    // A fault as svcutil leaves it: no detail type, so Code, Reason and the detail's XML.
    static string Fault(Message reply) {
        if (!reply.IsFault)
            return "\"no fault\"";
        var fault = MessageFault.CreateFault(reply, 65536);
        string detail = null, field = null;
        if (fault.HasDetail) {
            var doc = new XmlDocument();
            doc.Load(fault.GetReaderAtDetailContents());
            detail = doc.DocumentElement.LocalName;
            var f = doc.DocumentElement["field", doc.DocumentElement.NamespaceURI];
            field = f == null ? null : f.InnerText;
        }
        return "{\"code\":" + Json(fault.Code.Name) + ",\"reason\":" + Json(fault.Reason.GetMatchingTranslation().Text)
            + ",\"detail\":" + Json(detail) + ",\"field\":" + Json(field) + "}";
    }

    static void Main(string[] args) {
        string soapBase = args[0], lookupBase = args[1], tag = args[2];
        var types = typeof(UserServicePortType).Assembly.GetTypes()
            .Where(t => t.IsDefined(typeof(System.Runtime.Serialization.DataContractAttribute), false))
            .Select(t => Json(t.FullName)).OrderBy(n => n, StringComparer.Ordinal);
        var out_ = new StringBuilder("{\"generated\":{\"RegisterUser\":" + Operation(typeof(UserServicePortType), "RegisterUser")
            + ",\"getUserByUsername\":" + Operation(typeof(UserLookupPortType), "getUserByUsername")
            + ",\"dataContracts\":[" + string.Join(",", types) + "]},");
        var bindings = new[] {
            Tuple.Create("11", (Binding)new BasicHttpBinding()),
            Tuple.Create("12", Soap12()),
        };
        foreach (var b in bindings) {
            string v = b.Item1;
            Binding binding = b.Item2;
            var channels = binding.BuildChannelFactory<IRequestChannel>(new BindingParameterCollection());
            channels.Open();
            MessageVersion version = binding.MessageVersion;
            string username = "svcutil" + v + "_" + tag, email = "svcutil" + v + "." + tag + "@example.com";

            // The generated proxies, as svcutil made them.
            var soap = new UserServicePortTypeClient(binding, new EndpointAddress(soapBase + "/register"));
            try {
                string message = soap.RegisterUser(username, "s3cret!pw", "Ana", "Peña", "S" + v + tag, email, "Málaga");
                out_.Append("\"proxy_register" + v + "\":{\"returned\":" + Json(message) + "},");
            } catch (Exception e) {
                out_.Append("\"proxy_register" + v + "\":" + Thrown(e) + ",");
            }

            // The generated request and reply classes, through the binding's channel.
            var request = new example.com.user.RegisterUser {
                username = username, password = "s3cret!pw", first_name = "Ana", last_name = "Peña",
                dni = "S" + v + tag, email = email, city = "Málaga",
            };
            var reply = Call(channels, version, soapBase + "/register", RegisterAction, request);
            if (reply.IsFault) {
                out_.Append("\"register" + v + "\":" + Fault(reply) + ",");
            } else {
                var registered = reply.GetBody<example.com.userservice.registerUserResponse>();
                out_.Append("\"register" + v + "\":{\"message\":" + Json(registered.message) + ",\"id\":" + Json(registered.id)
                    + ",\"username\":" + Json(username) + "},");
            }
            out_.Append("\"duplicate" + v + "\":" + Fault(Call(channels, version, soapBase + "/register", RegisterAction, request)) + ",");
            request.username = username + "x";
            request.email = "not-an-email";
            request.dni = "X" + v + tag;
            out_.Append("\"invalid" + v + "\":" + Fault(Call(channels, version, soapBase + "/register", RegisterAction, request)) + ",");

            var lookup = new UserLookupPortTypeClient(binding, new EndpointAddress(lookupBase + "/user/soap"));
            foreach (var name in new[] { Tuple.Create("proxy_lookup", username), Tuple.Create("proxy_missing", "nobody_" + tag) }) {
                try {
                    out_.Append("\"" + name.Item1 + v + "\":{\"returned\":" + Json(lookup.getUserByUsername(name.Item2)) + "},");
                } catch (Exception e) {
                    out_.Append("\"" + name.Item1 + v + "\":" + Thrown(e) + ",");
                }
            }
            reply = Call(channels, version, lookupBase + "/user/soap", LookupAction,
                new www.example.org.webservice.getUserByUsername { username = username });
            if (reply.IsFault) {
                out_.Append("\"lookup" + v + "\":" + Fault(reply) + ",");
            } else {
                var found = reply.GetBody<www.example.org.webservice.getUserByUsernameResponse>();
                out_.Append("\"lookup" + v + "\":{\"id\":" + Json(found.id) + ",\"username\":" + Json(found.username) + "},");
            }
            reply = Call(channels, version, lookupBase + "/user/soap", LookupAction,
                new www.example.org.webservice.getUserByUsername { username = "nobody_" + tag });
            out_.Append("\"missing" + v + "\":" + Fault(reply) + ",");
            channels.Close();
        }
        out_.Length--;
        Console.WriteLine(out_.Append("}"));
    }
}
