//! The network addresses a genesis file publishes for each validator: its
//! libp2p listen address as a multiaddr (`/ip4/127.0.0.1/tcp/26601`) and an
//! optional JSON-RPC URL (`http://127.0.0.1:8545`).
//!
//! Only the shapes Merit uses are accepted, with a small parser rather than
//! a networking library: a host (`ip4`, `ip6`, `dns`, `dns4`, `dns6`) then
//! `tcp` and a port from 1 to 65535. No `/p2p/<peer id>` suffix is allowed,
//! because a validator's peer id is derived from its `p2p_key`.
//!
//! Both types display in a normal form (lower-case DNS names, canonical IP
//! text, no leading zeros in ports), which is what the genesis hash covers.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Longest address accepted, in bytes.
pub const MAX_NET_ADDRESS_BYTES: usize = 256;

/// Longest DNS name, in bytes (RFC 1035).
const MAX_DNS_NAME_BYTES: usize = 253;
/// Longest DNS label, in bytes (RFC 1035).
const MAX_DNS_LABEL_BYTES: usize = 63;
/// How much of a rejected input an error message repeats.
const SHOWN_INPUT_CHARS: usize = 80;

/// The host part of an address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Host {
    Ip4(Ipv4Addr),
    Ip6(Ipv6Addr),
    /// A DNS name that may resolve to either address family.
    Dns(String),
    /// A DNS name resolved to IPv4 only (multiaddr `/dns4/`).
    Dns4(String),
    /// A DNS name resolved to IPv6 only (multiaddr `/dns6/`).
    Dns6(String),
}

impl Host {
    /// Reads a bare host as a person types it: an IPv4 or IPv6 address, or a
    /// DNS name. Used for `--p2p-host`.
    pub fn parse_plain(s: &str) -> Result<Host, String> {
        if let Ok(ip) = s.parse::<Ipv4Addr>() {
            return Ok(Host::Ip4(ip));
        }
        if let Ok(ip) = s
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<Ipv6Addr>()
        {
            return Ok(Host::Ip6(ip));
        }
        parse_dns_name(s).map(Host::Dns)
    }

    /// The host as it appears inside a URL, with IPv6 in brackets.
    pub fn to_url_host(&self) -> String {
        match self {
            Host::Ip4(ip) => ip.to_string(),
            Host::Ip6(ip) => format!("[{ip}]"),
            Host::Dns(name) | Host::Dns4(name) | Host::Dns6(name) => name.clone(),
        }
    }
}

/// Repeats at most [`SHOWN_INPUT_CHARS`] characters of untrusted input.
fn shown(s: &str) -> String {
    if s.chars().count() <= SHOWN_INPUT_CHARS {
        s.to_string()
    } else {
        let head: String = s.chars().take(SHOWN_INPUT_CHARS).collect();
        format!("{head}…")
    }
}

/// Lower-cases and checks a DNS name: dot-separated labels of letters,
/// digits and `-`, no label starting or ending with `-`.
fn parse_dns_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= MAX_DNS_NAME_BYTES
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= MAX_DNS_LABEL_BYTES
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
        // A name made only of digits and dots is a mistyped IPv4 address.
        && !s.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if ok {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(format!(
            "`{}` is not a valid IP address or DNS name",
            shown(s)
        ))
    }
}

/// Parses a port: decimal digits only, from 1 to 65535.
fn parse_port(s: &str) -> Result<u16, String> {
    let port = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse::<u16>().ok()
    } else {
        None
    };
    match port {
        Some(p) if p != 0 => Ok(p),
        _ => Err(format!(
            "port `{}` is not a number from 1 to 65535",
            shown(s)
        )),
    }
}

/// A validator's libp2p listen address, `/<host protocol>/<host>/tcp/<port>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct P2pAddress {
    pub host: Host,
    pub port: u16,
}

/// Why a p2p address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a valid p2p multiaddr: {reason}")]
pub struct P2pAddressError {
    /// The start of the rejected input.
    pub input: String,
    pub reason: String,
}

impl P2pAddress {
    pub fn new(host: Host, port: u16) -> Self {
        P2pAddress { host, port }
    }

    pub fn parse(s: &str) -> Result<Self, P2pAddressError> {
        Self::parse_inner(s).map_err(|reason| P2pAddressError {
            input: shown(s),
            reason,
        })
    }

