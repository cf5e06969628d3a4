//! What one simulated run ended with, and its profit at given fees.

use super::timeline::Fees;

/// The check's margin less the recording allowance: a payment stored this
/// long after its stamp or more risks an inconsistency.
pub const AT_RISK_MS: u64 = 1_900;

/// What one simulated run ended with; money is counted when a processor
/// stored the payment by the time the processors are read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcomes {
    /// Payments the load posted.
    pub arrived: u64,
    /// Of those, refused for want of a ring slot (503).
    pub refused: u64,
    /// Stored by the default, by the fallback, by the end.
    pub stored: [u64; 2],
    /// Of those stored, by the default and by the fallback, at least
    /// [`AT_RISK_MS`] after their stamp: at risk of an inconsistency.
    pub at_risk: [u64; 2],
    /// Recorded in our ledger by the end.
    pub recorded: u64,
    /// Requests sent (payments, retries, probes, lookups).
    pub requests: u64,
}

impl Outcomes {
    /// Arrived and not stored by the end.
    pub fn lag(&self) -> u64 {
        self.arrived - self.stored[0] - self.stored[1]
    }

    /// (stored × (1 − fee), summed) ÷ arrived, as a fraction.
    pub fn profit(&self, fees: Fees) -> f64 {
        kept(self.stored, fees) / self.arrived.max(1) as f64
    }

    /// [`Outcomes::profit`] with the payments at risk counted as earning
    /// nothing: the measure the best with hindsight is held to (it never
    /// stores one past the margin).
    pub fn safe_profit(&self, fees: Fees) -> f64 {
        let safe = [0, 1].map(|p| self.stored[p] - self.at_risk[p]);
        kept(safe, fees) / self.arrived.max(1) as f64
    }
}

/// What `stored` payments keep after fees.
fn kept(stored: [u64; 2], fees: Fees) -> f64 {
    stored[0] as f64 * (1.0 - fees.default) + stored[1] as f64 * (1.0 - fees.fallback)
}
