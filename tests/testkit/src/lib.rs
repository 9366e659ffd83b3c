//! Throwaway servers for dmesh's tests, each on a free loopback port.
//!
//! [`PgServer`] runs a PostgreSQL cluster from the machine's PostgreSQL
//! binaries (Debian's `postgresql` package; the README's test command
//! installs it when missing). The cluster lives in a temporary directory, listens on
//! 127.0.0.1 only, asks for a password (SCRAM) on TCP, and is stopped and
//! deleted when the test process ends, however it ends: a small guardian
//! process watches a pipe from the test process and cleans up when it closes.
//!
//! [`MariaDbServer`] does the same for MariaDB (Debian's `mariadb-server`
//! package, which the README's test command also installs): a server of its
//! own in a temporary directory, a password-only `dmesh` user on TCP, and the
//! server's `root` reachable only over its Unix socket, for admin SQL.

use std::io::Write;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
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
             dmesh_connector_postgres=trace,dmesh_connector_mysql=trace,dmesh_connector_sql=trace,\
             tokio_postgres=debug,mysql_async=debug,deadpool=debug,info",
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
    /// Stops the cluster and deletes `dir` when dropped.
    _guardian: Guardian,
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

        let guardian = pg_guardian(run_as, &bindir, &dir);
        let port = free_port();
        let server = PgServer {
            port,
            dir,
            bindir,
            tls,
            run_as,
            _guardian: guardian,
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
        let mut psql = Command::new(psql_path(&self.bindir));
        psql.args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
            .args(["-p", &self.port.to_string(), "-U", SUPERUSER, "-d", database, "-f", "-"])
            .env("PGPASSWORD", SUPERUSER_PASSWORD)
            .env("PGCONNECT_TIMEOUT", "5");
        run_with_input(&mut psql, sql)
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

/// The user MariaDB test servers create for tests to log in as over TCP.
pub const MARIADB_USER: &str = "dmesh";
/// [`MARIADB_USER`]'s password on MariaDB test servers. Tests put it in
/// connector configs, so it doubles as a canary: `tests/run` fails when it
/// appears in any log the suite captured (see [`capture_logs`]).
pub const MARIADB_PASSWORD: &str = "dmesh-canary-mariadb";

/// A MariaDB server of its own for a test process.
///
/// The server listens on 127.0.0.1 and on a Unix socket in its directory.
/// Over TCP only [`MARIADB_USER`] may log in, with [`MARIADB_PASSWORD`]; it
/// holds every privilege. `root` logs in over the socket only, without a
/// password; [`sql`](Self::sql) uses it for admin SQL.
#[derive(Debug)]
pub struct MariaDbServer {
    /// The TCP port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
    mariadbd: PathBuf,
    client: PathBuf,
    tls: bool,
    as_root: bool,
    server: Mutex<Option<Child>>,
    /// Deletes `dir` when dropped, after [`Drop`] has killed the server, or
    /// kills the server itself when the test process exits.
    _guardian: Guardian,
}

impl MariaDbServer {
    /// One server shared by every test in this process.
    pub fn shared() -> &'static MariaDbServer {
        static SHARED: OnceLock<MariaDbServer> = OnceLock::new();
        SHARED.get_or_init(MariaDbServer::start)
    }

    /// Starts a new server. Panics, naming the package to install, when
    /// MariaDB is not installed.
    pub fn start() -> MariaDbServer {
        Self::start_with(false)
    }

    /// Starts a new server that also accepts TLS, with a server certificate
    /// for 127.0.0.1 signed by a test CA ([`ca_cert`](Self::ca_cert)).
    /// Needs the `openssl` command.
    pub fn start_tls() -> MariaDbServer {
        Self::start_with(true)
    }

    /// The test CA's certificate (PEM) of a [`start_tls`](Self::start_tls) server.
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// The user tests log in as over TCP: [`MARIADB_USER`].
    pub fn user(&self) -> &'static str {
        MARIADB_USER
    }

    /// The server's Unix socket, where `root` logs in without a password.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("mysqld.sock")
    }

    fn start_with(tls: bool) -> MariaDbServer {
        capture_logs();
        let mariadbd = mariadb_tool("mariadbd", "mariadb-server");
        let install_db = mariadb_tool("mariadb-install-db", "mariadb-server");
        let client = mariadb_tool("mariadb", "mariadb-client");
        let dir = tempfile::Builder::new()
            .prefix("dmesh-mariadb-")
            .tempdir()
            .expect("temporary directory")
            .keep();
        // From here on a panic drops the guardian, which deletes `dir`.
        let guardian = mariadb_guardian(&dir);
        if tls {
            make_certificates(&dir);
        }
        // mariadbd refuses to run as root unless told to; as root it keeps
        // the files root's own, which the guardian can delete either way.
        let as_root = is_root();
        let mut install = Command::new(install_db);
        install
            .arg("--no-defaults")
            .arg(format!("--datadir={}", dir.join("data").display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"]);
        if as_root {
            install.arg("--user=root");
        }
        run(&mut install);

        let server = MariaDbServer {
            port: free_port(),
            dir,
            mariadbd,
            client,
            tls,
            as_root,
            server: Mutex::new(None),
            _guardian: guardian,
        };
        server.launch();
        // `root` keeps only its socket login; `dmesh` logs in over TCP. The
        // 127.0.0.1 entry is the one TCP logins from loopback match first.
        // A failure's message leaves the password out: it is a canary.
        let users = server.try_sql(
            "mysql",
            &format!(
                "DELETE FROM mysql.global_priv WHERE User = 'root' AND Host <> 'localhost';\n\
                 DELETE FROM mysql.proxies_priv WHERE Host <> 'localhost';\n\
                 FLUSH PRIVILEGES;\n\
                 CREATE USER '{MARIADB_USER}'@'%' IDENTIFIED BY '{MARIADB_PASSWORD}';\n\
                 CREATE USER '{MARIADB_USER}'@'127.0.0.1' IDENTIFIED BY '{MARIADB_PASSWORD}';\n\
                 GRANT ALL PRIVILEGES ON *.* TO '{MARIADB_USER}'@'%';\n\
                 GRANT ALL PRIVILEGES ON *.* TO '{MARIADB_USER}'@'127.0.0.1';"
            ),
        );
        if let Err(e) = users {
            panic!("creating the test user failed: {}", e.replace(MARIADB_PASSWORD, "***"));
        }
        server
    }

    /// Starts mariadbd on this server's data directory and port and waits
    /// until it answers.
    fn launch(&self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))
            .expect("server log file");
        let mut cmd = Command::new(&self.mariadbd);
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", self.dir.join("data").display()))
            .arg(format!("--socket={}", self.socket().display()))
            .arg(format!("--port={}", self.port))
            .args(["--bind-address=127.0.0.1", "--skip-name-resolve", "--innodb-buffer-pool-size=64M"])
            .args(["--innodb-flush-log-at-trx-commit=0", "--skip-log-bin", "--max-connections=200"])
            // Built without option files the server would default to latin1.
            .args(["--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci"])
            .arg(format!("--pid-file={}", self.dir.join("mysqld.pid").display()))
            .arg(format!("--log-error={}", self.dir.join("server.log").display()));
        if self.tls {
            for (option, file) in [("ssl-ca", "ca.crt"), ("ssl-cert", "server.crt"), ("ssl-key", "server.key")] {
                cmd.arg(format!("--{option}={}", self.dir.join(file).display()));
            }
        }
        if self.as_root {
            cmd.arg("--user=root");
        }
        // Its own process group: a terminal's Ctrl-C reaches the test
        // process, whose exit lets the guardian clean up, not the server.
        // Messages from before the log opens (a bad option) go to the log too.
        let child = cmd
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("server log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.mariadbd.display()));
        *self.server.lock().expect("server lock") = Some(child);
        self.wait_ready(Duration::from_secs(30));
    }

    /// Waits until the server answers a query over its socket. Panics with
    /// the server's log when it exits or does not answer in time.
    pub fn wait_ready(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let error = match self.try_sql("", "SELECT 1") {
                Ok(_) => return,
                Err(e) => e,
            };
            if let Some(child) = self.server.lock().expect("server lock").as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("mariadbd exited ({status}) while starting: {}", self.log());
            }
            if Instant::now() > deadline {
                panic!("MariaDB did not come up: {error}\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `mysql://dmesh:...@127.0.0.1:PORT/db`.
    pub fn url(&self, database: &str) -> String {
        format!("mysql://{MARIADB_USER}:{MARIADB_PASSWORD}@127.0.0.1:{}/{database}", self.port)
    }

    /// Runs SQL (one statement or several, `;`-separated) with the `mariadb`
    /// client as `root` over the socket, in `database` (none when empty), and
    /// returns its output: tab-separated rows, no header, values unescaped.
    /// Panics with the client's message on failure.
    pub fn sql(&self, database: &str, sql: &str) -> String {
        self.try_sql(database, sql)
            .unwrap_or_else(|e| panic!("mariadb failed on `{}`: {e}", truncate(sql)))
    }

    /// As [`sql`](Self::sql), returning the client's message on failure.
    pub fn try_sql(&self, database: &str, sql: &str) -> Result<String, String> {
        let mut client = Command::new(&self.client);
        client
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.socket().display()))
            .args(["--user=root", "--batch", "--skip-column-names", "--raw", "--connect-timeout=5"]);
        if !database.is_empty() {
            client.arg(format!("--database={database}"));
        }
        run_with_input(&mut client, sql)
    }

    /// Creates (or re-creates) an empty database.
    pub fn create_database(&self, name: &str) {
        let name = name.replace('`', "``");
        self.sql("", &format!("DROP DATABASE IF EXISTS `{name}`;\nCREATE DATABASE `{name}`;"));
    }

    /// Restarts the server (a clean shutdown, then a start on the same port)
    /// and waits until it answers again.
    pub fn restart(&self) {
        self.stop();
        self.resume();
    }

    /// Stops the server with a clean shutdown; [`resume`](Self::resume)
    /// starts it again. Thaws it first if [`signal_all`](Self::signal_all)
    /// froze it.
    pub fn stop(&self) {
        let Some(mut child) = self.server.lock().expect("server lock").take() else { return };
        let pid = child.id().to_string();
        run(Command::new("kill").args(["-TERM", &pid]));
        let _ = Command::new("kill").args(["-CONT", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("mariadbd did not shut down within 60s: {}", self.log());
                }
            }
        }
    }

    /// Starts a stopped server again on the same port.
    pub fn resume(&self) {
        self.launch();
    }

    /// Sends `signal` (e.g. `STOP`, `CONT`) to the server process (one
    /// process: its sessions are threads), to freeze or thaw the whole server.
    pub fn signal_all(&self, signal: &str) {
        let pid = self
            .server
            .lock()
            .expect("server lock")
            .as_ref()
            .map(Child::id)
            .expect("the server is running");
        run(Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()));
    }

    /// Sessions `user` has open on the server.
    pub fn sessions(&self, user: &str) -> i64 {
        let sql = format!(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '{}'",
            user.replace('\\', "\\\\").replace('\'', "''")
        );
        self.sql("", &sql).parse().unwrap_or(-1)
    }

    /// The server's log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for MariaDbServer {
    fn drop(&mut self) {
        // The server first; then the guardian, dropped after this, deletes
        // the files.
        if let Ok(mut s) = self.server.lock()
            && let Some(mut child) = s.take()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A guardian that kills the MariaDB server of `dir` (the pid in its pid
/// file, while that is a live mariadbd) and removes the directory. It
/// covers the test process's exit, when [`Drop`] does not run.
fn mariadb_guardian(dir: &Path) -> Guardian {
    // A killed server stays a zombie until its orphan is reaped: that counts
    // as gone, and the wait is bounded anyway.
    Guardian::spawn(&format!(
        "pid=$(cat '{dir}/mysqld.pid' 2>/dev/null) || pid=; \
         alive() {{ [ -n \"$pid\" ] && [ \"$(cat /proc/$pid/comm 2>/dev/null)\" = mariadbd ] \
           && ! grep -qs '^State:[[:space:]]*Z' /proc/$pid/status; }}; \
         if alive; then kill -KILL \"$pid\"; i=0; \
           while alive && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done; fi; \
         rm -rf '{dir}'",
        dir = dir.display()
    ))
}

/// A MariaDB program: from `DMESH_MARIADB_BINDIR` when set, else `PATH`,
/// `/usr/sbin` or `/usr/bin`. Panics naming `package` when it is missing.
fn mariadb_tool(name: &str, package: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::env::var_os("DMESH_MARIADB_BINDIR").map(PathBuf::from).into_iter().collect();
    dirs.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    dirs.extend(["/usr/sbin", "/usr/bin"].map(PathBuf::from));
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file()).unwrap_or_else(|| {
        panic!(
            "MariaDB's `{name}` not found: install Debian's `{package}` package (the README's test \
             command does), or set DMESH_MARIADB_BINDIR to the directory holding it"
        )
    })
}

fn truncate(sql: &str) -> String {
    if sql.len() > 200 {
        format!("{}...", &sql[..sql.char_indices().nth(200).map_or(sql.len(), |(i, _)| i)])
    } else {
        sql.to_owned()
    }
}

/// A guardian that stops the cluster in `dir` and removes the directory.
fn pg_guardian(run_as: Option<&str>, bindir: &Path, dir: &Path) -> Guardian {
    let pg_ctl = bindir.join("pg_ctl");
    let data = dir.join("data");
    let as_user = match run_as {
        Some(u) => format!("runuser -u {u} -- "),
        None => String::new(),
    };
    Guardian::spawn(&format!(
        "{as_user}'{}' -D '{}' -m immediate -w stop >/dev/null 2>&1; rm -rf '{}'",
        pg_ctl.display(),
        data.display(),
        dir.display()
    ))
}

/// A process that cleans up after a server (stops it, deletes its files)
/// when the test process lets go of it: when this is dropped, or when the
/// test process exits for any reason and the kernel closes its end of the
/// guardian's stdin. It runs in a process group of its own, so a terminal's
/// Ctrl-C stops the tests but not the cleanup.
#[derive(Debug)]
struct Guardian {
    child: Child,
    pipe: Option<ChildStdin>,
}

impl Guardian {
    /// Starts a guardian that runs `cleanup`, a shell script.
    fn spawn(cleanup: &str) -> Guardian {
        let mut child = Command::new("sh")
            .args(["-c", &format!("read _ignored; {cleanup}")])
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the cleanup guardian");
        let pipe = child.stdin.take();
        Guardian { child, pipe }
    }
}

impl Drop for Guardian {
    fn drop(&mut self) {
        // Closing the pipe starts the cleanup; wait until it is done.
        drop(self.pipe.take());
        let _ = self.child.wait();
    }
}

/// Runs `cmd` with `input` on its stdin and returns its output, trailing
/// whitespace trimmed, or its error output when it fails.
fn run_with_input(cmd: &mut Command, input: &str) -> Result<String, String> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", Path::new(cmd.get_program()).display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
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
