//! `augur trace …`: read a kernel trace file on the host and summarise or convert it.
//!
//! The file is what `augur --trace FILE` wrote from COM2: CRC-checked chunks of records
//! (`kernel/src/trace/FORMAT.md`), decoded with the kernel's own
//! [`TraceReader`](augur_kernel::trace::TraceReader) so host and kernel share one codec. Three
//! subcommands:
//! - `summary`: counts, ticks covered, whether the trace is complete (its end record),
//!   per-class turnaround/response/wait, decisions and fallbacks per head, losses and damage,
//!   as a plain aligned table ([`summary`]);
//! - `export`: one CSV row or JSON line per record, with the telemetry and candidate-feature
//!   names of `augur_kernel::telemetry` as column names / keys ([`export`]);
//! - `perfetto`: Chrome trace-event JSON for ui.perfetto.dev, one track per task
//!   ([`perfetto`]).
//!
//! # Damage and exit status
//! A damaged file (truncated, bit-flipped, garbage in the middle) decodes up to each damaged
//! place and resumes at the next chunk; every damaged place is reported on stderr as one line
//! naming its byte offset and the reason, and the output covers what was decoded. Exit status:
//! 0 when at least one record decoded (even with damage), 1 when the file cannot be read, no
//! record decodes or the output cannot be written, 2 when the file does not exist or `-o`
//! names the input file itself (and for usage errors, as everywhere in `augur`). A reader that
//! closes the pipe early (`| head`) is not an error.
//!
//! # Notes
//! The running intervals, CPU ticks and waiting time all come from one reconstruction of the
//! decision timeline ([`timeline`]), so the summary and the Perfetto view cannot disagree.

mod export;
mod names;
mod perfetto;
mod summary;
mod timeline;

use augur_kernel::trace::{Entry, StreamError, TraceReader};
use clap::{Args, Subcommand};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Timer ticks per second the kernel runs at by default (`augur --hz`); the trace itself
/// carries no rate.
const DEFAULT_HZ: u32 = 1000;

/// Exit status when the file cannot be read, nothing decodes or the output fails.
const EXIT_FAILED: u8 = 1;

/// Exit status when the trace file does not exist.
const EXIT_MISSING: u8 = 2;

/// The exit-status paragraph of every `augur trace` help text (see the module docs).
const EXIT_STATUS_HELP: &str = "Exit status: 0 when at least one record decoded, even if \
    the file is damaged (each damaged place is reported on stderr as one line with its byte \
    offset and the reason; the output covers what was decoded); 1 when the file cannot be \
    read, no record decodes or the output cannot be written; 2 when the file does not exist, \
    -o names the input file itself, or the options are wrong.";

/// Arguments of `augur trace`.
#[derive(Args, Debug)]
#[command(after_help = EXIT_STATUS_HELP)]
pub struct TraceArgs {
    #[command(subcommand)]
    command: TraceCommand,
}

/// What to do with the trace.
#[derive(Subcommand, Debug)]
enum TraceCommand {
    /// Print record counts, ticks covered, whether the trace is complete (end marker),
    /// per-class turnaround/response/wait (ticks), decisions per head, by policy, fallbacks by
    /// reason, dropped records and damage.
    #[command(after_help = EXIT_STATUS_HELP)]
    Summary {
        /// The trace file.
        file: PathBuf,
        #[command(flatten)]
        rate: Rate,
    },
    /// Write one row (CSV) or one JSON object (JSON Lines) per record.
    ///
    /// CSV columns, in order: tick, kind, task, name, task_class, status, dropped, records,
    /// head, chosen, policy, fallback, width, candidate, score, schema, the 8 sched candidate
    /// features (cpu_recent … running), feature_0 … feature_31 (candidates of other heads),
    /// the 12 sched telemetry fields (runnable … cpu_recent_mean) and other_sections
    /// (name:version:v1;v2;… per other telemetry section). A decision gives one row per
    /// candidate (candidate = its id, and task too for the sched head; one row with empty
    /// candidate columns when it has none); columns a kind does not use are empty. JSON
    /// Lines: one object per record with a "kind" key and named fields; telemetry as
    /// "sections" keyed by section name ({version, fields}), candidates as an array of {id,
    /// features, score}, sched features keyed by name.
    #[command(after_help = EXIT_STATUS_HELP)]
    Export {
        /// The trace file.
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = export::Format::Csv)]
        format: export::Format,
        /// Write here instead of stdout.
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
    },
    /// Write Chrome trace-event JSON that opens in ui.perfetto.dev (or chrome://tracing):
    /// one track per task with its running intervals, instants for spawn, block, wake, exit
    /// and fallbacks, and counters for runnable, blocked and alive tasks.
    #[command(after_help = EXIT_STATUS_HELP)]
    Perfetto {
        /// The trace file.
        file: PathBuf,
        /// The JSON file to write.
        #[arg(short, long, value_name = "OUT.json")]
        output: PathBuf,
        #[command(flatten)]
        rate: Rate,
    },
}

