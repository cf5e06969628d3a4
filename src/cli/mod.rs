//! The subcommands' wiring: each turns its parsed configuration into
//! running layers. `main` only picks the subcommand.

pub mod api;
