// A Rust service's outgoing calls with std only: name resolution through
// the target's resolver, TCP connects by name, a hand-written HTTP GET,
// peer addresses, and a refused port.
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};

fn get(host: &str, port: u16, path: &str) -> std::io::Result<(String, usize)> {
    let mut s = TcpStream::connect((host, port))?;
    let peer = s.peer_addr()?;
    write!(s, "GET {} HTTP/1.0\r\nHost: {}\r\n\r\n", path, host)?;
    let mut body = Vec::new();
    s.read_to_end(&mut body)?;
    let text = String::from_utf8_lossy(&body).to_string();
    let status = text.lines().next().unwrap_or("").to_string();
    let len = text.split("\r\n\r\n").nth(1).map(|b| b.len()).unwrap_or(0);
    Ok((format!("{} from port {}", status, peer.port()), len))
}

fn main() {
    for name in ["api.cluster:8080", "api:8080", "api.internal:8080", "nope.cluster:80"] {
        match name.to_socket_addrs() {
            Ok(a) => {
                let v: Vec<String> = a.map(|x| x.ip().to_string()).collect();
                println!("resolve {}: {} address(es)", name, v.len());
            }
            Err(e) => println!("resolve {}: error ({:?})", name, e.kind()),
        }
    }
    for path in ["/hello.txt", "/big.txt", "/missing"] {
        match get("api.cluster", 8080, path) {
            Ok((status, len)) => println!("GET {}: {} ({} body bytes)", path, status, len),
            Err(e) => println!("GET {}: error {:?}", path, e.kind()),
        }
    }
    match TcpStream::connect(("api.cluster", 9)) {
        Ok(_) => println!("port 9: connected?"),
        Err(e) => println!("port 9: {:?}", e.kind()),
    }
}
