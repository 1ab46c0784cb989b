//! The report as one self-contained HTML file: inline CSS, inline SVG charts, no script and no
//! fetch, so it opens from an e-mail attachment. Charts scale with the page (one view box), tables
//! scroll sideways on a phone.

use std::fmt::Write;

use super::chart::{Frame, VIEW_HEIGHT, VIEW_WIDTH, polyline};
use super::model::{Comparison, Detail, Figure, MarkKind, Report, short_json};
use crate::experiment::event::{EntryStatus, Phase, format_timestamp};

/// Above this many points a line is drawn without a dot per point (the file stays small).
const MAX_DOTS: usize = 400;

/// The report's style sheet (the dashboard's run page uses it too).
pub const STYLE: &str = r#"
:root{--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--ink:#1f2328;--mute:#59636e;--line:#d1d9e0;--fault:#fb8f44;--band:#2da44e}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:#f6f8fa}
main{max-width:1200px;margin:0 auto;padding:16px}
header.verdict{background:#fff;border:1px solid var(--line);border-left:8px solid var(--ok);border-radius:6px;padding:12px 16px}
header.verdict.bad{border-left-color:var(--bad)}
header.verdict.running{border-left-color:#0969da}
h1{font-size:1.35em;margin:0 0 4px}
h2{font-size:1.1em;margin:24px 0 8px}
.outcome{font-size:1.2em;font-weight:600;margin:0 0 8px}
.bad .outcome{color:var(--bad)} .ok .outcome{color:var(--ok)} .running .outcome{color:#0969da}
dl.summary{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}
dl.summary dt{color:var(--mute)} dl.summary dd{margin:0;overflow-wrap:anywhere}
figure.chart{background:#fff;border:1px solid var(--line);border-radius:6px;margin:0 0 12px;padding:8px}
figure.chart figcaption{font-weight:600;margin:0 0 4px;overflow-wrap:anywhere}
figure.chart figcaption small{font-weight:400;color:var(--mute)}
svg.timeline{display:block;width:100%;height:auto}
svg text{font:12px system-ui,sans-serif;fill:var(--mute)}
svg .plot{fill:#fff;stroke:var(--line)}
svg .grid{stroke:#eaeef2}
svg .band{fill:var(--band);fill-opacity:.14;stroke:var(--band);stroke-opacity:.5;stroke-dasharray:4 3}
svg .fault{fill:var(--fault);fill-opacity:.22;stroke:var(--fault)}
svg text.fault-label{fill:#bc4c00;font-weight:600}
svg .mark{stroke:var(--bad);stroke-width:2;stroke-dasharray:6 3}
svg text.mark-label{fill:var(--bad);font-weight:600}
svg polyline{fill:none;stroke-width:2}
svg .l0{stroke:#0969da} svg .l1{stroke:#8250df} svg .l2{stroke:#bf3989} svg .l3{stroke:#1b7c83}
svg rect.key{stroke:none} svg rect.l0{fill:#0969da} svg rect.l1{fill:#8250df} svg rect.l2{fill:#bf3989} svg rect.l3{fill:#1b7c83}
svg circle.met{fill:var(--ok)} svg circle.broken{fill:var(--bad)} svg circle.unjudged{fill:var(--mute)}
svg .check.met{fill:var(--ok)} svg .check.broken{fill:var(--bad)}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;color:var(--mute);font-size:.9em;margin:0 0 8px}
.legend i{display:inline-block;width:14px;height:10px;margin-right:4px;vertical-align:middle;border-radius:2px}
.scroll{overflow-x:auto;background:#fff;border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse;width:100%;font-size:.92em}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}
th{background:#f6f8fa;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;overflow-wrap:anywhere;white-space:pre-wrap}
.pill{display:inline-block;padding:0 6px;border-radius:10px;font-size:.85em;font-weight:600;color:#fff;background:var(--mute)}
.pill.ok{background:var(--ok)} .pill.bad{background:var(--bad)} .pill.warn{background:var(--warn)}
.cohorts{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:12px}
.note{color:var(--mute);font-size:.9em}
@media (max-width:600px){main{padding:8px}body{font-size:14px}th,td{padding:4px 6px}svg text{font-size:24px}}
"#;

/// Escapes text for HTML and SVG content and attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A number as a chart label: few digits, no trailing zeros.
pub fn num(v: f64) -> String {
    let a = v.abs();
    let text = if a == 0.0 {
        "0".to_string()
    } else if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 0.1 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// Whether the run went as hoped (the steady state held and nothing failed).
fn good(report: &Report) -> bool {
    report.outcome.as_deref() == Some("passed")
}

/// The whole report page.
pub fn render(report: &Report) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} — monkeywrench report</title><style>{STYLE}</style></head><body><main>\n",
        esc(&report.title)
    );
    body(&mut out, report);
    let _ = writeln!(
        out,
        "<p class=\"note\">Generated by monkeywrench {} — one file, nothing fetched.</p></main></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    out
}

/// Everything the report shows, without the page around it: the verdict, the timelines, the
/// cohorts, the faults, the activities and the warnings (the dashboard's run page shows it live).
pub fn body(out: &mut String, report: &Report) {
    let class = if report.outcome.is_none() {
        "running"
    } else if good(report) {
        "ok"
    } else {
        "bad"
    };
    let _ = write!(
        out,
        "<header class=\"verdict {class}\" id=\"verdict\"><h1>{}</h1><p class=\"outcome\">{}</p><dl class=\"summary\">",
        esc(&report.title),
        esc(&report.verdict_line())
    );
    let mut row = |k: &str, v: String| {
        let _ = write!(out, "<dt>{}</dt><dd>{v}</dd>", esc(k));
    };
    row("run", format!("<code>{}</code>", esc(&report.run_id)));
    row(
        "started",
        format!(
            "{} · lasted {:.1} s",
            esc(&format_timestamp(&report.start)),
            report.duration_s()
        ),
    );
    row("steady state", esc(&steady_state_line(report)));
    row(
        "faults",
        format!(
            "{} applied through the ledger{}",
            report.faults.len(),
            if report.faults.is_empty() {
                ""
            } else {
                " (shaded on the charts)"
            }
        ),
    );
    if let Some(reason) = &report.interruption {
        row("interrupted", esc(reason));
    }
    row(
        "from",
        match report.detail {
            Detail::Events => "the run's stored event stream (every sample)".into(),
            Detail::Journal => {
                "the journal (the during iterations it kept; no safeguard samples)".into()
            }
        },
    );
    out.push_str("</dl></header>\n");
    timelines(out, report);
    comparisons(out, report);
    faults(out, report);
    activities(out, report);
    if !report.warnings.is_empty() {
        out.push_str("<section id=\"warnings\"><h2>Warnings</h2><ul>");
        for w in &report.warnings {
            let _ = write!(out, "<li>{}</li>", esc(w));
        }
        out.push_str("</ul></section>\n");
    }
}

/// `before met · during 4 met, 1 broken · after NOT met`.
pub fn steady_state_line(report: &Report) -> String {
    let word = |(met, broken): (usize, usize)| match (met, broken) {
        (0, 0) => "not checked".to_string(),
        (_, 0) => "met".to_string(),
        (0, _) => "NOT met".to_string(),
        (m, b) => format!("{m} met, {b} broken"),
    };
    let during = report.checks_in(Phase::HypothesisDuring);
    let mut parts = vec![format!(
        "before {}",
        word(report.checks_in(Phase::HypothesisBefore))
    )];
    if during != (0, 0) {
        parts.push(format!("during {}", word(during)));
    }
    parts.push(format!(
        "after {}",
        word(report.checks_in(Phase::HypothesisAfter))
    ));
    parts.join(" · ")
}

fn timelines(out: &mut String, report: &Report) {
    out.push_str("<section id=\"timelines\"><h2>Steady state over time</h2>");
    if report.figures.is_empty() {
        out.push_str(
            "<p class=\"note\">No probe of this run gave a number to plot.</p></section>\n",
        );
        return;
    }
    out.push_str(
        "<div class=\"legend\"><span><i style=\"background:rgba(45,164,78,.25)\"></i>tolerance</span>\
         <span><i style=\"background:rgba(251,143,68,.35)\"></i>fault window (applied → reverted)</span>\
         <span><i style=\"background:#1a7f37\"></i>check met</span>\
         <span><i style=\"background:#cf222e\"></i>check broken</span>\
         <span><i style=\"background:#cf222e;height:3px\"></i>safeguard trip / interruption</span></div>",
    );
    for (i, figure) in report.figures.iter().enumerate() {
        chart(out, report, figure, i);
    }
    out.push_str("</section>\n");
}

fn chart(out: &mut String, report: &Report, figure: &Figure, index: usize) {
    let values = figure
        .lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.value))
        .chain(figure.band.into_iter().flat_map(|(lo, hi)| [lo, hi]));
    let frame = Frame::new(report.duration_s(), values);
    let band_text = figure
        .band
        .map(|(lo, hi)| {
            if lo == hi {
                format!(" <small>tolerance: = {}</small>", num(lo))
            } else {
                format!(" <small>tolerance: {} – {}</small>", num(lo), num(hi))
            }
        })
        .unwrap_or_default();
    let _ = write!(
        out,
        "<figure class=\"chart\" id=\"figure-{index}\"><figcaption>{}{band_text}</figcaption>\
         <svg class=\"timeline\" viewBox=\"0 0 {VIEW_WIDTH} {VIEW_HEIGHT}\" role=\"img\" aria-label=\"{} over the run\" xmlns=\"http://www.w3.org/2000/svg\">",
        esc(&figure.title()),
        esc(&figure.title())
    );
    let _ = write!(
        out,
        "<rect class=\"plot\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" data-t0=\"{}\" data-t1=\"{}\"/>",
        frame.left, frame.top, frame.width, frame.height, frame.t0, frame.t1
    );
    let bottom = frame.top + frame.height;
    for v in frame.y_ticks() {
        let y = frame.y(v);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            frame.left,
            frame.left + frame.width,
            frame.left - 6.0,
            y + 4.0,
            num(v)
        );
    }
    for t in frame.t_ticks() {
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{} s</text>",
            frame.x(t),
            bottom + 24.0,
            num(t)
        );
    }
    if let Some((lo, hi)) = figure.band {
        let r = frame.band(lo, hi);
        let _ = write!(
            out,
            "<rect class=\"band\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>tolerance {} – {}</title></rect>",
            r.x,
            r.y,
            r.width,
            r.height,
            num(lo),
            num(hi)
        );
    }
    for f in &report.faults {
        let r = frame.span(f.from, f.to);
        let _ = write!(
            out,
            "<rect class=\"fault\" data-lease=\"{}\" data-from=\"{}\" data-to=\"{}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{} · applied +{:.2} s, {} +{:.2} s</title></rect>\
             <text class=\"fault-label\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            esc(&f.record.id),
            f.from,
            f.to,
            r.x,
            r.y,
            r.width,
            r.height,
            esc(&f.label),
            f.from,
            f.record.revert.map(|r| r.name()).unwrap_or("still active"),
            f.to,
            r.x + 3.0,
            frame.top - 8.0,
            esc(f.record.func.name())
        );
    }
    for (i, line) in figure.lines.iter().enumerate() {
        let points: Vec<(f64, f64)> = line.points.iter().map(|p| (p.t, p.value)).collect();
        let _ = write!(
            out,
            "<polyline class=\"line l{}\" data-line=\"{}\" points=\"{}\"><title>{}</title></polyline>",
            i % 4,
            esc(&line.name),
            polyline(&frame, &points),
            esc(&line.name)
        );
        if line.points.len() <= MAX_DOTS {
            for p in &line.points {
                let class = match p.met {
                    Some(true) => "met",
                    Some(false) => "broken",
                    None => "unjudged",
                };
                let _ = write!(
                    out,
                    "<circle class=\"pt {class}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\"><title>{} = {} at +{:.2} s</title></circle>",
                    frame.x(p.t),
                    frame.y(p.value),
                    esc(&line.name),
                    num(p.value),
                    p.t
                );
            }
        }
    }
    if figure.lines.len() > 1 {
        for (i, line) in figure.lines.iter().enumerate() {
            let (x, y) = (
                frame.left + frame.width - 110.0,
                frame.top + 8.0 + 16.0 * i as f64,
            );
            let _ = write!(
                out,
                "<rect class=\"key l{}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"12\" height=\"10\"/><text class=\"line-label\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                i % 4,
                x + 16.0,
                y + 9.0,
                esc(&line.name)
            );
        }
    }
    for c in &report.checks {
        let class = if c.met { "met" } else { "broken" };
        let x = frame.x(c.t);
        let _ = write!(
            out,
            "<path class=\"check {class}\" d=\"M{:.1},{:.1} l5,8 h-10 z\"><title>hypothesis {} {} at +{:.2} s</title></path>",
            x,
            bottom + 1.0,
            c.phase.label(),
            if c.met { "met" } else { "broken" },
            c.t
        );
    }
    for m in &report.marks {
        let x = frame.x(m.t);
        let kind = match m.kind {
            MarkKind::SafeguardTrip => "trip",
            MarkKind::Interruption => "interruption",
            MarkKind::FailFast => "fail-fast",
        };
        let _ = write!(
            out,
            "<line class=\"mark {kind}\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{}\" y2=\"{bottom}\"><title>{}</title></line>",
            frame.top,
            esc(&m.label)
        );
    }
    out.push_str("</svg></figure>\n");
}

fn comparisons(out: &mut String, report: &Report) {
    if report.comparisons.is_empty() {
        return;
    }
    out.push_str("<section id=\"cohorts\"><h2>Control vs experiment</h2><div class=\"cohorts\">");
    for c in &report.comparisons {
        comparison(out, c);
    }
    out.push_str("</div></section>\n");
}

fn comparison(out: &mut String, c: &Comparison) {
    let o = &c.output;
    let verdict = o["verdict"].as_str().unwrap_or("?");
    let class = match verdict {
        "worse" => "bad",
        "same" | "better" => "ok",
        _ => "warn",
    };
    let _ = write!(
        out,
        "<div class=\"scroll\"><table><caption style=\"text-align:left;padding:6px 8px\"><b>{}</b> at +{:.1} s: <span class=\"pill {class}\">{}</span></caption>\
         <tr><th></th><th>control</th><th>experiment</th></tr>",
        esc(&c.probe),
        c.t,
        esc(verdict)
    );
    let cell = |cohort: &str, key: &str| match o[cohort][key].as_f64() {
        Some(v) if key == "error_rate" => format!("{:.2} %", v * 100.0),
        Some(v) if key.ends_with("_ms") => format!("{} ms", num(v)),
        Some(v) => num(v),
        None => "–".into(),
    };
    for (label, key) in [
        ("requests", "requests"),
        ("errors", "errors"),
        ("error rate", "error_rate"),
        ("p50", "p50_ms"),
        ("p95", "p95_ms"),
        ("p99", "p99_ms"),
    ] {
        let _ = write!(
            out,
            "<tr><th>{label}</th><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            cell("control", key),
            cell("experiment", key)
        );
    }
    let p = |v: &serde_json::Value| v.as_f64().map(num).unwrap_or_else(|| "–".into());
    let _ = write!(
        out,
        "<tr><th>error-rate difference</th><td class=\"num\" colspan=\"2\">{} (p = {})</td></tr>\
         <tr><th>latency shift</th><td class=\"num\" colspan=\"2\">{} ms (p = {})</td></tr>\
         <tr><th>p99 test</th><td class=\"num\" colspan=\"2\">{} (p = {})</td></tr>\
         <tr><th>method</th><td colspan=\"2\">{}</td></tr></table></div>",
        p(&o["error_rate"]["difference"]),
        p(&o["error_rate"]["p_value"]),
        p(&o["latency"]["shift_ms"]),
        p(&o["latency"]["p_value"]),
        match o["p99"]["max_increase_ms"].as_f64() {
            Some(m) => format!("judged, margin {} ms", num(m)),
            None => "not judged".into(),
        },
        p(&o["p99"]["p_value"]),
        esc(o["method"].as_str().unwrap_or("–"))
    );
}

fn faults(out: &mut String, report: &Report) {
    out.push_str("<section id=\"leases\"><h2>Faults and their leases</h2>");
    if report.faults.is_empty() {
        out.push_str("<p class=\"note\">No fault was applied in this run.</p></section>\n");
        return;
    }
    out.push_str(
        "<div class=\"scroll\"><table><tr><th>lease</th><th>fault</th><th>activity</th><th>target</th>\
         <th>applied</th><th>reverted</th><th>revert</th><th>deadline</th></tr>",
    );
    for f in &report.faults {
        let r = &f.record;
        let (revert, class) = match r.revert {
            Some(x) => (
                x.name(),
                match x {
                    crate::experiment::event::RevertResult::Failed => "bad",
                    _ => "ok",
                },
            ),
            None => ("still active", "warn"),
        };
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td><code>{}</code></td>\
             <td class=\"num\">+{:.2} s</td><td class=\"num\">{}</td><td><span class=\"pill {class}\">{revert}</span></td><td class=\"num\">{}</td></tr>",
            esc(&r.id),
            esc(r.func.name()),
            esc(&r.activity),
            esc(&short_json(&r.target, 200)),
            f.from,
            r.reverted_at
                .map(|_| format!("+{:.2} s", f.to))
                .unwrap_or_else(|| "–".into()),
            esc(&format_timestamp(&r.deadline))
        );
    }
    out.push_str("</table></div></section>\n");
}

fn activities(out: &mut String, report: &Report) {
    out.push_str("<section id=\"activities\"><h2>Activities</h2>");
    if report.activities.is_empty() {
        out.push_str("<p class=\"note\">No activity ran.</p></section>\n");
        return;
    }
    out.push_str(
        "<div class=\"scroll\"><table><tr><th>phase</th><th>activity</th><th>start</th><th>duration</th><th>status</th><th>output</th></tr>",
    );
    for a in &report.activities {
        let (status, class) = match (a.status, a.tolerance_met) {
            (EntryStatus::Failed, _) => ("failed", "bad"),
            (EntryStatus::Succeeded, Some(false)) => ("tolerance not met", "bad"),
            (EntryStatus::Succeeded, _) => ("succeeded", "ok"),
        };
        let output = match &a.failure {
            Some(f) => format!("{}\n{}", f, a.output),
            None => a.output.clone(),
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">+{:.2} s</td><td class=\"num\">{:.3} s</td>\
             <td><span class=\"pill {class}\">{status}</span></td><td><code>{}</code></td></tr>",
            esc(a.phase.label()),
            esc(&a.name),
            crate::experiment::event::seconds_between(&report.start, &a.start),
            a.duration,
            esc(output.trim())
        );
    }
    out.push_str("</table></div></section>\n");
}
