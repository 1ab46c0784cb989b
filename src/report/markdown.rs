//! The report as Markdown, for a CI comment: the verdict, each figure's range against its
//! tolerance, the faults, both cohorts and the activities, as tables.

use std::fmt::Write;

use super::html::{num, steady_state_line};
use super::model::{Report, short_json};
use crate::experiment::event::{EntryStatus, format_timestamp, seconds_between};

/// A table cell: pipes escaped, one line.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let mark = if report.outcome.as_deref() == Some("passed") {
        "✅"
    } else {
        "❌"
    };
    let _ = writeln!(
        out,
        "## {mark} {} — {}\n",
        cell(&report.title),
        cell(&report.verdict_line())
    );
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| run | `{}` |", cell(&report.run_id));
    let _ = writeln!(
        out,
        "| started | {} (lasted {:.1} s) |",
        format_timestamp(&report.start),
        report.duration_s()
    );
    let _ = writeln!(
        out,
        "| steady state | {} |",
        cell(&steady_state_line(report))
    );
    let _ = writeln!(out, "| faults | {} |", report.faults.len());
    if let Some(reason) = &report.interruption {
        let _ = writeln!(out, "| interrupted | {} |", cell(reason));
    }
    for m in &report.marks {
        let _ = writeln!(out, "| at +{:.2} s | {} |", m.t, cell(&m.label));
    }
    if !report.figures.is_empty() {
        let _ = writeln!(
            out,
            "\n### Figures\n\n| figure | line | samples | min | max | last | tolerance | outside |\n|---|---|--:|--:|--:|--:|---|--:|"
        );
        for f in &report.figures {
            for l in &f.lines {
                let values = l.points.iter().map(|p| p.value);
                let min = values.clone().fold(f64::INFINITY, f64::min);
                let max = values.fold(f64::NEG_INFINITY, f64::max);
                let last = l.points.last().map(|p| num(p.value)).unwrap_or_default();
                let broken = l.points.iter().filter(|p| p.met == Some(false)).count();
                let band = f
                    .band
                    .map(|(lo, hi)| format!("{} – {}", num(lo), num(hi)))
                    .unwrap_or_else(|| "–".into());
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {last} | {band} | {broken} |",
                    cell(&f.title()),
                    cell(&l.name),
                    l.points.len(),
                    num(min),
                    num(max)
                );
            }
        }
    }
    if !report.faults.is_empty() {
        let _ = writeln!(
            out,
            "\n### Faults (leases)\n\n| lease | fault | target | applied | reverted | revert |\n|---|---|---|--:|--:|---|"
        );
        for f in &report.faults {
            let r = &f.record;
            let _ = writeln!(
                out,
                "| `{}` | {} | `{}` | +{:.2} s | {} | {} |",
                cell(&r.id),
                r.func.name(),
                cell(&short_json(&r.target, 80)),
                f.from,
                r.reverted_at
                    .map(|_| format!("+{:.2} s", f.to))
                    .unwrap_or_else(|| "–".into()),
                r.revert.map(|x| x.name()).unwrap_or("still active")
            );
        }
    }
    for c in &report.comparisons {
        let o = &c.output;
        let _ = writeln!(
            out,
            "\n### {} (control vs experiment): {}\n\n| | control | experiment |\n|---|--:|--:|",
            cell(&c.probe),
            o["verdict"].as_str().unwrap_or("?")
        );
        for (label, key) in [
            ("requests", "requests"),
            ("errors", "errors"),
            ("error rate", "error_rate"),
            ("p99 (ms)", "p99_ms"),
        ] {
            let v = |cohort: &str| {
                o[cohort][key]
                    .as_f64()
                    .map(num)
                    .unwrap_or_else(|| "–".into())
            };
            let _ = writeln!(out, "| {label} | {} | {} |", v("control"), v("experiment"));
        }
    }
    if !report.activities.is_empty() {
        let _ = writeln!(
            out,
            "\n### Activities\n\n| phase | activity | start | duration | status | output |\n|---|---|--:|--:|---|---|"
        );
        for a in &report.activities {
            let status = match (a.status, a.tolerance_met) {
                (EntryStatus::Failed, _) => "failed",
                (EntryStatus::Succeeded, Some(false)) => "tolerance not met",
                (EntryStatus::Succeeded, _) => "succeeded",
            };
            let output = a.failure.clone().unwrap_or_else(|| a.output.clone());
            let _ = writeln!(
                out,
                "| {} | {} | +{:.2} s | {:.3} s | {status} | `{}` |",
                a.phase.label(),
                cell(&a.name),
                seconds_between(&report.start, &a.start),
                a.duration,
                cell(&short_json(&serde_json::Value::String(output), 120)).replace('`', "'")
            );
        }
    }
    for w in &report.warnings {
        let _ = writeln!(out, "\n> warning: {}", cell(w));
    }
    out
}
