//! sockerless-agent
#![warn(missing_docs)]
