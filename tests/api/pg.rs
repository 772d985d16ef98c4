//! A real PostgreSQL for tests: `initdb` into a temporary directory, started
//! on a free loopback port (its Unix socket in the same directory), stopped
//! on drop. The binaries are looked up in `/usr/local/bin`, `PATH` and
//! `/usr/lib/postgresql/*/bin`; without them `start` prints why and returns
//! `None` (CI installs `postgresql`). PostgreSQL refuses to run as root: as
//! root the server runs as `nobody` through `runuser`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The superuser's password (`postgres`).
pub const ADMIN_PASSWORD: &str = "pg-admin-3b9f1c";

pub struct Pg {
    dir: tempfile::TempDir,
    data: PathBuf,
    bin: PathBuf,
    as_nobody: bool,
    pub port: u16,
}

fn bin_dir() -> Option<PathBuf> {
    let has = |d: &Path| d.join("initdb").exists() && d.join("pg_ctl").exists() && d.join("postgres").exists();
    let mut candidates = vec![PathBuf::from("/usr/local/bin")];
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    versions.sort();
    candidates.extend(versions.into_iter().rev());
    candidates.into_iter().find(|d| has(d))
}

impl Pg {
    fn command(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if self.as_nobody {
            let mut c = Command::new("runuser");
            c.args(["-u", "nobody", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    /// Starts a server, or explains on stderr why not and returns `None`.
    pub fn start() -> Option<Pg> {
        let Some(bin) = bin_dir() else {
            eprintln!(
                "SKIPPED: no PostgreSQL binaries (initdb, pg_ctl) in /usr/local/bin, PATH or /usr/lib/postgresql/*/bin"
            );
            return None;
        };
        let as_nobody = rustix::process::geteuid().is_root();
        if as_nobody && Command::new("runuser").arg("--help").output().is_err() {
            eprintln!("SKIPPED: running as root and `runuser` is missing (PostgreSQL refuses to run as root)");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        if as_nobody {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
        }
        let data = dir.path().join("data");
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, ADMIN_PASSWORD).expect("pwfile");
        if as_nobody {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&pwfile, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let mut pg = Pg { dir, data, bin, as_nobody, port };
        let init = pg
            .command("initdb")
            .arg("-D")
            .arg(&pg.data)
            .args(["-U", "postgres", "-E", "UTF8", "--no-sync", "--auth-local=trust", "--auth-host=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .expect("run initdb");
        assert!(init.status.success(), "initdb failed: {}", String::from_utf8_lossy(&init.stderr));
        let socket_dir = pg.dir.path().to_path_buf();
        let log = pg.dir.path().join("log");
        let started = pg
            .command("pg_ctl")
            .arg("-D")
            .arg(&pg.data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o"])
            .arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=20",
                pg.port,
                socket_dir.display()
            ))
            .arg("start")
            .output()
            .expect("run pg_ctl");
        if !started.status.success() {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            // Nothing to stop on drop.
            pg.port = 0;
            panic!("pg_ctl start failed: {} {log}", String::from_utf8_lossy(&started.stderr));
        }
        Some(pg)
    }

    /// A connection string for `user`.
    #[must_use]
    pub fn url(&self, user: &str, password: &str, db: &str) -> String {
        format!("postgres://{user}:{password}@127.0.0.1:{}/{db}", self.port)
    }

    /// Runs SQL as the superuser.
    pub async fn admin(&self, sql: &str) {
        let (client, connection) =
            tokio_postgres::connect(&self.url("postgres", ADMIN_PASSWORD, "postgres"), tokio_postgres::NoTls)
                .await
                .expect("connect as postgres");
        let task = tokio::spawn(connection);
        client.batch_execute(sql).await.expect("admin sql");
        drop(client);
        let _ = task.await;
    }

    /// One number from a query as the superuser.
    pub async fn admin_count(&self, sql: &str) -> i64 {
        let (client, connection) =
            tokio_postgres::connect(&self.url("postgres", ADMIN_PASSWORD, "postgres"), tokio_postgres::NoTls)
                .await
                .expect("connect as postgres");
        let task = tokio::spawn(connection);
        let n: i64 = client.query_one(sql, &[]).await.expect("count").get(0);
        drop(client);
        let _ = task.await;
        n
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        if self.port == 0 {
            return;
        }
        let _ = self.command("pg_ctl").arg("-D").arg(&self.data).args(["-m", "immediate", "-w", "stop"]).output();
    }
}
