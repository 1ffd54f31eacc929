//! Real `deconflict serve` processes on loopback ports for end-to-end tests, on SQLite (a
//! temporary directory) or PostgreSQL (a fresh schema in `DECONFLICT_TEST_POSTGRES_URL`;
//! skipped with a message when unset, except under `CI=true`, where that fails).

#![allow(dead_code)]

/// Stamps out each named test function (taking a [`Backend`]) twice: once on SQLite and
/// once on PostgreSQL (which skips, or fails under `CI=true`, when no server is set).
/// Test files use it with `#[macro_use] mod serve_support;`.
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(super::Backend::sqlite()); })+
        }
        mod postgres {
            $(#[test] fn $name() {
                if let Some(backend) = super::Backend::postgres(stringify!($name)) { super::$name(backend); }
            })+
        }
    };
}

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_deconflict");

/// Where a test's store lives.
pub enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres { url: String, schema: String },
}

impl Backend {
    pub fn sqlite() -> Backend {
        Backend::Sqlite(tempfile::tempdir().unwrap())
    }

    /// A fresh schema, or `None` (after saying so) when no PostgreSQL is configured.
    pub fn postgres(test: &str) -> Option<Backend> {
        let url = match std::env::var("DECONFLICT_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => url,
            _ if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("DECONFLICT_TEST_POSTGRES_URL is unset under CI=true; the PostgreSQL end-to-end tests must run")
            }
            _ => {
                eprintln!("skipping {test} on PostgreSQL: DECONFLICT_TEST_POSTGRES_URL is unset");
                return None;
            }
        };
        let schema = format!("e2e_{}_{}", test, std::process::id());
        drop_schema(&url, &schema);
        Some(Backend::Postgres { url, schema })
    }

    pub fn args(&self) -> Vec<String> {
        match self {
            Backend::Sqlite(dir) => vec!["--data".into(), dir.path().display().to_string()],
            Backend::Postgres { url, schema } => {
                vec![
                    "--database".into(),
                    url.clone(),
                    "--database-schema".into(),
                    schema.clone(),
                ]
            }
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Backend::Postgres { url, schema } = self {
            drop_schema(url, schema);
        }
    }
}

fn drop_schema(url: &str, schema: &str) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = deconflict_store::open_postgres_in_schema(url, schema)
            .await
            .unwrap();
        store.drop_schema(schema).await.unwrap();
    });
}

/// `deconflict party add` on the backend; returns the printed token.
pub fn party_add(backend: &Backend, id: &str, role: &str) -> String {
    let output = Command::new(BIN)
        .args([
            "party",
            "add",
            id,
            "--name",
            &format!("{id} duty officer"),
            "--role",
            role,
        ])
        .args(backend.args())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "party add failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("dcf_"), "{token}");
    token
}

/// A running server; killed (SIGKILL) when dropped if still running.
/// What a launched server said about its start.
pub enum Launched {
    /// Another service holds the store; this one waits for it.
    StandingBy,
    /// Serving, at this address.
    Listening(String),
}

/// A spawned server that has not yet said it listens.
pub struct Launching {
    /// Taken by [`Launching::ready`]; killed on drop otherwise.
    child: Option<Child>,
    receiver: mpsc::Receiver<Launched>,
}

impl Drop for Launching {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Launching {
    /// The next thing the server says about its start, or `None` if it says nothing
    /// within `timeout`.
    pub fn next(&self, timeout: Duration) -> Option<Launched> {
        self.receiver.recv_timeout(timeout).ok()
    }

    /// Waits until the server listens (standing by first if it must).
    pub fn ready(mut self) -> Server {
        loop {
            match self.receiver.recv_timeout(Duration::from_secs(60)) {
                Ok(Launched::StandingBy) => continue,
                Ok(Launched::Listening(address)) => {
                    return Server {
                        child: self
                            .child
                            .take()
                            .expect("a launched server has its process"),
                        base: format!("http://{address}"),
                        address,
                    }
                }
                Err(_) => panic!("the server did not start listening"),
            }
        }
    }
}

pub struct Server {
    pub child: Child,
    pub base: String,
    pub address: String,
}

impl Server {
    pub fn start(backend: &Backend) -> Server {
        Server::start_with(backend, &[])
    }

    pub fn start_with(backend: &Backend, extra: &[&str]) -> Server {
        Server::launch(backend, extra).ready()
    }

