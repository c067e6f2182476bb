//! The SVG chart of a report, hand-written: throughput per second (ok, errors, attack or offered) above,
//! p50 and p99 latency per second below, as polylines over labelled axes, with the warm-up shaded.

use std::fmt::Write as _;

use crate::report::Report;

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 640.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 64.0;
const BOTTOM: f64 = 50.0;
const GAP: f64 = 56.0;
const PANEL_HEIGHT: f64 = (HEIGHT - TOP - BOTTOM - GAP) / 2.0;

const BLUE: &str = "#1f77b4";
const RED: &str = "#d62728";
const GREEN: &str = "#2ca02c";
const ORANGE: &str = "#ff7f0e";
const GREY: &str = "#7f7f7f";

/// One plotted line: a value per timeline second (`None` = no data, a gap in the line).
struct Series<'a> {
    label: &'a str,
    color: &'a str,
    values: Vec<Option<f64>>,
}

/// One panel: a y axis and its series, over the shared time axis.
struct Panel<'a> {
    top: f64,
    y_label: &'a str,
    series: Vec<Series<'a>>,
}

pub fn svg(report: &Report) -> String {
    let t: Vec<f64> = report.timeline.iter().map(|p| p.t as f64).collect();
    let x_max = (report.settings.duration_secs as f64).max(t.last().copied().unwrap_or(1.0)).max(1.0);
    let unit = report.unit;
    let per_sec = format!("{unit}/s");
    let mut throughput = vec![Series {
        label: &per_sec,
        color: BLUE,
        values: report.timeline.iter().map(|p| Some(p.ok as f64)).collect(),
    }];
    if report.timeline.iter().any(|p| p.errors > 0) {
        throughput.push(Series {
            label: "errors/s",
            color: RED,
            values: report.timeline.iter().map(|p| Some(p.errors as f64)).collect(),
        });
    }
    if let Some(attack) = &report.attack {
        let values = attack.timeline.iter().map(|p| Some((p.ok + p.errors) as f64)).collect();
        throughput.push(Series { label: "attack requests/s", color: GREY, values });
    }
    if let Some(open) = &report.open_loop {
        let values = report.timeline.iter().map(|_| Some(open.offered_per_sec)).collect();
        throughput.push(Series { label: "offered/s", color: GREY, values });
    }
    let latency = vec![
        Series { label: "p50", color: GREEN, values: report.timeline.iter().map(|p| p.p50_ms).collect() },
        Series { label: "p99", color: ORANGE, values: report.timeline.iter().map(|p| p.p99_ms).collect() },
    ];
    let y_throughput = format!("{unit} per second");
    let panels = [
        Panel { top: TOP, y_label: &y_throughput, series: throughput },
        Panel { top: TOP + PANEL_HEIGHT + GAP, y_label: "latency (ms), per second", series: latency },
    ];

    let s = &report.summary;
    let load = match (&report.open_loop, report.settings.options.get("attackers")) {
        (Some(open), _) => format!("{:.0}/s offered", open.offered_per_sec),
        (None, Some(attackers)) => format!("{} users + {attackers} attackers", report.settings.concurrency),
        (None, None) => format!("{} virtual users", report.settings.concurrency),
    };
    let title = format!(
        "portcullis-load {} · {load} · {} s · {:.1} {unit}/s · p50 {:.1} ms · p99 {:.1} ms · {} errors",
        report.scenario, report.settings.duration_secs, s.throughput, s.latency_ms.p50, s.latency_ms.p99, s.errors
    );
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{}" y="26" text-anchor="middle" font-size="15">{}</text>"#,
        WIDTH / 2.0,
        escape(&title)
    );
    let subtitle = format!("{} · pool {} · {}", report.settings.endpoint, report.settings.pool_id, report.started_at);
    let _ = writeln!(
        out,
        r##"<text x="{}" y="44" text-anchor="middle" fill="#555">{}</text>"##,
        WIDTH / 2.0,
        escape(&subtitle)
    );
    for panel in &panels {
        draw_panel(&mut out, panel, &t, x_max, report.settings.warmup_secs as f64);
    }
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">time (s)</text>"#,
        LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
        HEIGHT - 12.0
    );
    out.push_str("</svg>\n");
    out
}

