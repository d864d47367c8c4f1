//! `schedule --metrics-listen ADDR`: a small HTTP server (tiny_http, one background thread)
//! answering `GET /metrics` (the Prometheus text format) and `GET /healthz` (200 or 503 with a
//! one-line reason). It serves nothing else and reads no request bodies.

use std::net::SocketAddr;
use std::sync::Arc;

use tiny_http::{Header, Method, Request, Response, Server};

use super::exposition::CONTENT_TYPE;
use super::metrics::SchedulerMetrics;

/// Listen on `addr` (`host:port`; port 0 picks a free one) and serve `metrics` from a
/// background thread for the rest of the process. Returns the address actually bound.
pub fn serve(addr: &str, metrics: Arc<SchedulerMetrics>) -> Result<SocketAddr, String> {
    let server = Server::http(addr).map_err(|e| format!("--metrics-listen {addr}: {e}"))?;
    let bound = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| format!("--metrics-listen {addr}: not an IP address"))?;
    std::thread::Builder::new()
        .name("metrics-http".into())
        .spawn(move || {
            for request in server.incoming_requests() {
                answer(request, &metrics);
            }
        })
        .map_err(|e| format!("--metrics-listen {addr}: {e}"))?;
    Ok(bound)
}

fn answer(request: Request, metrics: &SchedulerMetrics) {
    let path = request.url().split('?').next().unwrap_or_default();
    let readable = matches!(request.method(), Method::Get | Method::Head);
    let (code, content_type, body) = match path {
        _ if !readable => (
            405,
            "text/plain; charset=utf-8",
            "only GET and HEAD\n".into(),
        ),
        "/metrics" => (200, CONTENT_TYPE, metrics.render()),
        "/healthz" => match metrics.health() {
            Ok(summary) => (200, "text/plain; charset=utf-8", format!("{summary}\n")),
            Err(reason) => (503, "text/plain; charset=utf-8", format!("{reason}\n")),
        },
        _ => (
            404,
            "text/plain; charset=utf-8",
            "not found: try /metrics or /healthz\n".into(),
        ),
    };
    let mut response = Response::from_string(body).with_status_code(code);
    if let Ok(h) = Header::from_bytes("Content-Type", content_type) {
        response.add_header(h);
    }
    // A client that went away is its own problem; the server keeps serving.
    let _ = request.respond(response);
}
