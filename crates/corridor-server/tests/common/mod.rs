//! The fixture every server test shares: a real release built from a
//! small world, and a server on a free local port.
#![allow(dead_code)] // Each test binary uses part of it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};

use corridor_publish::{ReleaseSpec, build_release};
use corridor_store::Workspace;
use corridor_world::WorldConfig;

const SPEC: &str = r#"
title = "Server test release"
licence = "CC-BY-4.0"
version = "s1"
reference_period = "2022-01/2023-12"

[[table]]
name = "by_sex"
measure = "arrivals"
by = ["year", "reporting_country", "sex"]
method = "rr3"

[[table]]
name = "departures_by_counterpart"
measure = "departures"
by = ["year", "reporting_country", "counterpart_country"]
method = "rr3"

[[table]]
name = "arrivals_by_counterpart"
measure = "arrivals"
by = ["year", "reporting_country", "counterpart_country"]
method = "rr3"

[[table]]
name = "flows"
standard = "flows_by_citizenship"
method = "cell_key"
"#;

pub fn release(root: &Path) -> PathBuf {
    let world = root.join("world");
    corridor_world::generate(
        &WorldConfig {
            persons: 600,
            years: 2,
            ..WorldConfig::default()
        },
        &world,
        &|_, _| {},
    )
    .expect("world");
    let ws = Workspace::init(&root.join("ws")).expect("init");
    for (mapping, file) in corridor_world::mappings::SUBMISSIONS
        .iter()
        .filter(|(_, f)| !corridor_world::CASE_FILES.contains(f))
    {
        ws.submit(&world.join(mapping), &world.join(file), false, &mut |_| {})
            .unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    corridor_derive::derive(&ws, &corridor_derive::Options::default(), &|_, _| {}).expect("derive");
    let spec_path = root.join("release.toml");
    std::fs::write(&spec_path, SPEC).unwrap();
    let spec = ReleaseSpec::load(&spec_path).unwrap();
    // In the workspace's releases/, where a server with members publishes.
    let out = root.join("ws").join("releases");
    build_release(&ws, &spec, &out, &|_, _, _| {}).expect("release");
    out
}

/// A server on a free local port, on its own thread; dropped, it stops.
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub fn start(dir: &Path) -> Server {
        Server::start_with(dir, None)
    }

    /// Serves `dir` and, with `members`, the members' routes.
    pub fn start_with(dir: &Path, members: Option<corridor_server::Members>) -> Server {
        let catalogue = corridor_server::Catalogue::load(dir).expect("catalogue");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(l.local_addr().unwrap()).unwrap();
                corridor_server::serve(l, catalogue, members, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
            });
        });
        Server {
            addr: rx.recv().unwrap(),
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// GET `path` with `headers`: status, headers (lower-cased names),
    /// body.
    pub fn get(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (u16, Vec<(String, String)>, Vec<u8>) {
        self.request("GET", path, headers)
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (u16, Vec<(String, String)>, Vec<u8>) {
        self.send(method, path, headers, &[], None)
    }

    /// A request with `body`, declaring `declared` bytes (default: the
    /// body's length; more makes a request cut short).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        declared: Option<usize>,
    ) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let mut s = TcpStream::connect(self.addr).unwrap();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if method != "GET" || !body.is_empty() {
            req.push_str(&format!(
                "Content-Length: {}\r\n",
                declared.unwrap_or(body.len())
            ));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).unwrap();
        // The server may answer (413) before the whole body is sent.
        let _ = s.write_all(body);
        if declared.is_some_and(|d| d > body.len()) {
            let _ = s.shutdown(std::net::Shutdown::Write);
        }
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        if raw.is_empty() {
            return (0, Vec::new(), Vec::new());
        }
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let mut body = raw[split + 4..].to_vec();
        let mut lines = head.lines();
        let status: u16 = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let hs: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
            .collect();
        if hs
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v == "chunked")
        {
            body = unchunk(&body);
        }
        (status, hs, body)
    }
}

fn unchunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn header<'a>(hs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    hs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

pub fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}
