//! The command line: `demo`, `audit`, `rebuild` and `verify` over a data directory.

use crate::{
    clock::SystemClock,
    config::ServeSettings,
    demo::run_demo,
    progress::Progress,
    startup::{shutdown_signal, Application},
};
use clap::{Parser, Subcommand};
use std::sync::Arc;
use std::{io::Write, path::PathBuf};
use steward_events::{Envelope, EventLog, LogError, PgLog, ProjectId, SledLog};
use steward_projections::{
    usage::{Cell, Day},
    Projections,
};

#[derive(Debug, Parser)]
#[command(
    name = "steward",
    version,
    about = "Projects, members, API keys, credits and usage"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: CliCommand,
}

#[derive(Debug, clap::Args)]
pub struct DataDirectory {
    /// Where the event log lives (a sled database).
    #[arg(long, env = "STEWARD_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Serve the HTTP API (Deepgram's Management API v1 and Steward's own commands).
    Serve(Box<ServeSettings>),
    /// Write the Fruit Company scenario into an empty data directory.
    Demo {
        #[command(flatten)]
        data: DataDirectory,
    },
    /// Replay the log as the audit trail, one event per line.
    Audit {
        #[command(flatten)]
        data: DataDirectory,
        /// Only the events concerning this project (a transfer concerns both sides).
        #[arg(long)]
        project: Option<ProjectId>,
        /// JSON lines: every envelope whole.
        #[arg(long)]
        json: bool,
    },
    /// Rebuild every projection from the log and print its name, position and digest.
    Rebuild {
        #[command(flatten)]
        data: DataDirectory,
    },
    /// Export the whole log as portable JSON lines, one envelope per line (to standard
    /// output, or a file).
    Export {
        #[command(flatten)]
        data: DataDirectory,
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Import an export into an empty data directory, keeping every position, version and id;
    /// then verify it.
    Import {
        #[command(flatten)]
        data: DataDirectory,
        #[arg(long)]
        input: PathBuf,
    },
    /// Check the log's integrity and every project's credit conservation: the log in the
    /// data directory, or the PostgreSQL log with `--postgres-url`.
    Verify {
        #[command(flatten)]
        data: DataDirectory,
        /// A PostgreSQL log's connection string (`host=… dbname=…` or `postgresql://…`).
        #[arg(long, env = "STEWARD_POSTGRES_URL")]
        postgres_url: Option<String>,
    },
    /// Copy the sled log of a data directory into an empty PostgreSQL log, keeping every
    /// position, version and id; then verify the copy and compare its read models with the
    /// original's.
    Migrate {
        /// The data directory whose log is copied (it is only read).
        #[arg(long)]
        from_data_dir: PathBuf,
        /// The PostgreSQL log's connection string; its schema is created if need be.
        #[arg(long, env = "STEWARD_POSTGRES_URL")]
        postgres_url: String,
    },
    /// Print a project's bill for one month per tag: requests, units and cost, an untagged
    /// line, and the total.
    Invoice {
        #[command(flatten)]
        data: DataDirectory,
        #[arg(long)]
        project: ProjectId,
        /// The month, as `YYYY-MM` (UTC).
        #[arg(long, value_parser = parse_month)]
        month: Month,
    },
}

/// A calendar month, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    fn first_day(self) -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("a parsed month")
    }

    /// The first day of the month and of the next, as usage days.
    pub fn days(self) -> (Day, Day) {
        let first = self.first_day();
        let next = first
            .checked_add_months(chrono::Months::new(1))
            .expect("months stay in chrono's range");
        let day = |date: chrono::NaiveDate| {
            Day(date
                .signed_duration_since(chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch"))
                .num_days())
        };
        (day(first), day(next))
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{:04}-{:02}", self.year, self.month)
    }
}

/// Parses `YYYY-MM`.
pub fn parse_month(text: &str) -> Result<Month, String> {
    let date = chrono::NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d")
        .map_err(|_| format!("{text:?} is not a month like 2026-11"))?;
    use chrono::Datelike;
    Ok(Month {
        year: date.year(),
        month: date.month(),
    })
}

/// Exact decimal of `value / 10^decimals`, such as `5400.000` seconds from milliseconds.
fn fixed(value: u64, decimals: u32) -> String {
    let scale = 10u64.pow(decimals);
    format!(
        "{}.{:0width$}",
        value / scale,
        value % scale,
        width = decimals as usize
    )
}

