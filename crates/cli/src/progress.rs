//! Showing a run to people: indicatif bars on a terminal, plain lines otherwise.
//!
//! One consumer of the runner's event stream among three (the JSON-lines log and the report
//! builder are the others). On a TTY: one line per host (current task, upload bytes) and an
//! overall bar; log lines print above the bars through [`LogWriter`]. Without a TTY, or with
//! `--no-progress`: one plain line per finished task and per host.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use corsfleet_runner::events::{HostStatus, RunEvent, TaskStatus};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Bars in use, if any: the log writer prints through them so lines never tear a bar.
static BARS: OnceLock<Mutex<Option<MultiProgress>>> = OnceLock::new();

fn bars_slot() -> &'static Mutex<Option<MultiProgress>> {
    BARS.get_or_init(|| Mutex::new(None))
}

/// `tracing` writer that prints above the progress bars when they are shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let slot = bars_slot().lock().unwrap_or_else(|e| e.into_inner());
        match slot.as_ref() {
            Some(bars) => {
                let text = String::from_utf8_lossy(buf);
                let _ = bars.println(text.trim_end_matches('\n'));
                Ok(buf.len())
            }
            None => std::io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;
    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}

/// Renders events for people on stderr.
#[derive(Debug)]
pub struct Progress {
    bars: Option<Bars>,
    color: bool,
}

#[derive(Debug)]
struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    hosts: HashMap<String, ProgressBar>,
}

impl Progress {
    /// Bars only when `enabled` and stderr is a terminal.
    pub fn new(enabled: bool, color: bool) -> Self {
        let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let bars = (enabled && tty).then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let overall = multi.add(ProgressBar::new(0));
            overall.set_style(
                ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} tasks {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            overall.set_prefix("overall");
            *bars_slot().lock().unwrap_or_else(|e| e.into_inner()) = Some(multi.clone());
            Bars {
                multi,
                overall,
                hosts: HashMap::new(),
            }
        });
        Self { bars, color }
    }

    pub fn event(&mut self, event: &RunEvent) {
        match &mut self.bars {
            Some(bars) => bars.event(event),
            None => self.plain(event),
        }
    }

    /// Remove the bars (before the recap prints).
    pub fn finish(&mut self) {
        if let Some(bars) = self.bars.take() {
            for bar in bars.hosts.values() {
                bar.finish_and_clear();
            }
            bars.overall.finish_and_clear();
            let _ = bars.multi.clear();
            *bars_slot().lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }

    #[allow(clippy::print_stderr)]
    fn plain(&self, event: &RunEvent) {
        let paint = |status: &str| paint(status, self.color);
        match event {
            RunEvent::PlayStarted { name, .. } => eprintln!("PLAY [{name}]"),
            RunEvent::BatchStarted {
                batch_index, hosts, ..
            } => {
                eprintln!("batch {}: {}", batch_index + 1, hosts.join(", "));
            }
            RunEvent::HostUnreachable { host, message, .. } => {
                eprintln!("{host} | {} | {message}", paint("unreachable"));
            }
            RunEvent::TaskFinished {
                host,
                module,
                status,
                message,
                ..
            } => {
                eprintln!(
                    "{host} | {module} | {} | {message}",
                    paint(task_word(*status))
                );
            }
            RunEvent::HostFinished { host, status, .. } => {
                eprintln!("{host} | {}", paint(host_word(*status)));
            }
            _ => {}
        }
    }
}

impl Bars {
    fn event(&mut self, event: &RunEvent) {
        match event {
            RunEvent::RunStarted { hosts, .. } => {
                for host in hosts {
                    let bar = self.multi.insert_before(&self.overall, ProgressBar::new(0));
                    bar.set_style(
                        ProgressStyle::with_template("{prefix:>12} {spinner} {wide_msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    bar.set_prefix(host.clone());
                    bar.set_message("waiting");
                    self.hosts.insert(host.clone(), bar);
                }
            }
            RunEvent::BatchStarted { hosts, .. } => {
                for host in hosts {
                    if let Some(bar) = self.hosts.get(host) {
                        bar.set_message("connecting");
                        bar.enable_steady_tick(std::time::Duration::from_millis(120));
                    }
                }
            }
            RunEvent::TaskStarted { host, name, .. } => {
                self.overall.inc_length(1);
                if let Some(bar) = self.hosts.get(host) {
                    bar.set_message(name.clone());
                }
            }
            RunEvent::TaskProgress {
                host, done, total, ..
            } => {
                if let Some(bar) = self.hosts.get(host) {
                    bar.set_message(format!(
                        "uploading {} / {}",
                        indicatif::HumanBytes(*done),
                        indicatif::HumanBytes(*total)
                    ));
                }
            }
            RunEvent::TaskFinished { .. } => self.overall.inc(1),
            RunEvent::HostUnreachable { host, message, .. } => {
                if let Some(bar) = self.hosts.get(host) {
                    bar.finish_with_message(format!("unreachable: {message}"));
                }
            }
            RunEvent::HostFinished { host, status, .. } => {
                if let Some(bar) = self.hosts.get(host) {
                    bar.finish_with_message(host_word(*status).to_string());
                }
            }
            _ => {}
        }
    }
}

pub fn task_word(status: TaskStatus) -> &'static str {
    status.as_str()
}

pub fn host_word(status: HostStatus) -> &'static str {
    status.as_str()
}

/// Ansible's colours: green ok/compliant, yellow changed/drifted, red failed/unreachable.
pub fn paint(word: &str, color: bool) -> String {
    if !color {
        return word.to_string();
    }
    let code = match word {
        "ok" | "compliant" => "32",
        "changed" | "drifted" => "33",
        "failed" | "unreachable" | "interrupted" => "31",
        _ => "36",
    };
    format!("\x1b[{code}m{word}\x1b[0m")
}

/// Colour on stderr only on a terminal and never under NO_COLOR.
pub fn stderr_color() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none()
}
