//! Server-rendered SVG charts for the report pages. The geometry is computed here and
//! written by askama templates (escaped like any text); colours come from CSS classes
//! in the stylesheet (`.chart-*`), so charts follow the page's theme, and the SVG has a
//! `viewBox` only, so it shrinks to a phone's width.

/// One bar of a chart, in viewBox units, with where it leads.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub label: String,
    pub value: String,
    /// Secondary text (a conversion, a share).
    pub note: String,
    pub href: String,
    /// A CSS class modifier: `won`, `lost` or empty.
    pub kind: String,
    /// Where the texts go.
    pub text_y: f64,
    pub note_y: f64,
}

/// A funnel: horizontal bars centred in the right part of the drawing, their widths
/// proportional to the value, labels on the left.
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelChart {
    pub width: f64,
    pub height: f64,
    pub bars: Vec<Bar>,
}

pub const FUNNEL_WIDTH: f64 = 640.0;
const LABEL_AREA: f64 = 240.0;
const ROW: f64 = 52.0;
const BAR_H: f64 = 36.0;

/// Input: (label, value, value text, note, link, kind).
pub fn funnel(rows: Vec<(String, i64, String, String, String, String)>) -> FunnelChart {
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1) as f64;
    let area = FUNNEL_WIDTH - LABEL_AREA;
    let centre = LABEL_AREA + area / 2.0;
    let bars = rows
        .into_iter()
        .enumerate()
        .map(|(i, (label, value, value_text, note, href, kind))| {
            let w = (area * value as f64 / max).max(2.0);
            let y = i as f64 * ROW + 4.0;
            Bar {
                x: ((centre - w / 2.0) * 10.0).round() / 10.0,
                y,
                w: (w * 10.0).round() / 10.0,
                h: BAR_H,
                label,
                value: value_text,
                note,
                href,
                kind,
                text_y: y + 15.0,
                note_y: y + 32.0,
            }
        })
        .collect::<Vec<_>>();
    FunnelChart {
        width: FUNNEL_WIDTH,
        height: bars.len() as f64 * ROW + 8.0,
        bars,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_proportional_and_centred() {
        let row = |l: &str, v: i64| {
            (
                l.to_string(),
                v,
                v.to_string(),
                String::new(),
                String::new(),
                String::new(),
            )
        };
        let c = funnel(vec![row("a", 8), row("b", 2), row("c", 0)]);
        // Bar area 400 wide centred at 440: 8 → 400 wide at 240; 2 → 100 at 390; 0 → 2.
        assert_eq!((c.bars[0].x, c.bars[0].w), (240.0, 400.0));
        assert_eq!((c.bars[1].x, c.bars[1].w), (390.0, 100.0));
        assert_eq!((c.bars[2].x, c.bars[2].w), (439.0, 2.0));
        assert_eq!(c.height, 3.0 * 52.0 + 8.0);
    }
}
