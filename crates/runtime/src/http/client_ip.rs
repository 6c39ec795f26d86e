//! The client's address as the deployment can trust it, behind any number of proxies.
//!
//! A forwarding header is a list that every hop appends to: the client writes whatever
//! it likes on the left, and each proxy adds the address it received the request from
//! on the right. So the only trustworthy entry is found from the right: skip the
//! addresses of proxies the deployment runs (`TRUSTED_PROXIES`), and the first one left
//! is the address the outermost trusted proxy saw. Anything further left was written
//! by the client and is ignored.
//!
//! * The peer is not a trusted proxy (or none is configured): the peer's address;
//!   forwarding headers are ignored, whatever they say.
//! * The peer is trusted: walk the header from the right past trusted addresses; the
//!   first untrusted one is the client. If every entry is trusted, the left-most one.
//!   An entry that is not an address (`unknown`, an obfuscated `_name`, garbage) stops
//!   the walk: the last trusted hop is taken as the client, never a value further left.
//!
//! Which header is read is a setting (`CLIENT_ADDRESS_HEADER`, `X-Forwarded-For` or
//! `Forwarded`): a proxy that sets one passes the other through untouched, so reading
//! both would let a client write its own address.

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, request::Parts},
    response::{IntoResponse, Response},
};
use ipnet::IpNet;

use crate::config::{ConfigError, Vars};

/// Which forwarding header the trusted proxies write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardingHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (the de facto standard).
    XForwardedFor,
    /// `Forwarded: for=client, for="[2001:db8::1]:443"` (RFC 7239).
    Forwarded,
}

/// Whom the service believes about the client's address.
#[derive(Debug, Clone)]
pub struct ProxyTrust {
    /// `TRUSTED_PROXIES`: comma-separated addresses or CIDR ranges of the proxies in
    /// front of the service (default none: the peer address is the client).
    pub proxies: Vec<IpNet>,
    /// `TRUST_FORWARDED_FOR=true` (deprecated alias): the peer, whatever its address,
    /// is one trusted proxy. Only safe when nothing but that proxy can reach the port.
    pub trust_any_peer: bool,
    /// `CLIENT_ADDRESS_HEADER` (default `X-Forwarded-For`).
    pub header: Option<ForwardingHeader>,
    /// `CLIENT_IPV6_PREFIX` (default 64, 1 to 128): how many leading bits of an IPv6
    /// address name one client for per-address limits ([`ProxyTrust::client_key`]).
    pub ipv6_prefix: u8,
}

/// The default of `CLIENT_IPV6_PREFIX`: a /64 is one subscriber's smallest allocation
/// (RFC 6177), so one host can change its address within it at will.
pub const DEFAULT_IPV6_PREFIX: u8 = 64;

impl Default for ProxyTrust {
    fn default() -> Self {
        Self {
            proxies: Vec::new(),
            trust_any_peer: false,
            header: None,
            ipv6_prefix: DEFAULT_IPV6_PREFIX,
        }
    }
}

/// A service state that says whom to believe about the client's address.
pub trait TrustsProxies {
    /// The deployment's proxies.
    fn proxy_trust(&self) -> &ProxyTrust;
}

/// Extractor: the client's address, as [`ProxyTrust::client_ip`] finds it from the peer
/// and the forwarding headers, with the state's [`TrustsProxies`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl<S: TrustsProxies + Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Self(state.proxy_trust().client_ip(&parts.headers, peer)))
    }
}

