//! Faults: changes to the world that go through the ledger with a lease before they are applied
//! (process signals, proxy toxics and downs).

pub mod process;
pub mod proxy;