/// The invoice of `project_id` for `month`, as printed by `steward invoice`.
pub fn invoice(log: &SledLog, project_id: ProjectId, month: Month) -> Result<String, CliError> {
    let projections = Projections::rebuild(log)?;
    let project = projections
        .membership
        .projects
        .get(&project_id)
        .ok_or(CliError::UnknownProject(project_id))?;
    let (from, to) = month.days();
    let breakdown = projections
        .usage
        .project(project_id)
        .map(|usage| usage.by_tag(from, to))
        .unwrap_or_default();
    let mut lines = vec![
        format!(
            "Invoice for {} (project {project_id}), {month} (UTC)",
            project.name
        ),
        format!(
            "{:<32} {:>9} {:>16} {:>11} {:>10} {:>10} {:>16}",
            "tag",
            "requests",
            "audio seconds",
            "characters",
            "tokens in",
            "tokens out",
            "cost (USD)"
        ),
    ];
    let line = |label: &str, cell: &Cell| {
        format!(
            "{:<32} {:>9} {:>16} {:>11} {:>10} {:>10} {:>16}",
            label,
            cell.requests,
            fixed(cell.audio_milliseconds, 3),
            cell.characters,
            cell.tokens_in,
            cell.tokens_out,
            cell.cost.to_usd_string()
        )
    };
    for (tag, cell) in &breakdown.tags {
        lines.push(line(tag.as_str(), cell));
    }
    lines.push(line("(untagged)", &breakdown.untagged));
    lines.push(line("total", &breakdown.total));
    lines.push(
        "A request carrying several tags is billed under each of its tags and once in the total."
            .into(),
    );
    Ok(lines.join("\n"))
}

/// Why a CLI command failed; printed, then the process exits non-zero.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Demo(#[from] crate::demo::DemoError),
    #[error(transparent)]
    Start(#[from] crate::startup::StartError),
    #[error("input or output: {0}")]
    Output(#[from] std::io::Error),
    #[error("the data directory already holds {0} events; import needs an empty one")]
    NotEmpty(u64),
    #[error("no data directory at {}", .0.display())]
    NoDataDirectory(PathBuf),
    #[error("the PostgreSQL log already holds {0} events; migrate needs an empty one")]
    TargetNotEmpty(u64),
    #[error("line {line} of the import: {reason}")]
    BadImport { line: usize, reason: String },
    #[error(
        "the copy's read models differ from the original's:\n  original: {original:?}\n  copy: {copy:?}"
    )]
    Diverged {
        original: Vec<String>,
        copy: Vec<String>,
    },
    #[error("no project {0} in the log")]
    UnknownProject(ProjectId),
    #[error("project {project_id}: credit is not conserved: {detail}")]
    Unbalanced {
        project_id: ProjectId,
        detail: String,
    },
}

/// One audit line: position, time, actor, event kind, stream, and the event's fields.
pub fn audit_line(envelope: &Envelope) -> String {
    let fields = match serde_json::to_value(&envelope.event) {
        Ok(serde_json::Value::Object(map)) => map
            .into_iter()
            .next()
            .map(|(_, fields)| fields.to_string())
            .unwrap_or_default(),
        _ => String::new(),
    };
    format!(
        "{} {} {} {} {} {}",
        envelope.position,
        envelope.recorded_at,
        envelope.actor,
        envelope.event.kind(),
        envelope.stream,
        fields
    )
}

/// Writes the audit trail of `log` (optionally one project's) to `out`.
pub fn write_audit(
    log: &dyn EventLog,
    project: Option<ProjectId>,
    json: bool,
    out: &mut impl Write,
) -> Result<u64, CliError> {
    write_audit_observed(log, project, json, out, |_| {})
}

/// `write_audit`, telling `read` each position it read.
pub fn write_audit_observed(
    log: &dyn EventLog,
    project: Option<ProjectId>,
    json: bool,
    out: &mut impl Write,
    mut read: impl FnMut(u64),
) -> Result<u64, CliError> {
    let mut written = 0;
    for envelope in log.read_from(1) {
        let envelope = envelope?;
        read(envelope.position);
        if let Some(project_id) = project {
            if !envelope.event.project_ids().any(|id| id == project_id) {
                continue;
            }
        }
        if json {
            let line = serde_json::to_string(&envelope).expect("envelopes serialize to JSON");
            writeln!(out, "{line}")?;
        } else {
            writeln!(out, "{}", audit_line(&envelope))?;
        }
        written += 1;
    }
    Ok(written)
}

