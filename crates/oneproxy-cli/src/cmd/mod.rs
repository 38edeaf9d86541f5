//! One module per subcommand. Each turns its arguments into library calls and renders the result.

mod devices;
mod monotonicity;

use crate::args::{Cli, Command};
use crate::args::DataArgs;
use anyhow::Context;
use oneproxy::{LatencyTable, SpaceId};

pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Devices(a) => devices::run(a),
        Command::Monotonicity(a) => monotonicity::run(a),
    }
}

/// The bundled table of the space plus the user's `--latency` files.
pub fn load_table(data: &DataArgs) -> anyhow::Result<LatencyTable> {
    let space: SpaceId = data.space.into();
    LatencyTable::bundled_with(space, &data.latency)
        .with_context(|| format!("loading latency data for space {space}"))
}
