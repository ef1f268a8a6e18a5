// Rust std client for tests/net: TcpStream::connect by name (getaddrinfo,
// then connect), peer_addr (getpeername), a GET written by hand, the answer
// read to EOF; the body and the status line are printed, not the headers
// that vary (Date).
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};

fn main() {
    let target = std::env::args().nth(1).unwrap_or_else(|| "api.cluster:8080".into());
    let path = std::env::args().nth(2).unwrap_or_else(|| "/known.txt".into());
    let addrs: Vec<_> = target.to_socket_addrs().expect("resolve").collect();
    println!("resolved {:?}", addrs);
    let mut s = TcpStream::connect(&*target).expect("connect");
    println!("peer {}", s.peer_addr().expect("peer_addr"));
    write!(s, "GET {} HTTP/1.0\r\nHost: {}\r\n\r\n", path, target).expect("write");
    s.shutdown(Shutdown::Write).expect("shutdown");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read");
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    println!("status {}", head.lines().next().unwrap_or(""));
    println!("body {} bytes", body.len());
    print!("{}", if body.len() < 4096 { body.to_string() } else { String::new() });
    match TcpStream::connect("api.cluster:9") {
        Ok(_) => println!("port 9: connected?"),
        Err(e) => println!("port 9: {:?}", e.kind()),
    }
}
