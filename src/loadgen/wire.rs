//! Our own HTTP/1.1 keep-alive client: one pre-serialized write per request, the response head
//! parsed with `httparse`, the body skipped by its `Content-Length`, its chunks, or the end of
//! the connection. Much cheaper per request than a general client, which is what a load
//! generator needs to load a server rather than itself.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MAX_HEADERS: usize = 64;
const BUF: usize = 32 * 1024;
/// A response head larger than this is refused (a server gone wrong, not a real one).
const MAX_HEAD: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("connect: {0}")]
    Connect(std::io::Error),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("the server closed the connection")]
    Closed,
    #[error("bad response: {0}")]
    Parse(String),
}

/// A response: its status, and whether the connection must be closed after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub close: bool,
}

/// One keep-alive connection.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

enum Body {
    None,
    Length(u64),
    Chunked,
    ToEof,
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> Result<Conn, WireError> {
        let stream = TcpStream::connect(addr).await.map_err(WireError::Connect)?;
        stream.set_nodelay(true).map_err(WireError::Connect)?;
        Ok(Conn {
            stream,
            buf: vec![0; BUF],
            start: 0,
            end: 0,
        })
    }

    /// Sends one request and reads its whole response.
    pub async fn roundtrip(&mut self, request: &[u8], head: bool) -> Result<Response, WireError> {
        self.stream.write_all(request).await?;
        let (status, body, close) = loop {
            if let Some(parsed) = self.parse_head(head)? {
                break parsed;
            }
            if self.end - self.start >= MAX_HEAD {
                return Err(WireError::Parse("response head over 1 MiB".into()));
            }
            self.fill().await?;
        };
        match body {
            Body::None => {}
            Body::Length(n) => self.skip(n).await?,
            Body::Chunked => self.skip_chunks().await?,
            Body::ToEof => {
                self.start = self.end;
                loop {
                    self.start = 0;
                    self.end = 0;
                    match self.stream.read(&mut self.buf).await? {
                        0 => break,
                        _ => continue,
                    }
                }
                return Ok(Response {
                    status,
                    close: true,
                });
            }
        }
        Ok(Response { status, close })
    }

    fn parse_head(&mut self, head: bool) -> Result<Option<(u16, Body, bool)>, WireError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        let n = match response.parse(&self.buf[self.start..self.end]) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(WireError::Parse(e.to_string())),
        };
        let status = response.code.unwrap_or(0);
        let mut close = response.version == Some(0);
        let mut length = None;
        let mut chunked = false;
        for h in response.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                let v = std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .ok_or_else(|| WireError::Parse("bad content-length".into()))?;
                length = Some(v);
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = h
                    .value
                    .split(|b| *b == b',')
                    .any(|p| p.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            } else if h.name.eq_ignore_ascii_case("connection") {
                if h.value.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if h.value.eq_ignore_ascii_case(b"keep-alive") {
                    close = false;
                }
            }
        }
        self.start += n;
        if (100..200).contains(&status) {
            // An interim response (100 Continue): the real one follows.
            return self.parse_head(head);
        }
        let body = if head || status == 204 || status == 304 {
            Body::None
        } else if chunked {
            Body::Chunked
        } else if let Some(n) = length {
            Body::Length(n)
        } else {
            Body::ToEof
        };
        Ok(Some((status, body, close)))
    }

    /// Reads more into the buffer (making room first).
    async fn fill(&mut self) -> Result<(), WireError> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                self.buf.resize(self.buf.len() * 2, 0);
            }
        }
        match self.stream.read(&mut self.buf[self.end..]).await? {
            0 => Err(WireError::Closed),
            n => {
                self.end += n;
                Ok(())
            }
        }
    }

    async fn skip(&mut self, mut n: u64) -> Result<(), WireError> {
        loop {
            let have = (self.end - self.start) as u64;
            let take = have.min(n);
            self.start += take as usize;
            n -= take;
            if n == 0 {
                return Ok(());
            }
            self.fill().await?;
        }
    }

    async fn skip_chunks(&mut self) -> Result<(), WireError> {
        loop {
            let size = loop {
                match httparse::parse_chunk_size(&self.buf[self.start..self.end]) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        self.start += used;
                        break size;
                    }
                    Ok(httparse::Status::Partial) => self.fill().await?,
                    Err(_) => return Err(WireError::Parse("bad chunk size".into())),
                }
            };
            if size == 0 {
                return self.skip_trailers().await;
            }
            self.skip(size + 2).await?;
        }
    }

    /// Trailer lines up to the empty one that ends the message.
    async fn skip_trailers(&mut self) -> Result<(), WireError> {
        loop {
            match self.buf[self.start..self.end]
                .windows(2)
                .position(|w| w == b"\r\n")
            {
                Some(0) => {
                    self.start += 2;
                    return Ok(());
                }
                Some(i) => self.start += i + 2,
                None => self.fill().await?,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// A server that answers each request (by its index) with the next canned response.
    async fn canned(responses: Vec<&'static [u8]>) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            for r in responses {
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = s.read(&mut buf).await.unwrap();
                    seen.extend_from_slice(&buf[..n]);
                }
                // Split the response to exercise partial reads.
                let (a, b) = r.split_at(r.len() / 2);
                s.write_all(a).await.unwrap();
                s.flush().await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                s.write_all(b).await.unwrap();
            }
        });
        addr
    }

    #[tokio::test]
    async fn lengths_chunks_interim_responses_and_eof_bodies() {
        let addr = canned(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n10;x=y\r\n0123456789abcdef\r\n0\r\nTrailer: t\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 503 Busy\r\nConnection: close\r\n\r\nuntil the end",
        ])
        .await;
        let mut c = Conn::connect(addr).await.unwrap();
        let req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let r = c.roundtrip(req, false).await.unwrap();
        assert_eq!((r.status, r.close), (200, false));
        let r = c.roundtrip(req, false).await.unwrap();
        assert_eq!((r.status, r.close), (201, false));
        let r = c.roundtrip(req, false).await.unwrap();
        assert_eq!(r.status, 204);
        let r = c.roundtrip(req, false).await.unwrap();
        assert_eq!((r.status, r.close), (503, true));
    }

    #[tokio::test]
    async fn garbage_is_a_parse_error() {
        let addr = canned(vec![b"SMTP ready\r\n\r\n"]).await;
        let mut c = Conn::connect(addr).await.unwrap();
        let err = c
            .roundtrip(b"GET / HTTP/1.1\r\n\r\n", false)
            .await
            .unwrap_err();
        assert!(matches!(err, WireError::Parse(_)), "{err}");
    }
}
