//! Real SOAP clients against the running SOAP services: zeep (strict) and node-soap
//! load each WSDL from the service, register users over SOAP 1.1 and 1.2, look them
//! up through the SOAP operation and the HTTP GET binding, and decode faults. Then a
//! user registered over SOAP logs in through auth.
//!
//! Then the examples of docs/SOAP-CLIENTS.md, one per client stack (strong-soap, suds,
//! PySimpleSOAP, PHP, SOAP::Lite, SOAP::WSDL, gSOAP, JAX-WS, Mono ASMX, WCF on Mono with
//! contracts by hand and with svcutil's code): each registers in every SOAP version its
//! stack speaks, gets the duplicate as the stack's own fault with the taken field, and
//! looks the user up. The guide quotes those files; a test checks that every quote still
//! matches its file.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{path::PathBuf, process::Command};

use hub_checks::client_script;
use hub_checks::system::{System, start};
use serde_json::Value;

/// Runs a client script off the async workers (the services run on them). A script may
/// print several JSON objects (one per SOAP version it was built for): they are merged.
async fn run_client(mut cmd: Command) -> Value {
    let shown = format!("{cmd:?}");
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| {
            panic!("{shown}: {e} (scripts/backing.sh install sets the clients up)")
        });
    assert!(
        out.status.success(),
        "client failed: {shown}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut merged = serde_json::Map::new();
    for object in serde_json::Deserializer::from_slice(&out.stdout).into_iter::<Value>() {
        match object {
            Ok(Value::Object(fields)) => merged.extend(fields),
            other => panic!("{other:?}: {}", String::from_utf8_lossy(&out.stdout)),
        }
    }
    Value::Object(merged)
}

fn tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

/// `program SCRIPT SOAP_BASE LOOKUP_BASE TAG`, the client script `name` against `sys`.
fn command(sys: &System, program: &str, name: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.arg(client_script(name))
        .arg(format!("http://{}", sys.soap))
        .arg(format!("http://{}", sys.lookup))
        .arg(tag());
    cmd
}

/// [`command`] with node's modules at hand (`HUB_NODE_PATH`).
fn node_command(sys: &System, program: &str, name: &str) -> Command {
    let mut cmd = command(sys, program, name);
    cmd.env("NODE_PATH", hub_testkit::env("HUB_NODE_PATH"));
    cmd
}

