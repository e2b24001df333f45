//! Executing migration steps. Alembic runs in persistent Python workers (one per parallel slot)
//! driven over JSON lines; every step has a hard timeout after which the worker is killed.

mod python;
mod worker;

pub use python::{
    can_import, find_python, provision, provision_packages, ProvisionError, PythonChoice,
};
pub use worker::{
    kill_all_workers, master_rows, MasterRow, Step, StepError, StepOk, Worker, WorkerSpec,
};
