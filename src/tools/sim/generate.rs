//! Random timelines with the final's structure, reproducible from a seed.
//!
//! Ten stages in a 300 s load of 603 VUs at the final's fees, the first at
//! 1 s (like the final) and nine more at distinct random whole seconds in
//! 2–299 s. Each stage's settings are drawn from a mixture of [`Kind`]s,
//! then three features are laid over some timelines: a *blip* (a stage
//! that lasts 2–8 s, an outage or a spike, then both healthy), a *long
//! outage* (the default failing for two minutes or more, the fallback
//! healthy) and an *outage to the end* (the default failing from one of
//! the last stages to the end of the test, the fallback healthy: the case
//! where holding for the default loses everything held). Each stage's
//! label says what drew it.
//!
//! Timeline `index` of seed `seed` is generated from its own
//! [`SplitMix64`] stream (seeded with the `index`-th output of the stream
//! of `seed`), so one timeline can be regenerated without the others.

use super::timeline::{FINAL_DURATION_S, FINAL_FEES, FINAL_VUS, Setting, Stage, Timeline};

/// Stages per timeline, as in the final.
pub const STAGES: usize = 10;

/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom
/// number generators", OOPSLA 2014): a 64-bit counter stepped by the
/// golden ratio and a bijective mix of it. Small, fast, and good enough to
/// draw test timelines; not for anything secret.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// The stream that starts at `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `low..=high` (Lemire's multiply-shift: no modulo bias
    /// worth the name at these ranges).
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        let span = high - low + 1;
        low + ((u128::from(self.next_u64()) * u128::from(span)) >> 64) as u64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// What a stage's settings were drawn as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Each processor: any delay 0–5 000 ms, failing one time in five.
    Plain,
    /// Both answering within 150 ms.
    Healthy,
    /// A processor's delay just under or over the check's margin, 1.5–2.5 s.
    NearMargin,
    /// The default failing, the fallback healthy.
    DefaultFailing,
    /// The fallback failing, the default anything but failing.
    FallbackFailing,
    /// Both failing.
    BothFailing,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Plain => "plain",
            Kind::Healthy => "healthy",
            Kind::NearMargin => "near-margin",
            Kind::DefaultFailing => "default-failing",
            Kind::FallbackFailing => "fallback-failing",
            Kind::BothFailing => "both-failing",
        }
    }

    /// The mixture: a third plain, the rest spread over the special cases.
    fn draw(rng: &mut SplitMix64) -> Kind {
        match rng.between(0, 99) {
            0..=29 => Kind::Plain,
            30..=49 => Kind::Healthy,
            50..=64 => Kind::NearMargin,
            65..=79 => Kind::DefaultFailing,
            80..=89 => Kind::FallbackFailing,
            _ => Kind::BothFailing,
        }
    }

    fn settings(self, rng: &mut SplitMix64) -> (Setting, Setting) {
        let healthy = |rng: &mut SplitMix64| setting(rng.between(0, 150), false);
        let any = |rng: &mut SplitMix64| setting(rng.between(0, 5_000), rng.chance(0.2));
        let failing = |rng: &mut SplitMix64| setting(rng.between(0, 5_000), true);
        let near = |rng: &mut SplitMix64| setting(rng.between(1_500, 2_500), false);
        match self {
            Kind::Plain => (any(rng), any(rng)),
            Kind::Healthy => (healthy(rng), healthy(rng)),
            Kind::NearMargin => match rng.between(0, 3) {
                0 => (healthy(rng), near(rng)),
                1 => (near(rng), near(rng)),
                _ => (near(rng), healthy(rng)),
            },
            Kind::DefaultFailing => (failing(rng), healthy(rng)),
            Kind::FallbackFailing => {
                let default = setting(rng.between(0, 5_000), false);
                (default, failing(rng))
            }
            Kind::BothFailing => (failing(rng), failing(rng)),
        }
    }
}