impl ProxyTrust {
    /// Reads `TRUSTED_PROXIES`, `CLIENT_ADDRESS_HEADER` and the deprecated
    /// `TRUST_FORWARDED_FOR` (see the fields).
    pub fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let proxies = vars
            .list("TRUSTED_PROXIES")
            .iter()
            .map(|entry| parse_net(entry))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                ConfigError::invalid(
                    "TRUSTED_PROXIES",
                    "comma-separated IP addresses or CIDR ranges, e.g. 10.0.0.0/8,192.0.2.7",
                )
            })?;
        let header = match vars.string("CLIENT_ADDRESS_HEADER") {
            None => None,
            Some(h) if h.eq_ignore_ascii_case("x-forwarded-for") => {
                Some(ForwardingHeader::XForwardedFor)
            }
            Some(h) if h.eq_ignore_ascii_case("forwarded") => Some(ForwardingHeader::Forwarded),
            Some(_) => {
                return Err(ConfigError::invalid(
                    "CLIENT_ADDRESS_HEADER",
                    "X-Forwarded-For or Forwarded",
                ));
            }
        };
        let ipv6_prefix = vars.parse_or("CLIENT_IPV6_PREFIX", DEFAULT_IPV6_PREFIX)?;
        if !(1..=128).contains(&ipv6_prefix) {
            return Err(ConfigError::invalid(
                "CLIENT_IPV6_PREFIX",
                "a prefix length from 1 to 128",
            ));
        }
        Ok(Self {
            proxies,
            trust_any_peer: vars.bool_or("TRUST_FORWARDED_FOR", false)?,
            header,
            ipv6_prefix,
        })
    }

    /// The network that per-address limits count `ip` under: an IPv4 address on its
    /// own, an IPv6 address by its first `CLIENT_IPV6_PREFIX` bits (default /64), since
    /// one IPv6 host may pick any address of its prefix for each request. Its text
    /// (`192.0.2.1/32`, `2001:db8:1:2::/64`) is a stable key.
    pub fn client_key(&self, ip: IpAddr) -> IpNet {
        client_key(ip, self.ipv6_prefix)
    }

    /// [`client_key`](Self::client_key) as the text a stored counter is keyed by
    /// ([`key_text`]): `192.0.2.1`, `2001:db8:1:2::/64`.
    pub fn client_key_text(&self, ip: IpAddr) -> String {
        key_text(self.client_key(ip))
    }

    /// Whether `ip` is one of `TRUSTED_PROXIES`.
    pub fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        self.trusts(ip)
    }

    /// Logs, once at start-up, a warning for the deprecated alias.
    pub fn warn_if_deprecated(&self) {
        if self.trust_any_peer {
            tracing::warn!(
                "TRUST_FORWARDED_FOR=true is deprecated: any peer is trusted as one proxy, so a \
                 client that reaches the port directly picks its own address; set \
                 TRUSTED_PROXIES to the proxies' addresses instead"
            );
        }
    }

    /// Whether any forwarding header is believed at all.
    pub fn is_enabled(&self) -> bool {
        self.trust_any_peer || !self.proxies.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.proxies.iter().any(|net| net.contains(&ip))
    }

    /// The client's address for a request that arrived from `peer` with `headers`.
    pub fn client_ip(&self, headers: &HeaderMap, peer: SocketAddr) -> IpAddr {
        let peer = canonical(peer.ip());
        if !(self.trust_any_peer || self.trusts(peer)) {
            return peer;
        }
        let hops = match self.header.unwrap_or(ForwardingHeader::XForwardedFor) {
            ForwardingHeader::XForwardedFor => x_forwarded_for(headers),
            ForwardingHeader::Forwarded => forwarded_for(headers),
        };
        // The peer itself is the right-most hop; with `trust_any_peer` it is trusted
        // whatever it is, and so is nothing else unless listed.
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = hop.map(canonical) else {
                return client;
            };
            client = ip;
            if !self.trusts(ip) {
                return ip;
            }
        }
        client
    }

    /// Whether a request that arrived from `peer` with `headers` reached the deployment
    /// over TLS, as far as can be trusted: the services themselves serve plain HTTP, so
    /// only a trusted proxy (as for [`ProxyTrust::client_ip`]) can say so. The peer
    /// must be one, and the protocol it wrote must be `https`: the right-most
    /// `X-Forwarded-Proto` entry (the one the peer wrote, whether it appends or
    /// replaces), or with `CLIENT_ADDRESS_HEADER=Forwarded` the `proto=` of the
    /// right-most `Forwarded` element (the header the proxy writes; the other passes
    /// through from the client). Anything else, an untrusted peer's headers
    /// included, is plain HTTP.
    pub fn forwarded_https(&self, headers: &HeaderMap, peer: SocketAddr) -> bool {
        if !(self.trust_any_peer || self.trusts(peer.ip())) {
            return false;
        }
        let proto = match self.header.unwrap_or(ForwardingHeader::XForwardedFor) {
            ForwardingHeader::XForwardedFor => last_entry(headers, "x-forwarded-proto"),
            ForwardingHeader::Forwarded => last_entry(headers, "forwarded").and_then(|element| {
                element.split(';').find_map(|pair| {
                    let (name, value) = pair.trim().split_once('=')?;
                    name.trim()
                        .eq_ignore_ascii_case("proto")
                        .then(|| value.trim().trim_matches('"').to_owned())
                })
            }),
        };
        proto.is_some_and(|p| p.eq_ignore_ascii_case("https"))
    }
}

