//! Detection parameters: the criterion with its thresholds, the lookahead and the alert
//! level thresholds, each validated once on construction.

use thiserror::Error;

/// Metres in one international nautical mile.
pub const METRES_PER_NAUTICAL_MILE: f64 = 1852.0;
/// Metres in one international foot.
pub const METRES_PER_FOOT: f64 = 0.3048;

/// A parameter that cannot be used, with its name as the command line and the agreement
/// spell it.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum InvalidParameter {
    #[error("{name} = {value} must be a finite number greater than 0")]
    NotPositive { name: &'static str, value: f64 },
    #[error("{name} = {value} must be a finite number, 0 or more")]
    Negative { name: &'static str, value: f64 },
    #[error("warning_s = {warning_s} must not exceed caution_s = {caution_s}")]
    WarningAfterCaution { warning_s: f64, caution_s: f64 },
}

fn positive(name: &'static str, value: f64) -> Result<f64, InvalidParameter> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(InvalidParameter::NotPositive { name, value })
    }
}

fn non_negative(name: &'static str, value: f64) -> Result<f64, InvalidParameter> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(InvalidParameter::Negative { name, value })
    }
}

/// The cylinder's separation minima.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CylinderMinima {
    horizontal_m: f64,
    vertical_m: f64,
}

impl CylinderMinima {
    pub fn new(horizontal_m: f64, vertical_m: f64) -> Result<Self, InvalidParameter> {
        Ok(Self {
            horizontal_m: positive("horizontal_m", horizontal_m)?,
            vertical_m: positive("vertical_m", vertical_m)?,
        })
    }
    pub fn horizontal_m(&self) -> f64 {
        self.horizontal_m
    }
    pub fn vertical_m(&self) -> f64 {
        self.vertical_m
    }
}

impl Default for CylinderMinima {
    /// 5 NM (9260 m) and 1,000 ft (304.8 m), the contract's defaults.
    fn default() -> Self {
        Self {
            horizontal_m: 9260.0,
            vertical_m: 304.8,
        }
    }
}

/// The DO-365 well-clear thresholds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WellClearThresholds {
    dthr_m: f64,
    zthr_m: f64,
    tthr_s: f64,
    tcoa_s: f64,
}

impl WellClearThresholds {
    pub fn new(
        dthr_m: f64,
        zthr_m: f64,
        tthr_s: f64,
        tcoa_s: f64,
    ) -> Result<Self, InvalidParameter> {
        Ok(Self {
            dthr_m: positive("dthr_m", dthr_m)?,
            zthr_m: positive("zthr_m", zthr_m)?,
            tthr_s: non_negative("tthr_s", tthr_s)?,
            tcoa_s: non_negative("tcoa_s", tcoa_s)?,
        })
    }
    pub fn dthr_m(&self) -> f64 {
        self.dthr_m
    }
    pub fn zthr_m(&self) -> f64 {
        self.zthr_m
    }
    pub fn tthr_s(&self) -> f64 {
        self.tthr_s
    }
    pub fn tcoa_s(&self) -> f64 {
        self.tcoa_s
    }
}

impl Default for WellClearThresholds {
    /// DO-365 Phase I: DTHR 0.66 NM (1222.32 m), ZTHR 450 ft (137.16 m), TTHR 35 s,
    /// TCOA 0 s.
    fn default() -> Self {
        Self {
            dthr_m: 0.66 * METRES_PER_NAUTICAL_MILE,
            zthr_m: 450.0 * METRES_PER_FOOT,
            tthr_s: 35.0,
            tcoa_s: 0.0,
        }
    }
}

/// Which separation test a pair must pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TacticalCriterion {
    Cylinder(CylinderMinima),
    WellClear(WellClearThresholds),
}

impl Default for TacticalCriterion {
    fn default() -> Self {
        Self::Cylinder(CylinderMinima::default())
    }
}