/// The most envelopes imported in one atomic batch.
const IMPORT_BATCH: usize = 1000;

/// Imports JSON lines of envelopes into an empty log, telling `imported` each batch's size;
/// answers how many.
pub fn import(
    log: &dyn EventLog,
    input: impl std::io::BufRead,
    mut batch_imported: impl FnMut(u64),
) -> Result<u64, CliError> {
    let head = log.head()?;
    if head > 0 {
        return Err(CliError::NotEmpty(head));
    }
    let mut batch = Vec::with_capacity(IMPORT_BATCH);
    let mut imported = 0;
    for (index, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let envelope: Envelope =
            serde_json::from_str(&line).map_err(|error| CliError::BadImport {
                line: index + 1,
                reason: error.to_string(),
            })?;
        batch.push(envelope);
        if batch.len() == IMPORT_BATCH {
            log.import(&batch)?;
            imported += batch.len() as u64;
            batch_imported(batch.len() as u64);
            batch.clear();
        }
    }
    log.import(&batch)?;
    imported += batch.len() as u64;
    batch_imported(batch.len() as u64);
    Ok(imported)
}

/// Rebuilds every projection, telling `applied` each position, and returns one line per
/// projection.
pub fn rebuild_lines(
    log: &dyn EventLog,
    applied: impl FnMut(u64),
) -> Result<Vec<String>, CliError> {
    let mut projections = Projections::default();
    projections.catch_up_observed(log, applied)?;
    Ok(summary_lines(&projections))
}

/// One line per projection: its name, position and digest.
fn summary_lines(projections: &Projections) -> Vec<String> {
    (projections.summaries().into_iter())
        .map(|summary| {
            format!(
                "{} position={} digest={}",
                summary.name, summary.position, summary.digest
            )
        })
        .collect()
}

/// Verifies the log, then that every project's credit is conserved; `read` is told each
/// position of both passes (the log's check, then the read models' rebuild).
pub fn verify(log: &dyn EventLog, read: impl FnMut(u64)) -> Result<String, CliError> {
    verified(log, read).map(|(verdict, _)| verdict)
}

/// `verify`, answering the read models it rebuilt as well.
fn verified(
    log: &dyn EventLog,
    mut read: impl FnMut(u64),
) -> Result<(String, Projections), CliError> {
    let report = log.verify_observed(&mut read)?;
    let mut projections = Projections::default();
    projections.catch_up_observed(log, &mut read)?;
    for (project_id, credits) in &projections.credits.projects {
        let ledger = credits.ledger;
        let inflow = ledger.granted + ledger.received;
        let outflow = steward_events::LedgerTotal::from(credits.remaining())
            + ledger.consumed
            + ledger.expired
            + ledger.sent;
        if inflow != outflow || credits.grants.values().any(|g| g.remaining.get() < 0) {
            return Err(CliError::Unbalanced {
                project_id: *project_id,
                detail: format!("{ledger:?}, remaining {:?}", credits.remaining()),
            });
        }
    }
    let verdict = format!(
        "ok: {} events, {} streams, {} projects with balanced credit",
        report.events,
        report.streams,
        projections.credits.projects.len()
    );
    Ok((verdict, projections))
}

/// `verify` with its progress: both passes over the log. Answers the read models rebuilt.
fn checked(log: &dyn EventLog) -> Result<(String, Projections), CliError> {
    let mut progress = Progress::start("verify", Some(2 * log.head()?));
    let verdict = verified(log, |_| progress.advance(1));
    progress.finish();
    verdict
}

/// Runs `work` on a thread that may block (the PostgreSQL client's calls do).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, CliError> + Send + 'static,
) -> Result<T, CliError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()))
}

