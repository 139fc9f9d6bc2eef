//! Bar charts drawn on the server as SVG: no script and no chart library, so they pass the
//! content security policy and show before anything else loads. Every text in them is escaped.

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
    let mut svg =
        format!("<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{}\">", escape(title));
    svg.push_str(&format!("<line class=\"axis\" x1=\"0\" x2=\"{WIDTH}\" y1=\"{zero:.1}\" y2=\"{zero:.1}\"/>"));
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
        svg.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            slot * i as f64 + slot / 2.0,
            HEIGHT - 6,
            escape(&bar.label)
        ));
    }
    svg.push_str("</svg>");
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::{Bar, bar_chart};

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
}
