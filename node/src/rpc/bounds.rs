//! Requests over a bound, refused with an error that names the bound in a
//! `{reason}` (`data.reason`), as the node's own -32602 errors do.
//!
//! jsonrpsee enforces some of these bounds itself and answers with a bare
//! string for `data` ("Exceeded max limit of 100"), or with plain text over
//! HTTP (a connection over the limit). Here those answers are given the
//! node's shape: [`RequestBoundsLayer`] for what happens at the HTTP level
//! (including a chunked body over the limit, which jsonrpsee answers with a
//! bare internal error),
//! [`with_reason`] for what jsonrpsee raises while it serves a call, and
//! [`batch_too_large`] for batches, whose length the node checks itself.
//!
//! One answer cannot be reached: a WebSocket message over the body limit
//! is refused inside jsonrpsee's connection loop, with its own -32007.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use jsonrpsee::core::BoxError;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse, MethodResponse};
use jsonrpsee::types::error::PARSE_ERROR_CODE;
use jsonrpsee::types::{ErrorObject, ErrorObjectOwned, Id};
use merit_api::InvalidParamsData;
use merit_api::error::{
    BATCH_RESPONSE_TOO_LARGE, BATCH_RESPONSE_TOO_LARGE_PREFIX, BATCH_TOO_LARGE,
    BATCH_TOO_LARGE_PREFIX, INVALID_PARAMS, INVALID_PARAMS_PREFIX, REQUEST_TOO_LARGE,
    REQUEST_TOO_LARGE_PREFIX, RESPONSE_TOO_LARGE, RESPONSE_TOO_LARGE_PREFIX, TOO_MANY_CONNECTIONS,
    TOO_MANY_CONNECTIONS_PREFIX, TOO_MANY_SUBSCRIPTIONS, TOO_MANY_SUBSCRIPTIONS_PREFIX,
};
use serde::Deserialize;

use super::{
    MAX_RPC_BATCH, MAX_RPC_BODY_BYTES, MAX_RPC_RESPONSE_BYTES, MAX_SUBSCRIPTIONS_PER_CONNECTION,
};

/// An error whose `message` is `prefix` and the reason, with the reason as
/// `data.reason`.
fn error(code: i32, prefix: &str, reason: String) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        code,
        format!("{prefix}{reason}"),
        Some(InvalidParamsData { reason }),
    )
}

/// A batch of `calls` calls, over [`MAX_RPC_BATCH`].
pub(crate) fn batch_too_large(calls: usize) -> ErrorObjectOwned {
    error(
        BATCH_TOO_LARGE,
        BATCH_TOO_LARGE_PREFIX,
        format!("the batch has {calls} calls, at most {MAX_RPC_BATCH}"),
    )
}

/// A batch whose answers together are over `limit` bytes.
pub(crate) fn batch_response_too_large(limit: usize) -> ErrorObjectOwned {
    error(
        BATCH_RESPONSE_TOO_LARGE,
        BATCH_RESPONSE_TOO_LARGE_PREFIX,
        format!("the batch's answers are over {limit} bytes, at most {limit}"),
    )
}

/// A request body of `len` bytes (when it declared its length) over
/// [`MAX_RPC_BODY_BYTES`].
fn request_too_large(len: Option<u64>) -> ErrorObjectOwned {
    let reason = match len {
        Some(len) => format!("the request body is {len} bytes, at most {MAX_RPC_BODY_BYTES}"),
        None => format!(
            "the request body is over {MAX_RPC_BODY_BYTES} bytes, at most {MAX_RPC_BODY_BYTES}"
        ),
    };
    error(REQUEST_TOO_LARGE, REQUEST_TOO_LARGE_PREFIX, reason)
}

/// A connection over the node's `max_connections`.
fn too_many_connections(max_connections: u32) -> ErrorObjectOwned {
    error(
        TOO_MANY_CONNECTIONS,
        TOO_MANY_CONNECTIONS_PREFIX,
        format!("the node serves at most {max_connections} connections at once; try again later"),
    )
}

