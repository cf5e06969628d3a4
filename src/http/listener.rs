//! The sockets the event loop serves: a TCP or Unix listener, and the
//! connections it accepts, behind one type each so the loop need not care.

use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use mio::event::Source;
use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use mio::{Interest, Registry, Token};

use crate::config::Listen;

/// The listening socket: TCP for direct clients, Unix for HAProxy.
pub(crate) enum Listener {
    Tcp(TcpListener),
    /// `path` is removed when the listener is dropped.
    Unix {
        listener: UnixListener,
        path: PathBuf,
    },
}

/// A non-blocking TCP listener with SO_REUSEPORT (and SO_REUSEADDR) set
/// before `bind`, which std and mio cannot do.
fn bind_reusing_port(address: std::net::SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(1024)?;
    Ok(TcpListener::from_std(socket.into()))
}

impl Listener {
    pub(crate) fn bind(listen: &Listen, reuse_port: bool) -> io::Result<Listener> {
        match listen {
            Listen::Tcp(address) if reuse_port => bind_reusing_port(*address).map(Listener::Tcp),
            Listen::Tcp(address) => TcpListener::bind(*address).map(Listener::Tcp),
            Listen::Unix(path) => {
                remove_stale_socket(path)?;
                let listener = UnixListener::bind(path)?;
                let listener = Listener::Unix {
                    listener,
                    path: path.clone(),
                };
                // HAProxy may run as another user.
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
                Ok(listener)
            }
        }
    }

    pub(crate) fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Tcp(listener) => {
                let (stream, _) = listener.accept()?;
                // Responses are written whole; Nagle would only delay them.
                stream.set_nodelay(true)?;
                Ok(Stream::Tcp(stream))
            }
            Listener::Unix { listener, .. } => {
                listener.accept().map(|(stream, _)| Stream::Unix(stream))
            }
        }
    }

    pub(crate) fn describe(&self) -> io::Result<String> {
        Ok(match self {
            Listener::Tcp(listener) => listener.local_addr()?.to_string(),
            Listener::Unix { path, .. } => format!("unix:{}", path.display()),
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix { path, .. } = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A socket file left by a process that died is removed; one that still
/// accepts connections belongs to a live server and is left alone, as is
/// anything that is not a socket.
fn remove_stale_socket(path: &Path) -> io::Result<()> {
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    let refuse = |kind, why: &str| Err(io::Error::new(kind, format!("{}: {why}", path.display())));
    if !metadata.file_type().is_socket() {
        return refuse(io::ErrorKind::AlreadyExists, "exists and is not a socket");
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return refuse(io::ErrorKind::AddrInUse, "another process listens there");
    }
    std::fs::remove_file(path)
}

/// An accepted connection of either kind.
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(stream) => stream.read(buf),
            Stream::Unix(stream) => stream.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(stream) => stream.write(buf),
            Stream::Unix(stream) => stream.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Forwards mio's registration calls to whichever socket `$enum` holds.
macro_rules! forward_source {
    ($enum:ident, $($variant:pat => $inner:ident),+) => {
        impl Source for $enum {
            fn register(&mut self, registry: &Registry, token: Token, interests: Interest) -> io::Result<()> {
                match self { $($variant => $inner.register(registry, token, interests)),+ }
            }
            fn reregister(&mut self, registry: &Registry, token: Token, interests: Interest) -> io::Result<()> {
                match self { $($variant => $inner.reregister(registry, token, interests)),+ }
            }
            fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
                match self { $($variant => $inner.deregister(registry)),+ }
            }
        }
    };
}

forward_source!(Stream, Stream::Tcp(s) => s, Stream::Unix(s) => s);
forward_source!(Listener, Listener::Tcp(l) => l, Listener::Unix { listener: l, .. } => l);
