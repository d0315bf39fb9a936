//! Just enough HTTP/1.1 for the tests' stand-in and lying nodes.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;

/// Reads one HTTP request's or response's body, at most `max` bytes;
/// `None` when the peer closed.
pub fn read_body(reader: &mut BufReader<TcpStream>, max: usize) -> Option<Vec<u8>> {
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    assert!(length <= max, "a message of {length} bytes, at most {max}");
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(body)
}
