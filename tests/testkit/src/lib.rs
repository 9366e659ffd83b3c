//! Throwaway servers for dmesh's tests, each on a free loopback port.
//!
//! [`PgServer`] runs a PostgreSQL cluster from the machine's PostgreSQL
//! binaries (Debian's `postgresql` package; the README's test command
//! installs it when missing). The cluster lives in a temporary directory, listens on
//! 127.0.0.1 only, asks for a password (SCRAM) on TCP, and is stopped and
//! deleted when the test process ends, however it ends: a small guardian
//! process watches a pipe from the test process and cleans up when it closes.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The superuser's name in test clusters.
pub const SUPERUSER: &str = "postgres";
/// The superuser's password in test clusters. Tests put it in connector
/// configs, so it doubles as a canary: `tests/run` fails when it appears in
/// any log the suite captured (see [`capture_logs`]).
pub const SUPERUSER_PASSWORD: &str = "dmesh-canary-pg-superuser";

/// The environment variable naming the directory where test logs are
/// collected for the canary sweep.
pub const LOG_DIR_ENV: &str = "DMESH_TEST_LOG_DIR";

/// A new file in the test log directory, when `DMESH_TEST_LOG_DIR` is set.
pub fn log_file(prefix: &str) -> Option<std::fs::File> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = PathBuf::from(std::env::var_os(LOG_DIR_ENV)?);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!("{prefix}-{}-{n}.log", std::process::id()));
    std::fs::File::create(path).ok()
}

/// Sends this test process's own log lines (the gateway's and the
/// connectors', down to trace level) to a file in `DMESH_TEST_LOG_DIR`, when
/// it is set, so the canary sweep reads what a real deployment would log.
/// Safe to call many times.
pub fn capture_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let Some(file) = log_file("in-process") else { return };
        let filter = tracing_subscriber::EnvFilter::new(
            "dmesh_gateway=trace,dmesh_connector_api=trace,dmesh_connector_files=trace,\
             dmesh_connector_postgres=trace,tokio_postgres=debug,deadpool=debug,info",
        );
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(Mutex::new(file))
            .with_ansi(false)
            .try_init();
    });
}

/// A PostgreSQL cluster of its own for a test process.
#[derive(Debug)]
pub struct PgServer {
    /// The TCP port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
    bindir: PathBuf,
    tls: bool,
    run_as: Option<&'static str>,
    guardian: Mutex<Option<(Child, ChildStdin)>>,
}