    /// Spawns `deconflict serve` without waiting for it to listen (it may stand by).
    pub fn launch(backend: &Backend, extra: &[&str]) -> Launching {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(backend.args())
            .args(extra)
            .env("DECONFLICT_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let news =
                    if let Some(address) = line.strip_prefix("deconflict: listening on http://") {
                        Some(Launched::Listening(address.to_owned()))
                    } else if line.contains("standing by") {
                        Some(Launched::StandingBy)
                    } else {
                        None
                    };
                eprintln!("[server] {line}");
                if let Some(news) = news {
                    let _ = sender.send(news);
                }
            }
        });
        Launching {
            child: Some(child),
            receiver,
        }
    }
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One HTTP call; answers (status, body text) for every status.
pub fn call(method: &str, url: &str, token: Option<&str>, body: Option<&Value>) -> (u16, String) {
    call_with(&ureq::agent(), method, url, token, body).expect("transport error")
}

pub fn call_with(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Result<(u16, String), Box<ureq::Transport>> {
    let mut request = agent.request(method, url).timeout(Duration::from_secs(30));
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    let result = match body {
        Some(body) => request
            .set("Content-Type", "application/json")
            .send_string(&body.to_string()),
        None => request.call(),
    };
    match result {
        Ok(response) => Ok((
            response.status(),
            response.into_string().unwrap_or_default(),
        )),
        Err(ureq::Error::Status(status, response)) => {
            Ok((status, response.into_string().unwrap_or_default()))
        }
        Err(ureq::Error::Transport(transport)) => Err(Box::new(transport)),
    }
}

pub fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("not JSON ({error}): {text}"))
}

/// One Server-Sent Event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: i64,
    pub kind: String,
    pub data: Value,
}

/// A raw SSE connection to `/v1/events`, read with a timeout.
pub struct SseStream {
    reader: BufReader<TcpStream>,
}

impl SseStream {
    pub fn open(address: &str, token: &str, last_event_id: Option<i64>) -> SseStream {
        let mut stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let resume = last_event_id
            .map(|id| format!("Last-Event-ID: {id}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "GET /v1/events HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n{resume}\r\n"
        )
        .unwrap();
        let mut reader = BufReader::new(stream);
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        assert!(status.contains(" 200 "), "{status}");
        SseStream { reader }
    }

    /// The next event (comments and chunk framing skipped).
    pub fn next_event(&mut self) -> SseEvent {
        let (mut id, mut kind, mut data) = (None, None, None);
        loop {
            let mut line = String::new();
            let read = self
                .reader
                .read_line(&mut line)
                .expect("no event within the timeout");
            assert!(read > 0, "the event stream closed");
            let line = line.trim_end_matches(['\r', '\n']);
            if let Some(value) = line.strip_prefix("id:") {
                id = Some(value.trim().parse().unwrap());
            } else if let Some(value) = line.strip_prefix("event:") {
                kind = Some(value.trim().to_owned());
            } else if let Some(value) = line.strip_prefix("data:") {
                data = Some(json(value.trim()));
            } else if line.is_empty() {
                if let (Some(id), Some(kind), Some(data)) = (id, kind.clone(), data.clone()) {
                    return SseEvent { id, kind, data };
                }
            }
        }
    }

    /// Drains whatever is buffered (for tests that expect nothing more).
    pub fn close(self) {
        let mut stream = self.reader.into_inner();
        let _ = stream.set_read_timeout(Some(Duration::from_millis(1)));
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink);
    }
}

/// A Volume4D square of `half_deg` around (lat, lng), 3,000–6,000 m, 10:00–11:00.
pub fn square_intent(lat: f64, lng: f64, version: Option<i64>) -> Value {
    let half = 0.1;
    let mut body = serde_json::json!({"volumes": [{
        "volume": {
            "outline_polygon": {"vertices": [
                {"lat": lat - half, "lng": lng - half}, {"lat": lat - half, "lng": lng + half},
                {"lat": lat + half, "lng": lng + half}, {"lat": lat + half, "lng": lng - half}]},
            "altitude_lower": {"value": 3000, "reference": "W84", "units": "M"},
            "altitude_upper": {"value": 6000, "reference": "W84", "units": "M"}
        },
        "time_start": {"value": "2015-10-20T10:00:00Z", "format": "RFC3339"},
        "time_end": {"value": "2015-10-20T11:00:00Z", "format": "RFC3339"}
    }]});
    if let Some(version) = version {
        body["version"] = version.into();
    }
    body
}