/// How ticks become time.
#[derive(Args, Debug, Clone, Copy)]
struct Rate {
    /// Timer ticks per second the traced kernel ran at (`augur --hz`); the trace does not
    /// record it.
    #[arg(long, default_value_t = DEFAULT_HZ,
          value_parser = clap::value_parser!(u32).range(1..))]
    hz: u32,
}

impl TraceCommand {
    /// The trace file the subcommand reads.
    fn file(&self) -> &Path {
        match self {
            TraceCommand::Summary { file, .. }
            | TraceCommand::Export { file, .. }
            | TraceCommand::Perfetto { file, .. } => file,
        }
    }
}

impl TraceCommand {
    /// The file the subcommand writes, if it writes one.
    fn output(&self) -> Option<&Path> {
        match self {
            TraceCommand::Summary { .. } => None,
            TraceCommand::Export { output, .. } => output.as_deref(),
            TraceCommand::Perfetto { output, .. } => Some(output),
        }
    }
}

/// Whether `a` and `b` name one existing file, by whatever paths (links, `..`, hard links):
/// the same device and inode on Unix, the same canonical path elsewhere. A path that does not
/// exist yet is no existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let _ = (&ma, &mb);
        ma.dev() == mb.dev() && ma.ino() == mb.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (ma, mb);
        matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(x), Ok(y)) if x == y
        )
    }
}

/// A decoded trace: every record that decoded, in stream order, and every damaged place.
pub struct Trace<'a> {
    /// The records, with their chunk and byte offset.
    pub entries: Vec<Entry<'a>>,
    /// Where the stream could not be decoded, and why, in stream order.
    pub damage: Vec<StreamError>,
    /// Size of the file in bytes.
    pub bytes: usize,
}

impl<'a> Trace<'a> {
    /// Decodes all of `data`, keeping going past damage.
    pub fn decode(data: &'a [u8]) -> Trace<'a> {
        let mut trace = Trace {
            entries: Vec::new(),
            damage: Vec::new(),
            bytes: data.len(),
        };
        for item in TraceReader::new(data) {
            match item {
                Ok(entry) => trace.entries.push(entry),
                Err(damage) => trace.damage.push(damage),
            }
        }
        trace
    }
}

/// Runs `augur trace`.
pub fn run(args: TraceArgs) -> ExitCode {
    let file = args.command.file().to_path_buf();
    if let Some(output) = args.command.output()
        && same_file(&file, output)
    {
        eprintln!(
            "augur trace: the output {} is the input trace {} itself: writing it would \
             destroy the trace; choose another -o path",
            output.display(),
            file.display()
        );
        return ExitCode::from(EXIT_MISSING);
    }
    let bytes = match read_trace(&file) {
        Ok(bytes) => bytes,
        Err(status) => return status,
    };
    let trace = Trace::decode(&bytes);
    for damage in &trace.damage {
        eprintln!("augur trace: {}: {damage}", file.display());
    }
    if trace.entries.is_empty() {
        eprintln!(
            "augur trace: {}: no trace records could be decoded from its {} bytes",
            file.display(),
            trace.bytes
        );
        return ExitCode::from(EXIT_FAILED);
    }
    match write_output(args.command, &file, &trace) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("augur trace: {message}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// Reads the whole trace file, or says why not and gives the exit status.
fn read_trace(file: &Path) -> Result<Vec<u8>, ExitCode> {
    std::fs::read(file).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            eprintln!("augur trace: {}: no such file", file.display());
            ExitCode::from(EXIT_MISSING)
        } else {
            eprintln!("augur trace: cannot read {}: {e}", file.display());
            ExitCode::from(EXIT_FAILED)
        }
    })
}

/// Runs the subcommand's writer over the decoded trace; the error is a message for the user.
fn write_output(command: TraceCommand, file: &Path, trace: &Trace<'_>) -> Result<(), String> {
    match command {
        TraceCommand::Summary { rate, .. } => {
            with_output(None, |out| summary::write(out, file, trace, rate.hz))
        }
        TraceCommand::Export { format, output, .. } => {
            with_output(output.as_deref(), |out| export::write(out, format, trace))
        }
        TraceCommand::Perfetto { output, rate, .. } => {
            with_output(Some(&output), |out| perfetto::write(out, trace, rate.hz))
        }
    }
}

/// Opens `path` (stdout when `None`), runs `body` on it buffered and flushes; an error names
/// where the output was going.
fn with_output(
    path: Option<&Path>,
    body: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), String> {
    let (target, sink): (String, Box<dyn Write>) = match path {
        Some(path) => {
            let file =
                File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            (path.display().to_string(), Box::new(file))
        }
        None => ("stdout".to_string(), Box::new(io::stdout().lock())),
    };
    let mut out = BufWriter::new(sink);
    match body(&mut out).and_then(|()| out.flush()) {
        // A reader that stopped early (`| head`) wanted no more: not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        result => result.map_err(|e| format!("writing {target}: {e}")),
    }
}