impl PgServer {
    /// One cluster shared by every test in this process.
    pub fn shared() -> &'static PgServer {
        static SHARED: OnceLock<PgServer> = OnceLock::new();
        SHARED.get_or_init(PgServer::start)
    }

    /// Starts a new cluster. Panics, naming what is missing, when PostgreSQL
    /// is not installed.
    pub fn start() -> PgServer {
        Self::start_with(false)
    }

    /// Starts a new cluster that also accepts TLS, with a server certificate
    /// for 127.0.0.1 signed by a test CA ([`ca_cert`](Self::ca_cert)).
    /// Needs the `openssl` command.
    pub fn start_tls() -> PgServer {
        Self::start_with(true)
    }

    /// The test CA's certificate (PEM) of a [`start_tls`](Self::start_tls) cluster.
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    fn start_with(tls: bool) -> PgServer {
        capture_logs();
        let bindir = find_bindir().unwrap_or_else(|| {
            panic!(
                "PostgreSQL server binaries not found: install Debian's `postgresql` package \
                 (the README's test command does), or set DMESH_PG_BINDIR"
            )
        });
        let run_as = is_root().then_some("postgres");
        let dir = tempfile::Builder::new()
            .prefix("dmesh-pg-")
            .tempdir()
            .expect("temporary directory")
            .keep();
        let data = dir.join("data");
        let pwfile = dir.join("pw");
        std::fs::write(&pwfile, SUPERUSER_PASSWORD).expect("password file");
        if tls {
            make_certificates(&dir);
        }
        if let Some(user) = run_as {
            run(Command::new("chown").args(["-R", user]).arg(&dir));
        }
        let mut initdb = command(run_as, &bindir.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", SUPERUSER, "-E", "UTF8", "--locale=C", "--no-sync"])
            .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()));
        run(&mut initdb);

        let guardian = spawn_guardian(run_as, &bindir, &dir);
        let port = free_port();
        let server = PgServer {
            port,
            dir,
            bindir,
            tls,
            run_as,
            guardian: Mutex::new(Some(guardian)),
        };
        server.start_postmaster();
        server
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn start_postmaster(&self) {
        let mut options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off \
             -c full_page_writes=off -c synchronous_commit=off -c max_connections=120",
            self.port,
            self.dir.display()
        );
        if self.tls {
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                self.dir.join("server.crt").display(),
                self.dir.join("server.key").display()
            ));
        }
        let mut start = command(self.run_as, &self.bindir.join("pg_ctl"));
        start
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-o", &options, "-w", "-t", "60", "start"]);
        run(&mut start);
        self.wait_ready(Duration::from_secs(30));
    }

    /// Waits until the server answers a query.
    pub fn wait_ready(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            match self.try_psql("postgres", "SELECT 1") {
                Ok(_) => return,
                Err(e) if Instant::now() > deadline => panic!("PostgreSQL did not come up: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// `postgresql://postgres:...@127.0.0.1:PORT/db`.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgresql://{SUPERUSER}:{SUPERUSER_PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// Runs SQL with psql as the superuser and returns its unaligned output.
    /// Panics with psql's message on failure.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        self.try_psql(database, sql)
            .unwrap_or_else(|e| panic!("psql failed on `{}`: {e}", truncate(sql)))
    }

    /// As [`psql`](Self::psql), returning psql's message on failure.
    pub fn try_psql(&self, database: &str, sql: &str) -> Result<String, String> {
        let mut child = Command::new(psql_path(&self.bindir))
            .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
            .args(["-p", &self.port.to_string(), "-U", SUPERUSER, "-d", database, "-f", "-"])
            .env("PGPASSWORD", SUPERUSER_PASSWORD)
            .env("PGCONNECT_TIMEOUT", "5")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run psql: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(sql.as_bytes()).map_err(|e| e.to_string())?;
        }
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }

    /// Creates (or re-creates) an empty database.
    pub fn create_database(&self, name: &str) {
        self.psql("postgres", &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
    }

    /// Restarts the server (`pg_ctl restart -m fast`) and waits until it
    /// answers again.
    pub fn restart(&self) {
        let mut restart = command(self.run_as, &self.bindir.join("pg_ctl"));
        restart
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-m", "fast", "-w", "-t", "60", "restart"]);
        run(&mut restart);
        self.wait_ready(Duration::from_secs(30));
    }

    /// Stops the server; [`resume`](Self::resume) starts it again.
    pub fn stop(&self) {
        let mut stop = command(self.run_as, &self.bindir.join("pg_ctl"));
        stop.arg("-D").arg(self.data_dir()).args(["-m", "fast", "-w", "stop"]);
        run(&mut stop);
    }

    /// Starts a stopped server again on the same port.
    pub fn resume(&self) {
        self.start_postmaster();
    }

    /// Sends `signal` (e.g. `STOP`, `CONT`) to the postmaster and every
    /// server process, to freeze or thaw the whole server.
    pub fn signal_all(&self, signal: &str) {
        let pidfile = std::fs::read_to_string(self.data_dir().join("postmaster.pid")).expect("postmaster.pid");
        let postmaster = pidfile.lines().next().expect("a pid").trim().to_owned();
        let children = Command::new("pgrep").args(["-P", &postmaster]).output().expect("pgrep runs");
        let mut pids = vec![postmaster];
        pids.extend(String::from_utf8_lossy(&children.stdout).split_whitespace().map(str::to_owned));
        run(Command::new("kill").arg(format!("-{signal}")).args(&pids));
    }

    /// Server sessions whose `application_name` is `app`.
    pub fn sessions(&self, app: &str) -> i64 {
        let sql = format!(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{}'",
            app.replace('\'', "''")
        );
        self.psql("postgres", &sql).parse().unwrap_or(-1)
    }

    /// The server's log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        // Closing the guardian's pipe stops the server and deletes its files.
        if let Ok(mut g) = self.guardian.lock()
            && let Some((mut child, stdin)) = g.take()
        {
            drop(stdin);
            let _ = child.wait();
        }
    }
}

