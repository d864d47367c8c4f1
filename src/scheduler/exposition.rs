//! The Prometheus text exposition format (version 0.0.4): metric families with their `# HELP`
//! and `# TYPE` lines, samples with escaped label values. Only what the scheduler's metrics
//! need: counters and gauges.

use std::fmt::Write;

/// The `Content-Type` of a scrape answer in this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

/// A scrape answer being written.
#[derive(Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// Start a metric family. Its samples follow with [`Exposition::sample`].
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    /// One sample of the current family.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label_value(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", format_value(value));
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// Label values escape backslash, double quote and line feed.
pub fn escape_label_value(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// HELP text escapes backslash and line feed (quotes stay as they are).
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Go's float spellings: `NaN`, `+Inf`, `-Inf`; integers without a fraction.
fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_have_help_and_type_and_labels_are_escaped() {
        let mut e = Exposition::default();
        e.family("pi_manage_x_total", Kind::Counter, "Runs.\nPer \\ job.");
        e.sample(
            "pi_manage_x_total",
            &[("job", "a\"b\\c\nd"), ("status", "ok")],
            3.0,
        );
        e.family("pi_manage_y_seconds", Kind::Gauge, "A gauge.");
        e.sample("pi_manage_y_seconds", &[], 1.25);
        e.sample("pi_manage_y_seconds", &[], f64::INFINITY);
        assert_eq!(
            e.finish(),
            "# HELP pi_manage_x_total Runs.\\nPer \\\\ job.\n\
             # TYPE pi_manage_x_total counter\n\
             pi_manage_x_total{job=\"a\\\"b\\\\c\\nd\",status=\"ok\"} 3\n\
             # HELP pi_manage_y_seconds A gauge.\n\
             # TYPE pi_manage_y_seconds gauge\n\
             pi_manage_y_seconds 1.25\n\
             pi_manage_y_seconds +Inf\n"
        );
    }
}