fn setting(delay_ms: u64, failing: bool) -> Setting {
    Setting {
        delay_ms: delay_ms as u32,
        failing,
    }
}

/// Timeline `index` of the population of `seed`; see the module docs.
pub fn generate(seed: u64, index: u64) -> Timeline {
    let mut root = SplitMix64::new(seed);
    let mut own = 0;
    for _ in 0..=index {
        own = root.next_u64();
    }
    let mut rng = SplitMix64::new(own);
    let mut stages: Vec<Stage> = stage_times(&mut rng)
        .into_iter()
        .map(|at| {
            let kind = Kind::draw(&mut rng);
            let (default, fallback) = kind.settings(&mut rng);
            Stage {
                at_s: at as f64,
                default,
                fallback,
                label: kind.label().into(),
            }
        })
        .collect();
    if rng.chance(0.3) {
        long_outage(&mut stages, &mut rng);
    }
    if rng.chance(0.5) {
        blip(&mut stages, &mut rng);
    }
    if rng.chance(0.3) {
        outage_to_end(&mut stages, &mut rng);
    }
    Timeline {
        duration_s: FINAL_DURATION_S,
        vus: FINAL_VUS,
        fees: FINAL_FEES,
        stages,
    }
}

/// 1 s, then nine distinct whole seconds in 2–299, in order.
fn stage_times(rng: &mut SplitMix64) -> Vec<u64> {
    let mut times = vec![1];
    while times.len() < STAGES {
        let at = rng.between(2, FINAL_DURATION_S as u64 - 1);
        if !times.contains(&at) {
            times.push(at);
        }
    }
    times.sort_unstable();
    times
}

/// The default fails, the fallback answers within 150 ms.
fn default_outage(stage: &mut Stage, rng: &mut SplitMix64, label: &str) {
    stage.default = setting(rng.between(0, 5_000), true);
    stage.fallback = setting(rng.between(0, 150), false);
    stage.label = label.into();
}

/// From a random stage, the default fails until at least 120 s later.
fn long_outage(stages: &mut [Stage], rng: &mut SplitMix64) {
    let first = rng.between(1, STAGES as u64 - 2) as usize;
    let start = stages[first].at_s;
    for stage in &mut stages[first..] {
        if stage.at_s - start >= 120.0 {
            return;
        }
        default_outage(stage, rng, "long-outage");
    }
}

/// A stage moved to end 2–8 s after the one before it begins, which
/// becomes an outage or a spike; the moved one is both healthy.
fn blip(stages: &mut [Stage], rng: &mut SplitMix64) {
    let k = rng.between(1, STAGES as u64 - 2) as usize;
    let length = rng.between(2, 8) as f64;
    let end = stages[k].at_s + length;
    if end >= stages.get(k + 2).map_or(FINAL_DURATION_S, |s| s.at_s) {
        return; // the stage after would be overtaken: no blip here
    }
    stages[k + 1].at_s = end;
    let kind = match rng.between(0, 2) {
        0 => Kind::DefaultFailing,
        1 => Kind::BothFailing,
        _ => Kind::NearMargin,
    };
    let (default, fallback) = kind.settings(rng);
    stages[k].default = default;
    stages[k].fallback = fallback;
    stages[k].label = format!("blip {}", kind.label());
    let (default, fallback) = Kind::Healthy.settings(rng);
    stages[k + 1].default = default;
    stages[k + 1].fallback = fallback;
    stages[k + 1].label = "after the blip".into();
}

/// The default fails from one of the last stages to the end (the last one
/// itself more often than not), the fallback healthy.
fn outage_to_end(stages: &mut [Stage], rng: &mut SplitMix64) {
    let first = if rng.chance(0.6) {
        STAGES - 1
    } else {
        rng.between(STAGES as u64 - 4, STAGES as u64 - 1) as usize
    };
    for stage in &mut stages[first..] {
        default_outage(stage, rng, "outage-to-end");
    }
}

#[cfg(test)]
mod tests;
