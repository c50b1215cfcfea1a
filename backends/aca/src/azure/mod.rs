//! Thin typed Azure clients on `azure_core`'s pipeline.

pub mod arm;
mod arm_failures;
pub mod clients;
pub mod credential;
pub mod environments;
pub mod files;
mod files_xml;
pub mod fileshares;
pub mod jobs;
pub mod loganalytics;
pub mod models;
pub mod pipeline;
pub mod throttle;

pub mod registry;
#[cfg(test)]
pub(crate) mod test_support;