impl TacticalCriterion {
    /// The horizontal distance threshold (`H` or `DTHR`).
    pub fn horizontal_threshold_m(&self) -> f64 {
        match self {
            Self::Cylinder(c) => c.horizontal_m,
            Self::WellClear(w) => w.dthr_m,
        }
    }
    /// How far ahead the horizontal test looks beyond the state it judges (`TTHR` for
    /// well clear, 0 for the cylinder): a violation at t can be declared while the pair
    /// is still up to `TTHR * |v|` beyond the distance threshold.
    pub fn horizontal_lead_s(&self) -> f64 {
        match self {
            Self::Cylinder(_) => 0.0,
            Self::WellClear(w) => w.tthr_s,
        }
    }
    /// The vertical distance threshold (`V` or `ZTHR`).
    pub fn vertical_threshold_m(&self) -> f64 {
        match self {
            Self::Cylinder(c) => c.vertical_m,
            Self::WellClear(w) => w.zthr_m,
        }
    }
    /// How far ahead the vertical test looks (`TCOA` for well clear, 0 for the cylinder).
    pub fn vertical_lead_s(&self) -> f64 {
        match self {
            Self::Cylinder(_) => 0.0,
            Self::WellClear(w) => w.tcoa_s,
        }
    }
}

/// The time-to-loss-of-separation thresholds of the alert levels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlertThresholds {
    warning_s: f64,
    caution_s: f64,
}

impl AlertThresholds {
    pub fn new(warning_s: f64, caution_s: f64) -> Result<Self, InvalidParameter> {
        let warning_s = non_negative("warning_s", warning_s)?;
        let caution_s = non_negative("caution_s", caution_s)?;
        if warning_s > caution_s {
            return Err(InvalidParameter::WarningAfterCaution {
                warning_s,
                caution_s,
            });
        }
        Ok(Self {
            warning_s,
            caution_s,
        })
    }
    pub fn warning_s(&self) -> f64 {
        self.warning_s
    }
    pub fn caution_s(&self) -> f64 {
        self.caution_s
    }
}

impl Default for AlertThresholds {
    /// Warning at or below 60 s, caution at or below 120 s.
    fn default() -> Self {
        Self {
            warning_s: 60.0,
            caution_s: 120.0,
        }
    }
}

/// Everything one detection cycle needs to know besides the states.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectionParams {
    criterion: TacticalCriterion,
    lookahead_s: f64,
    alert: AlertThresholds,
}

impl DetectionParams {
    pub fn new(
        criterion: TacticalCriterion,
        lookahead_s: f64,
        alert: AlertThresholds,
    ) -> Result<Self, InvalidParameter> {
        Ok(Self {
            criterion,
            lookahead_s: non_negative("lookahead_s", lookahead_s)?,
            alert,
        })
    }
    pub fn criterion(&self) -> &TacticalCriterion {
        &self.criterion
    }
    pub fn lookahead_s(&self) -> f64 {
        self.lookahead_s
    }
    pub fn alert(&self) -> &AlertThresholds {
        &self.alert
    }
}

impl Default for DetectionParams {
    /// The contract's defaults: cylinder of 9260 m and 304.8 m, lookahead 300 s, warning
    /// at 60 s, caution at 120 s.
    fn default() -> Self {
        Self {
            criterion: TacticalCriterion::default(),
            lookahead_s: 300.0,
            alert: AlertThresholds::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_parameters_are_refused_with_their_name() {
        let error = CylinderMinima::new(0.0, 300.0).unwrap_err();
        assert!(error.to_string().contains("horizontal_m"), "{error}");
        assert!(WellClearThresholds::new(1000.0, 100.0, -1.0, 0.0).is_err());
        assert!(WellClearThresholds::new(1000.0, f64::NAN, 1.0, 0.0).is_err());
        assert!(AlertThresholds::new(130.0, 120.0).is_err());
        assert!(DetectionParams::new(
            TacticalCriterion::default(),
            -1.0,
            AlertThresholds::default()
        )
        .is_err());
        assert!(DetectionParams::new(
            TacticalCriterion::default(),
            0.0,
            AlertThresholds::default()
        )
        .is_ok());
    }

    #[test]
    fn well_clear_defaults_are_do_365_phase_one() {
        let w = WellClearThresholds::default();
        assert!((w.dthr_m() - 1222.32).abs() < 1e-9);
        assert!((w.zthr_m() - 137.16).abs() < 1e-9);
        assert_eq!((w.tthr_s(), w.tcoa_s()), (35.0, 0.0));
    }
}
