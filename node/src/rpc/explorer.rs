//! The block explorer: `GET /explorer` on the RPC port serves a static
//! single-page app whose files are compiled into the binary
//! (`node/explorer/`, `docs/adr/019-explorer.md`). The page reads the
//! chain only through the node's own JSON-RPC and WebSocket, on the same
//! origin.
//!
//! Every answer carries a Content-Security-Policy that allows scripts,
//! styles and images from this origin only, and connections to this
//! origin over HTTP and WebSocket: the page makes no request anywhere
//! else, and markup that a memo or a token's name smuggles in could not run
//! a script even if the page rendered it (it does not: it writes chain data
//! with `textContent` only).
//!
//! Everything else passes to the JSON-RPC server unchanged.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HOST, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};

/// Where the explorer is served; its files are under `PATH/`.
pub const PATH: &str = "/explorer";

/// One embedded file: its name under [`PATH`], content type and bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

/// The explorer's files. `""` is the page itself (`GET /explorer` and
/// `GET /explorer/`).
const ASSETS: &[Asset] = &[
    Asset {
        name: "",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("../../explorer/index.html"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../explorer/app.js"),
    },
    Asset {
        name: "search.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../explorer/search.js"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../../explorer/favicon.svg"),
    },
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../explorer/style.css"),
    },
];

/// The file a GET of `path` asks for: `None` when the path is not the
/// explorer's; `Some(None)` when it is under [`PATH`] but names no file.
fn asset(path: &str) -> Option<Option<&'static Asset>> {
    let rest = path.strip_prefix(PATH)?;
    let name = match rest {
        "" | "/" => "",
        _ => rest.strip_prefix('/')?,
    };
    Some(ASSETS.iter().find(|a| a.name == name))
}

/// The host a browser reached the node by, if it is a plain `host[:port]`
/// (letters, digits, `.`, `-`, `:`, and brackets for IPv6), at most 255
/// bytes. Anything else is not copied into the policy.
fn plain_host(headers: &HeaderMap) -> Option<&str> {
    let host = headers.get(HOST)?.to_str().ok()?;
    let plain = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    plain.then_some(host)
}

/// The Content-Security-Policy of every explorer answer. `connect-src`
/// names the node's own WebSocket origin as well as `'self'`, for browsers
/// whose `'self'` does not cover `ws:`.
fn policy(host: Option<&str>) -> String {
    let ws = host.map_or(String::new(), |h| format!(" ws://{h} wss://{h}"));
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self'{ws}; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// The answer to a GET of one of the explorer's paths.
fn answer(found: Option<&'static Asset>, headers: &HeaderMap) -> HttpResponse {
    let (status, content_type, body) = match found {
        Some(a) => (StatusCode::OK, a.content_type, a.body),
        None => (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            &b"no such file in the explorer\n"[..],
        ),
    };
    let mut response = HttpResponse::new(HttpBody::from(body.to_vec()));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(csp) = HeaderValue::from_str(&policy(plain_host(headers))) {
        h.insert(CONTENT_SECURITY_POLICY, csp);
    }
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The files change with the binary: a browser asks again each time.
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Serves GET and HEAD under [`PATH`]; passes every other request on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExplorerLayer;

impl<S> tower::Layer<S> for ExplorerLayer {
    type Service = Explorer<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Explorer { inner }
    }
}

/// See [`ExplorerLayer`].
#[derive(Debug, Clone)]
pub(crate) struct Explorer<S> {
    inner: S,
}

impl<S> tower::Service<HttpRequest> for Explorer<S>
where
    S: tower::Service<HttpRequest, Response = HttpResponse> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest) -> Self::Future {
        if matches!(*request.method(), Method::GET | Method::HEAD)
            && let Some(found) = asset(request.uri().path())
        {
            let mut response = answer(found, request.headers());
            if request.method() == Method::HEAD {
                *response.body_mut() = HttpBody::empty();
            }
            return Box::pin(async move { Ok(response) });
        }
        Box::pin(self.inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_the_embedded_files() {
        let name = |p: &str| asset(p).map(|f| f.map(|a| a.name));
        assert_eq!(name("/explorer"), Some(Some("")));
        assert_eq!(name("/explorer/"), Some(Some("")));
        assert_eq!(name("/explorer/app.js"), Some(Some("app.js")));
        assert_eq!(name("/explorer/style.css"), Some(Some("style.css")));
        assert_eq!(name("/explorer/nothing.js"), Some(None));
        assert_eq!(name("/explorer/../health"), Some(None));
        // Not the explorer's: left to the JSON-RPC server.
        assert_eq!(name("/"), None);
        assert_eq!(name("/health"), None);
        assert_eq!(name("/explorers"), None);
    }

    #[test]
    fn answers_carry_their_type_and_a_strict_policy() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("127.0.0.1:8545"));
        let page = answer(asset("/explorer").flatten(), &headers);
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        let csp = page.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.starts_with("default-src 'self'; script-src 'self';"),
            "{csp}"
        );
        assert!(
            csp.contains("connect-src 'self' ws://127.0.0.1:8545 wss://127.0.0.1:8545;"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(page.headers()[X_CONTENT_TYPE_OPTIONS], "nosniff");
        let js = answer(asset("/explorer/app.js").flatten(), &headers);
        assert_eq!(js.headers()[CONTENT_TYPE], "text/javascript; charset=utf-8");
        let missing = answer(None, &headers);
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert!(missing.headers().contains_key(CONTENT_SECURITY_POLICY));
    }

    #[test]
    fn a_host_header_that_is_not_plain_stays_out_of_the_policy() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("evil.example; script-src *"));
        assert_eq!(plain_host(&headers), None);
        let csp = policy(plain_host(&headers));
        assert!(csp.contains("connect-src 'self'; "), "{csp}");
        assert!(!csp.contains("evil"), "{csp}");
        assert_eq!(plain_host(&HeaderMap::new()), None);
    }

    /// The page's scripts write chain data (memos, token names, order ids
    /// are chosen by whoever sends a transaction) with `textContent` only:
    /// no API that parses a string as markup appears in them.
    #[test]
    fn the_scripts_never_parse_strings_as_markup() {
        for a in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let text = std::str::from_utf8(a.body).unwrap();
            for banned in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "new Function",
                "createContextualFragment",
                "DOMParser",
            ] {
                assert!(!text.contains(banned), "{} uses {banned}", a.name);
            }
        }
        let page = std::str::from_utf8(ASSETS[0].body).unwrap();
        assert!(
            !page.contains("<script>"),
            "an inline script would need 'unsafe-inline'"
        );
        assert!(
            !page.contains("style="),
            "an inline style would need 'unsafe-inline'"
        );
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "an external request"
        );
    }
}