/// The right-most comma-separated entry of the header `name` across its repetitions,
/// trimmed; `None` when it is absent or that entry is not text.
fn last_entry(headers: &HeaderMap, name: &str) -> Option<String> {
    let last = headers.get_all(name).iter().next_back()?;
    let text = last.to_str().ok()?;
    text.rsplit(',').next().map(|e| e.trim().to_owned())
}

/// See [`ProxyTrust::client_key`]; `ipv6_prefix` above 128 counts as 128.
pub fn client_key(ip: IpAddr, ipv6_prefix: u8) -> IpNet {
    match canonical(ip) {
        IpAddr::V4(v4) => ipnet::Ipv4Net::from(v4).into(),
        IpAddr::V6(v6) => ipnet::Ipv6Net::new(v6, ipv6_prefix.min(128))
            .unwrap_or_else(|_| v6.into())
            .trunc()
            .into(),
    }
}

/// The text of a client key for a stored counter, as PostgreSQL's `inet` prints it: a
/// single address alone (`192.0.2.1`, and an IPv6 address with `CLIENT_IPV6_PREFIX=128`),
/// so counters keyed before prefixes existed, by the address alone, are the same
/// counters; a shorter prefix in CIDR notation, truncated (`2001:db8:1:2::/64`). One
/// text per network, whatever address of it the client used.
pub fn key_text(net: IpNet) -> String {
    let net = net.trunc();
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// An address or CIDR range; a bare address is a single-host range.
fn parse_net(entry: &str) -> Option<IpNet> {
    entry
        .parse::<IpNet>()
        .ok()
        .or_else(|| entry.parse::<IpAddr>().ok().map(IpNet::from))
}

/// IPv4-mapped IPv6 (`::ffff:192.0.2.1`, as a dual-stack socket reports IPv4 peers)
/// compares as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Every `X-Forwarded-For` entry, left to right across repeated headers; `None` for an
/// entry that is not an address.
fn x_forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| match v.to_str() {
            Ok(s) => s.split(',').map(|e| parse_hop(e.trim())).collect(),
            Err(_) => vec![None],
        })
        .collect()
}

/// Every `for=` of RFC 7239 `Forwarded`, left to right; `None` where it is not an
/// address (`unknown`, `_hidden`) or an element has no `for=`.
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("forwarded")
        .iter()
        .flat_map(|v| match v.to_str() {
            Ok(s) => s
                .split(',')
                .map(|element| {
                    element.split(';').find_map(|pair| {
                        let (name, value) = pair.trim().split_once('=')?;
                        name.trim()
                            .eq_ignore_ascii_case("for")
                            .then(|| parse_hop(value.trim().trim_matches('"')))
                            .flatten()
                    })
                })
                .collect(),
            Err(_) => vec![None],
        })
        .collect()
}