async fn lookup_get(sys: &System, username: &str) -> String {
    let url = reqwest::Url::parse_with_params(
        &format!("http://{}/user/soap", sys.lookup),
        [("username", username)],
    )
    .unwrap();
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

/// Checks what both clients report in common.
async fn check_common(sys: &System, out: &Value, client: &str) {
    for reg in ["register11", "register12"] {
        assert_eq!(
            out[reg]["message"], "User registered successfully",
            "{client} {reg}: {out}"
        );
        let id = out[reg]["id"].as_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{client} {reg}");
        // The stored values round-trip exactly: markup, quotes and non-ASCII.
        let username = out[reg]["username"].as_str().unwrap();
        let envelope = lookup_get(sys, username).await;
        assert!(
            envelope.contains(&format!("<web:id>{id}</web:id>")),
            "{client} {reg}: {envelope}"
        );
        // A user registered over SOAP logs in through auth with the same password.
        let login = sys.login(username, out["password"].as_str().unwrap()).await;
        assert_eq!(login.status(), 200, "{client} {reg}");
    }
    for inv in ["invalid11", "invalid12"] {
        assert_eq!(out[inv]["field"], "email", "{client} {inv}: {out}");
    }
    // The password policy's refusal, declared in docs/COMPATIBILITY.md.
    for short in ["short11", "short12"] {
        assert_eq!(out[short]["field"], "password", "{client} {short}: {out}");
    }
    assert_eq!(out["lookup11"]["id"], out["register11"]["id"], "{client}");
    assert_eq!(
        out["lookup11"]["username"], out["register11"]["username"],
        "{client}"
    );
}

#[tokio::test]
async fn zeep_in_strict_mode_registers_looks_up_and_decodes_faults() {
    let sys = start().await;
    let out = run_client(command(&sys, &hub_testkit::python(), "zeep_client.py")).await;
    check_common(&sys, &out, "zeep").await;
    assert_eq!(
        out["invalid11"]["message"],
        "Invalid email: is not an email address"
    );
    assert_eq!(
        out["invalid12"]["message"],
        "Invalid email: is not an email address"
    );
    for short in ["short11", "short12"] {
        assert_eq!(
            out[short]["message"], "Invalid password: must be at least 8 characters",
            "{short}: {out}"
        );
    }
    for name in ["duplicate11", "duplicate12"] {
        assert_eq!(out[name]["field"], "username", "{name}: {out}");
        assert_eq!(
            out[name]["message"], "username is already registered",
            "{name}: {out}"
        );
    }
    assert_eq!(out["lookup12"], out["lookup11"]);
    assert_eq!(
        out["lookup_get"]["id"], out["register12"]["id"],
        "HTTP GET binding: {out}"
    );
    assert_eq!(out["lookup_get"]["username"], out["register12"]["username"]);
    assert_eq!(out["lookup_missing"]["detail"], "User not found");
    // The HTTP GET binding's 404 reaches the caller as a Fault without code or detail.
    assert_eq!(out["lookup_get_missing"]["code"], Value::Null, "{out}");
    assert_eq!(
        out["lookup_get_missing"]["detail"], "User not found",
        "{out}"
    );
}

#[tokio::test]
async fn node_soap_registers_looks_up_and_decodes_faults() {
    let sys = start().await;
    let out = run_client(node_command(&sys, "node", "node_client.js")).await;
    check_common(&sys, &out, "node-soap").await;
    assert_eq!(
        out["invalid11"]["reason"], "Invalid email: is not an email address",
        "{out}"
    );
    assert_eq!(
        out["short11"]["reason"], "Invalid password: must be at least 8 characters",
        "{out}"
    );
    assert_eq!(out["lookup_missing"]["message"], "User not found", "{out}");
    for name in ["duplicate11", "duplicate12"] {
        assert_eq!(out[name]["field"], "username", "{name}: {out}");
        assert_eq!(
            out[name]["reason"], "username is already registered",
            "{name}: {out}"
        );
    }
}

/// What every guide example prints, checked: for each SOAP version it speaks, a
/// registration with the new id, then the same user again answered as the stack's own
/// fault whose detail names the taken field; and a lookup (`lookup…`) that finds the
/// id of the user it names.
fn check_example(out: &Value, client: &str, versions: &[&str]) {
    let mut registered = Vec::new();
    for v in versions {
        let reg = &out[format!("register{v}")];
        assert_eq!(
            reg["message"], "User registered successfully",
            "{client} register{v}: {out}"
        );
        let id = reg["id"].as_str().unwrap_or_default();
        assert!(
            uuid::Uuid::parse_str(id).is_ok(),
            "{client} register{v}: {out}"
        );
        registered.push((reg["username"].clone(), reg["id"].clone()));
        let dup = &out[format!("duplicate{v}")];
        assert_eq!(dup["field"], "username", "{client} duplicate{v}: {out}");
        assert_eq!(
            dup["reason"], "username is already registered",
            "{client} duplicate{v}: {out}"
        );
    }
    let lookups: Vec<&Value> = out
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("lookup"))
        .map(|(_, v)| v)
        .collect();
    assert!(!lookups.is_empty(), "{client}: no lookup in {out}");
    for found in lookups {
        let pair = (found["username"].clone(), found["id"].clone());
        assert!(
            registered.contains(&pair),
            "{client}: lookup {found} in {out}"
        );
    }
}

/// Runs a guide example (`program script SOAP_BASE LOOKUP_BASE TAG`) against a fresh system
/// and checks what it printed with [`check_example`]; returns that, for the checks
/// particular to its stack.
async fn example(program: &str, name: &str, client: &str, versions: &[&str]) -> Value {
    let sys = start().await;
    let out = run_client(node_command(&sys, program, name)).await;
    check_example(&out, client, versions);
    out
}