/// An error answer as jsonrpsee sent it.
#[derive(Deserialize)]
struct Failed<'a> {
    #[serde(borrow)]
    id: Id<'a>,
    #[serde(borrow)]
    error: ErrorObject<'a>,
}

/// `answer`, with an error that jsonrpsee raised itself while serving the
/// call (a param it could not parse, a subscription or an answer over its
/// bound) given a `{reason}` for `data`. Answers the node built, which
/// have one, pass unchanged.
pub(crate) fn with_reason(answer: MethodResponse) -> MethodResponse {
    let Some(code) = answer.as_error_code() else {
        return answer;
    };
    if !matches!(
        code,
        INVALID_PARAMS | TOO_MANY_SUBSCRIPTIONS | RESPONSE_TOO_LARGE
    ) {
        return answer;
    }
    let Ok(failed) = serde_json::from_str::<Failed<'_>>(answer.as_json().get()) else {
        return answer;
    };
    let data = failed.error.data();
    if data.is_some_and(|d| serde_json::from_str::<InvalidParamsData>(d.get()).is_ok()) {
        return answer;
    }
    let error = match code {
        INVALID_PARAMS => {
            // What jsonrpsee said: its `data` string, else its message.
            let said = data
                .and_then(|d| serde_json::from_str::<String>(d.get()).ok())
                .unwrap_or_else(|| failed.error.message().to_string());
            error(INVALID_PARAMS, INVALID_PARAMS_PREFIX, said)
        }
        TOO_MANY_SUBSCRIPTIONS => error(
            TOO_MANY_SUBSCRIPTIONS,
            TOO_MANY_SUBSCRIPTIONS_PREFIX,
            format!("a connection holds at most {MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions"),
        ),
        _ => error(
            RESPONSE_TOO_LARGE,
            RESPONSE_TOO_LARGE_PREFIX,
            format!(
                "the answer is over {MAX_RPC_RESPONSE_BYTES} bytes, at most {MAX_RPC_RESPONSE_BYTES}"
            ),
        ),
    };
    let id = failed.id.into_owned();
    let rewritten = if answer.is_subscription() {
        MethodResponse::subscription_error(id, error)
    } else {
        MethodResponse::error(id, error)
    };
    rewritten.with_extensions(answer.extensions().clone())
}

/// An HTTP answer carrying one JSON-RPC error.
fn json_error(status: StatusCode, error: ErrorObjectOwned) -> HttpResponse {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": null, "error": error}).to_string();
    let mut response = HttpResponse::new(HttpBody::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// Refuses a request body over [`MAX_RPC_BODY_BYTES`] (HTTP 413) with a
/// JSON-RPC error that names the bound: by its declared length before any
/// of it is read, and, for a body of no declared length (chunked), once
/// more than the limit has arrived (jsonrpsee would answer that with a bare
/// internal error). It also gives the refusal of a connection over the
/// limit (HTTP 429, WebSocket or not), which jsonrpsee answers in plain
/// text, a JSON-RPC error body that names the bound.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestBoundsLayer {
    pub(crate) max_connections: u32,
}

impl<S> tower::Layer<S> for RequestBoundsLayer {
    type Service = RequestBounds<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestBounds {
            inner,
            max_connections: self.max_connections,
        }
    }
}

/// See [`RequestBoundsLayer`].
#[derive(Debug, Clone)]
pub(crate) struct RequestBounds<S> {
    inner: S,
    max_connections: u32,
}

