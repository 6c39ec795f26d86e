// A WCF client (System.ServiceModel, as Mono runs it): register, a duplicate as a typed
// FaultException<RegistrationFault>, invalid input, a lookup found and one unknown; over
// basicHttpBinding (SOAP 1.1, no WS-Addressing) and a CustomBinding with
// MessageVersion.Soap12WSAddressing10 (SOAP 1.2 with mustUnderstand WS-Addressing 1.0
// headers, what a svcutil-generated .NET client sends), and Soap12WSAddressingAugust2004.
//
// The contracts are written by hand: Mono's svcutil reads these WSDLs but drops the fault
// contracts and the reply's id. They are what svcutil / dotnet-svcutil generate for them:
// the wsaw:Action of each input, output and fault, wrapped message contracts, the WSDL's
// fault details as data contracts.
// Usage: mono client.exe SOAP_BASE LOOKUP_BASE TAG [limit]  -> one JSON object
using System;
using System.Runtime.Serialization;
using System.ServiceModel;
using System.ServiceModel.Channels;
using System.Text;

namespace Hub.Wcf {
    [DataContract(Name = "RegistrationFault", Namespace = "http://example.com/userservice")]
    public class RegistrationFault {
        [DataMember(Name = "field", Order = 0)] public string Field;
        [DataMember(Name = "message", Order = 1, IsRequired = true)] public string Message;
    }

    [DataContract(Name = "RateLimitFault", Namespace = "http://example.com/userservice")]
    public class RateLimitFault {
        [DataMember(Name = "retryAfterSeconds", Order = 0, IsRequired = true)] public int RetryAfterSeconds;
        [DataMember(Name = "message", Order = 1, IsRequired = true)] public string Message;
    }

    [MessageContract(WrapperName = "RegisterUser", WrapperNamespace = "http://example.com/user", IsWrapped = true)]
    public class RegisterUserRequest {
        [MessageBodyMember(Namespace = "http://example.com/user", Order = 0)] public string username;
        [MessageBodyMember(Namespace = "http://example.com/user", Order = 1)] public string password;
        [MessageBodyMember(Namespace = "http://example.com/user", Order = 2)] public string first_name;
        [MessageBodyMember(Namespace = "http://example.com/user", Order = 3)] public string last_name;
        [MessageBodyMember(Namespace = "http://example.com/user", Order = 4)] public string dni;
        [MessageBodyMember(Namespace = "http://example.com/user", Order = 5)] public string email;
        [MessageBodyMember(Namespace = "http://example.com/user", Order = 6)] public string city;
    }

    [MessageContract(WrapperName = "registerUserResponse", WrapperNamespace = "http://example.com/userservice", IsWrapped = true)]
    public class RegisterUserResponse {
        [MessageBodyMember(Namespace = "http://example.com/userservice", Order = 0)] public string message;
        [MessageBodyMember(Namespace = "http://example.com/userservice", Order = 1)] public string id;
    }

    [ServiceContract(Namespace = "http://example.com/userservice", ConfigurationName = "UserServicePortType")]
    public interface UserServicePortType {
        [OperationContract(Action = "http://example.com/userservice/RegisterUser",
            ReplyAction = "http://example.com/userservice/RegisterUserResponse")]
        [FaultContract(typeof(RegistrationFault), Name = "RegistrationFault",
            Action = "http://example.com/userservice/RegisterUser/Fault/RegistrationFault")]
        [FaultContract(typeof(RateLimitFault), Name = "RateLimitFault",
            Action = "http://example.com/userservice/RegisterUser/Fault/RateLimitFault")]
        RegisterUserResponse RegisterUser(RegisterUserRequest request);
    }

    [DataContract(Name = "LookupFault", Namespace = "http://www.example.org/webservice")]
    public class LookupFault {
        [DataMember(Name = "message", IsRequired = true)] public string Message;
    }

    [MessageContract(WrapperName = "getUserByUsername", WrapperNamespace = "http://www.example.org/webservice", IsWrapped = true)]
    public class GetUserByUsernameRequest {
        [MessageBodyMember(Namespace = "http://www.example.org/webservice", Order = 0)] public string username;
    }

    [MessageContract(WrapperName = "getUserByUsernameResponse", WrapperNamespace = "http://www.example.org/webservice", IsWrapped = true)]
    public class GetUserByUsernameResponse {
        [MessageBodyMember(Namespace = "http://www.example.org/webservice", Order = 0)] public string id;
        [MessageBodyMember(Namespace = "http://www.example.org/webservice", Order = 1)] public string username;
    }