/// `192.0.2.1`, `192.0.2.1:443`, `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        let (inside, _port) = rest.split_once(']')?;
        return inside.parse().ok();
    }
    hop.parse::<SocketAddr>().ok().map(|sa| sa.ip())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::http::HeaderValue;

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<ProxyTrust, ConfigError> {
        let env = hub_config::fixed(pairs);
        ProxyTrust::from_vars(&Vars::new(&env))
    }

    fn trust(pairs: &[(&str, &str)]) -> ProxyTrust {
        settings(pairs).unwrap()
    }

    fn ip(t: &ProxyTrust, peer: &str, header: &'static str, values: &[&'static str]) -> String {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(header, HeaderValue::from_static(v));
        }
        t.client_ip(&headers, peer.parse().unwrap()).to_string()
    }

    const XFF: &str = "x-forwarded-for";

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_headers_say() {
        let t = trust(&[]);
        assert!(!t.is_enabled());
        assert_eq!(ip(&t, "10.0.0.5:1", XFF, &["203.0.113.9"]), "10.0.0.5");
        assert_eq!(
            ip(&t, "10.0.0.5:1", "forwarded", &["for=203.0.113.9"]),
            "10.0.0.5"
        );
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client_and_client_written_entries_are_ignored() {
        let t = trust(&[("TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7")]);
        // One proxy: it appended what it saw; the client's own entries are left of it.
        assert_eq!(
            ip(&t, "10.0.0.5:1", XFF, &["1.2.3.4, 198.51.100.20"]),
            "198.51.100.20"
        );
        // Two proxies, repeated headers concatenate in order.
        assert_eq!(
            ip(
                &t,
                "10.0.0.5:1",
                XFF,
                &["6.6.6.6, 198.51.100.20", "192.0.2.7"]
            ),
            "198.51.100.20"
        );
        // An untrusted peer's headers count for nothing.
        assert_eq!(ip(&t, "198.51.100.1:1", XFF, &["10.0.0.9"]), "198.51.100.1");
        // All trusted: the left-most.
        assert_eq!(
            ip(&t, "10.0.0.5:1", XFF, &["10.1.1.1, 10.2.2.2"]),
            "10.1.1.1"
        );
        // No header from a trusted peer: the peer.
        assert_eq!(ip(&t, "10.0.0.5:1", XFF, &[]), "10.0.0.5");
        // Garbage stops the walk at the last trusted hop, never further left.
        assert_eq!(
            ip(&t, "10.0.0.5:1", XFF, &["198.51.100.20, unknown"]),
            "10.0.0.5"
        );
        assert_eq!(
            ip(&t, "10.0.0.5:1", XFF, &["198.51.100.20, garbage, 10.0.0.6"]),
            "10.0.0.6"
        );
    }

    #[test]
    fn forwarded_is_read_only_when_configured_and_understands_rfc_7239_forms() {
        let t = trust(&[
            ("TRUSTED_PROXIES", "10.0.0.0/8"),
            ("CLIENT_ADDRESS_HEADER", "Forwarded"),
        ]);
        assert_eq!(
            ip(
                &t,
                "10.0.0.5:1",
                "forwarded",
                &[r#"for=1.2.3.4, for="[2001:db8::7]:443";proto=https"#]
            ),
            "2001:db8::7"
        );
        assert_eq!(
            ip(&t, "10.0.0.5:1", "forwarded", &["for=198.51.100.3:80;by=x"]),
            "198.51.100.3"
        );
        assert_eq!(
            ip(&t, "10.0.0.5:1", "forwarded", &["for=_hidden"]),
            "10.0.0.5"
        );
        // X-Forwarded-For, passed through by a Forwarded proxy, is ignored.
        assert_eq!(ip(&t, "10.0.0.5:1", XFF, &["198.51.100.3"]), "10.0.0.5");
        // And the other way round.
        let x = trust(&[("TRUSTED_PROXIES", "10.0.0.0/8")]);
        assert_eq!(
            ip(&x, "10.0.0.5:1", "forwarded", &["for=198.51.100.3"]),
            "10.0.0.5"
        );
    }

    #[test]
    fn the_deprecated_alias_trusts_exactly_one_hop() {
        let t = trust(&[("TRUST_FORWARDED_FOR", "true")]);
        assert!(t.is_enabled());
        assert_eq!(
            ip(&t, "203.0.113.1:1", XFF, &["1.1.1.1, 198.51.100.20"]),
            "198.51.100.20",
            "the right-most entry, not the left-most the client wrote"
        );
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_ranges() {
        let t = trust(&[("TRUSTED_PROXIES", "127.0.0.1")]);
        assert_eq!(
            ip(&t, "[::ffff:127.0.0.1]:1", XFF, &["198.51.100.4"]),
            "198.51.100.4"
        );
    }

    #[test]
    fn limits_count_an_ipv6_client_by_its_prefix_and_an_ipv4_client_by_its_address() {
        let t = trust(&[]);
        let key = |ip: &str| t.client_key(ip.parse().unwrap()).to_string();
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:1:2:3"), "2001:db8:1:2::/64");
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(key("192.0.2.1"), "192.0.2.1/32");
        assert_eq!(key("::ffff:192.0.2.1"), "192.0.2.1/32");
        let t48 = trust(&[("CLIENT_IPV6_PREFIX", "48")]);
        assert_eq!(
            t48.client_key("2001:db8:1:2::1".parse().unwrap())
                .to_string(),
            "2001:db8:1::/48"
        );
        let t128 = trust(&[("CLIENT_IPV6_PREFIX", "128")]);
        assert_eq!(
            t128.client_key("2001:db8::1".parse().unwrap()).to_string(),
            "2001:db8::1/128"
        );
    }

    fn https(t: &ProxyTrust, peer: &str, header: &'static str, values: &[&'static str]) -> bool {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(header, HeaderValue::from_static(v));
        }
        t.forwarded_https(&headers, peer.parse().unwrap())
    }

    #[test]
    fn only_a_trusted_proxy_says_the_request_came_over_tls() {
        const XFP: &str = "x-forwarded-proto";
        let t = trust(&[("TRUSTED_PROXIES", "10.0.0.0/8")]);
        assert!(https(&t, "10.0.0.5:1", XFP, &["https"]));
        assert!(https(&t, "10.0.0.5:1", XFP, &["HTTPS"]));
        // The right-most entry is the peer's; a client's `https` further left is not.
        assert!(https(&t, "10.0.0.5:1", XFP, &["http, https"]));
        assert!(!https(&t, "10.0.0.5:1", XFP, &["https, http"]));
        assert!(!https(&t, "10.0.0.5:1", XFP, &["https", "http"]));
        assert!(!https(&t, "10.0.0.5:1", XFP, &[]));
        assert!(!https(&t, "10.0.0.5:1", XFP, &["wss"]));
        // An untrusted peer, or no proxies at all: its headers count for nothing.
        assert!(!https(&t, "203.0.113.9:1", XFP, &["https"]));
        assert!(!https(&trust(&[]), "10.0.0.5:1", XFP, &["https"]));
        // The deprecated alias trusts any peer.
        let any = trust(&[("TRUST_FORWARDED_FOR", "true")]);
        assert!(https(&any, "203.0.113.9:1", XFP, &["https"]));
        // With `Forwarded` configured, only its right-most element's proto counts.
        let fwd = trust(&[
            ("TRUSTED_PROXIES", "10.0.0.0/8"),
            ("CLIENT_ADDRESS_HEADER", "Forwarded"),
        ]);
        assert!(!https(&fwd, "10.0.0.5:1", XFP, &["https"]));
        assert!(https(
            &fwd,
            "10.0.0.5:1",
            "forwarded",
            &["for=1.2.3.4;proto=http, for=198.51.100.20;Proto=\"https\""]
        ));
        assert!(!https(
            &fwd,
            "10.0.0.5:1",
            "forwarded",
            &["for=1.2.3.4;proto=https, for=198.51.100.20"]
        ));
    }

    #[test]
    fn a_stored_key_is_a_single_address_alone_as_before_and_a_prefix_in_cidr() {
        let text = |t: &ProxyTrust, ip: &str| t.client_key_text(ip.parse().unwrap());
        let t = trust(&[]);
        assert_eq!(
            text(&t, "192.0.2.1"),
            "192.0.2.1",
            "as keys were written before"
        );
        assert_eq!(text(&t, "::ffff:192.0.2.1"), "192.0.2.1");
        assert_eq!(text(&t, "2001:DB8:1:2:AAAA::1"), "2001:db8:1:2::/64");
        let t128 = trust(&[("CLIENT_IPV6_PREFIX", "128")]);
        assert_eq!(text(&t128, "2001:db8::1"), "2001:db8::1");
        assert_eq!(
            key_text("2001:db8:1:2::7/64".parse().unwrap()),
            "2001:db8:1:2::/64",
            "a range as typed is truncated to its network"
        );
    }

    #[test]
    fn bad_settings_name_their_variable() {
        for (var, value) in [
            ("CLIENT_IPV6_PREFIX", "0"),
            ("CLIENT_IPV6_PREFIX", "129"),
            ("CLIENT_IPV6_PREFIX", "x"),
            ("TRUSTED_PROXIES", "10.0.0.0/33"),
            ("TRUSTED_PROXIES", "proxy.example"),
            ("CLIENT_ADDRESS_HEADER", "X-Real-IP"),
        ] {
            let err = settings(&[(var, value)]).unwrap_err().to_string();
            assert!(err.contains(var), "{err}");
        }
    }

    mod properties {
        use std::net::{Ipv4Addr, Ipv6Addr};

        use proptest::prelude::*;

        use super::*;

        /// The throttles' per-address key (`key_text(client_key(..))`, the `addr:` rows
        /// of auth's login throttle and user-soap's registration throttle), as text.
        fn key(ip: IpAddr, prefix: u8) -> String {
            key_text(client_key(ip, prefix))
        }

        proptest! {
            /// Two IPv6 clients share one counter exactly when their first `prefix`
            /// bits agree: the text names the prefix, and holds the address.
            #[test]
            fn ipv6_clients_share_a_key_exactly_within_one_prefix(
                a in any::<u128>(),
                b in any::<u128>(),
                common in 0u32..=128,
                prefix in 1u8..=128,
            ) {
                // `b` takes `a`'s first `common` bits, so that agreeing prefixes are frequent.
                let keep = u128::MAX.checked_shl(128 - common).unwrap_or(0);
                let b = (a & keep) | (b & !keep);
                let (va, vb) = (Ipv6Addr::from(a), Ipv6Addr::from(b));
                prop_assume!(va.to_ipv4_mapped().is_none() && vb.to_ipv4_mapped().is_none());
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                let same = a & mask == b & mask;
                let (ka, kb) = (key(va.into(), prefix), key(vb.into(), prefix));
                prop_assert_eq!(ka == kb, same, "{} {} /{}", va, vb, prefix);
                if prefix == 128 {
                    prop_assert_eq!(ka, va.to_string());
                } else {
                    let net: ipnet::Ipv6Net = ka.parse().unwrap();
                    prop_assert_eq!(net.prefix_len(), prefix);
                    prop_assert!(net.contains(&va));
                }
            }

            /// An IPv4 client is its address alone, whatever the IPv6 prefix, and the
            /// same whether the socket reports it as IPv4 or IPv4-mapped IPv6.
            #[test]
            fn ipv4_clients_are_their_address(v4 in any::<u32>(), prefix in any::<u8>()) {
                let v4 = Ipv4Addr::from(v4);
                prop_assert_eq!(key(v4.into(), prefix), v4.to_string());
                prop_assert_eq!(key(v4.to_ipv6_mapped().into(), prefix), v4.to_string());
            }
        }
    }
}
