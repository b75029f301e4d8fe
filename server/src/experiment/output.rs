//! The results folder of a CLI run:
//! - `spec.json`: the spec, as run;
//! - `hands.csv`: one line per seat per hand (hand, deal, rotation, table, seat, agent, net chips);
//! - `hands.phhs`: every hand's history in PHH, as `[N]` sections;
//! - `decisions.jsonl`: every LLM decision (source, fallback reason, action, tokens, latency);
//! - `llm_calls.jsonl`: every LLM call with its usage (and prompt/reply when captured);
//! - `checkpoint.json`: where the run stands, with the byte size of each file
//!   at that point, so a resumed run cuts off anything written after it;
//! - `summary.json`: status, per-agent results and costs.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use game_core::Event;
use serde::{Deserialize, Serialize};

use super::ExperimentError;
use super::csv::{CsvLines, HEAD, Padded, SeatColumns};
use super::runner::{Checkpoint, HandRow, HandSink};
use super::spec::ExperimentSpec;

/// The files a run appends to in hand order (cut back on resume).
const FILES: [&str; 3] = ["hands.csv", "hands.phhs", "decisions.jsonl"];
/// Bytes buffered per results file: a bot-only run writes about 200 bytes
/// of CSV a hand, and the default 8 KiB buffer meant a `write` system call
/// every 40 hands (a tenth of such a run's CPU time went to the kernel).
const WRITE_BUFFER: usize = 1 << 20;

/// The LLM call log (appended by the usage drain as calls finish).
pub const CALLS_FILE: &str = "llm_calls.jsonl";

/// What `checkpoint.json` holds.
#[derive(Deserialize)]
struct Saved {
    checkpoint: Checkpoint,
    sizes: Vec<(String, u64)>,
}

/// [`Saved`] as it is written, borrowing the checkpoint instead of cloning it.
#[derive(Serialize)]
struct SavedRef<'a> {
    checkpoint: &'a Checkpoint,
    sizes: Vec<(String, u64)>,
}

/// A results folder being written.
pub struct ResultsDir {
    dir: PathBuf,
    spec: ExperimentSpec,
    csv: File,
    phh: BufWriter<File>,
    decisions: BufWriter<File>,
    /// `hands.csv` lines not yet written: hands are formatted straight into
    /// it and it is written out when it holds [`CSV_BUFFER`] bytes (a
    /// `BufWriter` meant formatting each hand elsewhere and copying it in).
    lines: CsvLines,
    /// The `seat,agent,` columns of every seat for each seating seen (rows
    /// of one seating share their agents' `Arc`, kept here so that its
    /// address cannot be reused): a run has one seating per rotation.
    seat_columns: Vec<SeatingColumns>,
}

/// A seating's agents and the `seat,agent,` columns of each of its seats.
type SeatingColumns = (Arc<[String]>, Vec<SeatColumns>, usize);

/// Bytes of `hands.csv` formatted before they are written out: within a
/// core's L2 cache, and a `write` call every few hundred hands.
const CSV_BUFFER: usize = 128 * 1024;

/// Seatings whose CSV columns are kept; a run uses at most one per seat.
const MAX_SEATINGS: usize = 16;

impl ResultsDir {
    /// Creates a new folder for `spec` (it must not hold a run already).
    pub fn create(dir: &Path, spec: &ExperimentSpec) -> Result<ResultsDir, ExperimentError> {
        std::fs::create_dir_all(dir).map_err(|e| ExperimentError::io("creating the results folder", e))?;
        if dir.join("checkpoint.json").exists() {
            return Err(ExperimentError::FolderHoldsRun { dir: dir.to_owned() });
        }
        let text = serde_json::to_string_pretty(spec).map_err(ExperimentError::Encode)?;
        std::fs::write(dir.join("spec.json"), text)
            .map_err(|e| ExperimentError::io("writing spec.json", e))?;
        for name in FILES.iter().chain([&CALLS_FILE]) {
            File::create(dir.join(name)).map_err(|e| ExperimentError::io(name, e))?;
        }
        let mut out = ResultsDir::open_files(dir, spec.clone())?;
        writeln!(out.csv, "hand,deal,rotation,table,seat,agent,net_chips")
            .map_err(|e| ExperimentError::io("hands.csv", e))?;
        out.csv.flush().map_err(|e| ExperimentError::io("hands.csv", e))?;
        Ok(out)
    }

