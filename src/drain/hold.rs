//! How long payments may wait for a failing default while the fallback
//! could store them: an expected-value decision, not a fixed bet.
//!
//! # The bet
//!
//! A payment held for the default earns `1 − f_d` of its amount if the
//! default comes back while the test goes on, and nothing if the test ends
//! first; sent to a working fallback at once it earns `1 − f_f` for sure.
//! Holding therefore wins `f_f − f_d` with probability `1 − q` and loses
//! `1 − f_f` with probability `q`, where `q` is the chance that the test
//! ends during the hold. It is worth it only while
//!
//! ```text
//!   q < (f_f − f_d) / (1 − f_d)        3.2 % at the final's 7 % / 10 %,
//!                                      10.5 % at the preview's 5 % / 15 %
//! ```
//!
//! and that is an upper bound: the win also needs the default back within
//! the hold.
//!
//! # The risk, from what the backend can observe
//!
//! The backend is not told how long a test lasts nor when its load stops
//! (the contest's final reads the processors right after its last
//! payment), and a test's arrivals give no warning of its end (k6 ramps
//! them up to the last second). So the end is taken as equally likely at
//! any moment of an *end horizon* `τ` — by default 60 s, the shortest test
//! the contest ran — which makes `q = H / τ` for a hold of `H`, and the
//! longest hold worth making
//!
//! ```text
//!   H = τ · (f_f − f_d) / (1 − f_d)    1.94 s at the final's fees,
//!                                      6.3 s at the preview's, for τ = 60 s
//! ```
//!
//! A longer hold is a bet that loses more, on average, than it wins: the
//! 25 s hold this replaced won the preview's 20 s outage and lost up to
//! 8 points of profit on a test that ended during an outage. Where the
//! fallback is not cheaper there is nothing to win, and nothing is held.
//! `docs/sim.md` compares the rules on a population of timelines.
//!
//! The fees cannot be read during a test (the admin summary that reports
//! them needs a token the test changes): they are flags, with the final's
//! values as defaults.

use std::time::Duration;

use crate::domain::fee::Fee;

/// The longest hold whose expected win is at least its expected loss, for
/// an end equally likely at any moment of `end_horizon` (see the module
/// docs): `end_horizon · (f_f − f_d) / (1 − f_d)`, rounded down to the
/// millisecond; zero when the fallback is not dearer or the default is
/// free of nothing (a fee of 1).
pub fn break_even(default_fee: &Fee, fallback_fee: &Fee, end_horizon: Duration) -> Duration {
    let (n_d, d_d) = default_fee.fraction();
    let (n_f, d_f) = fallback_fee.fraction();
    // f_f − f_d = (n_f·d_d − n_d·d_f) / (d_f·d_d) and 1 − f_d = (d_d − n_d) / d_d,
    // so the ratio is (n_f·d_d − n_d·d_f) / (d_f·(d_d − n_d)). Denominators are
    // at most 10^9, numerators at most their denominators: every product
    // fits u128 with room for a horizon in milliseconds.
    let gain = (n_f * d_d).saturating_sub(n_d * d_f);
    let stake = d_f * (d_d - n_d);
    if gain == 0 || stake == 0 {
        return Duration::ZERO;
    }
    let millis = end_horizon.as_millis() * gain / stake;
    Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fee(text: &str) -> Fee {
        Fee::parse(text).unwrap()
    }

    #[test]
    fn the_hold_is_what_the_fee_difference_buys_against_the_end() {
        let minute = Duration::from_secs(60);
        // (default fee, fallback fee, horizon, hold)
        let cases = [
            ("0.07", "0.10", minute, 1_935), // the final: 60 000 × 3 / 93
            ("0.05", "0.15", minute, 6_315), // the preview: 60 000 × 10 / 95
            ("0.07", "0.10", Duration::from_secs(300), 9_677),
            ("0.10", "0.10", minute, 0), // nothing to win
            ("0.15", "0.05", minute, 0), // the "default" is the dear one
            ("1", "1", minute, 0),       // nothing at stake either way
            ("0", "1", minute, 60_000),  // free default, worthless fallback
            ("0.05", "0.150", minute, 6_315),
            ("0.07", "0.10", Duration::ZERO, 0),
        ];
        for (default, fallback, horizon, millis) in cases {
            assert_eq!(
                break_even(&fee(default), &fee(fallback), horizon),
                Duration::from_millis(millis),
                "{default} / {fallback} over {horizon:?}"
            );
        }
    }
}