    fn parse_inner(s: &str) -> Result<Self, String> {
        if s.len() > MAX_NET_ADDRESS_BYTES {
            return Err(format!(
                "it is {} bytes, over the limit of {MAX_NET_ADDRESS_BYTES}",
                s.len()
            ));
        }
        let Some(rest) = s.strip_prefix('/') else {
            return Err("a multiaddr starts with `/`, like /ip4/127.0.0.1/tcp/26601".into());
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let (proto, value) = match parts.as_slice() {
            [proto, value, ..] => (*proto, *value),
            _ => return Err("expected a host such as /ip4/127.0.0.1 and then /tcp/<port>".into()),
        };
        let host = match proto {
            "ip4" => Host::Ip4(
                value
                    .parse()
                    .map_err(|_| format!("`{}` is not an IPv4 address", shown(value)))?,
            ),
            "ip6" => Host::Ip6(
                value
                    .parse()
                    .map_err(|_| format!("`{}` is not an IPv6 address", shown(value)))?,
            ),
            "dns" => Host::Dns(parse_dns_name(value)?),
            "dns4" => Host::Dns4(parse_dns_name(value)?),
            "dns6" => Host::Dns6(parse_dns_name(value)?),
            other => {
                return Err(format!(
                    "unknown protocol `{}`; the host is /ip4, /ip6, /dns, /dns4 or /dns6",
                    shown(other)
                ));
            }
        };
        let port = match &parts[2..] {
            ["tcp", port] => parse_port(port)?,
            ["tcp", _, ..] => {
                return Err(format!(
                    "unexpected `/{}` after the port; a validator's peer id comes from its p2p_key",
                    shown(&parts[4..].join("/"))
                ));
            }
            [] | ["tcp"] => return Err("expected /tcp/<port> after the host".into()),
            [transport, ..] => {
                return Err(format!(
                    "transport `{}` is not supported; validators listen on /tcp/<port>",
                    shown(transport)
                ));
            }
        };
        Ok(P2pAddress { host, port })
    }
}

impl std::fmt::Display for P2pAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.host {
            Host::Ip4(ip) => write!(f, "/ip4/{ip}")?,
            Host::Ip6(ip) => write!(f, "/ip6/{ip}")?,
            Host::Dns(name) => write!(f, "/dns/{name}")?,
            Host::Dns4(name) => write!(f, "/dns4/{name}")?,
            Host::Dns6(name) => write!(f, "/dns6/{name}")?,
        }
        write!(f, "/tcp/{}", self.port)
    }
}

impl std::str::FromStr for P2pAddress {
    type Err = P2pAddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Where a merchant's JSON-RPC endpoint can be reached:
/// `http[s]://<host>[:<port>][/]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RpcAddress {
    pub https: bool,
    /// IPv4, IPv6 or DNS ([`Host::Dns`]) only.
    pub host: Host,
    pub port: Option<u16>,
}

/// Why an RPC address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a valid RPC URL: {reason}")]
pub struct RpcAddressError {
    /// The start of the rejected input.
    pub input: String,
    pub reason: String,
}

impl RpcAddress {
    pub fn new(host: Host, port: u16) -> Self {
        RpcAddress {
            https: false,
            host,
            port: Some(port),
        }
    }

    pub fn parse(s: &str) -> Result<Self, RpcAddressError> {
        Self::parse_inner(s).map_err(|reason| RpcAddressError {
            input: shown(s),
            reason,
        })
    }

    fn parse_inner(s: &str) -> Result<Self, String> {
        if s.len() > MAX_NET_ADDRESS_BYTES {
            return Err(format!(
                "it is {} bytes, over the limit of {MAX_NET_ADDRESS_BYTES}",
                s.len()
            ));
        }
        let (https, rest) = if let Some(rest) = s.strip_prefix("http://") {
            (false, rest)
        } else if let Some(rest) = s.strip_prefix("https://") {
            (true, rest)
        } else {
            return Err(
                "it must start with http:// or https://, like http://127.0.0.1:8545".into(),
            );
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if let Some(c) = authority
            .chars()
            .find(|c| matches!(c, '/' | '?' | '#' | '@') || c.is_whitespace())
        {
            return Err(format!(
                "unexpected `{c}`; give only a scheme, a host and a port"
            ));
        }
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (ip, after) = bracketed
                .split_once(']')
                .ok_or_else(|| "an IPv6 host is missing its closing `]`".to_string())?;
            let ip: Ipv6Addr = ip
                .parse()
                .map_err(|_| format!("`{}` is not an IPv6 address", shown(ip)))?;
            let port = match after {
                "" => None,
                p => Some(parse_port(
                    p.strip_prefix(':')
                        .ok_or_else(|| format!("unexpected `{}`", shown(p)))?,
                )?),
            };
            (Host::Ip6(ip), port)
        } else {
            let (host, port) = match authority.split_once(':') {
                Some((h, p)) => (h, Some(parse_port(p)?)),
                None => (authority, None),
            };
            let host = match host.parse::<Ipv4Addr>() {
                Ok(ip) => Host::Ip4(ip),
                Err(_) => Host::Dns(parse_dns_name(host)?),
            };
            (host, port)
        };
        Ok(RpcAddress { https, host, port })
    }
}