/// Copies `from` into the empty log `into`, IMPORT_BATCH envelopes per import, then verifies
/// `into` and checks that its read models equal those rebuilt from `from`. Answers the lines
/// to print.
pub fn migrate(from: &dyn EventLog, into: &dyn EventLog) -> Result<Vec<String>, CliError> {
    let head = into.head()?;
    if head > 0 {
        return Err(CliError::TargetNotEmpty(head));
    }
    let total = from.head()?;
    let mut progress = Progress::start("migrate", Some(total));
    let mut batch = Vec::with_capacity(IMPORT_BATCH);
    for envelope in from.read_from(1) {
        batch.push(envelope?);
        if batch.len() == IMPORT_BATCH {
            into.import(&batch)?;
            progress.advance(batch.len() as u64);
            batch.clear();
        }
    }
    into.import(&batch)?;
    progress.advance(batch.len() as u64);
    progress.finish();
    let (verdict, copied) = checked(into)?;
    let original = rebuild_lines(from, |_| {})?;
    let copy = summary_lines(&copied);
    if original != copy {
        return Err(CliError::Diverged { original, copy });
    }
    Ok(vec![
        format!("migrated {total} events"),
        verdict,
        format!(
            "read models equal the original's: {} projections",
            copy.len()
        ),
    ])
}

/// Runs a parsed command line, writing results to standard output.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cli.command {
        CliCommand::Serve(settings) => {
            let application = Application::build(*settings, Arc::new(SystemClock)).await?;
            application.run_until_stopped(shutdown_signal()).await?;
        }
        CliCommand::Demo { data } => {
            let report = run_demo(&data.data_dir).await?;
            writeln!(out, "demo written to {}", data.data_dir.display())?;
            writeln!(out, "fruit company project: {}", report.fruit_company)?;
            writeln!(out, "fruit labs project: {}", report.fruit_labs)?;
            writeln!(out, "events: {}", report.events)?;
            writeln!(out, "requests recorded: {}", report.requests_recorded)?;
            writeln!(
                out,
                "requests refused after the pear key's creator was removed: {}",
                report.requests_refused_after_removal
            )?;
        }
        CliCommand::Audit {
            data,
            project,
            json,
        } => {
            let log = SledLog::open(&data.data_dir)?;
            write_audit(&log, project, json, &mut out)?;
        }
        CliCommand::Rebuild { data } => {
            let log = SledLog::open(&data.data_dir)?;
            let mut progress = Progress::start("rebuild", Some(log.head()));
            let lines = rebuild_lines(&log, |_| progress.advance(1))?;
            progress.finish();
            for line in lines {
                writeln!(out, "{line}")?;
            }
        }
        CliCommand::Export { data, output } => {
            let log = SledLog::open(&data.data_dir)?;
            let mut progress = Progress::start("export", Some(log.head()));
            let read = |_| progress.advance(1);
            match output {
                Some(path) => {
                    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
                    write_audit_observed(&log, None, true, &mut file, read)?;
                    file.flush()?;
                    file.into_inner()
                        .map_err(|error| error.into_error())?
                        .sync_all()?;
                }
                None => {
                    write_audit_observed(&log, None, true, &mut out, read)?;
                }
            }
            progress.finish();
        }
        CliCommand::Import { data, input } => {
            let log = SledLog::open(&data.data_dir)?;
            let file = std::io::BufReader::new(std::fs::File::open(input)?);
            let mut progress = Progress::start("import", None);
            let imported = import(&log, file, |events| progress.advance(events))?;
            progress.finish();
            writeln!(out, "imported {imported} events")?;
            writeln!(out, "{}", checked(&log)?.0)?;
        }
        CliCommand::Verify {
            data,
            postgres_url: None,
        } => {
            let log = SledLog::open(&data.data_dir)?;
            writeln!(out, "{}", checked(&log)?.0)?;
        }
        CliCommand::Verify {
            postgres_url: Some(url),
            ..
        } => {
            // The PostgreSQL client blocks: off the async runtime.
            let verdict = blocking(move || Ok(checked(&PgLog::open(&url)?)?.0)).await?;
            writeln!(out, "{verdict}")?;
        }
        CliCommand::Migrate {
            from_data_dir,
            postgres_url,
        } => {
            let lines = blocking(move || {
                // Opening would create an empty log where there is none.
                if !from_data_dir.is_dir() {
                    return Err(CliError::NoDataDirectory(from_data_dir));
                }
                let from = SledLog::open(&from_data_dir)?;
                let into = PgLog::open(&postgres_url)?;
                migrate(&from, &into)
            })
            .await?;
            for line in lines {
                writeln!(out, "{line}")?;
            }
        }
        CliCommand::Invoice {
            data,
            project,
            month,
        } => {
            let log = SledLog::open(&data.data_dir)?;
            writeln!(out, "{}", invoice(&log, project, month)?)?;
        }
    }
    Ok(())
}
