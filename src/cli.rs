//! Command-line interface: `serve`, `migrate`, `backup`, `restore`,
//! `version`, `config check`, `bench` and `admin create-superadmin`; hidden:
//! `completions SHELL` and `man` (for packaging), `extract-worker` (internal).
//!
//! Exit codes: 0 success, 1 failure at run time, 2 bad usage or configuration.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};

use crate::app::{AppState, Application, OpenOptions, StartError};
use crate::config::{CliOverrides, Config};
use crate::crypto::{KeyError, Keys};
use crate::db::{self, DataLock, FileState};
use crate::keycheck::{self, KeyPolicy, short_check};

#[derive(Debug, Parser)]
#[command(
    name = "botbuilder",
    version,
    about = "A complete chatbot-building platform in one binary and one SQLite file."
)]
struct Cli {
    /// TOML configuration file (default: ./botbuilder.toml when present).
    #[arg(long, global = true, env = "BOTBUILDER_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (API, web UI, background jobs).
    Serve {
        #[command(flatten)]
        args: ServeArgs,
        /// Accept a master key that does not match the data file: secrets it
        /// cannot decrypt are cleared, listed and audited.
        #[arg(long)]
        rekey: bool,
    },
    /// Apply pending schema migrations and exit.
    Migrate(DataArgs),
    /// Write a consistent copy of the database to OUT (safe while `serve` runs).
    Backup {
        /// The backup file to create; must not exist.
        out: PathBuf,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Replace the data file with the backup IN (the server must be stopped).
    /// The master key must be the one the backup was written with.
    Restore {
        /// A file written by `botbuilder backup`.
        input: PathBuf,
        #[command(flatten)]
        data: DataArgs,
        /// Master key file [default: <data>.key; env `BOTBUILDER_SECRET_KEY_FILE`].
        #[arg(long)]
        secret_key_file: Option<PathBuf>,
        /// Accept a master key that does not match the backup (or create a
        /// new one): secrets it cannot decrypt are cleared, listed and audited.
        #[arg(long)]
        rekey: bool,
    },
    /// Print the version and the schema version.
    Version,
    /// Configuration commands.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Run benchmarks and print a report (`--json`: one JSON object on the last line).
    Bench(crate::bench::BenchArgs),
    /// Superadmin commands.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Export commands (`export bot`): one file per bot (docs/export.md).
    #[command(subcommand)]
    Export(ExportCommand),
    /// Import an export file into an organization with new ids; all or
    /// nothing. `--dry-run` prints what would be created and changes nothing.
    /// Works while `serve` runs.
    Import {
        /// A file written by `botbuilder export bot` or downloaded from the API.
        input: PathBuf,
        /// The organization to import into.
        #[arg(long)]
        org: i64,
        /// Check and report only.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Import an organization export as a new organization owned by an
    /// existing account, with new ids and the exported plan; all or nothing.
    /// `--dry-run` prints what would be created, left out and matched, and
    /// changes nothing. Works while `serve` runs.
    #[command(name = "import-org")]
    ImportOrg {
        /// A file downloaded from `GET /api/v1/orgs/{org_id}/export`.
        input: PathBuf,
        /// The email of the account that will own the new organization.
        #[arg(long)]
        owner: String,
        /// Check and report only.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Internal: extracts one document's text (bytes on stdin, JSON on stdout)
    /// within the given limits; the server runs it for every document.
    #[command(name = "extract-worker", hide = true)]
    ExtractWorker(ExtractWorkerArgs),
    /// Packaging: print the shell completion script for SHELL (bash, zsh,
    /// fish, elvish, powershell) generated from this command line definition.
    #[command(hide = true)]
    Completions { shell: clap_complete::Shell },
    /// Packaging: print the botbuilder(1) man page (roff) generated from this
    /// command line definition.
    #[command(hide = true)]
    Man,
}

#[derive(Debug, Args)]
struct ExtractWorkerArgs {
    /// The document type (pdf, docx, html, csv, json, txt, md).
    #[arg(long)]
    kind: String,
    /// Address space the worker may add to its size at start.
    #[arg(long)]
    memory_bytes: u64,
    /// CPU seconds before the kernel stops the worker.
    #[arg(long)]
    cpu_secs: u64,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create a superadmin account, or make an existing account superadmin.
    /// The password of a new account is read from stdin (prompted without
    /// echo on a terminal), never from the command line. Works while
    /// `serve` runs.
    CreateSuperadmin {
        /// The account's email address.
        #[arg(long)]
        email: String,
        /// The display name of a new account.
        #[arg(long, default_value = "Administrator")]
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Debug, Subcommand)]
enum ExportCommand {
    /// Write one bot (flows, NLU data and model, knowledge, widget, canned
    /// messages) to OUT. Works while `serve` runs.
    Bot {
        /// The bot's id.
        #[arg(long)]
        bot: i64,
        /// The file to create; must not exist.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Load and validate the configuration, then print it.
    Check(ServeArgs),
}

#[derive(Debug, Args, Clone, Default)]
pub struct DataArgs {
    /// The `SQLite` data file [default: ./botbuilder.db; env `BOTBUILDER_DATA`].
    #[arg(long)]
    pub data: Option<PathBuf>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Address to listen on [default: 127.0.0.1:8080; env `BOTBUILDER_BIND`].
    #[arg(long)]
    pub bind: Option<String>,
    /// Master key file [default: <data>.key; env `BOTBUILDER_SECRET_KEY_FILE`].
    #[arg(long)]
    pub secret_key_file: Option<PathBuf>,
}

/// Parses arguments and runs the command.
#[must_use]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config_file = cli.config.clone();
    let load = |args: ServeArgs| -> Result<Config, ExitCode> {
        let overrides = CliOverrides { data: args.data.data, bind: args.bind, secret_key_file: args.secret_key_file };
        let config = Config::load(config_file.as_deref(), &overrides).map_err(|e| fail(2, &e))?;
        config.validate().map_err(|e| fail(2, &e))?;
        Ok(config)
    };
    let data_only = |data: DataArgs| ServeArgs { data, ..ServeArgs::default() };
    let result = match cli.command {
        Command::Serve { args, rekey } => load(args).and_then(|c| serve(c, key_policy(rekey))),
        Command::Migrate(data) => load(data_only(data)).and_then(|c| migrate(&c)),
        Command::Backup { out, data } => load(data_only(data)).and_then(|c| backup(&c, &out)),
        Command::Restore { input, data, secret_key_file, rekey } => {
            load(ServeArgs { data, secret_key_file, ..ServeArgs::default() })
                .and_then(|c| restore(&c, &input, key_policy(rekey)))
        }
        Command::Version => {
            say(&format!("botbuilder {} (schema version {})", env!("CARGO_PKG_VERSION"), db::latest_version()));
            Ok(())
        }
        Command::Config(ConfigCommand::Check(args)) => load(args).map(|config| {
            say(&serde_json::to_string_pretty(&config).unwrap_or_default());
            say("configuration is valid");
        }),
        Command::Bench(args) => load(ServeArgs::default())
            .and_then(|c| crate::bench::run(&args, &c.ml).map_err(|e| fail(1, &format!("{e:#}")))),
        Command::Admin(AdminCommand::CreateSuperadmin { email, name, data }) => {
            load(data_only(data)).and_then(|c| create_superadmin(&c, &email, &name))
        }
        Command::Export(ExportCommand::Bot { bot, out, data }) => {
            load(data_only(data)).and_then(|c| export_bot(&c, bot, &out))
        }
        Command::Import { input, org, dry_run, data } => {
            load(data_only(data)).and_then(|c| import_file(&c, &input, org, dry_run))
        }
        Command::ImportOrg { input, owner, dry_run, data } => {
            load(data_only(data)).and_then(|c| import_org_file(&c, &input, &owner, dry_run))
        }
        Command::ExtractWorker(args) => extract_worker(&args),
        Command::Completions { shell } => completions(shell),
        Command::Man => man_page(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

fn key_policy(rekey: bool) -> KeyPolicy {
    if rekey { KeyPolicy::Rekey } else { KeyPolicy::Strict }
}

fn serve(config: Config, key_policy: KeyPolicy) -> Result<(), ExitCode> {
    crate::telemetry::init(&config.log);
    let timeout = std::time::Duration::from_secs(config.http.shutdown_timeout_secs);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| fail(1, &e))?;
    let lock = runtime.block_on(async move {
        let app =
            Application::build_with(config, OpenOptions { key_policy }).map_err(|e| fail(start_exit_code(&e), &e))?;
        if let Some(report) = app.rekeyed() {
            report.lines().iter().for_each(|line| say(line));
        }
        spawn_exit_deadline(timeout);
        app.run().await.map_err(|e| fail(1, &e))
    })?;
    // Exit here, the data-file lock in hand: dropping the runtime would wait
    // for blocking threads (a stuck extraction, a busy write) with the lock
    // already released, letting a second server open the file meanwhile.
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    let _held = lock;
    std::process::exit(0)
}

/// After the first SIGINT/SIGTERM, exits with code 0 once the shutdown
/// timeout has passed, whatever a worker is still doing; the data-file lock
/// is held until then because the process is alive.
fn spawn_exit_deadline(timeout: std::time::Duration) {
    tokio::spawn(async move {
        if !crate::app::stop_signal().await {
            return;
        }
        let spawned = std::thread::Builder::new().name("shutdown-deadline".into()).spawn(move || {
            std::thread::sleep(timeout);
            tracing::warn!(
                timeout_secs = timeout.as_secs(),
                "shutdown did not finish within the shutdown timeout; exiting now (the WAL is kept and replayed on the next start)"
            );
            let _ = std::io::stderr().flush();
            std::process::exit(0);
        });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the shutdown deadline thread");
        }
    });
}

fn start_exit_code(e: &StartError) -> u8 {
    match e {
        StartError::Config(_) | StartError::Data(_) | StartError::Key(_) | StartError::Lock(_) => 2,
        StartError::Bind { .. } | StartError::Other(_) => 1,
    }
}

fn migrate(config: &Config) -> Result<(), ExitCode> {
    let before = db::inspect(&config.data).map_err(|e| fail(2, &e))?;
    let (state, _lock) = AppState::open(config.clone()).map_err(|e| fail(start_exit_code(&e), &e))?;
    // Leave one self-contained file, as a server's shutdown does: start-up
    // writes (seeds) would otherwise stay in the WAL.
    state.db.checkpoint().map_err(|e| fail(1, &e))?;
    drop(state);
    let from = match before {
        FileState::New => "a new database".to_owned(),
        FileState::Botbuilder { version } => format!("schema version {version}"),
    };
    say(&format!("{}: migrated from {from} to schema version {}", config.data.display(), db::latest_version()));
    Ok(())
}

fn backup(config: &Config, out: &Path) -> Result<(), ExitCode> {
    match db::inspect(&config.data).map_err(|e| fail(2, &e))? {
        FileState::New => return Err(fail(2, &format!("{}: no database to back up", config.data.display()))),
        FileState::Botbuilder { .. } => {}
    }
    db::register_sqlite_vec();
    let started = Instant::now();
    let conn = rusqlite::Connection::open_with_flags(&config.data, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| fail(1, &e))?;
    conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(|e| fail(1, &e))?;
    db::backup_connection(&conn, out).map_err(|e| fail(2, &e))?;
    db::integrity_check(out).map_err(|e| fail(1, &e))?;
    let size = std::fs::metadata(out).map_or(0, |m| m.len());
    say(&format!(
        "wrote {} ({size} bytes) in {:.2} s; integrity check ok",
        out.display(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

fn restore(config: &Config, input: &Path, key_policy: KeyPolicy) -> Result<(), ExitCode> {
    let target = &config.data;
    if std::fs::canonicalize(input).ok().is_some_and(|i| std::fs::canonicalize(target).ok().is_some_and(|t| t == i)) {
        return Err(fail(2, &"the backup and the data file are the same file"));
    }
    let version = match db::inspect(input).map_err(|e| fail(2, &e))? {
        FileState::New => return Err(fail(2, &format!("{}: empty or not a botbuilder backup", input.display()))),
        FileState::Botbuilder { version } => version,
    };
    db::integrity_check(input).map_err(|e| fail(2, &e))?;
    let lock = DataLock::acquire(target).map_err(|e| fail(2, &e))?;
    // The key must match the backup before the data file is replaced; a
    // missing key file is not created here (it may just not be copied yet).
    let stored = keycheck::stored_check(input).map_err(|e| fail(2, &e))?;
    if key_policy == KeyPolicy::Strict
        && let Some(stored) = stored.as_deref()
    {
        let key_path = config.secret_key_path();
        match Keys::load(&key_path).map_err(|e| fail(2, &e))? {
            Some(keys) if keys.check_value() == stored => {}
            found => {
                let e = match found {
                    Some(keys) => KeyError::Mismatch {
                        data: input.to_owned(),
                        path: key_path,
                        stored: short_check(stored),
                        found: short_check(&keys.check_value()),
                    },
                    None => KeyError::Missing { data: input.to_owned(), path: key_path, stored: short_check(stored) },
                };
                return Err(fail(2, &e));
            }
        }
    }

    let dir = config.data_dir();
    let staged = tempfile::Builder::new().prefix(".botbuilder-restore").tempfile_in(&dir).map_err(|e| fail(1, &e))?;
    std::fs::copy(input, staged.path()).map_err(|e| fail(1, &e))?;
    staged.as_file().sync_all().map_err(|e| fail(1, &e))?;
    if target.exists() {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        for suffix in ["", "-wal", "-shm"] {
            let from = PathBuf::from(format!("{}{suffix}", target.display()));
            if from.exists() {
                let to = PathBuf::from(format!("{}.pre-restore-{stamp}{suffix}", target.display()));
                std::fs::rename(&from, &to).map_err(|e| fail(1, &e))?;
                if suffix.is_empty() {
                    say(&format!("kept the previous data file as {}", to.display()));
                }
            }
        }
    }
    staged.persist(target).map_err(|e| fail(1, &e.error))?;
    drop(lock);
    // Bring an older backup up to this binary's schema (and re-key it when asked).
    let (state, _lock, rekeyed) =
        AppState::open_with(config.clone(), OpenOptions { key_policy }).map_err(|e| fail(start_exit_code(&e), &e))?;
    drop(state);
    if let Some(report) = rekeyed {
        report.lines().iter().for_each(|line| say(line));
    }
    say(&format!(
        "restored {} into {} (schema version {version} → {})",
        input.display(),
        target.display(),
        db::latest_version()
    ));
    Ok(())
}

fn create_superadmin(config: &Config, email: &str, name: &str) -> Result<(), ExitCode> {
    use crate::admin::service::{SuperadminOutcome, create_superadmin};
    // Not the data lock: this works beside a running server (SQLite
    // serializes the writes); migrations are a no-op on a current file.
    let db = db::Db::open(&config.data, &config.db).map_err(|e| fail(2, &e))?;
    let exists = db
        .read_blocking(|c| {
            let normalized = crate::accounts::service::normalize_email(email)?;
            Ok(crate::accounts::store::find_by_email(c, &normalized)?.is_some())
        })
        .map_err(|e| fail(2, &e))?;
    let password = if exists { None } else { Some(read_password().map_err(|e| fail(2, &e))?) };
    let outcome = create_superadmin(&db, email, name, password.as_deref()).map_err(|e| {
        let field = e.details().and_then(|d| d.get("field")).and_then(|f| f.as_str()).unwrap_or("error");
        fail(2, &format!("{field}: {}", e.message()))
    })?;
    match outcome {
        SuperadminOutcome::Created(id) => say(&format!("created superadmin {email} (user {id}); sign in at /admin")),
        SuperadminOutcome::Promoted(id) => say(&format!("{email} (user {id}) is now a superadmin")),
        SuperadminOutcome::AlreadySuperadmin(id) => say(&format!("{email} (user {id}) already is a superadmin")),
    }
    Ok(())
}

/// `botbuilder export bot`: not the data lock, like `backup` (a read snapshot).
fn export_bot(config: &Config, bot: i64, out: &Path) -> Result<(), ExitCode> {
    use crate::http::Tenant;
    use crate::ids::{BotId, OrgId};
    if out.exists() {
        return Err(fail(2, &format!("{} already exists", out.display())));
    }
    let db = db::Db::open(&config.data, &config.db).map_err(|e| fail(2, &e))?;
    let org: Option<i64> = db
        .read_blocking(|c| {
            Ok(rusqlite::OptionalExtension::optional(c.query_row(
                "SELECT organization_id FROM bots WHERE id = ?1",
                [bot],
                |r| r.get(0),
            ))?)
        })
        .map_err(|e| fail(1, &e))?;
    let Some(org) = org else { return Err(fail(2, &format!("no bot {bot} in this data file"))) };
    let tenant = Tenant::system(OrgId(org), "the operator exports a bot from the command line");
    let (bundle, zip) =
        db.read_blocking(|c| crate::portability::export_bot_file(c, &tenant, BotId(bot))).map_err(|e| fail(1, &e))?;
    std::fs::write(out, &zip).map_err(|e| fail(1, &format!("cannot write {}: {e}", out.display())))?;
    let rows: usize = bundle.tables.iter().map(|(_, r)| r.len()).sum();
    say(&format!("exported bot {bot} to {} ({} bytes, {rows} rows)", out.display(), zip.len()));
    Ok(())
}

/// `botbuilder import`: one write transaction; the organization's owner is the importing user.
fn import_file(config: &Config, input: &Path, org: i64, dry_run: bool) -> Result<(), ExitCode> {
    use crate::portability::{bundle::Bundle, engine::Target};
    let bytes = std::fs::read(input).map_err(|e| fail(2, &format!("cannot read {}: {e}", input.display())))?;
    let bundle = Bundle::from_zip(&bytes).map_err(|e| fail(2, &format!("{}: {}", e.code().as_str(), e.message())))?;
    let db = db::Db::open(&config.data, &config.db).map_err(|e| fail(2, &e))?;
    let owner: Option<i64> = db
        .read_blocking(|c| {
            Ok(rusqlite::OptionalExtension::optional(c.query_row(
                "SELECT owner_id FROM organizations WHERE id = ?1",
                [org],
                |r| r.get(0),
            ))?)
        })
        .map_err(|e| fail(1, &e))?;
    let Some(owner) = owner else { return Err(fail(2, &format!("no organization {org} in this data file"))) };
    let target = Target { org_id: org, actor: Some(owner) };
    let report = db
        .write_blocking(|tx| crate::portability::import_bot_file(tx, &target, &bundle, dry_run, None))
        .map_err(|e| import_failure(&e))?;
    say(&serde_json::to_string_pretty(&report).unwrap_or_default());
    Ok(())
}

/// Exit code of a failed import: 2 for a bad file or request (a 4xx error), 1 otherwise.
fn import_failure(e: &crate::error::AppError) -> ExitCode {
    let code = if e.code().status().is_client_error() { 2 } else { 1 };
    fail(code, &format!("{}: {}", e.code().as_str(), e.message()))
}

/// `botbuilder import-org`: one write transaction; nothing is written on a
/// dry run or a failure.
fn import_org_file(config: &Config, input: &Path, owner: &str, dry_run: bool) -> Result<(), ExitCode> {
    use crate::portability::{bundle::Bundle, org_import::OrgImportOptions};
    let bytes = std::fs::read(input).map_err(|e| fail(2, &format!("cannot read {}: {e}", input.display())))?;
    let bundle = Bundle::from_zip(&bytes).map_err(|e| import_failure(&e))?;
    let db = db::Db::open(&config.data, &config.db).map_err(|e| fail(2, &e))?;
    let email = owner.to_owned();
    let owner_id: Option<i64> = db
        .read_blocking(move |c| {
            Ok(rusqlite::OptionalExtension::optional(c.query_row(
                "SELECT id FROM users WHERE lower(email) = lower(?1)",
                [email],
                |r| r.get(0),
            ))?)
        })
        .map_err(|e| fail(1, &e))?;
    let Some(owner_id) = owner_id else { return Err(fail(2, &format!("no account {owner} in this data file"))) };
    let options = OrgImportOptions { owner: crate::ids::UserId(owner_id), keep_plan: true, dry_run };
    let report = db
        .write_blocking(|tx| crate::portability::import_org_file(tx, &bundle, &options))
        .map_err(|e| import_failure(&e))?;
    say(&serde_json::to_string_pretty(&report).unwrap_or_default());
    Ok(())
}

/// Reads a new password: prompted twice without echo on a terminal, else
/// the first line of stdin.
fn read_password() -> Result<String, String> {
    use std::io::{BufRead, IsTerminal};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin.lock().read_line(&mut line).map_err(|e| format!("cannot read the password from stdin: {e}"))?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        if password.is_empty() {
            return Err("no password on stdin".to_owned());
        }
        return Ok(password);
    }
    let first = prompt_hidden("Password: ")?;
    let second = prompt_hidden("Repeat the password: ")?;
    if first != second {
        return Err("the passwords differ".to_owned());
    }
    Ok(first)
}

fn prompt_hidden(prompt: &str) -> Result<String, String> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    use std::io::BufRead;
    let stdin = std::io::stdin();
    let _ = write!(std::io::stderr(), "{prompt}");
    let _ = std::io::stderr().flush();
    let saved = tcgetattr(&stdin).map_err(|e| format!("cannot read the terminal settings: {e}"))?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    tcsetattr(&stdin, OptionalActions::Now, &quiet).map_err(|e| format!("cannot turn echo off: {e}"))?;
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    let _ = tcsetattr(&stdin, OptionalActions::Now, &saved);
    let _ = writeln!(std::io::stderr());
    read.map_err(|e| format!("cannot read the password: {e}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Runs one extraction worker (see `knowledge::extract::worker`): no
/// configuration, no data file; the reply, success or error, goes to stdout.
fn extract_worker(args: &ExtractWorkerArgs) -> Result<(), ExitCode> {
    if crate::knowledge::extract::worker::run(&args.kind, args.memory_bytes, args.cpu_secs) {
        Ok(())
    } else {
        Err(ExitCode::from(1))
    }
}

/// The command line definition that packaging documents: the hidden
/// packaging and internal subcommands stay out of completions and the man page.
fn packaged_command() -> clap::Command {
    use clap::CommandFactory;
    Cli::command()
}

fn completions(shell: clap_complete::Shell) -> Result<(), ExitCode> {
    let mut command = packaged_command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "botbuilder", &mut out);
    std::io::stdout().write_all(&out).map_err(|e| fail(1, &e))
}

fn man_page() -> Result<(), ExitCode> {
    let mut out = Vec::new();
    clap_mangen::Man::new(packaged_command()).render(&mut out).map_err(|e| fail(1, &e))?;
    std::io::stdout().write_all(&out).map_err(|e| fail(1, &e))
}

fn say(line: &str) {
    let _ = writeln!(std::io::stdout(), "{line}");
}

fn fail(code: u8, error: &dyn std::fmt::Display) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "error: {error}");
    ExitCode::from(code)
}
