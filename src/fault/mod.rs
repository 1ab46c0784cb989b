//! Faults: changes to the world that go through the ledger with a lease before they are applied
//! (process signals, container and Swarm actions, proxy toxics and downs).

pub mod container;
pub mod process;
pub mod proxy;
pub mod swarm;
