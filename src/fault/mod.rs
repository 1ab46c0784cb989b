//! Faults: changes to the world that go through the ledger with a lease before they are applied.

pub mod process;