fn draw_panel(out: &mut String, panel: &Panel<'_>, t: &[f64], x_max: f64, warmup: f64) {
    let plot_width = WIDTH - LEFT - RIGHT;
    let bottom = panel.top + PANEL_HEIGHT;
    let data_max = panel.series.iter().flat_map(|s| s.values.iter().flatten()).fold(0.0_f64, |a, &b| a.max(b));
    let (y_step, y_max) = nice_axis(data_max);
    let (x_step, _) = nice_axis(x_max);
    let x = |v: f64| LEFT + v / x_max * plot_width;
    let y = |v: f64| bottom - v / y_max * PANEL_HEIGHT;

    if warmup > 0.0 {
        let _ = writeln!(
            out,
            r##"<rect x="{LEFT}" y="{}" width="{:.1}" height="{PANEL_HEIGHT}" fill="#eeeeee"/><text x="{}" y="{}" fill="#888">warm-up</text>"##,
            panel.top,
            x(warmup.min(x_max)) - LEFT,
            LEFT + 4.0,
            panel.top + 14.0
        );
    }
    // Grid and tick labels.
    let mut v = 0.0;
    while v <= y_max + y_step / 2.0 {
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{0:.1}" x2="{1}" y2="{0:.1}" stroke="#dddddd"/><text x="{2}" y="{3:.1}" text-anchor="end">{4}</text>"##,
            y(v),
            WIDTH - RIGHT,
            LEFT - 6.0,
            y(v) + 4.0,
            tick_label(v, y_step)
        );
        v += y_step;
    }
    let mut v = 0.0;
    while v <= x_max + 1e-9 {
        let _ = writeln!(
            out,
            r##"<line x1="{0:.1}" y1="{1}" x2="{0:.1}" y2="{2}" stroke="#dddddd"/><text x="{0:.1}" y="{3}" text-anchor="middle">{4}</text>"##,
            x(v),
            panel.top,
            bottom + 4.0,
            bottom + 18.0,
            tick_label(v, x_step)
        );
        v += x_step;
    }
    // Axes and the y title.
    let _ =
        writeln!(out, r#"<path d="M{LEFT},{} V{bottom} H{}" fill="none" stroke="black"/>"#, panel.top, WIDTH - RIGHT);
    let (ty_x, ty_y) = (22.0, panel.top + PANEL_HEIGHT / 2.0);
    let _ = writeln!(
        out,
        r#"<text x="{ty_x}" y="{ty_y}" text-anchor="middle" transform="rotate(-90 {ty_x} {ty_y})">{}</text>"#,
        escape(panel.y_label)
    );
    // Series, then the legend.
    for series in &panel.series {
        for segment in segments(t, &series.values) {
            if let [(tx, ty)] = segment.as_slice() {
                let _ =
                    writeln!(out, r#"<circle cx="{:.1}" cy="{:.1}" r="2" fill="{}"/>"#, x(*tx), y(*ty), series.color);
                continue;
            }
            let points: Vec<String> = segment.iter().map(|&(tx, ty)| format!("{:.1},{:.1}", x(tx), y(ty))).collect();
            let _ = writeln!(
                out,
                r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="1.8" stroke-linejoin="round"/>"#,
                points.join(" "),
                series.color
            );
        }
    }
    for (i, series) in panel.series.iter().enumerate() {
        let lx = WIDTH - RIGHT - 150.0;
        let ly = panel.top + 14.0 + 16.0 * i as f64;
        let _ = writeln!(
            out,
            r#"<line x1="{lx}" y1="{0}" x2="{1}" y2="{0}" stroke="{2}" stroke-width="3"/><text x="{3}" y="{4}">{5}</text>"#,
            ly - 4.0,
            lx + 20.0,
            series.color,
            lx + 26.0,
            ly,
            escape(series.label)
        );
    }
}

/// Runs of consecutive known values as (t, value) points.
fn segments(t: &[f64], values: &[Option<f64>]) -> Vec<Vec<(f64, f64)>> {
    let mut all = vec![Vec::new()];
    for (&tx, value) in t.iter().zip(values) {
        match value {
            Some(v) => {
                if let Some(segment) = all.last_mut() {
                    segment.push((tx, *v));
                }
            }
            None if all.last().is_some_and(|s| !s.is_empty()) => all.push(Vec::new()),
            None => {}
        }
    }
    all.retain(|s| !s.is_empty());
    all
}

/// A tick step of 1, 2 or 5 × 10^k giving about five ticks, and the axis maximum (a multiple of it).
fn nice_axis(max: f64) -> (f64, f64) {
    let max = if max > 0.0 && max.is_finite() { max } else { 1.0 };
    let raw = max / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * magnitude).find(|&s| s >= raw).unwrap_or(10.0 * magnitude);
    (step, (max / step).ceil() * step)
}

fn tick_label(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 { 0 } else { (-step.log10()).ceil() as usize };
    format!("{v:.decimals$}")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_axes() {
        assert_eq!(nice_axis(0.0), (0.2, 1.0));
        assert_eq!(nice_axis(87.0), (20.0, 100.0));
        assert_eq!(nice_axis(30.0), (10.0, 30.0));
        assert_eq!(nice_axis(1234.0), (500.0, 1500.0));
        assert_eq!(tick_label(0.4, 0.2), "0.4");
        assert_eq!(tick_label(1500.0, 500.0), "1500");
    }

    #[test]
    fn gaps_split_lines() {
        let t = [1.0, 2.0, 3.0, 4.0, 5.0];
        let values = [Some(1.0), None, Some(3.0), Some(4.0), None];
        assert_eq!(segments(&t, &values), vec![vec![(1.0, 1.0)], vec![(3.0, 3.0), (4.0, 4.0)]]);
    }

    #[test]
    fn chart_is_wellformed_svg() {
        let svg = svg(&crate::report::tests::sample_report());
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 4, "{svg}");
        assert!(svg.contains("sign-ins/s") && svg.contains("p99") && svg.contains("time (s)"));
        assert!(svg.contains("errors/s") && svg.contains("warm-up"));
    }
}
