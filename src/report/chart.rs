//! Chart geometry, apart from any markup: where a point, the tolerance band and a fault window
//! fall in an SVG of a given size. Time runs left to right from the run's start to its end; values
//! bottom to top over a range that holds every value and the band, with round tick steps.

/// The drawing area inside the SVG's view box (margins leave room for the axis labels).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    /// Plot area, in view-box units.
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
    /// Seconds since the run's start at the left and right edges.
    pub t0: f64,
    pub t1: f64,
    /// Values at the bottom and top edges.
    pub y0: f64,
    pub y1: f64,
}

/// A rectangle in view-box units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// The view box every chart uses: wide enough for a laptop, scaled down evenly on a phone.
pub const VIEW_WIDTH: f64 = 960.0;
pub const VIEW_HEIGHT: f64 = 240.0;
const MARGIN_LEFT: f64 = 80.0;
const MARGIN_RIGHT: f64 = 16.0;
const MARGIN_TOP: f64 = 28.0;
const MARGIN_BOTTOM: f64 = 32.0;

impl Frame {
    /// The frame for a run lasting `duration_s` whose values (and band) are `values`.
    pub fn new(duration_s: f64, values: impl IntoIterator<Item = f64>) -> Frame {
        // Zero is always on the axis: an error rate of 0.01 should not look like a cliff.
        let (mut lo, mut hi) = (0.0f64, 0.0f64);
        for v in values.into_iter().filter(|v| v.is_finite()) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if hi <= lo {
            hi = lo + 1.0;
        }
        let step = tick_step(hi - lo);
        Frame {
            left: MARGIN_LEFT,
            top: MARGIN_TOP,
            width: VIEW_WIDTH - MARGIN_LEFT - MARGIN_RIGHT,
            height: VIEW_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM,
            t0: 0.0,
            t1: if duration_s > 0.0 { duration_s } else { 1.0 },
            y0: (lo / step).floor() * step,
            y1: (hi / step).ceil() * step,
        }
    }

    /// The x of a time (seconds since the start), clamped to the plot area.
    pub fn x(&self, t: f64) -> f64 {
        let f = ((t - self.t0) / (self.t1 - self.t0)).clamp(0.0, 1.0);
        self.left + f * self.width
    }

    /// The y of a value, clamped to the plot area.
    pub fn y(&self, v: f64) -> f64 {
        let f = ((v - self.y0) / (self.y1 - self.y0)).clamp(0.0, 1.0);
        self.top + (1.0 - f) * self.height
    }

    /// The full-height span between two times (a fault window).
    pub fn span(&self, from: f64, to: f64) -> Rect {
        let (a, b) = (self.x(from), self.x(to.max(from)));
        Rect {
            x: a,
            y: self.top,
            width: b - a,
            height: self.height,
        }
    }

    /// The full-width band between two values (the tolerance); at least 2 units tall so an
    /// exact value (`expect: 0`) still shows.
    pub fn band(&self, lo: f64, hi: f64) -> Rect {
        let (top, bottom) = (self.y(hi.max(lo)), self.y(lo.min(hi)));
        let height = (bottom - top).max(2.0);
        Rect {
            x: self.left,
            y: (bottom - height).max(self.top),
            width: self.width,
            height,
        }
    }

    /// Round values for the y-axis labels, bottom to top.
    pub fn y_ticks(&self) -> Vec<f64> {
        ticks(self.y0, self.y1)
    }

    /// Round times for the x-axis labels.
    pub fn t_ticks(&self) -> Vec<f64> {
        ticks(self.t0, self.t1)
    }
}

/// A step of 1, 2 or 5 × 10ⁿ giving about four intervals over `extent`.
fn tick_step(extent: f64) -> f64 {
    let raw = extent / 4.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    if step > 0.0 && step.is_finite() {
        step
    } else {
        1.0
    }
}

fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let step = tick_step(hi - lo);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// The points of a line as an SVG `points` attribute.
pub fn polyline(frame: &Frame, points: &[(f64, f64)]) -> String {
    let mut text = String::with_capacity(points.len() * 14);
    for (i, (t, v)) in points.iter().enumerate() {
        if i > 0 {
            text.push(' ');
        }
        text.push_str(&format!("{:.1},{:.1}", frame.x(*t), frame.y(*v)));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_series_lands_on_known_points() {
        // 10 s run, values 0..=0.5: the y range rounds to 0..0.6 (step 0.2 would leave 0.5
        // near the top; 0.125 raw step → 0.2).
        let f = Frame::new(10.0, [0.0, 0.25, 0.5]);
        assert_eq!(
            (f.left, f.top, f.width, f.height),
            (80.0, 28.0, 864.0, 180.0)
        );
        assert_eq!((f.t0, f.t1), (0.0, 10.0));
        assert_eq!(f.y0, 0.0);
        assert!((f.y1 - 0.6).abs() < 1e-9, "{}", f.y1);
        assert_eq!(f.x(0.0), 80.0);
        assert_eq!(f.x(5.0), 80.0 + 432.0);
        assert_eq!(f.x(10.0), 944.0);
        assert_eq!(f.y(0.0), 208.0);
        assert!((f.y(0.3) - 118.0).abs() < 1e-9);
        assert_eq!(
            polyline(&f, &[(0.0, 0.0), (5.0, 0.3)]),
            "80.0,208.0 512.0,118.0"
        );
        // Out of range clamps to the edges.
        assert_eq!(f.x(-1.0), 80.0);
        assert_eq!(f.x(11.0), 944.0);
        assert_eq!(f.y(9.0), 28.0);
    }

    #[test]
    fn the_band_and_the_fault_span_cover_their_values_and_times() {
        let f = Frame::new(20.0, [0.0, 100.0, 250.0]);
        assert_eq!((f.y0, f.y1), (0.0, 300.0));
        let band = f.band(0.0, 250.0);
        assert_eq!(band.x, 80.0);
        assert_eq!(band.width, 864.0);
        assert!((band.y - f.y(250.0)).abs() < 1e-9);
        assert!((band.y + band.height - 208.0).abs() < 1e-9);
        let span = f.span(5.0, 15.0);
        assert_eq!(span.x, 80.0 + 216.0);
        assert_eq!(span.width, 432.0);
        assert_eq!((span.y, span.height), (28.0, 180.0));
        // A fault still active at the end reaches the right edge; a reverse span is empty.
        assert_eq!(f.span(15.0, 99.0).width, 216.0);
        assert_eq!(f.span(15.0, 10.0).width, 0.0);
        // An exact value still gets a visible band.
        assert_eq!(f.band(100.0, 100.0).height, 2.0);
    }

    #[test]
    fn ticks_are_round_and_inside_the_range() {
        let f = Frame::new(7.3, [0.0, 0.013]);
        assert_eq!(f.t_ticks(), [0.0, 2.0, 4.0, 6.0]);
        let y: Vec<String> = f.y_ticks().iter().map(|v| format!("{v:.3}")).collect();
        assert_eq!(y, ["0.000", "0.005", "0.010", "0.015"]);
        // Nothing to plot, or one flat value: still a usable range.
        let empty = Frame::new(0.0, []);
        assert_eq!((empty.t1, empty.y0, empty.y1), (1.0, 0.0, 1.0));
        let negative = Frame::new(1.0, [-3.0, -1.0]);
        assert_eq!((negative.y0, negative.y1), (-3.0, 0.0));
    }
}
