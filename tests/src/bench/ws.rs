//! A small JSON-RPC client over one WebSocket connection, for the load
//! generator: text frames out, text frames in.

use std::net::SocketAddr;

use soketto::handshake::{Client, ServerResponse};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt};

/// Largest message accepted from the node: a `newBlocks` notification of a
/// full block lists every transaction hash.
pub const MAX_WS_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

pub type WsSender = soketto::Sender<Compat<TcpStream>>;
pub type WsReceiver = soketto::Receiver<Compat<TcpStream>>;

/// Opens a WebSocket to a node's JSON-RPC port.
pub async fn connect(addr: SocketAddr) -> Result<(WsSender, WsReceiver), String> {
    let socket = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    socket
        .set_nodelay(true)
        .map_err(|e| format!("{addr}: {e}"))?;
    let host = addr.to_string();
    let mut client = Client::new(socket.compat(), &host, "/");
    match client.handshake().await {
        Ok(ServerResponse::Accepted { .. }) => {}
        Ok(other) => return Err(format!("{addr} refused the WebSocket: {other:?}")),
        Err(e) => return Err(format!("WebSocket handshake with {addr}: {e}")),
    }
    let mut builder = client.into_builder();
    builder.set_max_message_size(MAX_WS_MESSAGE_BYTES);
    builder.set_max_frame_size(MAX_WS_MESSAGE_BYTES);
    Ok(builder.finish())
}

/// Sends one text message and flushes it.
pub async fn send(sender: &mut WsSender, text: &str) -> Result<(), String> {
    sender
        .send_text(text)
        .await
        .map_err(|e| format!("WebSocket send: {e}"))?;
    sender
        .flush()
        .await
        .map_err(|e| format!("WebSocket flush: {e}"))
}

/// Receives the next data message into `buf` (cleared first).
pub async fn receive(receiver: &mut WsReceiver, buf: &mut Vec<u8>) -> Result<(), String> {
    buf.clear();
    receiver
        .receive_data(buf)
        .await
        .map(|_| ())
        .map_err(|e| format!("WebSocket receive: {e}"))
}