fn truncate(sql: &str) -> String {
    if sql.len() > 200 {
        format!("{}...", &sql[..sql.char_indices().nth(200).map_or(sql.len(), |(i, _)| i)])
    } else {
        sql.to_owned()
    }
}

/// A process that stops the cluster and removes its directory when its
/// stdin closes, which happens when the test process exits for any reason.
fn spawn_guardian(run_as: Option<&str>, bindir: &Path, dir: &Path) -> (Child, ChildStdin) {
    let pg_ctl = bindir.join("pg_ctl");
    let data = dir.join("data");
    let as_user = match run_as {
        Some(u) => format!("runuser -u {u} -- "),
        None => String::new(),
    };
    let script = format!(
        "read _ignored; {as_user}'{}' -D '{}' -m immediate -w stop >/dev/null 2>&1; rm -rf '{}'",
        pg_ctl.display(),
        data.display(),
        dir.display()
    );
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the cleanup guardian");
    let stdin = child.stdin.take().expect("guardian stdin");
    (child, stdin)
}

/// A test certificate authority with a server certificate for 127.0.0.1
/// and a client certificate, all PEM files in one directory (needs the
/// `openssl` command).
#[derive(Debug)]
pub struct TestPki {
    /// The CA's certificate.
    pub ca_cert: PathBuf,
    /// The server certificate (SAN IP:127.0.0.1, DNS:localhost).
    pub server_cert: PathBuf,
    /// The server's key.
    pub server_key: PathBuf,
    /// A client certificate (CN = `client_name`).
    pub client_cert: PathBuf,
    /// The client's key.
    pub client_key: PathBuf,
}

impl TestPki {
    /// Creates the CA and its certificates in `dir`.
    pub fn create(dir: &Path, client_name: &str) -> Self {
        make_certificates(dir);
        std::fs::write(dir.join("client.ext"), "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
            .expect("extensions file");
        let (client_cert, client_key) = Self::sign_client(dir, client_name);
        Self {
            ca_cert: dir.join("ca.crt"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            client_cert,
            client_key,
        }
    }

    /// Another client certificate from the same CA (CN = `name`): its
    /// certificate and key files.
    pub fn client(&self, name: &str) -> (PathBuf, PathBuf) {
        let dir = self.ca_cert.parent().expect("the CA lives in a directory");
        Self::sign_client(dir, name)
    }

    fn sign_client(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let openssl = |args: &[&str]| {
            let mut c = Command::new("openssl");
            c.current_dir(dir).args(args);
            run(&mut c);
        };
        let (key, csr, crt) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.crt"));
        let subject = format!("/CN={name}");
        openssl(&["req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj", &subject]);
        openssl(&["x509", "-req", "-in", &csr, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", &crt,
                  "-days", "2", "-extfile", "client.ext"]);
        (dir.join(crt), dir.join(key))
    }
}

/// A test CA and a server certificate for 127.0.0.1 signed by it.
fn make_certificates(dir: &Path) {
    let ext = dir.join("server.ext");
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .expect("extensions file");
    let openssl = |args: &[&str]| {
        let mut c = Command::new("openssl");
        c.current_dir(dir).args(args);
        run(&mut c);
    };
    openssl(&["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
              "-subj", "/CN=dmesh-test-ca"]);
    openssl(&["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj",
              "/CN=127.0.0.1"]);
    openssl(&["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out",
              "server.crt", "-days", "2", "-extfile", "server.ext"]);
    run(Command::new("chmod").arg("600").arg(dir.join("server.key")));
}

fn command(run_as: Option<&str>, program: &Path) -> Command {
    match run_as {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--"]).arg(program);
            c
        }
        None => Command::new(program),
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The directory holding `initdb`, `pg_ctl` and `postgres`.
fn find_bindir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("DMESH_PG_BINDIR") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let major: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, p)| p)
}

fn psql_path(bindir: &Path) -> PathBuf {
    let local = bindir.join("psql");
    if local.exists() { local } else { PathBuf::from("psql") }
}
