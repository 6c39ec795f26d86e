//! The checked-in WSDLs are well-formed, document/literal, and describe what the code
//! dispatches on. (zeep in strict mode loading them from the running services, in
//! soap_clients.rs, is the second check.)
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use hub_soap::xml::{Element, Limits, parse};

const WSDL_NS: &str = "http://schemas.xmlsoap.org/wsdl/";
const XSD_NS: &str = "http://www.w3.org/2001/XMLSchema";

fn load(name: &str) -> Element {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../wsdl")
        .join(name);
    let text = std::fs::read_to_string(path).unwrap();
    let limits = Limits {
        max_depth: 64,
        max_elements: 10_000,
        max_attributes: 64,
        max_text: 64 * 1024,
    };
    parse(&text, &limits).unwrap_or_else(|e| panic!("{name}: {}", e.message()))
}

fn names<'a>(root: &'a Element, ns: &'a str, local: &'a str) -> Vec<&'a str> {
    root.descendants_named(ns, local)
        .iter()
        .filter_map(|e| e.attr(None, "name"))
        .collect()
}

const WSAW_NS: &str = "http://www.w3.org/2006/05/addressing/wsdl";

/// WS-Addressing is declared optional on every SOAP binding, and each operation's
/// `wsaw:Action` is the `soapAction` of both bindings (the services check the one they
/// receive against it); outputs and faults name theirs.
fn check_addressing(root: &Element, name: &str) {
    for binding in [
        "http://schemas.xmlsoap.org/wsdl/soap/",
        "http://schemas.xmlsoap.org/wsdl/soap12/",
    ] {
        let soap_bindings = root
            .descendants_named(WSDL_NS, "binding")
            .into_iter()
            .filter(|b| !b.descendants_named(binding, "binding").is_empty())
            .collect::<Vec<_>>();
        assert_eq!(soap_bindings.len(), 1, "{name}: one {binding} binding");
        let using: Vec<_> = soap_bindings[0]
            .children_named(WSAW_NS, "UsingAddressing")
            .collect();
        assert_eq!(using.len(), 1, "{name}: {binding} declares UsingAddressing");
        assert_eq!(
            using[0].attr(Some(WSDL_NS), "required"),
            Some("false"),
            "{name}: addressing is optional"
        );
        let input_actions: Vec<&str> = root
            .descendants_named(WSDL_NS, "portType")
            .into_iter()
            .filter(|p| p.attr(None, "name").is_some_and(|n| !n.contains("HttpGet")))
            .flat_map(|p| p.descendants_named(WSDL_NS, "input"))
            .map(|i| i.attr(Some(WSAW_NS), "Action").unwrap())
            .collect();
        let soap_actions: Vec<&str> = root
            .descendants_named(binding, "operation")
            .iter()
            .map(|o| o.attr(None, "soapAction").unwrap())
            .collect();
        assert_eq!(input_actions, soap_actions, "{name}: {binding}");
    }
    for port_type in root.descendants_named(WSDL_NS, "portType") {
        if port_type
            .attr(None, "name")
            .is_some_and(|n| n.contains("HttpGet"))
        {
            continue;
        }
        for local in ["output", "fault"] {
            for e in port_type.descendants_named(WSDL_NS, local) {
                assert!(e.attr(Some(WSAW_NS), "Action").is_some(), "{name}: {local}");
            }
        }
    }
}

fn check_common(root: &Element, name: &str) {
    assert!(root.is(WSDL_NS, "definitions"), "{name}");
    check_addressing(root, name);
    for binding in [
        "http://schemas.xmlsoap.org/wsdl/soap/",
        "http://schemas.xmlsoap.org/wsdl/soap12/",
    ] {
        let b = root.descendants_named(binding, "binding");
        assert!(!b.is_empty(), "{name}: a {binding} binding");
        assert!(
            b.iter().all(|e| e.attr(None, "style") == Some("document")),
            "{name}: document style"
        );
        for body in root.descendants_named(binding, "body") {
            assert_eq!(body.attr(None, "use"), Some("literal"), "{name}: literal");
        }
    }
    for schema in root.descendants_named(XSD_NS, "schema") {
        assert_eq!(
            schema.attr(None, "elementFormDefault"),
            Some("qualified"),
            "{name}"
        );
    }
    for ns in [
        "http://schemas.xmlsoap.org/wsdl/soap/",
        "http://schemas.xmlsoap.org/wsdl/soap12/",
        "http://schemas.xmlsoap.org/wsdl/http/",
    ] {
        for addr in root.descendants_named(ns, "address") {
            let loc = addr.attr(None, "location").unwrap();
            assert!(
                loc.starts_with(hub_soap::wsdl::PLACEHOLDER_BASE),
                "{name}: {loc} must use the placeholder base"
            );
        }
    }
}

#[test]
fn the_user_soap_wsdl_describes_register_user_in_the_user_namespace() {
    let root = load("user-soap.wsdl");
    check_common(&root, "user-soap.wsdl");
    assert_eq!(
        names(&root, WSDL_NS, "operation"),
        ["RegisterUser", "RegisterUser", "RegisterUser"]
    );
    let schemas = root.descendants_named(XSD_NS, "schema");
    let user = schemas
        .iter()
        .find(|s| s.attr(None, "targetNamespace") == Some("http://example.com/user"))
        .unwrap();
    let fields = names(user, XSD_NS, "element");
    assert_eq!(
        fields,
        [
            "RegisterUser",
            "username",
            "password",
            "first_name",
            "last_name",
            "dni",
            "email",
            "city"
        ]
    );
    // Each fault in the portType and both bindings: RegistrationFault, and the
    // registration limit's RateLimitFault (for toolkits; the legacy request gets a 429).
    assert_eq!(
        names(&root, WSDL_NS, "fault"),
        ["RegistrationFault", "RateLimitFault"].repeat(3)
    );
    // strong-soap finds the reply element (registerUserResponse) through the output's
    // name minus "Output"; portType and both bindings must agree on it.
    assert_eq!(
        names(&root, WSDL_NS, "output"),
        ["registerUserResponseOutput"; 3]
    );
}

#[test]
fn the_user_lookup_wsdl_has_soap_and_http_get_bindings() {
    let root = load("user-lookup.wsdl");
    check_common(&root, "user-lookup.wsdl");
    let http = root.descendants_named("http://schemas.xmlsoap.org/wsdl/http/", "binding");
    assert_eq!(http.len(), 1);
    assert_eq!(http[0].attr(None, "verb"), Some("GET"));
    let op = root.descendants_named("http://schemas.xmlsoap.org/wsdl/http/", "operation");
    assert_eq!(
        op[0].attr(None, "location"),
        Some("/lookup"),
        "served at /user/lookup"
    );
    let elements = names(&root, XSD_NS, "element");
    assert!(
        elements.contains(&"getUserByUsername") && elements.contains(&"getUserByUsernameResponse")
    );
}
