//! Unit tests of `server`.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use super::*;

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("rinha-server-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_unix_socket_is_open_to_all_replaces_a_stale_one_and_is_removed_on_drop() {
    let dir = TempDir::new("unix");
    let path = dir.0.join("api.sock");
    let listen = Listen::Unix(path.clone());

    // A socket file nobody listens on any more.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());

    let server = Server::bind(&listen, false).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o666);
    let error = Server::bind(&listen, false)
        .err()
        .expect("a live socket is kept");
    assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
    drop(server);
    assert!(!path.exists());

    std::fs::write(&path, b"not a socket").unwrap();
    let error = Server::bind(&listen, false)
        .err()
        .expect("a plain file is kept");
    assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
    assert!(path.exists());
}

#[test]
fn serve_returns_when_stopped_from_another_thread() {
    let mut server = Server::bind(&Listen::Tcp(([127, 0, 0, 1], 0).into()), false).unwrap();
    let address = server.local_addr().unwrap();
    let stopper = server.stopper();
    let not_found = |request: &Request, out: &mut Vec<u8>| {
        http::write_response(out, 404, false, b"", request.keep_alive);
        request.keep_alive
    };
    std::thread::scope(|scope| {
        let serving = scope.spawn(|| server.serve(&not_found));
        let mut client = std::net::TcpStream::connect(address).unwrap();
        client
            .write_all(b"GET /nowhere HTTP/1.1\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut response = String::new();
        client.read_to_string(&mut response).unwrap();
        assert!(
            response.starts_with("HTTP/1.1 404 Not Found\r\n"),
            "{response}"
        );
        stopper.stop();
        serving.join().unwrap().unwrap();
    });
}

#[test]
fn reuse_port_lets_two_servers_share_one_port() {
    let first = Server::bind(&Listen::Tcp(([127, 0, 0, 1], 0).into()), true).unwrap();
    let shared_port = Listen::Tcp(first.local_addr().unwrap());
    assert!(Server::bind(&shared_port, true).is_ok());
    assert!(
        Server::bind(&shared_port, false).is_err(),
        "only with the option"
    );
}