#[tokio::test]
async fn strong_soap_parses_the_registration_reply_and_the_duplicate_fault() {
    // Before the WSDL named its output registerUserResponseOutput, strong-soap resolved
    // every registration to `undefined` (wsdl/user-soap.wsdl).
    example(
        "node",
        "strong_soap_client.js",
        "strong-soap",
        &["11", "12"],
    )
    .await;
}

#[tokio::test]
async fn suds_example_registers_and_decodes_the_typed_fault() {
    let out = example(&hub_testkit::python(), "suds_client.py", "suds", &["11"]).await;
    // The documented quirk: repr() of the faultstring shows its xml:lang.
    assert_eq!(
        out["duplicate11"]["repr"],
        "username is already registered [en]"
    );
}

#[tokio::test]
async fn pysimplesoap_example_works_around_its_soap12_namespace() {
    example(
        &hub_testkit::python(),
        "pysimplesoap_client.py",
        "PySimpleSOAP",
        &["11", "12"],
    )
    .await;
}

#[tokio::test]
async fn php_soapclient_example_registers_in_both_versions() {
    let out = example("php", "php_client.php", "PHP", &["11", "12"]).await;
    assert_eq!(out["duplicate11"]["code"], "soapenv:Client");
    assert_eq!(out["duplicate12"]["code"], "env:Sender");
}

#[tokio::test]
async fn soap_lite_example_registers_in_both_versions() {
    let out = example("perl", "soap_lite_client.pl", "SOAP::Lite", &["11", "12"]).await;
    // The documented quirk: faultstring reads the SOAP 1.1 path only.
    assert_eq!(
        out["duplicate11"]["faultstring"],
        "username is already registered"
    );
    assert_eq!(out["duplicate12"]["faultstring"], Value::Null);
    // faultcode too; the example reads Code/Value by path under 1.2.
    assert_eq!(out["duplicate12"]["faultcode"], Value::Null);
    assert_eq!(out["duplicate11"]["code"], "soapenv:Client");
    assert_eq!(out["duplicate12"]["code"], "env:Sender");
}

#[tokio::test]
async fn soap_wsdl_example_resolves_the_fault_detail() {
    let out = example("bash", "soap_wsdl_client.sh", "SOAP::WSDL", &["11"]).await;
    // The typemap's `'Fault/detail' => '__SKIP__'`: the fault, without its detail.
    assert_eq!(out["duplicate11_skip"]["code"], "soapenv:Client", "{out}");
    assert_eq!(
        out["duplicate11_skip"]["reason"],
        "username is already registered"
    );
}

#[tokio::test]
async fn gsoap_example_built_for_each_version() {
    example("bash", "gsoap_client.sh", "gSOAP", &["11", "12"]).await;
}

#[tokio::test]
async fn jaxws_example_raises_the_typed_fault_exception() {
    example("bash", "jaxws_client.sh", "JAX-WS", &["11", "12"]).await;
}

#[tokio::test]
async fn mono_example_over_soap_11_12_and_http_get() {
    let out = example("bash", "mono_client.sh", "Mono", &["11", "12"]).await;
    assert_eq!(out["lookup_get"], out["lookup"], "{out}");
}

/// WCF (Mono's System.ServiceModel): basicHttpBinding (SOAP 1.1, no addressing) and
/// SOAP 1.2 with mandatory WS-Addressing headers, 1.0 and 2004/08 (before, a
/// MustUnderstand fault for every call): the duplicate and invalid input are typed
/// `FaultException<RegistrationFault>`, an unknown user a `FaultException<LookupFault>`.
#[tokio::test]
async fn wcf_on_mono_over_basic_http_and_soap12_with_ws_addressing() {
    let versions = ["11", "12", "12_2004"];
    let out = example("bash", "mono_wcf_client.sh", "WCF", &versions).await;
    for v in versions {
        assert_eq!(out[format!("invalid{v}")]["field"], "email", "{v}: {out}");
        assert_eq!(
            out[format!("invalid{v}")]["reason"],
            "Invalid email: is not an email address",
            "{v}: {out}"
        );
        assert_eq!(
            out[format!("missing{v}")]["message"],
            "User not found",
            "{v}: {out}"
        );
    }
}

