// An HTTP/1.1 server on std::net (std only): a thread per connection,
// keep-alive, Content-Length bodies; answers WORD to every request and
// prints one line per request: METHOD PATH X-REQ BODY_BYTES.
//   server WORD PORT
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

fn serve(s: TcpStream, word: Arc<String>, out: Arc<Mutex<()>>) -> std::io::Result<()> {
    let mut w = s.try_clone()?;
    let mut r = BufReader::new(s);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let (mut xreq, mut len) = (String::from("-"), 0u64);
        loop {
            let mut h = String::new();
            if r.read_line(&mut h)? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("x-req") {
                    xreq = v.trim().to_string();
                } else if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let n = std::io::copy(&mut (&mut r).take(len), &mut std::io::sink())?;
        {
            let _g = out.lock().unwrap();
            let so = std::io::stdout();
            let mut so = so.lock();
            writeln!(so, "{} {} {} {}", method, path, xreq, n)?;
            so.flush()?;
        }
        let body = format!("{}\n", word);
        write!(
            w,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{}",
            body.len(),
            body
        )?;
        w.flush()?;
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let word = Arc::new(args[1].clone());
    let out = Arc::new(Mutex::new(()));
    let l = TcpListener::bind(("0.0.0.0", args[2].parse::<u16>().unwrap())).expect("bind");
    for s in l.incoming() {
        if let Ok(s) = s {
            let (word, out) = (word.clone(), out.clone());
            thread::spawn(move || {
                let _ = serve(s, word, out);
            });
        }
    }
}
