//! A processor timeline: what each processor does when, over a load of a
//! given length and size.
//!
//! The grammar is bench/timeline.py's (`parse_text` and `validate`), which
//! stays the reference: one stage per line, `at_s ddelay dfail fdelay ffail
//! [label]`, `#` comments, and the settings `duration S`, `vus N` and
//! `fees D F`. [`Timeline::to_text`] writes the same format back, so a
//! generated timeline can be run for real with `bench/run.sh --timeline`.

use std::fmt::Write as _;

/// The final's facts (docs/contest.md, "The final test"), the defaults of
/// a timeline that does not set them.
pub const FINAL_DURATION_S: f64 = 300.0;
/// VUs at the end of the final's ramp.
pub const FINAL_VUS: u32 = 603;
/// The final's default and fallback fees.
pub const FINAL_FEES: Fees = Fees {
    default: 0.07,
    fallback: 0.10,
};
/// The preview's fees.
pub const PREVIEW_FEES: Fees = Fees {
    default: 0.05,
    fallback: 0.15,
};

/// The two processors' fees, as fractions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fees {
    /// The default's (the lower one in every contest test).
    pub default: f64,
    /// The fallback's.
    pub fallback: f64,
}

/// One processor's configuration during a stage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Setting {
    /// The delay of every `POST /payments`, 0 to 60 000 ms.
    pub delay_ms: u32,
    /// Whether it answers 500 and stores nothing.
    pub failing: bool,
}

/// From `at_s` seconds after the load starts until the next stage.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    /// Seconds after the start of the load.
    pub at_s: f64,
    /// The default processor's setting.
    pub default: Setting,
    /// The fallback processor's setting.
    pub fallback: Setting,
    /// A free-text name; may be empty.
    pub label: String,
}

/// A whole timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Timeline {
    /// Seconds of load (the k6 ramp's length).
    pub duration_s: f64,
    /// VUs at the end of the ramp (it starts at 1).
    pub vus: u32,
    /// The fees the file names (the final's unless it says otherwise).
    pub fees: Fees,
    /// Stages in time order, each strictly inside `(previous, duration)`.
    pub stages: Vec<Stage>,
}

impl Timeline {
    /// Parses the text format and validates it like timeline.py's `load`;
    /// errors name the line (`name:line: ...`).
    pub fn parse(text: &str, name: &str) -> Result<Timeline, String> {
        let mut timeline = Timeline {
            duration_s: FINAL_DURATION_S,
            vus: FINAL_VUS,
            fees: FINAL_FEES,
            stages: Vec::new(),
        };
        for (number, raw) in text.lines().enumerate() {
            let words: Vec<&str> = raw
                .split('#')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            if words.is_empty() {
                continue;
            }
            let at = |e: &dyn std::fmt::Display| format!("{name}:{}: {e}: {raw:?}", number + 1);
            match (words[0], words.len()) {
                ("duration", 2) => timeline.duration_s = number_of(words[1]).map_err(|e| at(&e))?,
                ("vus", 2) => timeline.vus = words[1].parse().map_err(|e| at(&e))?,
                ("fees", 3) => {
                    timeline.fees = Fees {
                        default: number_of(words[1]).map_err(|e| at(&e))?,
                        fallback: number_of(words[2]).map_err(|e| at(&e))?,
                    }
                }
                (_, n) if n >= 5 => timeline.stages.push(stage_of(&words).map_err(|e| at(&e))?),
                _ => return Err(at(&"expected `at_s ddelay dfail fdelay ffail [label]`")),
            }
        }
        timeline.validate(name)?;
        Ok(timeline)
    }

