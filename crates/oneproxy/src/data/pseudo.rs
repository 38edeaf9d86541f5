//! The pseudo-devices `flops` and `params`: the zero-measurement baseline, computed from each
//! architecture's network and usable wherever a device is (monotonicity, proxy, pool).

use super::device::DeviceSource;
use super::table::LatencyTable;
use crate::error::Result;

impl LatencyTable {
    /// Add the pseudo-devices `flops` (multiply-adds, in millions) and `params` (millions),
    /// computed from each architecture's network ([`crate::network`]) for every row: the
    /// zero-measurement baseline, usable wherever a device is (monotonicity, proxy, pool).
    /// Their values are not milliseconds; only their rankings are meaningful. A space without
    /// networks (a declared one) has neither.
    pub fn add_cost_devices(&mut self) -> Result<()> {
        if self.is_empty() || !self.space().family().has_network() {
            return Ok(());
        }
        let space = self.space();
        let costs: Vec<crate::network::Cost> = {
            use rayon::prelude::*;
            self.archs().par_iter().map(|a| space.cost(a)).collect()
        };
        let archs = self.archs().to_vec();
        let source = |what: &str| DeviceSource::Computed(format!("computed: {what} of the {space} network"));
        self.add_device(
            "flops",
            source("multiply-adds"),
            archs.iter().cloned().zip(costs.iter().map(|c| c.flops as f64 / 1e6)),
        )?;
        self.add_device(
            "params",
            source("parameters"),
            archs.into_iter().zip(costs.iter().map(|c| c.params as f64 / 1e6)),
        )?;
        Ok(())
    }
}