    /// Opens a folder to resume: returns it and its checkpoint, with every
    /// file cut back to its size at that checkpoint.
    pub fn resume(dir: &Path) -> Result<(ResultsDir, Checkpoint), ExperimentError> {
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name)).map_err(|source| ExperimentError::NotResultsFolder {
                dir: dir.to_owned(),
                name: name.to_owned(),
                source,
            })
        };
        let spec = ExperimentSpec::parse(&read("spec.json")?)?;
        let saved: Saved =
            serde_json::from_str(&read("checkpoint.json")?).map_err(ExperimentError::CheckpointFile)?;
        for (name, size) in &saved.sizes {
            if !FILES.contains(&name.as_str()) {
                continue;
            }
            let file = OpenOptions::new()
                .write(true)
                .open(dir.join(name))
                .map_err(|e| ExperimentError::io(name, e))?;
            file.set_len(*size).map_err(|e| ExperimentError::io(name, e))?;
        }
        Ok((ResultsDir::open_files(dir, spec)?, saved.checkpoint))
    }

    fn open_files(dir: &Path, spec: ExperimentSpec) -> Result<ResultsDir, ExperimentError> {
        let open = |name: &str| {
            OpenOptions::new()
                .append(true)
                .open(dir.join(name))
                .map(|file| BufWriter::with_capacity(WRITE_BUFFER, file))
                .map_err(|e| ExperimentError::io(name, e))
        };
        Ok(ResultsDir {
            dir: dir.to_owned(),
            spec,
            csv: OpenOptions::new()
                .append(true)
                .open(dir.join("hands.csv"))
                .map_err(|e| ExperimentError::io("hands.csv", e))?,
            phh: open("hands.phhs")?,
            decisions: open("decisions.jsonl")?,
            lines: CsvLines::new(CSV_BUFFER + 16 * 1024),
            seat_columns: Vec::new(),
        })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The spec being run.
    pub fn spec(&self) -> &ExperimentSpec {
        &self.spec
    }

    /// Writes `summary.json`.
    pub fn write_summary(&self, summary: &serde_json::Value) -> Result<(), ExperimentError> {
        let text = serde_json::to_string_pretty(summary).map_err(ExperimentError::Encode)?;
        write_atomic(&self.dir.join("summary.json"), text.as_bytes())
    }

    fn flush(&mut self) -> Result<(), ExperimentError> {
        self.write_lines()?;
        for (name, file) in [
            ("hands.phhs", &mut self.phh),
            ("decisions.jsonl", &mut self.decisions),
        ] {
            file.flush().map_err(|e| ExperimentError::io(name, e))?;
        }
        Ok(())
    }

    /// Writes out the `hands.csv` lines formatted so far.
    fn write_lines(&mut self) -> Result<(), ExperimentError> {
        self.csv
            .write_all(self.lines.lines())
            .map_err(|e| ExperimentError::io("hands.csv", e))?;
        self.lines.clear();
        Ok(())
    }
}

/// Writes a file so that a crash leaves either the old or the new content.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ExperimentError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| ExperimentError::io("writing a checkpoint", e))?;
    std::fs::rename(&tmp, path).map_err(|e| ExperimentError::io("writing a checkpoint", e))
}

/// Net chips per seat of a hand (final minus starting stack), from its
/// events. For a [`HandRow`] read its `summary`: rows carry their events
/// only when PHH is written or LLM seats play.
pub fn net_by_seat(events: &[Event]) -> Vec<(usize, i64)> {
    let mut start = Vec::new();
    let mut net = Vec::new();
    for event in events {
        match event {
            Event::HandStarted { players, .. } => {
                start = players.iter().map(|p| (p.seat, p.stack)).collect();
            }
            Event::HandEnded { stacks, .. } => {
                net = stacks
                    .iter()
                    .map(|s| {
                        let before = start
                            .iter()
                            .find(|(seat, _)| *seat == s.seat)
                            .map_or(0, |(_, b)| *b);
                        (s.seat, s.stack as i64 - before as i64)
                    })
                    .collect();
            }
            _ => {}
        }
    }
    net
}