/// WCF on Mono with what Mono's `svcutil` generates from the served WSDLs. What it
/// generated: one string per request field in, one string out, no `FaultContract`, and
/// the request and reply elements as data contracts. Its proxy cannot register (the
/// wrapper goes out in the WSDL's targetNamespace), reads a found user as null (it expects
/// `getUserByUsernameResult`) and an unknown one as a `SerializationException` (Mono reads
/// an undeclared detail as `ExceptionDetail`). Its data contracts, sent through the
/// binding's channel (SOAP 1.1, SOAP 1.2 with WS-Addressing 1.0), register with the id,
/// look up and read each fault's Code, Reason and detail (docs/SOAP-CLIENTS.md).
#[tokio::test]
async fn svcutil_generated_wcf_code_on_mono() {
    let out = example("bash", "mono_svcutil_client.sh", "svcutil", &["11", "12"]).await;
    let generated = &out["generated"];
    assert_eq!(
        generated["RegisterUser"]["signature"],
        "String RegisterUser(String username, String password, String first_name, \
         String last_name, String dni, String email, String city)",
        "{out}"
    );
    assert_eq!(
        generated["getUserByUsername"]["signature"], "String getUserByUsername(String username)",
        "{out}"
    );
    for op in ["RegisterUser", "getUserByUsername"] {
        assert_eq!(generated[op]["faultContracts"], 0, "{op}: {out}");
    }
    assert_eq!(
        generated["dataContracts"],
        serde_json::json!([
            "example.com.user.RegisterUser",
            "example.com.userservice.registerUserResponse",
            "www.example.org.webservice.getUserByUsername",
            "www.example.org.webservice.getUserByUsernameResponse",
        ]),
        "no class for RegistrationFault, RateLimitFault or LookupFault: {out}"
    );
    for (v, code) in [("11", "Client"), ("12", "Sender")] {
        // Refused, and nothing stored: the same username then registers (`register{v}`).
        let proxy = &out[format!("proxy_register{v}")];
        assert_eq!(
            proxy["exception"], "System.ServiceModel.FaultException",
            "{out}"
        );
        assert_eq!(proxy["code"], code, "{v}: {out}");
        assert_eq!(
            proxy["reason"], "Unknown operation {http://example.com/userservice}RegisterUser",
            "{v}: {out}"
        );
        assert_eq!(
            out[format!("proxy_lookup{v}")],
            serde_json::json!({ "returned": null }),
            "{v}: {out}"
        );
        let missing = &out[format!("proxy_missing{v}")];
        assert_eq!(
            missing["exception"], "System.Runtime.Serialization.SerializationException",
            "{v}: {out}"
        );
        let reason = missing["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("Expecting element 'ExceptionDetail'")
                && reason.contains("'LookupFault', namespace 'http://www.example.org/webservice'"),
            "{v}: {out}"
        );
        // The untyped faults: the SOAP code, the faultstring or Reason, the detail's XML.
        for (name, detail, field, text) in [
            (
                "duplicate",
                "RegistrationFault",
                Value::from("username"),
                "username is already registered",
            ),
            (
                "invalid",
                "RegistrationFault",
                Value::from("email"),
                "Invalid email: is not an email address",
            ),
            ("missing", "LookupFault", Value::Null, "User not found"),
        ] {
            let fault = &out[format!("{name}{v}")];
            assert_eq!(fault["code"], code, "{name}{v}: {out}");
            assert_eq!(fault["reason"], text, "{name}{v}: {out}");
            assert_eq!(fault["detail"], detail, "{name}{v}: {out}");
            assert_eq!(fault["field"], field, "{name}{v}: {out}");
        }
    }
}

/// Over the registration limit, a toolkit reads the limit as the WSDL's `RateLimitFault`
/// through its usual fault API, with the seconds to wait (before: a bare HTTP 429 that
/// suds, gSOAP, JAX-WS and Mono reported as a transport error). The scripts, given
/// `limit`, register until the fault and print what they read.
async fn limit_fault(program: &str, name: &str) -> Value {
    let sys = hub_checks::system::start_with(&[("REGISTER_MAX_PER_ADDRESS", "2")]).await;
    let mut cmd = node_command(&sys, program, name);
    cmd.arg("limit");
    let out = run_client(cmd).await;
    let limits: Vec<&Value> = out
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("limit"))
        .map(|(_, v)| v)
        .collect();
    assert!(!limits.is_empty(), "{name}: {out}");
    for limit in limits {
        let secs = limit["retryAfterSeconds"].as_u64().unwrap_or(0);
        assert!((1..=60).contains(&secs), "{name}: {out}");
        let reason = limit["reason"].as_str().unwrap_or_default();
        assert!(
            reason.starts_with("Too many registrations from this address; retry after"),
            "{name}: {out}"
        );
        assert!(limit["after"].as_u64().unwrap() <= 2, "{name}: {out}");
    }
    out
}

