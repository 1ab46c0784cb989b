//! The Prometheus text exposition format (version 0.0.4), written once for every `/metrics` we
//! serve (proxy, monkey): label values and help texts escaped as the format requires, and the
//! standard `process_*` series that Prometheus client libraries export, which dashboards expect.

use std::fmt::{Display, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Summary,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Summary => "summary",
        }
    }
}

/// An exposition being written: families, each a `# HELP`/`# TYPE` header and its samples.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    pub fn new() -> Exposition {
        Exposition::default()
    }

    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let _ = writeln!(
            self.out,
            "# HELP {name} {}\n# TYPE {name} {}",
            escape_help(help),
            kind.name()
        );
    }

    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (label, text)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{label}=\"{}\"", escape_label_value(text));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }

    /// A family with one unlabelled sample.
    pub fn single(&mut self, name: &str, kind: Kind, help: &str, value: impl Display) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    /// The `process_*` series of this process, from `/proc/self` (each one left out when its
    /// file cannot be read, rather than reported as 0).
    pub fn process_metrics(&mut self) {
        let process = ProcessFigures::read();
        if let Some(cpu) = process.cpu_seconds {
            self.single(
                "process_cpu_seconds_total",
                Kind::Counter,
                "Total user and system CPU time spent in seconds.",
                cpu,
            );
        }
        if let Some(fds) = process.open_fds {
            self.single(
                "process_open_fds",
                Kind::Gauge,
                "Number of open file descriptors.",
                fds,
            );
        }
        if let Some(max) = process.max_fds {
            self.single(
                "process_max_fds",
                Kind::Gauge,
                "Maximum number of open file descriptors.",
                max,
            );
        }
        if let Some(start) = process.start_time_seconds {
            self.single(
                "process_start_time_seconds",
                Kind::Gauge,
                "Start time of the process since unix epoch in seconds.",
                start,
            );
        }
        if let Some(bytes) = process.virtual_memory_bytes {
            self.single(
                "process_virtual_memory_bytes",
                Kind::Gauge,
                "Virtual memory size in bytes.",
                bytes,
            );
        }
        if let Some(bytes) = process.resident_memory_bytes {
            self.single(
                "process_resident_memory_bytes",
                Kind::Gauge,
                "Resident memory size in bytes.",
                bytes,
            );
        }
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// `\` → `\\`, `"` → `\"`, newline → `\n`: a proxy named `a"b` must not break every scrape.
pub fn escape_label_value(text: &str) -> String {
    escape(text, true)
}

fn escape_help(text: &str) -> String {
    escape(text, false)
}

fn escape(text: &str, quote: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

#[derive(Debug, Default)]
struct ProcessFigures {
    cpu_seconds: Option<f64>,
    open_fds: Option<usize>,
    max_fds: Option<u64>,
    start_time_seconds: Option<f64>,
    virtual_memory_bytes: Option<u64>,
    resident_memory_bytes: Option<u64>,
}

impl ProcessFigures {
    fn read() -> ProcessFigures {
        let ticks = rustix::param::clock_ticks_per_second() as f64;
        let stat = std::fs::read_to_string("/proc/self/stat").ok();
        // Fields after the command, which may hold spaces and parentheses: split after the last ')'.
        let fields: Vec<&str> = stat
            .as_deref()
            .and_then(|s| s.rsplit_once(')'))
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        // The rest starts at field 3 (state): utime is field 14, stime 15, starttime 22.
        let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
        let cpu_seconds = field(14)
            .zip(field(15))
            .map(|(user, system)| (user + system) as f64 / ticks);
        let boot_seconds = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse::<u64>().ok())
        });
        let start_time_seconds = field(22)
            .zip(boot_seconds)
            .map(|(start, boot)| boot as f64 + start as f64 / ticks);
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let kib = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .map(|k| k * 1024)
        };
        let max_fds = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Max open files"))
                    .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            });
        ProcessFigures {
            cpu_seconds,
            open_fds: std::fs::read_dir("/proc/self/fd").ok().map(Iterator::count),
            max_fds,
            start_time_seconds,
            virtual_memory_bytes: kib("VmSize:"),
            resident_memory_bytes: kib("VmRSS:"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_and_help_are_escaped_per_the_format() {
        let mut e = Exposition::new();
        e.family("x_total", Kind::Counter, "Back\\slash\nnewline \"quoted\".");
        e.sample("x_total", &[("proxy", "a\"b\\c\nd"), ("route", "/")], 3);
        assert_eq!(
            e.finish(),
            "# HELP x_total Back\\\\slash\\nnewline \"quoted\".\n# TYPE x_total counter\n\
             x_total{proxy=\"a\\\"b\\\\c\\nd\",route=\"/\"} 3\n"
        );
    }

    #[test]
    fn process_figures_describe_this_process() {
        let figures = ProcessFigures::read();
        assert!(figures.open_fds.is_some_and(|n| n >= 3), "{figures:?}");
        assert!(figures.max_fds.is_some_and(|n| n >= 64), "{figures:?}");
        let now = jiff::Timestamp::now().as_second() as f64;
        let start = figures.start_time_seconds.expect("start time");
        assert!(
            start <= now + 1.0 && start > now - 86_400.0 * 365.0,
            "{start}"
        );
        assert!(figures.cpu_seconds.is_some_and(|s| s >= 0.0));
        let vm = figures.virtual_memory_bytes.expect("vm");
        assert!(vm >= figures.resident_memory_bytes.expect("rss"));
    }
}