impl std::fmt::Display for RpcAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}", self.host.to_url_host())?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for RpcAddress {
    type Err = RpcAddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p2p_addresses_of_every_host_kind_parse_and_display_in_normal_form() {
        for (input, normal) in [
            ("/ip4/127.0.0.1/tcp/26601", "/ip4/127.0.0.1/tcp/26601"),
            ("/ip6/::1/tcp/1", "/ip6/::1/tcp/1"),
            ("/ip6/0:0:0:0:0:0:0:1/tcp/65535", "/ip6/::1/tcp/65535"),
            (
                "/dns/Node-1.Example.COM/tcp/26601",
                "/dns/node-1.example.com/tcp/26601",
            ),
            ("/dns4/localhost/tcp/026601", "/dns4/localhost/tcp/26601"),
            ("/dns6/v6.example.org/tcp/80", "/dns6/v6.example.org/tcp/80"),
        ] {
            let addr = P2pAddress::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(addr.to_string(), normal);
            assert_eq!(P2pAddress::parse(normal), Ok(addr));
        }
        let a = P2pAddress::parse("/ip4/10.0.0.7/tcp/4001").unwrap();
        assert_eq!(a.host, Host::Ip4(Ipv4Addr::new(10, 0, 0, 7)));
        assert_eq!(a.port, 4001);
    }

    #[test]
    fn malformed_p2p_addresses_are_refused_with_the_reason() {
        for (input, reason) in [
            ("127.0.0.1:26601", "starts with `/`"),
            ("", "starts with `/`"),
            ("/", "expected a host"),
            ("/ip4/300.0.0.1/tcp/1", "`300.0.0.1` is not an IPv4 address"),
            ("/ip6/1.2.3.4/tcp/1", "not an IPv6 address"),
            ("/ip4/127.0.0.1", "expected /tcp/<port>"),
            ("/ip4/127.0.0.1/tcp", "expected /tcp/<port>"),
            ("/ip4/127.0.0.1/udp/1", "transport `udp` is not supported"),
            ("/ip4/127.0.0.1/tcp/0", "port `0`"),
            ("/ip4/127.0.0.1/tcp/65536", "port `65536`"),
            ("/ip4/127.0.0.1/tcp/+1", "port `+1`"),
            ("/ip4/127.0.0.1/tcp/", "port ``"),
            (
                "/ip4/127.0.0.1/tcp/1/p2p/12D3KooW",
                "unexpected `/p2p/12D3KooW`",
            ),
            (
                "/dns/-bad.example/tcp/1",
                "not a valid IP address or DNS name",
            ),
            ("/dns/a..b/tcp/1", "not a valid IP address or DNS name"),
            (
                "/dns/10.0.0.300/tcp/1",
                "not a valid IP address or DNS name",
            ),
            ("/quic/x/tcp/1", "unknown protocol `quic`"),
        ] {
            let err = P2pAddress::parse(input).expect_err(input);
            let msg = err.to_string();
            assert!(msg.contains(reason), "{input}: {msg}");
            assert!(msg.contains("is not a valid p2p multiaddr"), "{msg}");
        }
        let long = format!("/dns/{}/tcp/1", "a".repeat(300));
        assert!(
            P2pAddress::parse(&long)
                .unwrap_err()
                .reason
                .contains("over the limit")
        );
        assert!(
            P2pAddress::parse(&long).unwrap_err().input.ends_with('…'),
            "long input is cut in messages"
        );
    }

    #[test]
    fn rpc_addresses_parse_and_display_in_normal_form() {
        for (input, normal) in [
            ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
            ("http://127.0.0.1:8545/", "http://127.0.0.1:8545"),
            ("https://RPC.Example.com", "https://rpc.example.com"),
            ("http://[::1]:8545", "http://[::1]:8545"),
            ("http://[::1]", "http://[::1]"),
        ] {
            let addr = RpcAddress::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(addr.to_string(), normal);
            assert_eq!(RpcAddress::parse(normal), Ok(addr));
        }
        for (input, reason) in [
            ("127.0.0.1:8545", "must start with http://"),
            ("ftp://127.0.0.1", "must start with http://"),
            ("http://127.0.0.1:0", "port `0`"),
            ("http://127.0.0.1:8545/rpc", "unexpected `/`"),
            ("http://user@host", "unexpected `@`"),
            ("http://[::1:8545", "missing its closing `]`"),
            ("http://[::1]8545", "unexpected `8545`"),
            ("http://", "not a valid IP address or DNS name"),
        ] {
            let msg = RpcAddress::parse(input).expect_err(input).to_string();
            assert!(msg.contains(reason), "{input}: {msg}");
        }
    }

    #[test]
    fn plain_hosts_are_read_as_ip_or_dns() {
        assert_eq!(
            Host::parse_plain("127.0.0.1"),
            Ok(Host::Ip4(Ipv4Addr::LOCALHOST))
        );
        assert_eq!(Host::parse_plain("::1"), Ok(Host::Ip6(Ipv6Addr::LOCALHOST)));
        assert_eq!(
            Host::parse_plain("[::1]"),
            Ok(Host::Ip6(Ipv6Addr::LOCALHOST))
        );
        assert_eq!(
            Host::parse_plain("Node.Example"),
            Ok(Host::Dns("node.example".into()))
        );
        assert!(Host::parse_plain("not a host").is_err());
        assert_eq!(Host::Ip6(Ipv6Addr::LOCALHOST).to_url_host(), "[::1]");
    }
}
