//! sockerless-backend-aca
#![warn(missing_docs)]