#[tokio::test]
async fn the_registration_limit_is_a_fault_zeep_reads() {
    let out = limit_fault(&hub_testkit::python(), "zeep_client.py").await;
    let code = out["limit"]["code"].as_str().unwrap_or_default();
    assert!(code.ends_with("Sender"), "a SOAP 1.2 Sender fault: {out}");
}

#[tokio::test]
async fn the_registration_limit_is_a_fault_suds_reads() {
    limit_fault(&hub_testkit::python(), "suds_client.py").await;
}

#[tokio::test]
async fn the_registration_limit_is_a_fault_php_reads() {
    let out = limit_fault("php", "php_client.php").await;
    assert_eq!(out["limit"]["code"], "soapenv:Client");
}

#[tokio::test]
async fn the_registration_limit_is_a_fault_gsoap_reads() {
    let out = limit_fault("bash", "gsoap_client.sh").await;
    assert!(
        out["limit11"].is_object() && out["limit12"].is_object(),
        "{out}"
    );
}

#[tokio::test]
async fn the_registration_limit_is_a_typed_fault_exception_in_jaxws() {
    limit_fault("bash", "jaxws_client.sh").await;
}

#[tokio::test]
async fn the_registration_limit_is_a_soap_exception_in_mono() {
    limit_fault("bash", "mono_client.sh").await;
}

#[tokio::test]
async fn the_registration_limit_is_a_typed_fault_exception_in_wcf() {
    limit_fault("bash", "mono_wcf_client.sh").await;
}

/// The guide's examples, as it quotes them: each `<!-- file: PATH -->` line is followed by
/// a fenced block holding exactly that file.
#[test]
fn the_client_guide_quotes_the_example_files_as_they_are() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let guide = std::fs::read_to_string(root.join("docs/SOAP-CLIENTS.md")).unwrap();
    let mut quoted = Vec::new();
    let mut lines = guide.lines();
    while let Some(line) = lines.next() {
        let Some(path) = line
            .strip_prefix("<!-- file: ")
            .and_then(|rest| rest.strip_suffix(" -->"))
        else {
            continue;
        };
        let fence = lines.next().unwrap_or_default();
        assert!(
            fence.starts_with("```"),
            "{path}: no code block after the marker"
        );
        let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        let file = std::fs::read_to_string(root.join(path))
            .unwrap_or_else(|e| panic!("docs/SOAP-CLIENTS.md quotes {path}: {e}"));
        assert_eq!(
            block.join("\n"),
            file.trim_end_matches('\n'),
            "docs/SOAP-CLIENTS.md: the quote of {path} differs from the file"
        );
        quoted.push(path.rsplit('/').next().unwrap_or(path).to_owned());
    }
    // Every example the tests above run is in the guide.
    for name in [
        "zeep_client.py",
        "node_client.js",
        "strong_soap_client.js",
        "suds_client.py",
        "pysimplesoap_client.py",
        "php_client.php",
        "soap_lite_client.pl",
        "soap_wsdl_client.sh",
        "soap_wsdl_client.pl",
        "gsoap_client.sh",
        "gsoap_client.cpp",
        "jaxws_client.sh",
        "JaxWsClient.java",
        "mono_client.sh",
        "MonoClient.cs",
        "mono_wcf_client.sh",
        "MonoWcfClient.cs",
        "mono_svcutil_client.sh",
        "MonoSvcutilClient.cs",
    ] {
        assert!(
            quoted.iter().any(|q| q == name),
            "docs/SOAP-CLIENTS.md does not quote {name}"
        );
    }
}
