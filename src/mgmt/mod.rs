//! The management side: turning configuration into load-balancer state (and, later, the
//! control socket, health checks and stats estimation). Runs on the management thread,
//! never on a worker.

pub mod apply;
pub mod control;
pub mod health;
pub mod health_conf;
pub mod health_ctl;
pub mod health_loop;
pub mod health_table;
pub mod health_views;
pub mod lock;
pub mod manager;
pub mod metrics;
pub mod passive;
pub mod plan;
pub mod rates;
pub mod reload;
pub mod services;
pub mod state;
pub mod views;

pub use manager::{Manager, DEST_TRASH_PERIOD};
