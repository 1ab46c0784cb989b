//! The toxic-free pass-through of one direction, as cheap per byte as we can make it.
//!
//! Two habits of HAProxy and nginx: a read that returns less than the buffer means the socket is
//! drained, so its readiness is cleared without another `read` that would only say `EAGAIN`
//! (safe with tokio's edge-triggered readiness: the clear applies only to the readiness that was
//! observed before the read, and data that arrives later raises a new edge); and large transfers
//! move through a pipe with splice(2), so their bytes are never copied into user space. A
//! direction starts with plain reads and switches to splicing once a read fills the whole buffer;
//! it switches back when a splice moves little. The pipe is made only then, so idle and small-
//! message connections hold no extra descriptors, and where a pipe cannot be made (descriptor
//! limit) the direction keeps reading.

use std::io::{self, ErrorKind};
use std::os::fd::OwnedFd;

use rustix::pipe::{PipeFlags, SpliceFlags, pipe_with, splice};
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;

/// Toxiproxy's read size.
pub(super) const CHUNK: usize = 32 * 1024;
/// What one splice asks for: a default pipe's capacity.
const PIPE_CHUNK: usize = 64 * 1024;
/// A splice that moves less than this goes back to plain reads (small messages cost less so).
const SPLICE_WORTH: usize = 4096;

/// What one call moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Moved {
    /// Bytes read from the source and written to the destination.
    Bytes(usize),
    /// The source has nothing now (readiness cleared).
    Nothing,
    /// The source closed.
    Eof,
}

#[derive(Debug, Default)]
pub(super) struct Pass {
    buf: Vec<u8>,
    /// (read end, write end), once the direction has moved a large transfer.
    pipe: Option<(OwnedFd, OwnedFd)>,
    splicing: bool,
    /// A pipe could not be made or splice is refused here: plain reads only.
    no_splice: bool,
    /// Whether data ever came: only then is the buffer kept between reads.
    used: bool,
}

impl Pass {
    /// Moves what `from` has now to `to`, waiting for `to` to take all of it.
    pub(super) async fn forward(
        &mut self,
        from: &TcpStream,
        to: &mut OwnedWriteHalf,
        sent: impl Fn(usize),
    ) -> io::Result<Moved> {
        if self.splicing
            && let Some(moved) = self.splice_through(from, to, &sent).await?
        {
            return Ok(moved);
        }
        self.read_through(from, to, &sent).await
    }

    async fn read_through(
        &mut self,
        from: &TcpStream,
        to: &mut OwnedWriteHalf,
        sent: &impl Fn(usize),
    ) -> io::Result<Moved> {
        if self.buf.is_empty() {
            // Allocated on first data: idle connections hold no 32 KiB buffers.
            self.buf = vec![0u8; CHUNK];
        }
        let mut got = 0;
        let buf = &mut self.buf;
        let read = from.try_io(Interest::READABLE, || {
            got = rustix::io::read(from, &mut buf[..])?;
            if got > 0 && got < buf.len() {
                // Drained: clear the readiness now instead of learning it from an EAGAIN.
                return Err(ErrorKind::WouldBlock.into());
            }
            Ok(got)
        });
        let n = match read {
            Ok(0) => return Ok(Moved::Eof),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock && got > 0 => got,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                // Spurious readiness (every new socket gets one): an idle connection must not
                // keep a buffer it never used.
                if !self.used {
                    self.buf = Vec::new();
                }
                return Ok(Moved::Nothing);
            }
            Err(e) => return Err(e),
        };
        self.used = true;
        to.write_all(&self.buf[..n]).await?;
        sent(n);
        if n == CHUNK && !self.no_splice {
            self.splicing = self.ensure_pipe();
        }
        Ok(Moved::Bytes(n))
    }

    fn ensure_pipe(&mut self) -> bool {
        if self.pipe.is_none() {
            match pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK) {
                Ok(pipe) => self.pipe = Some(pipe),
                Err(_) => {
                    self.no_splice = true;
                    return false;
                }
            }
        }
        true
    }

    /// Socket → pipe → socket. `None` when splicing is refused here (then plain reads take
    /// over; nothing was moved).
    async fn splice_through(
        &mut self,
        from: &TcpStream,
        to: &mut OwnedWriteHalf,
        sent: &impl Fn(usize),
    ) -> io::Result<Option<Moved>> {
        let Some((pipe_read, pipe_write)) = &self.pipe else {
            return Ok(None);
        };
        let flags = SpliceFlags::NONBLOCK | SpliceFlags::MOVE;
        // No drained-by-short-count shortcut here: a splice also stops short when the pipe runs
        // out of slots, with data still in the socket.
        let moved = from.try_io(Interest::READABLE, || {
            Ok(splice(from, None, pipe_write, None, PIPE_CHUNK, flags)?)
        });
        let n = match moved {
            Ok(0) => return Ok(Some(Moved::Eof)),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(Some(Moved::Nothing)),
            // EINVAL: splice is not supported between these descriptors.
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) => {
                self.splicing = false;
                self.no_splice = true;
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let out: &TcpStream = to.as_ref();
        let mut pending = n;
        while pending > 0 {
            out.writable().await?;
            match out.try_io(Interest::WRITABLE, || {
                Ok(splice(pipe_read, None, out, None, pending, flags)?)
            }) {
                Ok(m) => {
                    pending -= m;
                    sent(m);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        if n < SPLICE_WORTH {
            self.splicing = false;
        }
        Ok(Some(Moved::Bytes(n)))
    }
}
