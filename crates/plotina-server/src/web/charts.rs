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

/// A point of a line, with its value text and link.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub value: String,
    pub href: String,
}

/// The dam's water level: per month an inflow bar above the zero line, an outflow bar
/// below it and the level (active customers) as a line, all on one scale.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelChart {
    pub width: f64,
    pub height: f64,
    pub zero_y: f64,
    pub inflow: Vec<Bar>,
    pub outflow: Vec<Bar>,
    pub level: Vec<Point>,
    /// `x,y x,y …` for the polyline.
    pub line: String,
    /// Month labels: (x, text).
    pub labels: Vec<(f64, String)>,
}

pub const LEVEL_WIDTH: f64 = 640.0;
const LEVEL_TOP: f64 = 24.0;
const LEVEL_ZERO: f64 = 200.0;
const LEVEL_DOWN: f64 = 70.0;

fn r1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Input per month: (label, inflow, inflow link, outflow, outflow link, level, level link).
pub type LevelInput = (String, i64, String, i64, String, i64, String);

pub fn level(months: Vec<LevelInput>) -> LevelChart {
    let up = months
        .iter()
        .map(|m| m.1.max(m.5))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let down = months.iter().map(|m| m.3).max().unwrap_or(0).max(1) as f64;
    let scale = ((LEVEL_ZERO - LEVEL_TOP) / up).min(LEVEL_DOWN / down);
    let step = (LEVEL_WIDTH - 20.0) / months.len().max(1) as f64;
    let bar_w = (step * 0.45).min(48.0);
    let mut chart = LevelChart {
        width: LEVEL_WIDTH,
        height: LEVEL_ZERO + LEVEL_DOWN + 30.0,
        zero_y: LEVEL_ZERO,
        inflow: Vec::new(),
        outflow: Vec::new(),
        level: Vec::new(),
        line: String::new(),
        labels: Vec::new(),
    };
    let mut line = Vec::new();
    for (i, (label, inflow, in_href, outflow, out_href, lvl, lvl_href)) in
        months.into_iter().enumerate()
    {
        let cx = 10.0 + step * (i as f64 + 0.5);
        let bar = |value: i64, y: f64, h: f64, href: String, kind: &str| Bar {
            x: r1(cx - bar_w / 2.0),
            y: r1(y),
            w: r1(bar_w),
            h: r1(h),
            label: label.clone(),
            value: value.to_string(),
            note: String::new(),
            href,
            kind: kind.into(),
            text_y: r1(if kind == "lost" {
                y + h + 12.0
            } else {
                y - 4.0
            }),
            note_y: 0.0,
        };
        let h_in = inflow as f64 * scale;
        chart
            .inflow
            .push(bar(inflow, LEVEL_ZERO - h_in, h_in, in_href, "won"));
        let h_out = outflow as f64 * scale;
        chart
            .outflow
            .push(bar(outflow, LEVEL_ZERO, h_out, out_href, "lost"));
        let y = r1(LEVEL_ZERO - lvl as f64 * scale);
        line.push(format!("{},{}", r1(cx), y));
        chart.level.push(Point {
            x: r1(cx),
            y,
            value: lvl.to_string(),
            href: lvl_href,
        });
        chart.labels.push((r1(cx), label));
    }
    chart.line = line.join(" ");
    chart
}

#[cfg(test)]
mod level_tests {
    use super::*;

    #[test]
    fn one_scale_for_level_and_flows() {
        let m = |l: &str, i: i64, o: i64, v: i64| {
            (
                l.to_string(),
                i,
                String::new(),
                o,
                String::new(),
                v,
                String::new(),
            )
        };
        // Highest upward value 4 → scale min(176 / 4, 70 / 2) = 35 px per customer.
        let c = level(vec![m("01", 1, 0, 4), m("02", 2, 2, 2)]);
        assert_eq!(c.level[0].y, 200.0 - 4.0 * 35.0);
        assert_eq!((c.inflow[1].y, c.inflow[1].h), (130.0, 70.0));
        assert_eq!((c.outflow[1].y, c.outflow[1].h), (200.0, 70.0));
        // Two months over 620 px: centres at 165 and 475.
        assert_eq!(c.line, "165,60 475,130");
    }
}

/// One row of a paired bar chart: two values on one scale (the sources report: won
/// amount and cost), the first linking to its records.
#[derive(Debug, Clone, PartialEq)]
pub struct PairInput {
    pub label: String,
    pub a: i64,
    pub a_text: String,
    pub a_href: String,
    pub b: i64,
    pub b_text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PairRow {
    pub label: String,
    pub label_y: f64,
    /// The first bar (class `won`) and the second (class `lost`).
    pub a: Bar,
    pub b: Bar,
}

/// Horizontal paired bars, labels on the left, both bars of every row on the scale of
/// the largest value of the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct PairChart {
    pub width: f64,
    pub height: f64,
    pub rows: Vec<PairRow>,
}

pub const PAIR_WIDTH: f64 = 640.0;
const PAIR_LABELS: f64 = 200.0;
const PAIR_AREA: f64 = 420.0;
const PAIR_ROW: f64 = 44.0;
const PAIR_BAR: f64 = 16.0;

pub fn pairs(rows: Vec<PairInput>) -> PairChart {
    let max = rows.iter().map(|r| r.a.max(r.b)).max().unwrap_or(0).max(1) as f64;
    let width = |v: i64| ((PAIR_AREA * v.max(0) as f64 / max).max(1.0) * 10.0).round() / 10.0;
    let bar = |y: f64, v: i64, text: String, href: String, kind: &str| Bar {
        x: PAIR_LABELS,
        y,
        w: width(v),
        h: PAIR_BAR,
        label: String::new(),
        value: text,
        note: String::new(),
        href,
        kind: kind.into(),
        text_y: y + 12.0,
        note_y: y + 12.0,
    };
    let rows: Vec<PairRow> = rows
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let y = i as f64 * PAIR_ROW + 4.0;
            PairRow {
                label: r.label,
                label_y: y + PAIR_BAR + 2.0,
                a: bar(y, r.a, r.a_text, r.a_href, "won"),
                b: bar(y + PAIR_BAR + 2.0, r.b, r.b_text, String::new(), "lost"),
            }
        })
        .collect();
    PairChart {
        width: PAIR_WIDTH,
        height: rows.len() as f64 * PAIR_ROW + 8.0,
        rows,
    }
}

#[cfg(test)]
mod pair_tests {
    use super::*;

    #[test]
    fn pairs_share_one_scale() {
        let row = |label: &str, a: i64, b: i64| PairInput {
            label: label.into(),
            a,
            a_text: a.to_string(),
            a_href: String::new(),
            b,
            b_text: b.to_string(),
        };
        let c = pairs(vec![row("x", 400, 100), row("y", 0, 800)]);
        // The largest value, 800, spans the 420-wide area: 400 → 210, 100 → 52.5,
        // 0 → the 1-unit minimum.
        assert_eq!((c.rows[0].a.w, c.rows[0].b.w), (210.0, 52.5));
        assert_eq!((c.rows[1].a.w, c.rows[1].b.w), (1.0, 420.0));
        assert_eq!((c.rows[1].a.y, c.rows[1].b.y), (48.0, 66.0));
        assert_eq!(c.height, 2.0 * 44.0 + 8.0);
    }
}
