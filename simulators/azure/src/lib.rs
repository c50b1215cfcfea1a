//! sockerless-azure-sim
#![warn(missing_docs)]