    [ServiceContract(Namespace = "http://www.example.org/webservice", ConfigurationName = "UserLookupPortType")]
    public interface UserLookupPortType {
        [OperationContract(Action = "http://www.example.org/webservice/getUserByUsername",
            ReplyAction = "http://www.example.org/webservice/getUserByUsernameResponse")]
        [FaultContract(typeof(LookupFault), Name = "LookupFault",
            Action = "http://www.example.org/webservice/getUserByUsername/Fault/LookupFault")]
        GetUserByUsernameResponse getUserByUsername(GetUserByUsernameRequest request);
    }
}

static class MonoWcfClient {
    static string Json(string s) =>
        s == null ? "null" : "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    static T Channel<T>(Binding binding, string url) =>
        new ChannelFactory<T>(binding, new EndpointAddress(url)).CreateChannel();

    // SOAP 1.2 with WS-Addressing, as svcutil configures a WSDL's SOAP 1.2 port.
    static Binding Soap12(MessageVersion version) =>
        new CustomBinding(new TextMessageEncodingBindingElement(version, Encoding.UTF8),
            new HttpTransportBindingElement());

    static void Main(string[] args) {
        string soapBase = args[0], lookupBase = args[1], tag = args[2];
        var bindings = new[] {
            Tuple.Create("11", (Binding)new BasicHttpBinding()),
            Tuple.Create("12", Soap12(MessageVersion.Soap12WSAddressing10)),
            Tuple.Create("12_2004", Soap12(MessageVersion.Soap12WSAddressingAugust2004)),
        };
        var out_ = new StringBuilder("{");
        if (args.Length > 3 && args[3] == "limit") {
            // Over the registration limit: the typed RateLimitFault, read like any other.
            var limited = Channel<Hub.Wcf.UserServicePortType>(bindings[1].Item2, soapBase + "/register");
            for (int i = 0; ; i++) {
                try {
                    limited.RegisterUser(Request("wcflimit" + i + "_" + tag, "wcflimit" + i + "." + tag + "@example.com", "L" + i + tag));
                } catch (FaultException<Hub.Wcf.RateLimitFault> e) {
                    Console.WriteLine("{\"limit\":{\"after\":" + i + ",\"retryAfterSeconds\":" + e.Detail.RetryAfterSeconds
                        + ",\"message\":" + Json(e.Detail.Message) + ",\"reason\":" + Json(e.Message) + "}}");
                    return;
                }
            }
        }
        string firstUsername = null;
        foreach (var b in bindings) {
            string v = b.Item1;
            var soap = Channel<Hub.Wcf.UserServicePortType>(b.Item2, soapBase + "/register");
            var lookup = Channel<Hub.Wcf.UserLookupPortType>(b.Item2, lookupBase + "/user/soap");
            string username = "wcf" + v + "_" + tag, email = "wcf" + v + "." + tag + "@example.com";
            var request = Request(username, email, "W" + v + tag);
            var reply = soap.RegisterUser(request);
            out_.Append("\"register" + v + "\":{\"message\":" + Json(reply.message) + ",\"id\":" + Json(reply.id)
                + ",\"username\":" + Json(username) + "},");
            firstUsername = firstUsername ?? username;
            try {
                soap.RegisterUser(request);
                out_.Append("\"duplicate" + v + "\":\"no fault\",");
            } catch (FaultException<Hub.Wcf.RegistrationFault> e) {
                // The WSDL's fault: a typed exception whose Detail is the RegistrationFault.
                out_.Append("\"duplicate" + v + "\":{\"field\":" + Json(e.Detail.Field) + ",\"reason\":" + Json(e.Message) + "},");
            }
            try {
                soap.RegisterUser(Request(username + "x", "not-an-email", "X" + v + tag));
                out_.Append("\"invalid" + v + "\":\"no fault\",");
            } catch (FaultException<Hub.Wcf.RegistrationFault> e) {
                out_.Append("\"invalid" + v + "\":{\"field\":" + Json(e.Detail.Field) + ",\"reason\":" + Json(e.Message) + "},");
            }
            var found = lookup.getUserByUsername(new Hub.Wcf.GetUserByUsernameRequest { username = username });
            out_.Append("\"lookup" + v + "\":{\"id\":" + Json(found.id) + ",\"username\":" + Json(found.username) + "},");
            try {
                lookup.getUserByUsername(new Hub.Wcf.GetUserByUsernameRequest { username = "nobody_" + tag });
                out_.Append("\"missing" + v + "\":\"no fault\",");
            } catch (FaultException<Hub.Wcf.LookupFault> e) {
                out_.Append("\"missing" + v + "\":{\"message\":" + Json(e.Detail.Message) + "},");
            }
        }
        out_.Length--;
        Console.WriteLine(out_.Append("}"));
    }

    static Hub.Wcf.RegisterUserRequest Request(string username, string email, string dni) =>
        new Hub.Wcf.RegisterUserRequest {
            username = username, password = "s3cret!pw", first_name = "Ana", last_name = "Peña",
            dni = dni, email = email, city = "Málaga",
        };
}
