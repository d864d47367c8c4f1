//! Connecting through a server's unix socket, on a private PostgreSQL and MariaDB whose socket
//! is known to exist (the shared servers may have none): the connection must work — reaching
//! the server but failing to log in does not count.

use pi_manage::db::{self, Connection, OpenOptions, Value};
use pi_manage::dburl::DbUrl;

use crate::outage_servers::{Kind, Restartable};

fn open(url: &str) -> Box<dyn Connection> {
    let url = DbUrl::parse(url).unwrap();
    db::open(&url, &OpenOptions::default()).unwrap_or_else(|e| panic!("{url:?}: {e}"))
}

#[test]
fn postgres_connects_through_the_unix_socket() {
    let Some(server) = Restartable::new(Kind::Postgres) else {
        return;
    };
    let dir = server.socket_dir().display().to_string();
    let port = server.port;
    assert!(server
        .socket_dir()
        .join(format!(".s.PGSQL.{port}"))
        .exists());
    let mut c = open(&format!(
        "postgresql://postgres@:{port}/postgres?host={dir}&sslmode=disable"
    ));
    assert_eq!(
        c.target(),
        format!("postgresql database postgres on {dir}:{port} as postgres")
    );
    assert_eq!(c.query_i64("SELECT 1", &[]).unwrap(), Some(1));
    // Really the socket: the server sees no client address.
    assert_eq!(
        c.query_i64("SELECT count(*) FROM pg_stat_activity WHERE pid = pg_backend_pid() AND client_addr IS NULL", &[])
            .unwrap(),
        Some(1)
    );
}

#[test]
fn mariadb_connects_through_the_unix_socket() {
    let Some(server) = Restartable::new(Kind::Mariadb) else {
        return;
    };
    let sock = server.socket_dir().join("s.sock");
    assert!(sock.exists());
    let sock = sock.display().to_string();
    let mut c = open(&format!(
        "mysql+pymysql://root@localhost/information_schema?unix_socket={sock}&charset=utf8mb4"
    ));
    assert_eq!(
        c.target(),
        format!("mysql database information_schema on {sock} as root")
    );
    assert_eq!(c.query_i64("SELECT 1", &[]).unwrap(), Some(1));
    let r = c.query_rows("SELECT @@character_set_client", &[]).unwrap();
    assert_eq!(r[0].get(0), &Value::Text("utf8mb4".into()));
    // Really the socket: the session's host is localhost, not a TCP peer.
    let r = c
        .query_rows(
            "SELECT host FROM information_schema.processlist WHERE id = connection_id()",
            &[],
        )
        .unwrap();
    assert_eq!(r[0].get(0), &Value::Text("localhost".into()));
}
