// JAX-WS RI: register over SOAP 1.1 and 1.2, a duplicate, a lookup; through classes generated with
//   wsimport -extension -Xnocompile -d src -p hub.register SOAP_BASE/register?wsdl
//   wsimport -extension -Xnocompile -d src -p hub.lookup LOOKUP_BASE/user/soap?wsdl
// Usage: java JaxWsClient TAG [limit]  -> one JSON object (tests/tests/it/soap_clients.rs)
import hub.lookup.UserLookupService;
import hub.register.RateLimitFault_Exception;
import hub.register.RegistrationFault_Exception;
import hub.register.UserService;
import hub.register.UserServicePortType;
import javax.xml.ws.Holder;

public class JaxWsClient {
    static String json(String s) {
        return s == null ? "null" : "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    public static void main(String[] args) {
        String tag = args[0];
        StringBuilder out = new StringBuilder("{");
        // The Service object fetches the WSDL from the address it was generated from;
        // -extension is what lets wsimport generate getUserServiceSoap12().
        UserService service = new UserService();
        if (args.length > 1 && args[1].equals("limit")) {
            // Over the registration limit: the WSDL's RateLimitFault, a checked exception
            // like RegistrationFault, whose getFaultInfo() holds the seconds to wait.
            UserServicePortType port = service.getUserServiceSoap();
            for (int i = 0; ; i++) {
                try {
                    port.registerUser("jaxwslimit" + i + "_" + tag, "s3cret!pw", "Ana", "Peña", "JL" + i + tag,
                            "jaxwslimit" + i + "." + tag + "@example.com", "Málaga", new Holder<>(), new Holder<>());
                } catch (RateLimitFault_Exception e) {
                    System.out.println("{\"limit\":{\"after\":" + i + ",\"retryAfterSeconds\":"
                            + e.getFaultInfo().getRetryAfterSeconds() + ",\"reason\":" + json(e.getMessage()) + "}}");
                    return;
                } catch (RegistrationFault_Exception e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        String username11 = null;
        for (String v : new String[] {"11", "12"}) {
            UserServicePortType port =
                    v.equals("11") ? service.getUserServiceSoap() : service.getUserServiceSoap12();
            String username = "jaxws" + v + "_" + tag;
            if (username11 == null) username11 = username;
            // Wrapper style: the request's fields are parameters, the reply's two fields
            // come back in Holders.
            Holder<String> message = new Holder<>(), id = new Holder<>();
            try {
                port.registerUser(username, "s3cret!pw", "Ana", "Peña", "J" + v + tag,
                        "jaxws" + v + "." + tag + "@example.com", "Málaga", message, id);
            } catch (RegistrationFault_Exception | RateLimitFault_Exception e) {
                throw new IllegalStateException(e);
            }
            out.append("\"register").append(v).append("\":{\"message\":").append(json(message.value))
                    .append(",\"id\":").append(json(id.value))
                    .append(",\"username\":").append(json(username)).append("},");
            try {
                port.registerUser(username, "s3cret!pw", "Ana", "Peña", "J" + v + tag,
                        "jaxws" + v + "." + tag + "@example.com", "Málaga", message, id);
                out.append("\"duplicate").append(v).append("\":\"no fault\",");
            } catch (RegistrationFault_Exception e) {
                // The WSDL's fault is a checked exception; getFaultInfo() is the typed detail.
                out.append("\"duplicate").append(v).append("\":{\"field\":")
                        .append(json(e.getFaultInfo().getField()))
                        .append(",\"reason\":").append(json(e.getMessage())).append("},");
            } catch (RateLimitFault_Exception e) {
                throw new IllegalStateException(e);
            }
        }
        // The lookup's request and reply both hold a username, so wsimport makes it an
        // in/out Holder: it carries the name in and the stored name back.
        Holder<String> username = new Holder<>(username11), id = new Holder<>();
        try {
            new UserLookupService().getUserLookupSoap12().getUserByUsername(username, id);
        } catch (hub.lookup.LookupFault_Exception e) {
            throw new IllegalStateException(e);
        }
        out.append("\"lookup\":{\"id\":").append(json(id.value))
                .append(",\"username\":").append(json(username.value)).append("}}");
        System.out.println(out);
    }
}