impl<S, B> tower::Service<HttpRequest<B>> for RequestBounds<S>
where
    S: tower::Service<HttpRequest, Response = HttpResponse> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest<B>) -> Self::Future {
        let declared = request
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(len) = declared
            && len > u64::from(MAX_RPC_BODY_BYTES)
        {
            let refused = json_error(StatusCode::PAYLOAD_TOO_LARGE, request_too_large(Some(len)));
            return Box::pin(async move { Ok(refused) });
        }
        let read_first = declared.is_none() && request.method() == Method::POST;
        let max_connections = self.max_connections;
        // The service that was polled ready serves this call; its clone
        // stays for the next.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(async move {
            let request = if read_first {
                let (parts, body) = request.into_parts();
                match Limited::new(body, MAX_RPC_BODY_BYTES as usize)
                    .collect()
                    .await
                {
                    Ok(body) => {
                        HttpRequest::from_parts(parts, HttpBody::from(body.to_bytes().to_vec()))
                    }
                    Err(e) if e.is::<LengthLimitError>() => {
                        return Ok(json_error(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            request_too_large(None),
                        ));
                    }
                    Err(e) => {
                        let unread = ErrorObjectOwned::owned(
                            PARSE_ERROR_CODE,
                            format!("the request body could not be read: {e}"),
                            None::<()>,
                        );
                        return Ok(json_error(StatusCode::BAD_REQUEST, unread));
                    }
                }
            } else {
                request.map(HttpBody::new)
            };
            let answer = inner.call(request).await?;
            Ok(match answer.status() {
                StatusCode::PAYLOAD_TOO_LARGE => {
                    json_error(StatusCode::PAYLOAD_TOO_LARGE, request_too_large(None))
                }
                StatusCode::TOO_MANY_REQUESTS => json_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    too_many_connections(max_connections),
                ),
                _ => answer,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason_of(answer: &MethodResponse) -> (i32, String, String) {
        let v: serde_json::Value = serde_json::from_str(answer.as_json().get()).unwrap();
        (
            v["error"]["code"].as_i64().unwrap() as i32,
            v["error"]["message"].as_str().unwrap().to_string(),
            v["error"]["data"]["reason"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        )
    }

    #[test]
    fn errors_jsonrpsee_raises_itself_get_a_reason() {
        // A param jsonrpsee could not parse: its words become the reason.
        let parsed = jsonrpsee::types::Params::new(Some("[7]")).one::<String>();
        let raw = MethodResponse::error(Id::Number(3), parsed.unwrap_err());
        let (code, message, reason) = reason_of(&with_reason(raw));
        assert_eq!(code, INVALID_PARAMS);
        assert!(reason.starts_with("invalid type: integer `7`"), "{reason}");
        assert_eq!(message, format!("{INVALID_PARAMS_PREFIX}{reason}"));
        // Bounds jsonrpsee enforces: the reason names them.
        let raw = MethodResponse::error(
            Id::Number(4),
            jsonrpsee::types::error::reject_too_many_subscriptions(
                MAX_SUBSCRIPTIONS_PER_CONNECTION,
            ),
        );
        let (code, _, reason) = reason_of(&with_reason(raw));
        assert_eq!(code, TOO_MANY_SUBSCRIPTIONS);
        assert_eq!(reason, "a connection holds at most 64 subscriptions");
        // The node's own errors, and answers, pass unchanged.
        let own = MethodResponse::error(Id::Number(5), super::super::bad_params("x is wrong"));
        let before = own.as_json().get().to_string();
        assert_eq!(with_reason(own).as_json().get(), before);
        assert_eq!(
            reason_of(&MethodResponse::error(Id::Null, batch_too_large(101))).2,
            "the batch has 101 calls, at most 100"
        );
    }

    #[test]
    fn request_bound_errors_name_the_bound() {
        let e = request_too_large(Some(2_000_000));
        assert_eq!(e.code(), REQUEST_TOO_LARGE);
        assert_eq!(
            e.message(),
            "Request too large: the request body is 2000000 bytes, at most 1048576"
        );
        let e = too_many_connections(7);
        assert_eq!(e.code(), TOO_MANY_CONNECTIONS);
        assert!(
            e.message().contains("at most 7 connections"),
            "{}",
            e.message()
        );
    }
}
