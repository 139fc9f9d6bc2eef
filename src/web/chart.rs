//! Bar charts drawn on the server as SVG: no script and no chart library, so they pass the
//! content security policy and show before anything else loads (a live page swaps in the
//! server's new drawing). Every text in them is escaped.

/// One bar: its label under the axis, its value, and how the value is shown on hover.
pub struct Bar {
    pub label: String,
    pub value: i64,
    pub shown: String,
}

const WIDTH: i64 = 720;
const HEIGHT: i64 = 200;
/// Room under the bars for their labels.
const LABELS: i64 = 22;

/// An SVG of `bars` side by side, scaled to the largest magnitude; negative values hang below
/// the zero line. `title` names the chart for screen readers.
pub fn bar_chart(title: &str, bars: &[Bar]) -> String {
    let top = bars.iter().map(|b| b.value.max(0)).max().unwrap_or(0);
    let bottom = bars.iter().map(|b| b.value.min(0)).min().unwrap_or(0);
    let span = (top - bottom).max(1) as f64;
    let plot = (HEIGHT - LABELS) as f64;
    let zero = plot * top as f64 / span;
    let slot = WIDTH as f64 / bars.len().max(1) as f64;
    let mut svg = open(title, zero);
    for (i, bar) in bars.iter().enumerate() {
        let height = plot * bar.value.unsigned_abs() as f64 / span;
        let y = if bar.value >= 0 { zero - height } else { zero };
        let x = slot * i as f64 + slot * 0.15;
        let class = if bar.value >= 0 { "bar" } else { "bar negative" };
        svg.push_str(&format!(
            "<rect class=\"{class}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{height:.1}\"><title>{}: {}</title></rect>",
            slot * 0.7,
            escape(&bar.label),
            escape(&bar.shown)
        ));
        svg.push_str(&label(slot * i as f64 + slot / 2.0, &bar.label));
    }
    svg.push_str("</svg>");
    svg
}

/// One column of parts stacked from the axis up: its label under the axis (empty for none), each
/// part's CSS class (its colour) and value, and what hovering it shows.
pub struct Stack {
    pub label: String,
    pub parts: Vec<(&'static str, i64)>,
    pub shown: String,
}

/// An SVG of `stacks` side by side, scaled to `top` or else to the tallest stack, whose height
/// is written in the top corner.
pub fn stacked_chart(title: &str, stacks: &[Stack], top: Option<i64>) -> String {
    let tallest = stacks.iter().map(|s| s.parts.iter().map(|(_, v)| (*v).max(0)).sum::<i64>()).max().unwrap_or(0);
    let top = top.unwrap_or(tallest).max(1);
    let plot = (HEIGHT - LABELS) as f64;
    let slot = WIDTH as f64 / stacks.len().max(1) as f64;
    let mut svg = open(title, plot);
    svg.push_str(&format!("<text class=\"scale\" x=\"4\" y=\"12\">{top}</text>"));
    for (i, stack) in stacks.iter().enumerate() {
        let x = slot * i as f64 + slot * 0.1;
        svg.push_str(&format!("<g><title>{}: {}</title>", escape(&stack.label), escape(&stack.shown)));
        let mut y = plot;
        for (class, value) in stack.parts.iter().filter(|(_, v)| *v > 0) {
            let height = plot * *value as f64 / top as f64;
            y -= height;
            svg.push_str(&format!(
                "<rect class=\"bar {class}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{height:.1}\"/>",
                slot * 0.8
            ));
        }
        svg.push_str("</g>");
        if !stack.label.is_empty() {
            svg.push_str(&label(slot * i as f64 + slot / 2.0, &stack.label));
        }
    }
    svg.push_str("</svg>");
    svg
}

/// The chart's opening, named `title` for screen readers, with its axis at `axis`.
fn open(title: &str, axis: f64) -> String {
    format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{}\">\
         <line class=\"axis\" x1=\"0\" x2=\"{WIDTH}\" y1=\"{axis:.1}\" y2=\"{axis:.1}\"/>",
        escape(title)
    )
}

/// A column's label under the axis, centred on `x`.
fn label(x: f64, text: &str) -> String {
    format!("<text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>", HEIGHT - 6, escape(text))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::{Bar, Stack, bar_chart, stacked_chart};

    fn bar(label: &str, value: i64) -> Bar {
        Bar { label: label.into(), value, shown: format!("{value} USD") }
    }

    #[test]
    fn a_bar_chart_scales_bars_to_the_largest_and_escapes_its_text() {
        let svg = bar_chart("Net <revenue>", &[bar("Jan", 100), bar("Feb", 50), bar("<b>", 0)]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("aria-label=\"Net &lt;revenue&gt;\""));
        assert!(svg.contains("height=\"178.0\"><title>Jan: 100 USD</title>"), "{svg}");
        assert!(svg.contains("height=\"89.0\"><title>Feb: 50 USD</title>"), "{svg}");
        assert!(!svg.contains("<b>"));
    }

    #[test]
    fn a_negative_bar_hangs_below_the_zero_line() {
        let svg = bar_chart("Net", &[bar("Jan", 300), bar("Feb", -100)]);
        assert!(svg.contains("y1=\"133.5\""), "{svg}");
        assert!(svg.contains("class=\"bar negative\" x=\"414.0\" y=\"133.5\""), "{svg}");
    }

    #[test]
    fn a_stacked_chart_piles_each_columns_parts_and_labels_only_those_named() {
        let stack = |label: &str, ok: i64, failed: i64| Stack {
            label: label.into(),
            parts: vec![("succeeded", ok), ("failed", failed)],
            shown: format!("{ok} ok, {failed} failed"),
        };
        let svg = stacked_chart("Runs <per> minute", &[stack("10:00", 30, 10), stack("", 0, 0)], None);
        assert!(svg.contains("aria-label=\"Runs &lt;per&gt; minute\""));
        assert!(svg.contains(">40</text>"), "scaled to the tallest stack: {svg}");
        assert!(
            svg.contains("class=\"bar succeeded\" x=\"36.0\" y=\"44.5\" width=\"288.0\" height=\"133.5\""),
            "{svg}"
        );
        assert!(svg.contains("class=\"bar failed\" x=\"36.0\" y=\"0.0\" width=\"288.0\" height=\"44.5\""), "{svg}");
        assert_eq!(svg.matches("<rect").count(), 2, "empty parts draw nothing");
        assert_eq!(svg.matches("text-anchor").count(), 1, "unnamed columns have no label");
        assert!(stacked_chart("Health", &[stack("1 Dec", 50, 0)], Some(100)).contains("height=\"89.0\""));
    }
}
