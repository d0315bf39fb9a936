//! JSON-RPC batches whose calls run concurrently.
//!
//! jsonrpsee runs the calls of a batch one after another, so a batch of 100
//! `merit_sendTransaction` calls waited for 100 signature checks in turn,
//! and admission saw one transaction at a time: no batched verification, one
//! gossip message per transaction. JSON-RPC 2.0 lets a server process a
//! batch's calls concurrently; this middleware does, and answers in the
//! batch's order, within the same response size limit.

use std::future::Future;

use jsonrpsee::core::middleware::{Batch, BatchEntry, Notification, RpcServiceT};
use jsonrpsee::server::{BatchResponseBuilder, MethodResponse};
use jsonrpsee::types::Request;

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
        self.inner.call(request)
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
            let answers = futures::future::join_all(batch.into_iter().map(|entry| {
                let service = service.clone();
                async move {
                    match entry {
                        Ok(BatchEntry::Call(request)) => Some(service.call(request).await),
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
                if let Err(too_big) = out.append(answer) {
                    return too_big;
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
