//! Architecture search under two objectives: latency (lower is better) and accuracy (higher is
//! better).
//!
//! * [`pareto`]: exact answers over a set of evaluated points: the Pareto front, the best
//!   architecture under each latency budget, and the 2-D hypervolume used to compare fronts;
//! * [`evolution`]: NSGA-II, for spaces too large to evaluate exhaustively; its answer is the
//!   Pareto front of everything it evaluated;
//! * [`front`]: the search of `oneproxy search` (and Python's `oneproxy.search`): one latency
//!   source against an accuracy table, exhaustive or by evolution, with picks per constraint.

pub mod evolution;
pub mod front;
pub mod pareto;

pub use evolution::{evolve, Evaluated, EvolutionParams, EvolutionResult};
pub use front::{search, LatencySource, Method, METHODS};
pub use pareto::{best_under_constraints, dominates, hypervolume_2d, pareto_front};