impl Drop for ResultsDir {
    /// What a `BufWriter` would do: lines formatted but not yet written go
    /// out (a resume cuts the files back to its checkpoint anyway).
    fn drop(&mut self) {
        let _ = self.write_lines();
    }
}

impl HandSink for ResultsDir {
    fn hand(&mut self, index: u64, row: &HandRow, agents: &Arc<[String]>) -> Result<(), ExperimentError> {
        // Formatted by hand into one buffer (see `csv`): the hand's leading
        // columns once for all its lines, each seat's `seat,agent,` once
        // per seating.
        let seating = match self
            .seat_columns
            .iter()
            .position(|(seating, _, _)| Arc::ptr_eq(seating, agents))
        {
            Some(i) => i,
            None => {
                if self.seat_columns.len() >= MAX_SEATINGS {
                    self.seat_columns.clear();
                }
                let columns = seat_columns(agents);
                // The room a line takes at most, a seat without an agent
                // (cannot happen) included.
                let line_room = columns
                    .iter()
                    .map(SeatColumns::line_room)
                    .chain([SeatColumns::new(Vec::new()).line_room()])
                    .max()
                    .unwrap_or_default();
                self.seat_columns.push((agents.clone(), columns, line_room));
                self.seat_columns.len() - 1
            }
        };
        let room = self.seat_columns[seating].2 * row.summary.seats.len();
        if !self.lines.fits(room) {
            self.write_lines()?;
            self.lines.make_room(room);
        }
        let columns = &self.seat_columns[seating].1;
        let lines = &mut self.lines;
        let mut head = Padded::<HEAD>::default();
        for value in [index, row.deal, row.rotation, row.table as u64] {
            head.push_u64_comma(value);
        }
        for seat in &row.summary.seats {
            lines.push_padded(&head);
            match columns.get(seat.seat) {
                Some(seat_agent) => lines.push_columns(seat_agent),
                // A seat without an agent (cannot happen): an empty name.
                None => {
                    lines.push_u64(seat.seat as u64);
                    lines.push_bytes(b",,");
                }
            }
            lines.push_i64_line(seat.net);
        }
        if lines.lines().len() >= CSV_BUFFER {
            self.write_lines()?;
        }
        if self.spec.write_phh {
            let names: Vec<Option<String>> = agents.iter().cloned().map(Some).collect();
            let phh = game_core::phh::to_phh(&self.spec.table_config(), &row.events, &names)
                .map_err(|source| ExperimentError::Phh { hand: index, source })?;
            writeln!(self.phh, "[{}]\n{phh}", index + 1).map_err(|e| ExperimentError::io("hands.phhs", e))?;
        }
        for d in &row.decisions {
            let line = serde_json::to_string(d).map_err(ExperimentError::Encode)?;
            writeln!(self.decisions, "{line}").map_err(|e| ExperimentError::io("decisions.jsonl", e))?;
        }
        Ok(())
    }

    async fn checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<(), ExperimentError> {
        self.flush()?;
        let mut sizes = Vec::new();
        for name in FILES {
            let len = std::fs::metadata(self.dir.join(name))
                .map_err(|e| ExperimentError::io(name, e))?
                .len();
            sizes.push((name.to_owned(), len));
        }
        let saved = SavedRef { checkpoint, sizes };
        let text = serde_json::to_vec(&saved).map_err(ExperimentError::Encode)?;
        write_atomic(&self.dir.join("checkpoint.json"), &text)
    }
}

/// The `seat,agent,` columns of every seat of a seating.
fn seat_columns(agents: &[String]) -> Vec<SeatColumns> {
    let mut number = itoa::Buffer::new();
    agents
        .iter()
        .enumerate()
        .map(|(seat, agent)| {
            let mut columns = number.format(seat).as_bytes().to_vec();
            columns.push(b',');
            push_csv_field(&mut columns, agent);
            columns.push(b',');
            SeatColumns::new(columns)
        })
        .collect()
}

/// Appends a CSV field, quoted when it holds a comma, quote or newline.
fn push_csv_field(out: &mut Vec<u8>, text: &str) {
    // A byte scan: `str::contains` with a set of chars is several times slower.
    if text.bytes().any(|b| matches!(b, b',' | b'"' | b'\n')) {
        out.push(b'"');
        out.extend_from_slice(text.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}
