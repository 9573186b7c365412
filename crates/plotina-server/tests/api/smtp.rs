//! A real SMTP server on loopback that keeps what it receives: the `mailin` crate's
//! SMTP session state machine over a blocking TCP listener, one thread per connection.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin::{response, Action, Handler, Response, SessionBuilder};

/// One received message: the envelope recipients and the raw RFC 5322 text.
#[derive(Debug, Clone)]
pub struct Received {
    pub rcpt: Vec<String>,
    pub raw: Vec<u8>,
}

#[derive(Clone)]
struct Keep {
    inbox: Arc<Mutex<Vec<Received>>>,
    rcpt: Vec<String>,
    buf: Vec<u8>,
}

impl Handler for Keep {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.rcpt = to.to_vec();
        self.buf.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.buf.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        self.inbox.lock().expect("inbox").push(Received {
            rcpt: std::mem::take(&mut self.rcpt),
            raw: std::mem::take(&mut self.buf),
        });
        response::OK
    }
}

pub struct SmtpServer {
    pub port: u16,
    inbox: Arc<Mutex<Vec<Received>>>,
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind smtp");
        let port = listener.local_addr().expect("addr").port();
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let keep = Keep {
            inbox: inbox.clone(),
            rcpt: Vec::new(),
            buf: Vec::new(),
        };
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let keep = keep.clone();
                std::thread::spawn(move || {
                    let _ = converse(stream, keep);
                });
            }
        });
        SmtpServer { port, inbox }
    }

    pub fn received(&self) -> Vec<Received> {
        self.inbox.lock().expect("inbox").clone()
    }

    /// Waits (up to 20 s) until `n` messages arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..200 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("expected {n} messages, got {:?}", self.received());
    }
}

/// A loopback port nothing listens on (a mail server that is down).
pub fn dead_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn converse(stream: TcpStream, keep: Keep) -> std::io::Result<()> {
    let peer = stream.peer_addr()?.ip();
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let builder = SessionBuilder::new("smtp.test");
    let mut session = builder.build(peer, keep);
    session.greeting().write_to(&mut out)?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let resp = session.process(&line);
        match resp.action {
            Action::NoReply => continue,
            Action::Close => {
                resp.write_to(&mut out)?;
                out.flush()?;
                return Ok(());
            }
            _ => {
                resp.write_to(&mut out)?;
                out.flush()?;
            }
        }
    }
}