    /// Reads and parses a file.
    pub fn load(path: &std::path::Path) -> Result<Timeline, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("{}: {error}", path.display()))?;
        Timeline::parse(&text, &path.display().to_string())
    }

    /// timeline.py's `validate`: stages in order inside the duration, a
    /// positive duration, at least one VU, fees in `[0, 1)`.
    fn validate(&self, name: &str) -> Result<(), String> {
        if self.stages.is_empty() {
            return Err(format!("{name}: no stages"));
        }
        if self.duration_s.is_nan() || self.duration_s <= 0.0 || self.vus < 1 {
            return Err(format!("{name}: duration must be > 0 and vus >= 1"));
        }
        let mut previous = -1.0;
        for (i, stage) in self.stages.iter().enumerate() {
            if !(previous < stage.at_s && stage.at_s < self.duration_s) {
                return Err(format!(
                    "{name}: stage {} at {} s is out of order or past the end",
                    i + 1,
                    stage.at_s
                ));
            }
            previous = stage.at_s;
            for setting in [stage.default, stage.fallback] {
                if setting.delay_ms > 60_000 {
                    return Err(format!("{name}: stage {}: delay not in 0..60000 ms", i + 1));
                }
            }
        }
        let fees = [self.fees.default, self.fees.fallback];
        if !fees.iter().all(|fee| (0.0..1.0).contains(fee)) {
            return Err(format!("{name}: fees must be in [0, 1)"));
        }
        Ok(())
    }

    /// The stage in force at `ms` milliseconds after the start (before the
    /// first stage: both healthy at 0 ms, as timeline.py's `stage_at`).
    pub fn setting_at(&self, ms: u64) -> (Setting, Setting) {
        let t = ms as f64 / 1000.0;
        self.stages
            .iter()
            .rev()
            .find(|stage| stage.at_s <= t)
            .map_or((Setting::default(), Setting::default()), |stage| {
                (stage.default, stage.fallback)
            })
    }

    /// The duration in whole milliseconds (rounded up).
    pub fn duration_ms(&self) -> u64 {
        (self.duration_s * 1000.0).ceil() as u64
    }

    /// The text format, readable by [`Timeline::parse`] and timeline.py.
    pub fn to_text(&self, comment: &str) -> String {
        let mut text = String::new();
        for line in comment.lines() {
            let _ = writeln!(text, "# {line}");
        }
        let _ = writeln!(text, "duration {}", self.duration_s);
        let _ = writeln!(text, "vus {}", self.vus);
        let _ = writeln!(text, "fees {} {}", self.fees.default, self.fees.fallback);
        let _ = writeln!(
            text,
            "# at_s  default: delay_ms failing   fallback: delay_ms failing   label"
        );
        let flag = |failing: bool| if failing { "yes" } else { "no" };
        for stage in &self.stages {
            let _ = writeln!(
                text,
                "{:<7} {:<5} {:<6} {:<5} {:<6} {}",
                stage.at_s,
                stage.default.delay_ms,
                flag(stage.default.failing),
                stage.fallback.delay_ms,
                flag(stage.fallback.failing),
                stage.label
            );
        }
        text
    }
}

/// A float as Python's `float()` reads the files' numbers.
fn number_of(word: &str) -> Result<f64, String> {
    word.parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .ok_or_else(|| format!("{word:?} is not a number"))
}

/// `yes`/`no`, `true`/`false`, `1`/`0`, in any case.
fn flag_of(word: &str) -> Result<bool, String> {
    match word.to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" => Ok(true),
        "no" | "false" | "0" => Ok(false),
        _ => Err(format!("{word:?} is not yes/no/true/false/1/0")),
    }
}

fn stage_of(words: &[&str]) -> Result<Stage, String> {
    let delay = |word: &str| {
        word.parse::<u32>()
            .map_err(|_| format!("delay {word:?} not in 0..60000 ms"))
    };
    Ok(Stage {
        at_s: number_of(words[0])?,
        default: Setting {
            delay_ms: delay(words[1])?,
            failing: flag_of(words[2])?,
        },
        fallback: Setting {
            delay_ms: delay(words[3])?,
            failing: flag_of(words[4])?,
        },
        label: words[5..].join(" "),
    })
}

#[cfg(test)]
pub(crate) mod tests;
