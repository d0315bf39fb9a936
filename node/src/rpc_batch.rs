//! JSON-RPC batches whose calls run concurrently.
//!
//! jsonrpsee runs the calls of a batch one after another, so a batch of 100
//! `merit_sendTransaction` calls waited for 100 signature checks in turn,
//! and admission saw one transaction at a time: no batched verification, one
//! gossip message per transaction. JSON-RPC 2.0 lets a server process a
//! batch's calls concurrently; this middleware does, and answers in the
//! batch's order, within the same response size limit.
//!
//! It also holds the bounds of what it runs, each refused with an error
//! that names the bound (`rpc::bounds`): a batch of more than
//! `MAX_RPC_BATCH` calls is refused whole, and errors jsonrpsee raises
//! itself while serving a call get a `{reason}`.

use std::future::Future;

use jsonrpsee::core::middleware::{Batch, BatchEntry, Notification, RpcServiceT};
use jsonrpsee::server::{BatchResponseBuilder, MethodResponse};
use jsonrpsee::types::{Id, Request};

use crate::rpc::MAX_RPC_BATCH;
use crate::rpc::bounds::{batch_response_too_large, batch_too_large, with_reason};

/// Wraps the server's RPC service; see the module docs.
#[derive(Debug, Clone)]
pub struct ConcurrentBatch<S> {
    inner: S,
    max_response_bytes: usize,
}

impl<S> ConcurrentBatch<S> {
    pub fn new(inner: S, max_response_bytes: usize) -> Self {
        ConcurrentBatch {
            inner,
            max_response_bytes,
        }
    }
}

impl<S> RpcServiceT for ConcurrentBatch<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            NotificationResponse = MethodResponse,
            BatchResponse = MethodResponse,
        > + Clone
        + Send
        + Sync
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let answer = self.inner.call(request);
        async move { with_reason(answer.await) }
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.inner.notification(n)
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let service = self.inner.clone();
        let limit = self.max_response_bytes;
        async move {
            let calls = batch.len();
            if calls > MAX_RPC_BATCH as usize {
                return MethodResponse::error(Id::Null, batch_too_large(calls));
            }
            let answers = futures::future::join_all(batch.into_iter().map(|entry| {
                let service = service.clone();
                async move {
                    match entry {
                        Ok(BatchEntry::Call(request)) => {
                            Some(with_reason(service.call(request).await))
                        }
                        Ok(BatchEntry::Notification(n)) => {
                            service.notification(n).await;
                            None
                        }
                        Err(err) => {
                            let (err, id) = err.into_parts();
                            Some(MethodResponse::error(id, err))
                        }
                    }
                }
            }))
            .await;
            let got_notification = answers.iter().any(Option::is_none);
            let mut out = BatchResponseBuilder::new_with_limit(limit);
            for answer in answers.into_iter().flatten() {
                if out.append(answer).is_err() {
                    return MethodResponse::error(Id::Null, batch_response_too_large(limit));
                }
            }
            if out.is_empty() && got_notification {
                MethodResponse::notification()
            } else {
                // An empty batch is an invalid request, as jsonrpsee answers it.
                MethodResponse::from_batch(out.finish())
            }
        }
    }
}
