//! `--plot FILE.svg`: each revision's median time against rows, log-log, one line per revision,
//! database and direction; the slowest are labelled at their largest size.

use anyhow::Result;
use mrt_harness::bench::{BenchDirection, BenchRun};
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Lines named in the legend and at their end, slowest first.
const LABELLED: usize = 6;

type Series = ((String, String, BenchDirection), Vec<(f64, f64)>);

pub fn draw(run: &BenchRun, path: &Path) -> Result<()> {
    std::fs::write(path, svg(run)?)?;
    Ok(())
}

/// The plot as SVG text (for a file, or the HTML report).
pub fn svg(run: &BenchRun) -> Result<String> {
    let mut out = String::new();
    paint(
        run,
        SVGBackend::with_string(&mut out, (960, 600)).into_drawing_area(),
    )?;
    Ok(out)
}

fn paint(run: &BenchRun, root: DrawingArea<SVGBackend, plotters::coord::Shift>) -> Result<()> {
    let series = series(run);
    let xs = series.iter().flat_map(|(_, p)| p.iter().map(|p| p.0));
    let ys = series.iter().flat_map(|(_, p)| p.iter().map(|p| p.1));
    let x_max = xs.fold(10.0, f64::max) * 1.5;
    let (y_min, y_max) = ys.fold((f64::MAX, 0.01_f64), |(lo, hi), y| (lo.min(y), hi.max(y)));
    let y_min = (y_min.min(y_max) / 2.0).max(0.001);
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "mrt bench: median step time against rows (log-log)",
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d((1.0..x_max).log_scale(), (y_min..y_max * 2.0).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("rows in the touched tables (sizes above 0)")
        .y_desc("median ms")
        .x_label_formatter(&|x| format!("{}", x.round() as u64))
        .y_label_formatter(&|y| {
            if *y >= 1.0 {
                format!("{y:.0}")
            } else {
                format!("{y:.2}")
            }
        })
        .draw()?;
    for (i, ((db, rev, direction), points)) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let style = match direction {
            BenchDirection::Upgrade => color.stroke_width(2),
            BenchDirection::Downgrade => color.mix(0.5).stroke_width(1),
        };
        let drawn = chart.draw_series(LineSeries::new(points.iter().copied(), style))?;
        if i < LABELLED {
            let name = format!("{db} {rev} {}", direction.as_str());
            drawn.label(name).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        }
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        if let (true, Some(&last)) = (i < LABELLED, points.last()) {
            let text = format!("{rev} {}", direction.as_str());
            chart.draw_series(std::iter::once(Text::new(text, last, ("sans-serif", 12))))?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Points with rows (a log axis has no 0), slowest series (at its largest size) first.
fn series(run: &BenchRun) -> Vec<Series> {
    let mut by: BTreeMap<(String, String, BenchDirection), Vec<(f64, f64)>> = BTreeMap::new();
    for r in run.results.iter().filter(|r| r.rows > 0) {
        let key = (r.database.clone(), r.revision.clone(), r.direction);
        by.entry(key)
            .or_default()
            .push((r.rows as f64, r.median_ms.max(0.001)));
    }
    let mut series: Vec<Series> = by.into_iter().collect();
    for (_, points) in &mut series {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let last = |s: &Series| s.1.last().map_or(0.0, |p| p.1);
    series.sort_by(|a, b| last(b).total_cmp(&last(a)));
    series
}
